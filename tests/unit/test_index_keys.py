"""A conversation's derived index keys (chalicelib/chat/conversations.py): the status index key always,
and the sparse ones only while they mean something: `assignee_active` while an assignee holds a slot
(open, pending), `queue_key`/`queued_at`/`ticket` while queued. entry_ticket: a ticket only on entering
a queue the conversation is not in yet."""
import re

import pytest

from chalicelib.chat import conversations, tickets
from chalicelib.chat.conversations import ACTIVE, STATUSES, entry_ticket, index_keys, queue_key
from chalicelib.store.models import Conversation

TICKET = tickets.Ticket(number=7, queued_at="2026-11-23T10:00:00.000Z")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_a_queue_is_a_workspace_and_a_group_and_no_group_is_the_star_queue():
    assert queue_key("ws_1", "billing") == "ws_1#billing"
    assert queue_key("ws_1", None) == queue_key("ws_1", "") == "ws_1#*"
    assert queue_key("ws_1", "billing") != queue_key("ws_2", "billing")


def test_the_slot_holding_statuses_are_open_and_pending():
    assert ACTIVE == ("open", "pending") and set(ACTIVE) < set(STATUSES)


@pytest.mark.parametrize("status", ["open", "pending"])
def test_an_assigned_open_or_pending_conversation_is_on_its_assignees_index_only(status):
    assert index_keys("ws_1", status, "agent-1", "billing") == {
        "ws_status": f"ws_1#{status}", "assignee_active": "agent-1", "queue_key": None, "queued_at": None,
        "ticket": None}


@pytest.mark.parametrize("status", ["bot", "solved", "closed"])
def test_other_statuses_set_no_sparse_key_even_with_an_assignee(status):
    assert index_keys("ws_1", status, "agent-1", "billing", TICKET) == {
        "ws_status": f"ws_1#{status}", "assignee_active": None, "queue_key": None, "queued_at": None,
        "ticket": None}


def test_an_open_conversation_without_an_assignee_holds_no_slot():
    assert index_keys("ws_1", "open", None)["assignee_active"] is None
    assert index_keys("ws_1", "open", "")["assignee_active"] is None


def test_a_queued_conversation_is_in_its_groups_queue_with_its_tickets_place():
    assert index_keys("ws_1", "queued", None, "billing", TICKET) == {
        "ws_status": "ws_1#queued", "assignee_active": None, "queue_key": "ws_1#billing",
        "queued_at": "2026-11-23T10:00:00.000Z", "ticket": 7}
    assert index_keys("ws_1", "queued", "agent-1", None, TICKET)["assignee_active"] is None  # queued: no slot
    assert index_keys("ws_1", "queued", None, None, TICKET)["queue_key"] == "ws_1#*"


def test_queued_without_a_ticket_is_stamped_now_with_no_number(monkeypatch):
    monkeypatch.setattr(conversations, "iso", lambda: "2026-11-23T12:34:56.789Z")
    keys = index_keys("ws_1", "queued", None, "billing")
    assert (keys["queue_key"], keys["queued_at"], keys["ticket"]) == ("ws_1#billing", "2026-11-23T12:34:56.789Z", None)
    monkeypatch.undo()
    assert STAMP.match(index_keys("ws_1", "queued", None)["queued_at"])


def test_every_status_gives_exactly_the_five_keys():
    for status in STATUSES:
        assert set(index_keys("ws_1", status, "a", "g", TICKET)) == {
            "ws_status", "assignee_active", "queue_key", "queued_at", "ticket"}


# --- entry_ticket ---------------------------------------------------------------------------

@pytest.fixture
def taken(monkeypatch):
    """tickets.take, which would write the queue's counter: records the queue asked for instead."""
    queues = []

    def take(queue):
        queues.append(queue)
        return tickets.Ticket(len(queues), f"2026-11-23T10:00:0{len(queues)}.000Z")
    monkeypatch.setattr(tickets, "take", take)
    return queues


def conversation(status: str, group: str | None = None) -> Conversation:
    return Conversation("c_1", workspace_id="ws_1", status=status, group=group,
                        queue_key=queue_key("ws_1", group) if status == "queued" else None)


@pytest.mark.parametrize("status", ["bot", "open", "pending", "solved", "closed"])
def test_no_ticket_for_a_status_that_is_not_a_queue(taken, status):
    assert entry_ticket(conversation("queued", "billing"), status, "billing") is None
    assert taken == []


@pytest.mark.parametrize("before", ["bot", "open", "pending", "solved", "closed"])
def test_entering_the_queue_takes_a_ticket_of_that_queue(taken, before):
    ticket = entry_ticket(conversation(before), "queued", "billing")
    assert ticket == tickets.Ticket(1, "2026-11-23T10:00:01.000Z") and taken == ["ws_1#billing"]


def test_staying_in_the_same_queue_keeps_its_place(taken):
    assert entry_ticket(conversation("queued", "billing"), "queued", "billing") is None
    assert entry_ticket(conversation("queued", None), "queued", None) is None
    assert taken == []


def test_moving_to_another_groups_queue_goes_to_its_back(taken):
    assert entry_ticket(conversation("queued", "billing"), "queued", "sales").number == 1
    assert entry_ticket(conversation("queued", "billing"), "queued", None).number == 2
    assert taken == ["ws_1#sales", "ws_1#*"]
