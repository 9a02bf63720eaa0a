"""Malformed frames: each gets exactly one error frame with the right code and ref; no socket closes."""
import json

import pytest
from client import Clients, scenario_timeout, start

# (case id, raw frame or dict, expected code, expected field or None). "{cid}" is the visitor's conversation.
CASES = [
    ("not-json", "this is not json {", "bad_request", "frame"),
    ("json-array", "[1, 2, 3]", "bad_request", "frame"),
    ("json-string", '"send"', "bad_request", "frame"),
    ("missing-action", {"ref": "r-missing", "text": "hi"}, "bad_request", "action"),
    ("empty-action", {"ref": "r-empty-action", "action": ""}, "bad_request", "action"),
    ("non-string-action", {"ref": "r-int-action", "action": 7}, "bad_request", "action"),
    ("unknown-action", {"ref": "r-unknown", "action": "teleport"}, "bad_request", "action"),
    ("agent-action-as-visitor", {"ref": "r-presence", "action": "presence", "status": "online"},
     "bad_request", "action"),
    ("send-without-conversation", {"ref": "r-no-cid", "action": "send", "client_msg_id": "a", "text": "hi"},
     "bad_request", "conversation_id"),
    ("send-empty-text", {"ref": "r-empty", "action": "send", "conversation_id": "{cid}", "client_msg_id": "b",
                         "text": ""}, "bad_request", "text"),
    ("send-whitespace-text", {"ref": "r-ws", "action": "send", "conversation_id": "{cid}", "client_msg_id": "c",
                              "text": " \n\t  "}, "bad_request", "text"),
    ("send-missing-text", {"ref": "r-missing-text", "action": "send", "conversation_id": "{cid}",
                           "client_msg_id": "c2"}, "bad_request", "text"),
    ("send-text-too-long", {"ref": "r-long", "action": "send", "conversation_id": "{cid}", "client_msg_id": "d",
                            "text": "x" * 4001}, "bad_request", "text"),
    ("send-non-string-text", {"ref": "r-int", "action": "send", "conversation_id": "{cid}", "client_msg_id": "e",
                              "text": 12345}, "bad_request", "text"),
    ("send-list-text", {"ref": "r-list", "action": "send", "conversation_id": "{cid}", "client_msg_id": "f",
                        "text": ["a"]}, "bad_request", "text"),
    ("send-non-string-conversation", {"ref": "r-cid-int", "action": "send", "conversation_id": 5,
                                      "client_msg_id": "g", "text": "hi"}, "bad_request", "conversation_id"),
    ("history-limit-0", {"ref": "r-l0", "action": "history", "conversation_id": "{cid}", "limit": 0},
     "bad_request", "limit"),
    ("history-limit-101", {"ref": "r-l101", "action": "history", "conversation_id": "{cid}", "limit": 101},
     "bad_request", "limit"),
    ("history-limit-string", {"ref": "r-lstr", "action": "history", "conversation_id": "{cid}", "limit": "many"},
     "bad_request", "limit"),
    ("history-negative-after", {"ref": "r-neg", "action": "history", "conversation_id": "{cid}", "after_seq": -1},
     "bad_request", "after_seq"),
    ("read-without-seq", {"ref": "r-read", "action": "read", "conversation_id": "{cid}"}, "bad_request", "seq"),
    ("typing-maybe", {"ref": "r-typing", "action": "typing", "conversation_id": "{cid}", "state": "maybe"},
     "bad_request", "state"),
    ("start-fields-not-object", {"ref": "r-fields", "action": "start", "fields": "Bob"}, "bad_request", "fields"),
    ("rate-out-of-range", {"ref": "r-rate", "action": "rate", "conversation_id": "{cid}", "rating": 6},
     "bad_request", "rating"),
    ("unknown-conversation", {"ref": "r-nf", "action": "history", "conversation_id": "c_does_not_exist"},
     "not_found", None),
    # Text that cannot be stored or sent (json.dumps writes a lone surrogate as the escape \udfff).
    ("send-lone-surrogate", {"ref": "r-sur", "action": "send", "conversation_id": "{cid}", "client_msg_id": "h",
                             "text": "hi \udfff"}, "bad_request", "text"),
    ("send-nul", {"ref": "r-nul", "action": "send", "conversation_id": "{cid}", "client_msg_id": "i",
                  "text": "a\x00b"}, "bad_request", "text"),
    ("start-surrogate-in-fields", {"ref": "r-sur-fields", "action": "start", "fields": {"name": "\ud800"}},
     "bad_request", "fields.name"),
    ("history-surrogate-conversation", {"ref": "r-sur-cid", "action": "history", "conversation_id": "c_\udfff"},
     "bad_request", "conversation_id"),
    ("surrogate-key", {"ref": "r-sur-key", "action": "history", "conversation_id": "{cid}", "\udfff": 1},
     "bad_request", "frame"),
]


def _materialise(frame, cid: str) -> tuple[str, object]:
    """The frame's text and the ref the error must carry (None when the frame had none)."""
    if isinstance(frame, str):
        return frame, None
    data = {k: (cid if v == "{cid}" else v) for k, v in frame.items()}
    return json.dumps(data), data.get("ref")


@pytest.fixture(scope="module")
def frames_visitor(stack):
    return stack.visitor("demo", name="frame tester")


@pytest.mark.parametrize("case, frame, code, field", CASES, ids=[c[0] for c in CASES])
async def test_bad_frame_gets_one_error_and_the_socket_stays_open(stack, frames_visitor, case, frame, code, field):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor(session=frames_visitor, name=f"bad-{case}")
        cid = (await start(visitor))["id"]
        before = (await visitor.ack("history", conversation_id=cid))["messages"]
        text, ref = _materialise(frame, cid)
        await visitor.send_raw(text)
        error = await visitor.reply(ref)
        assert error["type"] == "error", error
        assert error["code"] == code, error
        assert error.get("ref") == ref, error
        assert isinstance(error.get("message"), str) and error["message"], error
        if field:
            assert error.get("field") == field, error
        await visitor.ping()
        assert not visitor.closed
        after = (await visitor.ack("history", conversation_id=cid))["messages"]
        assert after == before, "a refused frame stored something"
        # Exactly one reply: nothing else answered that frame meanwhile.
        assert not [r for r in visitor.replies if r.get("ref") == ref], visitor.replies


async def test_frame_over_32_kb_is_too_large_with_its_ref(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        frame = {"action": "send", "ref": "r-big", "conversation_id": cid, "client_msg_id": "big",
                 "text": "y" * (33 * 1024)}
        await visitor.send_raw(json.dumps(frame))
        error = await visitor.reply("r-big")
        assert error["type"] == "error" and error["code"] == "too_large", error
        await visitor.ping()
        # Not JSON and over 32 KB: still too_large, without a ref to echo.
        await visitor.send_raw("z" * (33 * 1024))
        error = await visitor.reply(None)
        assert error["code"] == "too_large", error
        await visitor.ping()
        history = await visitor.ack("history", conversation_id=cid)
        assert history["messages"] == []


async def test_frame_just_under_32_kb_is_accepted(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        # 4,000 four-byte characters: 16 KB of text, well inside the frame limit.
        ack = await visitor.ack("send", conversation_id=cid, client_msg_id="wide", text="😀" * 4000)
        assert ack["message"]["text"] == "😀" * 4000
        await visitor.ping()


async def test_over_long_ref_is_not_echoed_but_still_answered(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        await visitor.send_raw(json.dumps({"action": "ping", "ref": "r" * 65}))
        pong = await visitor.reply(None)
        assert pong["type"] == "pong"
        await visitor.send_raw(json.dumps({"action": "teleport", "ref": "q" * 65}))
        error = await visitor.reply(None)
        assert error["type"] == "error" and error["code"] == "bad_request"
        await visitor.ping()


async def test_agent_bad_frames_are_answered_too(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        for fields, field in (({"action": "presence", "status": "busy"}, "status"),
                              ({"action": "join"}, "conversation_id"),
                              ({"action": "send", "conversation_id": "c_x", "text": "hi", "internal": "yes"},
                               "internal"),
                              ({"action": "start"}, "action")):
            action = fields.pop("action")
            error = await agent.error(action, **fields)
            assert error["code"] == "bad_request", (action, error)
            assert error.get("field") == field, (action, error)
            await agent.ping()


DEEP = "[" * 1000 + "]" * 1000


async def test_unreadable_frames_and_bad_refs_still_get_exactly_one_error(stack):
    """A frame too deep to parse keeps a top-level ref it can read; a ref that is not valid text
    cannot be echoed, so the error names `ref` and carries null; and the socket stays open."""
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        for raw, ref, field in (
                ('{"action": "send", "ref": "r-deep", "text": "hi", "x": ' + DEEP + "}", "r-deep", "frame"),
                (DEEP, None, "frame"),
                (json.dumps({"action": "ping", "ref": "\udfff"}), None, "ref"),
                (json.dumps({"action": "ping", "ref": "p\x00"}), None, "ref")):
            await visitor.send_raw(raw)
            error = await visitor.reply(ref)
            assert (error["type"], error["code"], error.get("field")) == ("error", "bad_request", field), error
            await visitor.ping()
            assert not visitor.closed
            assert not [r for r in visitor.replies if r.get("ref") == ref], visitor.replies
