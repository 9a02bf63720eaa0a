"""Who is asking (chalicelib/core/caller.py): one value from one of three factories, one admin check."""
import dataclasses

import pytest

from chalicelib.core.caller import Caller, require_admin
from chalicelib.errors import ForbiddenError


def test_an_agent_is_an_agent_of_its_workspace_with_role_agent_unless_told():
    caller = Caller.for_agent("a_1", "ws_1", name="Alex", connection_id="conn-1")
    assert (caller.kind, caller.id, caller.workspace_id, caller.name, caller.role, caller.connection_id) == (
        "agent", "a_1", "ws_1", "Alex", "agent", "conn-1")
    assert caller.is_agent and not caller.is_admin and caller.site_key is None
    admin = Caller.for_agent("a_2", "ws_1", role="admin")
    assert admin.is_agent and admin.is_admin and admin.role == "admin"
    assert Caller.for_agent("a_3", "ws_1", role=None).role == "agent"


def test_a_visitor_carries_its_site_and_socket_and_is_never_an_agent():
    caller = Caller.for_visitor("v_1", "ws_1", name="Dana", site_key="site-a", connection_id="conn-2",
                                source_ip="203.0.113.9", rate_limit_count=5, rate_limit_window=60)
    assert (caller.kind, caller.id, caller.workspace_id, caller.name, caller.site_key, caller.role) == (
        "visitor", "v_1", "ws_1", "Dana", "site-a", "visitor")
    assert (caller.connection_id, caller.source_ip, caller.rate_limit_count, caller.rate_limit_window) == (
        "conn-2", "203.0.113.9", 5, 60)
    assert not caller.is_agent and not caller.is_admin
    plain = Caller.for_visitor("v_2", "ws_1")
    assert (plain.rate_limit_count, plain.rate_limit_window, plain.source_ip) == (20, 10, None)


def test_the_system_acts_as_an_agent_named_routing_and_is_no_admin():
    system = Caller.system("ws_1")
    assert (system.kind, system.id, system.workspace_id, system.name, system.role) == (
        "agent", "routing", "ws_1", "Routing", "system")
    assert system.is_agent and not system.is_admin
    bot = Caller.system("ws_1", actor="bot", name="Assistant")
    assert (bot.id, bot.name, bot.role) == ("bot", "Assistant", "system")


def test_the_author_of_a_message_is_kind_id_and_name():
    assert Caller.for_agent("a_1", "ws_1", name="Alex").author() == {"kind": "agent", "id": "a_1", "name": "Alex"}
    assert Caller.for_visitor("v_1", "ws_1").author() == {"kind": "visitor", "id": "v_1", "name": None}


def test_a_caller_cannot_be_changed_after_it_is_made():
    caller = Caller.for_agent("a_1", "ws_1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        caller.role = "admin"


def test_only_admins_pass_require_admin_and_the_refusal_names_what_was_asked():
    require_admin(Caller.for_agent("a_1", "ws_1", role="admin"), "delete webhooks")  # no error
    for caller in (Caller.for_agent("a_1", "ws_1"), Caller.system("ws_1"), Caller.for_visitor("v_1", "ws_1")):
        with pytest.raises(ForbiddenError) as info:
            require_admin(caller, "delete webhooks")
        assert info.value.message == "only admins can delete webhooks"
        assert (info.value.code, info.value.status) == ("forbidden", 403)
    with pytest.raises(ForbiddenError, match="^only admins can do this$"):
        require_admin(Caller.for_agent("a_1", "ws_1"))


def test_a_visitor_caller_cannot_be_given_a_role():
    with pytest.raises(TypeError):
        Caller.for_visitor("v_1", "ws_a", role="admin")  # a visitor is never an admin
