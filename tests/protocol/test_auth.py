"""Sessions, resume tokens, identity verification and sign-in. Which tokens open a socket or a REST route,
and which are refused, is the authorization matrix's (test_authz.py: $connect and every route × every token)."""
import hashlib
import hmac
import os
import time
import uuid

import jwt
import pytest
from client import Clients, scenario_timeout

IDENTITY_SECRET = "demo-identity-secret"
# The suite's token secret is short on purpose (tests only); pyjwt warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _secret() -> str:
    return os.environ["PARLEY_TOKEN_SECRET"]  # tests/conftest.py sets it; the stack inherits it


def _visitor_token(visitor_id: str, *, secret: str | None = None, iat: int | None = None,
                   exp: int | None = None, site: str = "demo", ws: str = "ws_demo") -> str:
    issued = int(time.time()) if iat is None else iat
    claims = {"sub": visitor_id, "site": site, "ws": ws, "typ": "visitor", "iat": issued,
              "exp": issued + 3600 if exp is None else exp}
    return jwt.encode(claims, secret or _secret(), algorithm="HS256")


def _user_hash(user_id: str, secret: str = IDENTITY_SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


# --- REST ---------------------------------------------------------------------------------------

def test_agent_token_works_on_rest(stack, logins):
    status, body = stack.request("GET", "/v1/agents/me", token=logins["agent"]["token"])
    assert status == 200, body
    assert body["agent"]["email"] == "agent@example.com"
    status, body = stack.request("GET", "/v1/conversations?view=all&limit=1", token=logins["agent"]["token"])
    assert status == 200, body
    assert "items" in body


def test_unknown_site_key_is_401_with_error_body(stack):
    status, body = stack.request("POST", "/v1/visitor/sessions", {"site_key": "no-such-site"})
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["message"]


def test_bad_login_is_401(stack):
    status, body = stack.request("POST", "/v1/agents/login", {"email": "agent@example.com", "password": "wrong"})
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"


# --- sessions: resume tokens and identity verification ------------------------------------------

def test_resume_token_returns_the_same_visitor(stack):
    first = stack.visitor("demo")
    again = stack.visitor("demo", resume_token=first["token"])
    assert again["visitor_id"] == first["visitor_id"]
    assert again["expires_in"] > 0


def test_expired_but_recent_token_still_resumes(stack):
    """A resume_token is any earlier token: signature valid, issued at most 30 days ago."""
    visitor_id = stack.visitor("demo")["visitor_id"]
    now = int(time.time())
    old = _visitor_token(visitor_id, iat=now - 2 * 86400, exp=now - 86400)
    again = stack.visitor("demo", resume_token=old)
    assert again["visitor_id"] == visitor_id


def test_bad_resume_tokens_are_401(stack):
    visitor_id = stack.visitor("demo")["visitor_id"]
    now = int(time.time())
    for token in (_visitor_token(visitor_id, secret="forged"),                     # wrong signature
                  _visitor_token(visitor_id, iat=now - 31 * 86400, exp=now - 30 * 86400),  # too old
                  "garbage"):
        status, body = stack.request("POST", "/v1/visitor/sessions", {"site_key": "demo", "resume_token": token})
        assert status == 401, (token, status, body)
        assert body["error"]["code"] == "unauthorized"
    # A token of one site does not resume on another.
    token = stack.visitor("demo")["token"]
    status, body = stack.request("POST", "/v1/visitor/sessions", {"site_key": "demo-b", "resume_token": token})
    assert status == 401, body


async def test_identity_verification_binds_the_same_visitor(stack):
    user_id = f"user-{uuid.uuid4().hex}"
    first = stack.visitor("demo", user_id=user_id, user_hash=_user_hash(user_id))
    second = stack.visitor("demo", user_id=user_id, user_hash=_user_hash(user_id))
    assert first["visitor_id"] == second["visitor_id"]
    other = stack.visitor("demo", user_id=user_id + "x", user_hash=_user_hash(user_id + "x"))
    assert other["visitor_id"] != first["visitor_id"]

    # the verified visitor's second device sees the same conversation
    async with scenario_timeout(), Clients(stack) as clients:
        laptop = await clients.visitor(session=first, name="laptop")
        cid = (await laptop.ack("start"))["conversation"]["id"]
        phone = await clients.visitor(session=second, name="phone")
        assert (await phone.ack("start"))["conversation"]["id"] == cid


def test_identity_verification_with_a_wrong_hash_is_401(stack):
    user_id = f"user-{uuid.uuid4().hex}"
    for user_hash in (_user_hash(user_id, "wrong-secret"), _user_hash(user_id + "x"), None):
        body = {"site_key": "demo", "user_id": user_id, **({"user_hash": user_hash} if user_hash else {})}
        status, answer = stack.request("POST", "/v1/visitor/sessions", body)
        assert status == 401, (user_hash, status, answer)
        assert answer["error"]["code"] == "unauthorized"


def test_agent_refresh_gives_a_working_token(stack, logins):
    status, body = stack.request("POST", "/v1/agents/refresh", {"refresh_token": logins["admin"]["refresh_token"]})
    assert status == 200, body
    assert body["agent"]["email"] == "admin@example.com"
    status, me = stack.request("GET", "/v1/agents/me", token=body["token"])
    assert status == 200 and me["agent"]["email"] == "admin@example.com", me
    status, body = stack.request("POST", "/v1/agents/refresh", {"refresh_token": "garbage"})
    assert status == 401, body
