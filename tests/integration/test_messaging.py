"""Sending messages on moto with the real schemas: storage before delivery, seq, idempotency, limits."""
import json
import threading

import pytest

from chalicelib import bootstrap
from chalicelib.chat import assignment, conversations, intake, messaging, subscriptions
from chalicelib.core.clock import iso, now
from chalicelib.edges import ws
from chalicelib.errors import ConflictError, NotFoundError, RateLimitedError
from chalicelib.store.models import Connection, Conversation, Message


def start(world, caller):
    return intake.start(caller, {}, world.sender)


def test_a_message_is_stored_with_the_next_seq_then_delivered_to_subscribers(world):
    visitor = world.visitor_connection()
    agent = world.agent_connection(world.agent())
    conversation = start(world, visitor)
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)

    first = messaging.send_message(visitor, conversation.id, "hello", client_msg_id="c1", internal=False,
                                   sender=world.sender, ref="r1")
    second = messaging.send_message(visitor, conversation.id, "anyone?", client_msg_id="c2", internal=False,
                                    sender=world.sender, ref="r2")

    assert [first["seq"], second["seq"]] == [1, 2]
    stored = Message.get(conversation.id, 1)
    assert (stored.text, stored.author_kind, stored.client_msg_id) == ("hello", "visitor", "c1")
    assert Conversation.get(conversation.id).last_seq == 2
    acks = world.api.of(visitor.connection_id, "ack")
    assert [(a["ref"], a["message"]["seq"]) for a in acks] == [("r1", 1), ("r2", 2)]
    delivered = world.api.of(agent.connection_id, "message")
    assert [m["message"]["text"] for m in delivered] == ["hello", "anyone?"]


def test_a_repeated_client_msg_id_returns_the_first_message_and_stores_nothing(world):
    visitor = world.visitor_connection()
    agent = world.agent_connection(world.agent())
    conversation = start(world, visitor)
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)

    first = messaging.send_message(visitor, conversation.id, "once", client_msg_id="same", internal=False,
                                   sender=world.sender)
    again = messaging.send_message(visitor, conversation.id, "once", client_msg_id="same", internal=False,
                                   sender=world.sender)

    assert again["id"] == first["id"] and again["seq"] == first["seq"] == 1
    assert Conversation.get(conversation.id).last_seq == 1
    assert [a["duplicate"] for a in world.api.of(visitor.connection_id, "ack")] == [False, True]
    assert len(world.api.of(agent.connection_id, "message")) == 1


def test_client_msg_ids_are_scoped_to_their_author(world):
    visitor = world.visitor_connection()
    agent = world.agent_connection(world.agent())
    conversation = start(world, visitor)
    a = messaging.send_message(visitor, conversation.id, "v", client_msg_id="1", internal=False, sender=world.sender)
    b = messaging.send_message(agent, conversation.id, "a", client_msg_id="1", internal=False, sender=world.sender)
    assert (a["seq"], b["seq"]) == (1, 2)


def test_concurrent_senders_get_contiguous_seqs(world):
    visitor = world.visitor_connection()
    agents = [world.agent_connection(world.agent()) for _ in range(3)]
    conversation = start(world, visitor)
    callers = [visitor, *agents]
    seqs, errors = [], []

    def send(caller, n):
        try:
            for i in range(n):
                message = messaging.send_message(caller, conversation.id, f"{caller.id} {i}",
                                                 client_msg_id=f"{caller.connection_id}-{i}", internal=False,
                                                 sender=world.sender)
                seqs.append(message["seq"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(c, 8)) for c in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert sorted(seqs) == list(range(1, 8 * len(callers) + 1))
    stored = [m.seq for m in Message.query(conversation.id)]
    assert stored == list(range(1, 8 * len(callers) + 1))


def test_visitors_are_limited_to_20_messages_per_10_seconds_and_lose_none_accepted(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    accepted, limited = [], 0
    for i in range(25):
        try:
            accepted.append(messaging.send_message(visitor, conversation.id, f"m{i}", client_msg_id=f"m{i}",
                                                   internal=False, sender=world.sender)["text"])
        except RateLimitedError as exc:
            limited += 1
            assert 0 < exc.retry_after <= 10
    assert accepted == [f"m{i}" for i in range(20)] and limited == 5
    assert [m.text for m in Message.query(conversation.id)] == accepted


def test_the_flood_window_resets(world, monkeypatch):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    t = [1_000_000.0]
    bootstrap.configure(sender=world.sender, now=lambda: t[0])  # every module reads this clock
    for i in range(20):
        messaging.send_message(visitor, conversation.id, f"a{i}", client_msg_id=None, internal=False,
                               sender=world.sender)
    with pytest.raises(RateLimitedError):
        messaging.send_message(visitor, conversation.id, "late", client_msg_id=None, internal=False,
                               sender=world.sender)
    t[0] += 9.9  # the burst is still inside the last 10 s
    with pytest.raises(RateLimitedError) as info:
        messaging.send_message(visitor, conversation.id, "still too soon", client_msg_id=None, internal=False,
                               sender=world.sender)
    assert info.value.retry_after == pytest.approx(0.1, abs=0.01)
    t[0] += 0.2  # and now it is not: a sliding window, not a lockout
    assert messaging.send_message(visitor, conversation.id, "later", client_msg_id=None, internal=False,
                                  sender=world.sender)["seq"] == 21


def test_internal_notes_reach_agents_only_and_never_a_visitors_history(world):
    visitor = world.visitor_connection()
    agent, colleague = (world.agent_connection(world.agent()) for _ in range(2))
    conversation = start(world, visitor)
    for caller in (agent, colleague):
        subscriptions.subscribe(caller.connection_id, "agent", conversation.id)
    messaging.send_message(agent, conversation.id, "customer seems upset", client_msg_id=None, internal=True,
                           sender=world.sender)
    messaging.send_message(agent, conversation.id, "How can I help?", client_msg_id=None, internal=False,
                           sender=world.sender)

    assert [m["message"]["text"] for m in world.api.of(visitor.connection_id, "message")] == ["How can I help?"]
    assert [m["message"]["text"] for m in world.api.of(colleague.connection_id, "message")] == [
        "customer seems upset", "How can I help?"]
    conv = Conversation.get(conversation.id)
    seen, _ = conversations.history(visitor, conv)
    assert [m["text"] for m in seen] == ["How can I help?"]
    seen, _ = conversations.history(agent, conv)
    assert [m["internal"] for m in seen] == [True, False]


def test_visitors_cannot_write_internal_notes(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "send", "conversation_id": conversation.id,
                                                        "text": "x", "internal": True, "ref": "n"}), world.sender)
    error = world.api.of(visitor.connection_id, "error")[-1]
    assert (error["code"], error["field"], error["ref"]) == ("bad_request", "internal", "n")
    assert Conversation.get(conversation.id).last_seq == 0


def test_history_pages_backwards_and_forwards(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    for i in range(1, 8):
        messaging.send_message(visitor, conversation.id, f"m{i}", client_msg_id=None, internal=False,
                               sender=world.sender)
    conv = Conversation.get(conversation.id)
    latest, more = conversations.history(visitor, conv, limit=3)
    assert [m["seq"] for m in latest] == [5, 6, 7] and more
    older, more = conversations.history(visitor, conv, before_seq=5, limit=3)
    assert [m["seq"] for m in older] == [2, 3, 4] and more
    after, more = conversations.history(visitor, conv, after_seq=5, limit=10)
    assert [m["seq"] for m in after] == [6, 7] and not more


def test_another_visitors_conversation_is_not_found(world):
    alice, mallory = world.visitor_connection(), world.visitor_connection()
    conversation = start(world, alice)
    with pytest.raises(NotFoundError):
        messaging.send_message(mallory, conversation.id, "hi", client_msg_id=None, internal=False,
                               sender=world.sender)
    with pytest.raises(NotFoundError):
        conversations.load(world.agent_connection(world.agent("ws_b")), conversation.id)


def test_a_gone_recipient_is_forgotten_and_the_others_still_receive(world):
    visitor = world.visitor_connection()
    gone, present = (world.agent_connection(world.agent()) for _ in range(2))
    conversation = start(world, visitor)
    for caller in (gone, present):
        subscriptions.subscribe(caller.connection_id, "agent", conversation.id)
    world.api.drop(gone.connection_id)
    # Opened a while ago (a 410 for a socket still in its $connect keeps it: tests/integration/test_reconnect.py)
    Connection(gone.connection_id).update(actions=[Connection.connected_at.set(iso(now() - 60))])

    messaging.send_message(visitor, conversation.id, "still there?", client_msg_id=None, internal=False,
                           sender=world.sender)

    assert len(world.api.of(present.connection_id, "message")) == 1
    assert Connection.count(gone.connection_id) == 0
    subscribers = Conversation.get(conversation.id).subscribers.as_dict()
    assert gone.connection_id not in subscribers and present.connection_id in subscribers
    assert Connection.count(visitor.connection_id) == 1  # the sender's connection is untouched


def test_a_visitor_reply_reopens_a_solved_conversation_to_the_same_agent(world):
    visitor = world.visitor_connection()
    agent_id = world.agent()
    agent = world.agent_connection(agent_id)
    conversation = start(world, visitor)
    assignment.accept(agent, conversation.id, world.sender)
    assignment.set_status(agent, conversation.id, "solved", world.sender)
    assert Conversation.get(conversation.id).status == "solved"

    messaging.send_message(visitor, conversation.id, "one more thing", client_msg_id=None, internal=False,
                           sender=world.sender)

    reopened = Conversation.get(conversation.id)
    assert (reopened.status, reopened.assignee_id, reopened.assignee_active) == ("open", agent_id, agent_id)


def test_a_closed_conversation_refuses_visitor_messages(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    Conversation(conversation.id).update(actions=[Conversation.status.set("closed")])
    with pytest.raises(ConflictError):
        messaging.send_message(visitor, conversation.id, "hello?", client_msg_id=None, internal=False,
                               sender=world.sender)


def test_a_subscriber_whose_record_expired_is_dropped_when_found_gone(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    subscriptions.subscribe(visitor.connection_id, "visitor", conversation.id)
    Conversation(conversation.id).update(actions=[Conversation.subscribers["expired-conn"].set("agent")])
    messaging.send_message(visitor, conversation.id, "hi", client_msg_id=None, internal=False, sender=world.sender)
    assert "expired-conn" not in Conversation.get(conversation.id).subscribers.as_dict()


def test_a_retry_of_a_stored_message_is_acked_even_when_the_visitor_is_now_limited(world):
    visitor = world.visitor_connection()
    conversation = start(world, visitor)
    first = messaging.send_message(visitor, conversation.id, "m0", client_msg_id="m0", internal=False,
                                   sender=world.sender)
    for i in range(1, 20):
        messaging.send_message(visitor, conversation.id, f"m{i}", client_msg_id=f"m{i}", internal=False,
                               sender=world.sender)
    again = messaging.send_message(visitor, conversation.id, "m0", client_msg_id="m0", internal=False,
                                   sender=world.sender)
    assert again["id"] == first["id"]
    with pytest.raises(RateLimitedError):
        messaging.send_message(visitor, conversation.id, "new", client_msg_id="m20", internal=False,
                               sender=world.sender)


def test_history_replies_fit_in_one_websocket_post(world):
    visitor = world.visitor_connection()
    agent = world.agent_connection(world.agent())
    conversation = start(world, visitor)
    for i in range(40):
        messaging.send_message(agent, conversation.id, f"{i} " + "x" * 3990, client_msg_id=None, internal=False,
                               sender=world.sender)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "history", "conversation_id": conversation.id,
                                                        "ref": "h", "limit": 100}), world.sender)
    reply = world.api.of(visitor.connection_id, "ack")[-1]
    assert len(json.dumps(reply).encode()) < 128 * 1024 and reply["has_more"]
    assert [m["seq"] for m in reply["messages"]] == list(range(41 - len(reply["messages"]), 41))


def test_start_checks_the_first_message_before_creating_anything(world):
    visitor = world.visitor_connection()
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": "  "}), world.sender)
    assert world.api.of(visitor.connection_id, "error")[-1]["field"] == "text"
    from chalicelib.store.models import Visitor
    assert Visitor.get(visitor.id).active_conversation_id is None
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s2", "text": "Hello",
                                                        "client_msg_id": "first"}), world.sender)
    ack = world.api.of(visitor.connection_id, "ack")[-1]
    assert ack["message"]["text"] == "Hello" and ack["message"]["client_msg_id"] == "first"


def test_current_tells_the_open_conversation_without_creating_one(world):
    visitor = world.visitor_connection()
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "current", "ref": "c"}), world.sender)
    assert world.api.of(visitor.connection_id, "ack")[-1]["conversation"] is None
    conversation = start(world, visitor)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "current", "ref": "c2"}), world.sender)
    assert world.api.of(visitor.connection_id, "ack")[-1]["conversation"]["id"] == conversation.id
