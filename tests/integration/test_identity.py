"""Visitor sessions, agent sign-in through Cognito (moto's pool), and $connect on moto."""
import time

import jwt
import pytest

from chalicelib.chat import availability, lifecycle
from chalicelib.config import settings
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ForbiddenError, UnauthorizedError
from chalicelib.identity import sessions, tokens
from chalicelib.store.models import Agent, Connection, Visitor


def test_a_new_visitor_gets_a_token_for_its_site(world):
    session = world.visitor_session(name="Vera", email="Vera@Example.com", page_url="https://shop/x")
    claims = tokens.verify_visitor_token(session["token"])
    visitor = Visitor.get(session["visitor_id"])
    assert (claims["sub"], claims["site"], claims["ws"]) == (session["visitor_id"], "site-a", "ws_a")
    assert (visitor.name, visitor.email, visitor.page_url) == ("Vera", "vera@example.com", "https://shop/x")


def test_a_resume_token_returns_the_same_visitor(world):
    first = world.visitor_session()
    again = world.visitor_session(resume_token=first["token"])
    assert again["visitor_id"] == first["visitor_id"]


def test_a_resume_token_of_another_site_is_refused(world):
    first = world.visitor_session("site-b")
    with pytest.raises(UnauthorizedError):
        world.visitor_session("site-a", resume_token=first["token"])


def test_identity_verification_binds_a_user_id_on_every_device(world):
    good = tokens.user_hash("secret-site-a", "user-42")
    one = world.visitor_session(user_id="user-42", user_hash=good)
    two = world.visitor_session(user_id="user-42", user_hash=good)
    assert one["visitor_id"] == two["visitor_id"]
    with pytest.raises(UnauthorizedError):
        world.visitor_session(user_id="user-42", user_hash=tokens.user_hash("wrong", "user-42"))
    with pytest.raises(UnauthorizedError):
        world.visitor_session(user_id="user-42")
    with pytest.raises(UnauthorizedError):  # not hex, not even ASCII: wrong, like any other (found by tests/fuzz)
        world.visitor_session(user_id="user-42", user_hash="\x80")


def test_unknown_site_and_bad_fields(world):
    with pytest.raises(UnauthorizedError):
        world.visitor_session("no-such-site")
    with pytest.raises(BadRequestError) as info:
        world.visitor_session(email="not-an-email")
    assert info.value.field == "email"


def test_blocked_visitors_are_refused_at_session_and_connect(world):
    session = world.visitor_session()
    Visitor(session["visitor_id"]).update(actions=[Visitor.blocked.set(True)])
    with pytest.raises(ForbiddenError):
        lifecycle.connect("c-blocked", session["token"])
    with pytest.raises(ForbiddenError):
        world.visitor_session(resume_token=session["token"])
    assert Connection.count("c-blocked") == 0


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c"])
def test_connect_refuses_missing_and_malformed_tokens(world, token):
    with pytest.raises(UnauthorizedError):
        lifecycle.connect("c-x", token)


def test_connect_refuses_an_expired_token(world):
    session = world.visitor_session()
    now = int(time.time())
    expired = jwt.encode({"sub": session["visitor_id"], "site": "site-a", "ws": "ws_a", "typ": "visitor",
                          "iat": now - 90000, "exp": now - 3600}, settings.token_secret, algorithm="HS256")
    with pytest.raises(UnauthorizedError, match="expired"):
        lifecycle.connect("c-x", expired)


def test_disconnect_forgets_the_connection_and_its_subscriptions(world):
    from chalicelib.chat import intake
    from chalicelib.store.models import Conversation
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    assert visitor.connection_id in Conversation.get(conversation.id).subscribers.as_dict()
    lifecycle.disconnect(visitor.connection_id)
    assert Connection.count(visitor.connection_id) == 0
    assert visitor.connection_id not in Conversation.get(conversation.id).subscribers.as_dict()
    assert lifecycle.disconnect(visitor.connection_id) is None  # a second $disconnect is harmless


def _agent_user(cognito, email="agent@example.com", workspace_id="ws_a"):
    idp, pool = cognito["idp"], cognito["pool_id"]
    user = idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                                 UserAttributes=[{"Name": "email", "Value": email}])["User"]
    idp.admin_set_user_password(UserPoolId=pool, Username=email, Password="demo-password", Permanent=True)
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    Agent(sub, workspace_id=workspace_id, email=email, name="Alex", created_at=iso()).save()
    return sub


def test_agents_sign_in_with_cognito_and_their_tokens_verify(world, cognito):
    sub = _agent_user(cognito)
    result = sessions.agent_login({"email": "Agent@Example.com", "password": "demo-password"})
    assert result["agent"]["id"] == sub and result["refresh_token"]
    caller, agent = sessions.agent_caller(f"Bearer {result['token']}")
    assert (caller.kind, caller.id, caller.workspace_id) == ("agent", sub, "ws_a")
    renewed = sessions.agent_refresh({"refresh_token": result["refresh_token"]})
    assert sessions.agent_caller(f"Bearer {renewed['token']}")[0].id == sub


def test_wrong_passwords_and_foreign_tokens_are_refused(world, cognito):
    _agent_user(cognito)
    with pytest.raises(UnauthorizedError):
        sessions.agent_login({"email": "agent@example.com", "password": "nope-nope"})
    with pytest.raises(UnauthorizedError):
        sessions.agent_login({"email": "nobody@example.com", "password": "demo-password"})
    visitor_token = world.visitor_session()["token"]
    with pytest.raises(UnauthorizedError):
        sessions.agent_caller(f"Bearer {visitor_token}")
    with pytest.raises(UnauthorizedError):
        sessions.agent_caller(None)


def test_an_agent_token_of_another_app_client_is_refused(world, cognito, monkeypatch):
    _agent_user(cognito)
    token = sessions.agent_login({"email": "agent@example.com", "password": "demo-password"})["token"]
    monkeypatch.setattr(settings, "cognito_client_id", "another-client")
    with pytest.raises(UnauthorizedError):
        sessions.agent_caller(f"Bearer {token}")


def test_a_signed_in_user_without_an_agent_profile_is_forbidden(world, cognito):
    sub = _agent_user(cognito)
    Agent(sub).delete()
    token = cognito["idp"].initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=cognito["client_id"],
                                         AuthParameters={"USERNAME": "agent@example.com",
                                                         "PASSWORD": "demo-password"})
    with pytest.raises(ForbiddenError):
        sessions.agent_caller(f"Bearer {token['AuthenticationResult']['AccessToken']}")


def test_an_agent_without_connections_is_unavailable_at_once_and_offline_after_the_grace(world, monkeypatch):
    from chalicelib.chat import routing
    agent_id = world.agent()
    first, second = world.agent_connection(agent_id), world.agent_connection(agent_id)
    routing.set_presence(agent_id, "online", world.sender)
    lifecycle.disconnect(first.connection_id)
    assert availability.is_available(Agent.get(agent_id))  # a second tab keeps them here
    lifecycle.disconnect(second.connection_id)
    agent = Agent.get(agent_id)
    assert agent.status == "online" and not availability.is_available(agent)  # a reload may bring them back
    world.agent_connection(agent_id)
    assert availability.is_available(Agent.get(agent_id))  # it did


@pytest.mark.parametrize("token", ["\udfff", "eyJhbGciOiJIUzI1NiJ9\udfff.e30.x"])
def test_connect_refuses_a_token_that_is_not_valid_text_as_unauthorized(world, token):
    """A query string can carry a lone surrogate (API Gateway decodes it): 401, not a failed $connect."""
    with pytest.raises(UnauthorizedError):
        lifecycle.connect("c-x", token)
