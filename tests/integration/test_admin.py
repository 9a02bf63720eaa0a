"""Admins: the team in Cognito and DynamoDB, site settings, blocking visitors."""
import json

import pytest

from chalicelib import admin, identity, ws
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.models import Agent, Connection, Conversation, Site
from tests.integration.test_routing import new_chat


def admin_caller(world, workspace_id="ws_a"):
    agent_id = world.agent(workspace_id)
    Agent(agent_id).update(actions=[Agent.role.set("admin")])
    return world.agent_connection(agent_id)


def test_an_admin_creates_an_agent_who_can_sign_in(world, cognito):
    boss = admin_caller(world)
    created = admin.create_agent(boss, {"email": "new@example.com", "name": "Nia", "capacity": 5,
                                        "groups": ["Tech"], "password": "a-good-password"})
    assert (created["capacity"], created["groups"], created["role"]) == (5, ["tech"], "agent")
    login = identity.agent_login({"email": "new@example.com", "password": "a-good-password"})
    assert login["agent"]["id"] == created["id"] and Agent.get(created["id"]).workspace_id == "ws_a"
    with pytest.raises(ConflictError):
        admin.create_agent(boss, {"email": "new@example.com", "name": "Again", "password": "a-good-password"})
    for bad in ({"email": "x@example.com", "name": "X", "capacity": 11},
                {"email": "x@example.com", "name": "X", "role": "owner"}, {"name": "X"}):
        with pytest.raises(BadRequestError):
            admin.create_agent(boss, bad)


def test_only_admins_change_the_team_and_settings(world, cognito):
    plain = world.agent_connection(world.agent())
    with pytest.raises(ForbiddenError):
        admin.create_agent(plain, {"email": "y@example.com", "name": "Y", "password": "a-good-password"})
    with pytest.raises(ForbiddenError):
        admin.update_agent(plain, plain.id, {"capacity": 10}, world.sender)
    with pytest.raises(ForbiddenError):
        admin.update_site_settings(plain, "site-a", {"rate_limit_count": 100})
    with pytest.raises(NotFoundError):
        admin.update_agent(admin_caller(world, "ws_b"), plain.id, {"capacity": 10}, world.sender)


def test_raising_capacity_drains_the_queue_at_once(world):
    agent = world.online_agent(capacity=1)
    new_chat(world)
    _, waiting = new_chat(world)
    assert Conversation.get(waiting).status == "queued"
    admin.update_agent(admin_caller(world), agent.id, {"capacity": 2}, world.sender)
    assert Conversation.get(waiting).assignee_id == agent.id


def test_removing_an_agent_returns_their_chats_to_the_queue(world, cognito):
    leaving = world.online_agent(capacity=2)
    _, chat = new_chat(world)
    assert Conversation.get(chat).assignee_id == leaving.id
    admin.remove_agent(admin_caller(world), leaving.id, world.sender)
    assert Agent.count(leaving.id) == 0
    assert Conversation.get(chat).status == "queued"
    assert leaving.connection_id not in world.api.live  # their console was disconnected


def test_site_settings_set_the_flood_limit_of_new_connections(world):
    boss = admin_caller(world)
    updated = admin.update_site_settings(boss, "site-a", {"rate_limit_count": 3, "rate_limit_window": 60,
                                                          "greeting": "Bonjour"})
    assert updated["settings"]["rate_limit_count"] == 3 and Site.get("site-a").settings.greeting == "Bonjour"
    visitor = world.visitor_connection()
    assert (visitor.rate_limit_count, visitor.rate_limit_window) == (3, 60)
    for bad in ({"rate_limit_count": 0}, {"color": "red"}, {"prechat_fields": ["phone"]}, {"bogus": 1}):
        with pytest.raises(BadRequestError):
            admin.update_site_settings(boss, "site-a", bad)
    with pytest.raises(NotFoundError):
        admin.get_site_settings(admin_caller(world, "ws_b"), "site-a")


def test_a_blocked_visitor_is_disconnected_refused_and_never_heard(world):
    agent = world.online_agent()
    session = world.visitor_session()
    visitor, chat = new_chat(world, session=session)
    admin.set_blocked(agent, session["visitor_id"], True, world.sender)
    assert visitor.connection_id not in world.api.live
    with pytest.raises(ForbiddenError):
        identity.connect("conn-again", session["token"])
    # a frame that was already in flight on the old socket is refused, not stored
    before = Conversation.get(chat).last_seq
    world.api.connect(visitor.connection_id)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "send", "conversation_id": chat, "ref": "b",
                                                        "text": "let me in"}), world.sender)
    assert world.api.of(visitor.connection_id, "error")[-1]["code"] == "forbidden"
    assert Conversation.get(chat).last_seq == before
    admin.set_blocked(agent, session["visitor_id"], False, world.sender)
    identity.connect("conn-after", session["token"])
    assert Connection.count("conn-after") == 1


def test_blocking_a_waiting_visitor_takes_their_chat_out_of_the_queue(world):
    session = world.visitor_session()
    _, chat = new_chat(world, session=session)
    assert Conversation.get(chat).status == "queued"
    admin.set_blocked(world.agent_connection(world.agent()), session["visitor_id"], True, world.sender)
    world.online_agent()
    assert Conversation.get(chat).status == "solved" and Conversation.get(chat).assignee_id is None


def test_unknown_sites_are_not_found_and_groups_are_normalised(world):
    boss = admin_caller(world)
    with pytest.raises(NotFoundError):
        admin.get_site_settings(boss, "no-such-site")
    agent = world.agent()
    assert admin.update_agent(boss, agent, {"groups": ["Tech", "tech", "billing"]}, world.sender)["groups"] == [
        "billing", "tech"]
    with pytest.raises(BadRequestError):
        admin.update_agent(boss, agent, {"groups": ["*"]}, world.sender)


def test_an_invited_agent_chooses_a_password_at_first_sign_in(world, cognito):
    from chalicelib.errors import PasswordChangeRequiredError
    boss = admin_caller(world)
    created = admin.create_agent(boss, {"email": "invited@example.com", "name": "Ivy",
                                        "temporary_password": "temporary-123"})
    with pytest.raises(PasswordChangeRequiredError) as info:
        identity.agent_login({"email": "invited@example.com", "password": "temporary-123"})
    assert info.value.to_dict()["session"]
    done = identity.agent_new_password({"email": "invited@example.com", "session": info.value.session,
                                        "password": "my-own-password"})
    assert done["agent"]["id"] == created["id"]
    assert identity.agent_login({"email": "invited@example.com", "password": "my-own-password"})["token"]


def test_site_settings_hold_the_flows_waits_and_the_team_webhook(world):
    boss = admin_caller(world)
    updated = admin.update_site_settings(boss, "site-a", {"queue_timeout": 120, "close_after": 3600,
                                                          "webhook_url": "https://hooks.slack.com/services/T/B/x"})
    assert updated["settings"]["queue_timeout"] == 120 and updated["settings"]["inactivity_wait"] == 600
    assert Site.get("site-a").settings.webhook_url == "https://hooks.slack.com/services/T/B/x"
    for bad in ({"webhook_url": "http://example.com/hook"}, {"webhook_url": "ftp://x"}, {"queue_timeout": 0}):
        with pytest.raises(BadRequestError):
            admin.update_site_settings(boss, "site-a", bad)
    admin.update_site_settings(boss, "site-a", {"webhook_url": None})
    assert Site.get("site-a").settings.webhook_url is None
