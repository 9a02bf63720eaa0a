"""Hostile websocket frames against the real local stack, on a visitor's socket and an agent's.

Property (docs/protocol.md §3.3): every frame that asks for a reply gets exactly one, an `ack` or an
`error` with a documented code, a message and its ref echoed when the ref could be; the frame-level
checks answer in their documented order; `typing` and `read` get nothing when they are right and one
error when they are not; no reply is ever duplicated or sent to a ref nobody used; no frame closes the
socket (a ping after each batch is answered). Frames go in batches of up to five at once, since the
gateway handles up to four of one socket concurrently.

A stack of its own: the agent's random presence, accepts, transfers and solves must not reach other
tests' data.
"""
from dataclasses import dataclass

import pytest
from hypothesis import assume, example, given, note
from hypothesis import strategies as st

from chalicelib.edges.ws import AGENT_ACTIONS, VISITOR_ACTIONS
from tests.conftest import running_stack
from tests.fuzz import strategies
from tests.fuzz.support import COUNTS, StackLog, examples, fuzz_settings
from tests.fuzz.wire import NULL, SEND_LIMIT, Ledger, Socket, check_reply, materialize, size_of, start_conversation

NOWHERE = "c_" + "0" * 32  # a conversation id that exists nowhere


@dataclass
class World:
    stack: object
    visitor_token: str
    agent_token: str
    mine: str          # the fuzzed visitor's conversation
    neighbour: str     # another visitor's, same workspace (the agent's too)
    foreign: str       # a conversation of another workspace
    agent_ids: list
    log: StackLog

    def url(self, token: str) -> str:
        return f"{self.stack.ws}?token={token}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz-ws-stack")
    with running_stack(workdir) as stack:
        agent, admin, other = (stack.agent(f"{who}@example.com") for who in ("agent", "admin", "agent-b"))
        me = stack.visitor("demo", name="Fuzz Visitor")
        conversations = [start_conversation(stack, stack.visitor(site, name=f"{site} neighbour") if site else me)
                         for site in (None, "demo", "demo-b")]
        yield World(stack, me["token"], agent["token"], *conversations,
                    agent_ids=[agent["agent"]["id"], admin["agent"]["id"], other["agent"]["id"], "a_nobody", ""],
                    log=StackLog(workdir / "stack.log"))


def test_the_strategies_cover_every_action():
    """A new action without a line in strategies.ws_schemas fails here, not silently unfuzzed."""
    schemas = strategies.ws_schemas(["c"], ["a"])
    assert set(schemas["visitor"]) == set(VISITOR_ACTIONS)
    assert set(schemas["agent"]) == set(AGENT_ACTIONS)


def _fuzz(world: World, kind: str, token: str, own: set[str], count: int) -> None:
    actions = set(VISITOR_ACTIONS if kind == "visitor" else AGENT_ACTIONS)
    cids = [world.mine, world.neighbour, world.foreign, NOWHERE, f" {world.mine} "]
    schemas = strategies.ws_schemas(cids, world.agent_ids)
    sock = Socket(world.url(token), kind)
    ledger = Ledger(sock)

    @fuzz_settings(max_examples=count)
    @given(batch=st.lists(strategies.frames(schemas, kind), min_size=1, max_size=5))
    def frames_are_answered_once(batch):
        if sock.closed:  # a frame of an earlier example closed it: that example failed; go on for shrinking
            COUNTS.reconnect()
            sock.open()
        prepared = []
        null_in_flight = False
        mark = world.log.mark()
        for template in batch:
            data, expected = materialize(template, actions, own, kind == "agent")
            if expected.key == NULL and (expected.replies != "one" or null_in_flight):
                if isinstance(template.value, dict):
                    data, expected = materialize(template, actions, own, kind == "agent", force_echo=True)
                if expected.key == NULL:
                    continue  # no ref it could be told by (not an object, or not readable): another batch
            if size_of(data) > SEND_LIMIT:
                continue
            null_in_flight |= expected.key == NULL
            prepared.append((data, expected))
        assume(prepared)
        for data, expected in prepared:
            note(f"sent {expected.brief()!r}: owed {expected.replies} ({expected.code or expected.action})")
            ledger.record(expected)
            sock.send(data)
            COUNTS.frame(kind)
        with world.log.explaining(mark):
            for _, expected in prepared:
                if expected.replies != "one":
                    continue
                wanted = ledger.null_frames if expected.key == NULL else 1
                replies = sock.wait(expected.key, wanted)
                if expected.key != NULL:
                    assert len(replies) == 1, f"{len(replies)} replies to {expected.brief()!r}: {replies}"
                reply = replies[-1]
                check_reply(reply, expected)
                COUNTS.reply(f"error:{reply['code']}" if reply["type"] == "error" else f"ack:{expected.action}"
                             if reply["type"] == "ack" else reply["type"])
            sock.ping()
        COUNTS.ping()

    for batch in strategies.well_formed(kind, world.mine if kind == "visitor" else world.neighbour, world.mine,
                                        world.agent_ids[1]):
        frames_are_answered_once = example(batch=batch)(frames_are_answered_once)
    try:
        frames_are_answered_once()
        ledger.settle()
    finally:
        sock.close()


def test_visitor_frames_get_exactly_one_structured_reply(world):
    _fuzz(world, "visitor", world.visitor_token, {world.mine}, examples(fast=40, long=2600))


def test_agent_frames_get_exactly_one_structured_reply(world):
    _fuzz(world, "agent", world.agent_token, {world.mine, world.neighbour}, examples(fast=40, long=2600))
