"""Queue positions from tickets on moto: what a position costs, what it says after out-of-order leaves,
two groups' queues, and the ticket order that makes the figure an upper bound."""
import json
import threading
from collections import Counter

import pytest

from chalicelib import bootstrap
from chalicelib.chat import assignment, conversations, routing
from chalicelib.core import clock
from chalicelib.edges import ws
from chalicelib.store.models import Conversation, Key, Visitor

HEAD = 4  # the first places read and re-announced: fewer than in production, so a short queue has a back


@pytest.fixture(autouse=True)
def short_head(monkeypatch):
    monkeypatch.setattr(routing, "QUEUE_HEAD", HEAD)


def new_chat(world, text="Hello"):
    visitor = world.visitor_connection()
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": text}),
                    world.sender)
    ack = world.api.of(visitor.connection_id, "ack")[-1]
    return visitor, ack["conversation"]["id"]


def told(world, visitor) -> int | None:
    """The position this visitor was last told, if any."""
    events = world.api.of(visitor.connection_id, "queue")
    return events[-1]["position"] if events else None


def queue_order(workspace_id="ws_a", group=None) -> list[str]:
    """The truth, read in full (the test may; the app does not): waiting conversations in line order."""
    return [c.id for c in Conversation.in_queue.query(conversations.queue_key(workspace_id, group))]


def frame(caller, action, **fields):
    return json.dumps({"action": action, "ref": action, **fields})


class IndexReads:
    """Counts the Queries the app sends to the queue-index and the items they return."""

    def __init__(self):
        self.queries, self.items, self._index = 0, 0, None

    def asked(self, params, **_):  # provide-client-params: the call's own parameters
        self._index = params.get("IndexName")

    def answered(self, parsed, **_):  # after-call: the parsed response
        if self._index == "queue-index":
            self.queries += 1
            self.items += int(parsed.get("Count", 0))

    def __enter__(self):
        self.events = Conversation._get_connection().connection.client.meta.events
        self.events.register("provide-client-params.dynamodb.Query", self.asked, unique_id="test-queue-asked")
        self.events.register("after-call.dynamodb.Query", self.answered, unique_id="test-queue-answered")
        return self

    def __exit__(self, *exc):
        self.events.unregister("provide-client-params.dynamodb.Query", unique_id="test-queue-asked")
        self.events.unregister("after-call.dynamodb.Query", unique_id="test-queue-answered")


def test_a_position_reads_the_same_few_items_with_3_or_15_conversations_waiting(world):
    world.online_agent(capacity=0)  # online and full: every drain looks, nobody is assigned
    cost = {}
    for waiting in (3, 15):
        while len(queue_order()) < waiting:
            new_chat(world)
        with IndexReads() as reads:
            visitor, _ = new_chat(world)
        assert told(world, visitor) == waiting + 1
        cost[waiting] = (reads.queries, reads.items)
    assert cost[3][0] >= 2  # the drain's look at the head, and the position
    assert cost[15][0] == cost[3][0]  # the same requests
    assert cost[15][1] <= cost[15][0] * HEAD  # and never more than the head of the queue per Query


def test_a_move_of_the_queue_re_announces_only_its_first_places(world):
    agent = world.online_agent(capacity=1)
    _, held = new_chat(world)
    waiting = [new_chat(world) for _ in range(HEAD + 3)]
    assert [told(world, v) for v, _ in waiting] == list(range(1, HEAD + 4))  # exact, tickets without gaps
    announced_before = [len(world.api.of(v.connection_id, "queue")) for v, _ in waiting]

    ws.handle_frame(agent.connection_id, frame(agent, "set_status", conversation_id=held, status="solved"),
                    world.sender)

    assert Conversation.get(waiting[0][1]).assignee_id == agent.id
    still = waiting[1:]
    announced = [len(world.api.of(v.connection_id, "queue")) - n for (v, _), n in zip(still, announced_before[1:], strict=False)]
    assert all(n >= 1 for n in announced[:HEAD])  # the first places hear their new position
    assert [told(world, v) for v, _ in still[:HEAD]] == list(range(1, HEAD + 1))
    assert announced[HEAD:] == [0, 0]  # further back: nothing, their figure is still an upper bound
    truth = queue_order()
    assert all(told(world, v) >= truth.index(c) + 1 for v, c in still)


def never_below_the_truth() -> None:
    """Every waiting conversation's figure is at least its real place, and so never 0."""
    truth = queue_order()
    for place, conversation_id in enumerate(truth, start=1):
        assert routing.position(Conversation.get(conversation_id)) >= place >= 1


def test_an_out_of_order_leave_overestimates_behind_the_head_until_the_queue_reaches_them(world):
    world.online_agent(capacity=0)
    waiting = [new_chat(world)[1] for _ in range(HEAD + 5)]  # tickets 1..9
    hand = world.agent_connection(world.agent(capacity=9))
    # Two leave from behind the head, out of order: the 6th accepted by hand, the 7th solved unassigned.
    assignment.accept(hand, waiting[HEAD + 1], world.sender)
    assignment.set_status(hand, waiting[HEAD + 2], "solved", world.sender)
    last = Conversation.get(waiting[-1])
    assert queue_order().index(last.id) + 1 == HEAD + 3
    assert routing.position(last) == HEAD + 5  # both tickets still count: 2 too many, never too few
    never_below_the_truth()
    # A leave from the head counts at once: the head moves, and its last ticket with it.
    assignment.accept(hand, waiting[0], world.sender)
    assert routing.position(last) == HEAD + 4
    never_below_the_truth()
    # Once the head reaches it, the figure is exact again: the gaps are out of the count.
    for conversation_id in waiting[1:4]:
        assignment.set_status(hand, conversation_id, "solved", world.sender)
    assert routing.position(Conversation.get(last.id)) == queue_order().index(last.id) + 1 == 3
    never_below_the_truth()


def test_two_groups_have_their_own_tickets_and_a_transfer_joins_the_back_of_the_other_queue(world):
    world.online_agent(capacity=0)
    world.online_agent(capacity=0, groups=["tech"])
    agent = world.agent_connection(world.agent(capacity=5))
    general = [new_chat(world) for _ in range(HEAD + 4)]
    tech = []
    for visitor, conversation_id in general[:HEAD + 2]:  # the oldest ones move to tech
        ws.handle_frame(agent.connection_id, frame(agent, "transfer", conversation_id=conversation_id,
                                                    to_group="tech"), world.sender)
        tech.append((visitor, conversation_id))
    # Tech's own tickets: 1..22 in the order they arrived there, whatever the general queue's were.
    assert [int(Conversation.get(c).ticket) for _, c in tech] == list(range(1, HEAD + 3))
    assert queue_order(group="tech") == [c for _, c in tech]
    assert [routing.position(Conversation.get(c)) for _, c in tech] == list(range(1, HEAD + 3))
    # A general conversation sent to tech now joins tech's back, though it queued before all of them.
    moved_visitor, moved = general[HEAD + 2]
    ws.handle_frame(agent.connection_id, frame(agent, "transfer", conversation_id=moved, to_group="tech"),
                    world.sender)
    assert queue_order(group="tech")[-1] == moved
    assert routing.position(Conversation.get(moved)) == HEAD + 3
    # What stays in general is at the head there: 22 tickets left before it, out of order or not.
    stays = Conversation.get(general[-1][1])
    assert queue_order() == [stays.id] and routing.position(stays) == 1


def test_tickets_follow_the_queue_order_when_arrivals_share_a_millisecond_or_a_clock_is_behind(world, monkeypatch):
    t = [clock.now()]
    bootstrap.configure(sender=world.sender, now=lambda: t[0])  # every module reads this clock
    first_visitor, first = new_chat(world)
    second_visitor, second = new_chat(world)  # the same millisecond
    t[0] -= 5  # a container whose clock is five seconds behind
    third_visitor, third = new_chat(world)
    assert queue_order() == [first, second, third]
    stamps = [Conversation.get(c).queued_at for c in (first, second, third)]
    assert stamps == sorted(set(stamps))  # strictly later each time
    assert [told(world, v) for v in (first_visitor, second_visitor, third_visitor)] == [1, 2, 3]
    assert int(Key.get("queue#ws_a#*").seq) == 3


def test_concurrent_arrivals_get_distinct_tickets_in_queue_order(world):
    sessions = [world.visitor_session() for _ in range(8)]
    errors = []

    def arrive(session):
        try:
            visitor = world.visitor_connection(session)
            ws.handle_frame(visitor.connection_id, frame(visitor, "start", text="hi"), world.sender)
        except Exception as exc:  # a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    line = [Conversation.get(c) for c in queue_order()]
    assert len(line) == 8
    assert [int(c.ticket) for c in line] == sorted(int(c.ticket) for c in line)
    assert Counter(int(c.ticket) for c in line) == Counter(range(1, 9))
    ids = {Visitor.get(s["visitor_id"]).active_conversation_id for s in sessions}
    assert ids == {c.id for c in line}
