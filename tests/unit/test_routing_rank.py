"""Which agent gets the next chat (chalicelib/chat/routing.py): is_available, serves and ranked, on Agent
models built in memory (nothing here reads a table)."""
import pytest

from chalicelib.chat.routing import is_available, ranked, serves
from chalicelib.store.models import Agent


def agent(agent_id: str, **fields) -> Agent:
    fields = {"workspace_id": "ws_1", "status": "online", "capacity": 3, "active_chats": 0, **fields}
    return Agent(agent_id, **fields)


def ids(agents) -> list[str]:
    return [a.id for a in agents]


def test_an_online_connected_agent_with_a_free_slot_is_available():
    assert is_available(agent("a", active_chats=2, capacity=3))


@pytest.mark.parametrize("fields", [
    {"status": "away"}, {"status": "offline"},
    {"presence_pending": "pending"},  # online by choice, but the last socket closed
    {"active_chats": 3, "capacity": 3}, {"active_chats": 4, "capacity": 3},  # full (or over, after a cut)
    {"capacity": 0},
])
def test_away_offline_disconnected_or_full_agents_are_not_available(fields):
    assert not is_available(agent("a", **fields))


def test_an_agent_with_no_count_of_open_chats_has_them_all_free():
    assert is_available(agent("a", active_chats=None, capacity=1))


def test_no_group_is_served_by_everyone_and_a_group_only_by_its_members():
    billing, nobody = agent("b", groups=["billing", "vip"]), agent("n", groups=[])
    assert serves(billing, None) and serves(nobody, None)
    assert serves(billing, "billing") and serves(billing, "vip")
    assert not serves(nobody, "billing") and not serves(billing, "sales")
    assert not serves(agent("x", groups=None), "billing")


def test_fewest_open_chats_first():
    agents = [agent("busy", active_chats=2), agent("idle", active_chats=0), agent("some", active_chats=1)]
    assert ids(ranked(agents, None)) == ["idle", "some", "busy"]


def test_on_a_tie_the_agent_assigned_longest_ago_first_and_never_assigned_before_all():
    agents = [agent("recent", active_chats=1, last_assigned_at="2026-11-23T10:05:00.000Z"),
              agent("earlier", active_chats=1, last_assigned_at="2026-11-23T09:00:00.000Z"),
              agent("never", active_chats=1, last_assigned_at=None),
              agent("freer", active_chats=0, last_assigned_at="2026-11-23T10:30:00.000Z")]
    assert ids(ranked(agents, None)) == ["freer", "never", "earlier", "recent"]


def test_fewer_chats_wins_over_a_longer_idle_time():
    agents = [agent("idle-long", active_chats=2, last_assigned_at="2026-01-01T00:00:00.000Z"),
              agent("just-now", active_chats=1, last_assigned_at="2026-11-23T10:00:00.000Z")]
    assert ids(ranked(agents, None)) == ["just-now", "idle-long"]


def test_only_available_agents_of_the_group_are_ranked():
    agents = [agent("full", groups=["billing"], active_chats=3),
              agent("away", groups=["billing"], status="away"),
              agent("gone", groups=["billing"], presence_pending="pending"),
              agent("sales", groups=["sales"]),
              agent("billing-2", groups=["billing"], active_chats=1),
              agent("billing-1", groups=["billing", "sales"])]
    assert ids(ranked(agents, "billing")) == ["billing-1", "billing-2"]
    assert ids(ranked(agents, None)) == ["sales", "billing-1", "billing-2"]  # a tie keeps the input order
    assert ranked(agents, "vip") == []
    assert ranked([], None) == []


def test_equal_agents_keep_their_order_and_the_input_is_not_reordered():
    agents = [agent("first"), agent("second"), agent("third", active_chats=1), agent("fourth")]
    assert ids(ranked(agents, None)) == ["first", "second", "fourth", "third"]
    assert ids(agents) == ["first", "second", "third", "fourth"]
