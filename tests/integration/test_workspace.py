"""The team, visitor profiles, canned responses and the widget's public settings."""
import pytest

from chalicelib.chat import intake, sites
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError, UnauthorizedError
from chalicelib.store.models import Agent, Site, SiteSettings
from chalicelib.workspace import team


def test_agents_see_their_own_team_only(world):
    mine, other = world.agent("ws_a", name="Zoe"), world.agent("ws_b")
    caller = world.agent_connection(world.agent("ws_a", name="Abe"))
    names = [a["name"] for a in team.list_agents(caller)["items"]]
    assert names == ["Abe", "Zoe"] and Agent.get(other).workspace_id == "ws_b" and mine


def test_a_visitor_profile_lists_their_conversations_to_their_workspace_only(world):
    session = world.visitor_session(name="Vera", email="vera@example.com")
    visitor = world.visitor_connection(session)
    conversation = intake.start(visitor, {}, world.sender)
    profile = team.visitor_profile(world.agent_connection(world.agent()), session["visitor_id"])
    assert profile["visitor"]["email"] == "vera@example.com"
    assert [c["id"] for c in profile["conversations"]] == [conversation.id]
    with pytest.raises(NotFoundError):
        team.visitor_profile(world.agent_connection(world.agent("ws_b")), session["visitor_id"])


def test_canned_responses_crud_with_unique_shortcuts(world):
    agent = world.agent_connection(world.agent())
    created = team.create_canned(agent, {"shortcut": "/Hello", "text": "Hi {{visitor.name}}!"})
    assert created["shortcut"] == "hello"
    with pytest.raises(ConflictError):
        team.create_canned(agent, {"shortcut": "hello", "text": "again"})
    for bad in ({"shortcut": "two words", "text": "x"}, {"shortcut": "ok", "text": " "}, {"text": "x"}):
        with pytest.raises(BadRequestError):
            team.create_canned(agent, bad)
    updated = team.update_canned(agent, created["id"], {"shortcut": "hi", "text": "Hey {{agent.name}}"})
    assert (updated["shortcut"], updated["text"]) == ("hi", "Hey {{agent.name}}")
    other = world.agent_connection(world.agent("ws_b"))
    assert team.list_canned(other)["items"] == []
    with pytest.raises(NotFoundError):
        team.delete_canned(other, created["id"])
    team.delete_canned(agent, created["id"])
    assert team.list_canned(agent)["items"] == []


def test_widget_settings_are_public_and_say_who_is_there(world):
    Site("site-p", workspace_id="ws_a", name="Shop", settings=SiteSettings(prechat_enabled=True),
         created_at=iso()).save()
    agent_id = world.agent()
    Agent(agent_id).update(actions=[Agent.status.set("online")])
    settings = sites.widget_settings("site-p")
    assert settings["prechat"] == {"enabled": True, "fields": ["name", "email"], "required": ["email"]}
    assert settings["availability"]["online"] and settings["availability"]["eta_seconds"] == 0
    assert "identity_secret" not in str(settings)
    with pytest.raises(UnauthorizedError):
        sites.widget_settings("nope")
