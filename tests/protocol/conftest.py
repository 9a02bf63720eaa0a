"""Fixtures for the protocol suite: the session's local stack (tests/conftest.py) and agent logins.

Tests share one stack, so each leaves the workspaces quiet for the next: agents away (routing
assigns nothing to them) and no conversation waiting or holding a slot.
"""
import json

import pytest
from websockets.sync.client import connect


@pytest.fixture(scope="session")
def logins(stack):
    """One Cognito sign-in per seeded agent for the whole session: agent@, admin@ (demo), agent-b@ (demo-b)."""
    return {"agent": stack.agent("agent@example.com"), "admin": stack.agent("admin@example.com"),
            "b": stack.agent("agent-b@example.com")}


# Module-scoped fixtures that build data several tests read: keep it until their module is done.
SHARED_DATA = {"three_conversations"}


@pytest.fixture(autouse=True)
def quiet_workspaces(request, stack, logins):
    yield
    if SHARED_DATA & set(request.fixturenames):
        return
    for login in logins.values():
        with connect(f"{stack.ws}?token={login['token']}", open_timeout=5) as ws:
            ws.send(json.dumps({"action": "presence", "status": "away", "ref": "quiet"}))
            while json.loads(ws.recv(timeout=5)).get("ref") != "quiet":
                pass
    for login in (logins["admin"], logins["b"]):
        for view in ("unassigned", "open", "pending"):
            while True:
                status, page = stack.request("GET", f"/v1/conversations?view={view}&limit=100", token=login["token"])
                assert status == 200, page
                if not page["items"]:
                    break
                for conversation in page["items"]:
                    stack.request("PATCH", f"/v1/conversations/{conversation['id']}", {"status": "solved"},
                                  token=login["token"])
