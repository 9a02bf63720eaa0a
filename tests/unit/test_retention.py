"""Per-site retention (chalicelib/store/retention.py): the horizon a write sets, the updates that set it
on a conversation or a visitor, and when an item counts as gone."""
from types import SimpleNamespace

import pytest
from pynamodb.expressions.update import RemoveAction, SetAction

from chalicelib.config import settings
from chalicelib.store import retention
from chalicelib.store.retention import DAY, conversation_actions, expired, horizon, visitor_actions

T = 1_700_000_000


def plain(actions) -> list[tuple]:
    """Each update as ("set", attribute, number) or ("remove", attribute)."""
    out = []
    for action in actions:
        path = str(action.values[0])
        if isinstance(action, SetAction):
            out.append(("set", path, int(action.values[1].value["N"])))
        else:
            assert isinstance(action, RemoveAction)
            out.append(("remove", path))
    return out


def test_a_day_is_86400_seconds():
    assert DAY == 86_400


@pytest.mark.parametrize("days", [None, 0, "", 0.0])
def test_no_retention_is_no_horizon(days):
    assert horizon(days, T) is None
    assert horizon(days) is None


def test_the_horizon_is_whole_seconds_days_after_the_write():
    assert horizon(30, T) == T + 30 * DAY
    assert horizon(1, T + 0.999) == T + DAY  # the write's second, not rounded up
    assert horizon("7", T) == T + 7 * DAY  # as DynamoDB numbers and settings may arrive


def test_the_horizon_defaults_to_now(monkeypatch):
    monkeypatch.setattr(retention, "now", lambda: T + 0.5)
    assert horizon(2) == T + 2 * DAY


def test_a_conversation_holding_a_slot_has_no_horizon_and_one_that_does_not_gets_one():
    assert plain(conversation_actions(30, holds_slot=True, t=T)) == [("remove", "expires_at")]
    assert plain(conversation_actions(30, holds_slot=False, t=T)) == [("set", "expires_at", T + 30 * DAY)]


@pytest.mark.parametrize("holds_slot", [True, False])
def test_a_conversation_kept_forever_is_not_touched(holds_slot):
    assert conversation_actions(None, holds_slot, T) == [] == conversation_actions(0, holds_slot, T)


def test_a_visitor_outlives_what_their_last_sessions_token_can_write(monkeypatch):
    monkeypatch.setattr(settings, "visitor_token_ttl", 24 * 3600)
    assert plain(visitor_actions(30, T)) == [("set", "expires_at", T + 30 * DAY + 24 * 3600)]
    monkeypatch.setattr(settings, "visitor_token_ttl", 60)
    assert plain(visitor_actions(1, T)) == [("set", "expires_at", T + DAY + 60)]


def test_a_visitor_of_a_site_that_keeps_everything_loses_any_old_horizon():
    assert plain(visitor_actions(None, T)) == [("remove", "expires_at")] == plain(visitor_actions(0, T))


def test_an_item_is_gone_from_its_horizon_on():
    assert not expired(SimpleNamespace(expires_at=T + 1), T)
    assert expired(SimpleNamespace(expires_at=T), T)  # at the horizon: gone
    assert expired(SimpleNamespace(expires_at=T - 1), T)
    assert expired(SimpleNamespace(expires_at=T), T + 0.5)
    assert not expired(SimpleNamespace(expires_at=T + 1), T + 0.5)


def test_an_item_without_a_horizon_never_expires():
    assert not expired(SimpleNamespace(expires_at=None), T)
    assert not expired(SimpleNamespace(), T)
    assert not expired(None, T)


def test_expired_reads_the_clock_when_no_time_is_given(monkeypatch):
    monkeypatch.setattr(retention, "now", lambda: T)
    assert expired(SimpleNamespace(expires_at=T))
    assert not expired(SimpleNamespace(expires_at=T + 1))


def test_a_message_written_now_expires_no_later_than_its_conversation():
    """A message's own horizon and its conversation's, from the same write, are the same second."""
    [conversation] = plain(conversation_actions(30, holds_slot=False, t=T + 0.7))
    assert conversation[2] == horizon(30, T + 0.7)
