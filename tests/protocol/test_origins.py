"""The local stack's own origins: its seeded sites list them, its console origin is the only one for
agents' sockets, and the real gateway and REST answer other pages' Origin with 403 (chalicelib/origins.py)."""
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

FOREIGN = ["https://evil.example", "null", "file://"]


def _own(stack) -> str:
    return f"http://127.0.0.1:{stack.port}"


def _upgrade(stack, token: str, origin: str | None):
    """A websocket upgrade with a browser's Origin header (none: a script's)."""
    return connect(f"{stack.ws}?token={urllib.parse.quote(token, safe='')}", origin=origin, open_timeout=5,
                   close_timeout=1, proxy=None)


def _refusal(stack, token: str, origin: str) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as refused:
        _upgrade(stack, token, origin).close()
    response = refused.value.response
    return response.status_code, json.loads(response.body)


def _get(stack, path: str, origin: str | None, method: str = "GET") -> tuple[int, dict, bytes]:
    return stack.raw(method, path, headers={"Origin": origin} if origin else {})


@pytest.mark.parametrize("origin", FOREIGN)
def test_the_stack_refuses_visitor_and_agent_sockets_from_other_pages(stack, origin):
    visitor, agent = stack.visitor("demo")["token"], stack.agent()["token"]
    status, body = _refusal(stack, visitor, origin)
    assert status == 403 and body["error"]["origin"] == origin
    status, body = _refusal(stack, agent, origin)
    assert status == 403 and body["error"]["origin"] == origin and "console" in body["error"]["message"]


def test_the_stack_accepts_sockets_from_its_own_pages_and_from_scripts(stack):
    visitor, agent = stack.visitor("demo")["token"], stack.agent()["token"]
    for token in (visitor, agent):
        for origin in (_own(stack), f"http://localhost:{stack.port}", None):
            with _upgrade(stack, token, origin) as ws:
                ws.send(json.dumps({"action": "ping", "ref": "p"}))
                assert json.loads(ws.recv(timeout=10))["ref"] == "p"


def test_the_stack_answers_cors_to_its_seeded_sites_own_pages_only(stack):
    for site in ("demo", "demo-b", "demo-offline", "demo-prechat", "demo-quick"):
        status, headers, _ = _get(stack, f"/v1/sites/{site}/settings", _own(stack))
        assert status == 200 and headers["Access-Control-Allow-Origin"] == _own(stack), site
        assert headers["Vary"] == "Origin"
        status, headers, body = _get(stack, f"/v1/sites/{site}/settings", "https://evil.example")
        assert status == 403 and "Access-Control-Allow-Origin" not in headers, site
        assert json.loads(body)["error"]["origin"] == "https://evil.example"
    status, headers, _ = _get(stack, "/v1/sites/demo/availability", "https://evil.example", method="OPTIONS")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = _get(stack, "/v1/sites/demo/availability", _own(stack), method="OPTIONS")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == _own(stack)
