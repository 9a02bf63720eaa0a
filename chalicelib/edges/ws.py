"""The websocket protocol (docs/protocol.md): check a frame, dispatch on `action`, answer exactly once.

Every failure becomes an `error` frame carrying the frame's `ref`; nothing here closes a socket.
"""
import json
import logging
from collections.abc import Callable

from chalicelib import observability
from chalicelib.chat import assignment, commands, conversations, lifecycle, messaging, routing, subscriptions
from chalicelib.config import settings
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.errors import BadRequestError, ParleyError, TooLargeError
from chalicelib.identity import sessions
from chalicelib.mail import outgoing
from chalicelib.store import limits

log = logging.getLogger(__name__)

MAX_REF = 64


def handle_frame(connection_id: str, body: str | None, sender) -> None:
    ref = None
    try:
        raw = body or ""
        if validate.too_deep(raw):  # json.loads would recurse into it: refused unparsed, its ref kept if readable
            ref = _ref({"ref": validate.top_level_scalar(raw, "ref")})
            raise _unreadable(raw, f"frame is nested deeper than {validate.MAX_DEPTH} levels")
        frame = _parse(raw)
        ref = _ref(frame)
        if _size(raw) > settings.max_frame_bytes:
            raise TooLargeError(f"frame is larger than {settings.max_frame_bytes // 1024} KB")
        if not isinstance(frame, dict):
            raise BadRequestError("frame must be a JSON object", field="frame")
        validate.check_text(frame, "frame")  # before ping: even a pong must be encodable
        action = frame.get("action")
        if not isinstance(action, str) or not action:
            raise BadRequestError("action is required", field="action")
        if action == "ping":
            sender.send(connection_id, {"type": "pong", "ref": ref})
            return
        caller = lifecycle.caller_for_connection(connection_id)
        handler = (AGENT_ACTIONS if caller.is_agent else VISITOR_ACTIONS).get(action)
        if handler is None:
            raise BadRequestError(f"unknown action {action[:40]!r}", field="action")
        reply = handler(caller, frame, sender, ref)
        if reply is not None:
            sender.send(connection_id, {"type": "ack", "ref": ref, **reply})
    except ParleyError as exc:
        observability.error(exc.code)
        sender.send(connection_id, {"type": "error", "ref": ref, **exc.to_dict()})
    except Exception:
        log.exception("frame failed", extra={"connection_id": connection_id})
        observability.error("internal")
        sender.send(connection_id, {"type": "error", "ref": ref, "code": "internal",
                                    "message": "something went wrong; retry"})


def _parse(raw: str):
    """The frame's JSON; ValueError becomes the documented bad_request or too_large."""
    try:
        return json.loads(raw)
    except ValueError:
        raise _unreadable(raw, "frame is not valid JSON") from None


def _unreadable(raw: str, why: str) -> ParleyError:
    """A frame that cannot be parsed: too_large when it is also oversized (the likelier cause)."""
    if _size(raw) > settings.max_frame_bytes:
        return TooLargeError(f"frame is larger than {settings.max_frame_bytes // 1024} KB")
    return BadRequestError(why, field="frame")


def _size(raw: str) -> int:
    """Bytes of UTF-8, counting a stray surrogate as the 3 bytes it would take instead of failing on it."""
    return len(raw.encode("utf-8", "surrogatepass"))


def _ref(frame) -> str | None:
    """The ref to echo: a short string or integer that can be encoded; anything else is not echoed."""
    ref = frame.get("ref") if isinstance(frame, dict) else None
    if isinstance(ref, str) and not validate.is_text(ref):
        return None  # check_text then answers bad_request naming `ref`, with ref null
    if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= MAX_REF:
        return ref
    return None


# --- actions: each returns the ack's fields, or None when the action has no reply ------------

def _start(caller: Caller, frame: dict, sender, ref) -> dict:
    text = validate.text(frame) if frame.get("text") is not None else None
    outcome = commands.start_chat(caller, frame, sender, text=text, client_msg_id=_client_msg_id(frame))
    return {"conversation": _view(caller, outcome.conversation), **outcome.stored}


def _current(caller: Caller, frame: dict, sender, ref) -> dict:
    """The visitor's open conversation on this site, if any, without creating one (a second device
    of a verified user, or a reload, learns where it is before writing anything)."""
    conversation = conversations.current(caller)
    return {"conversation": _view(caller, conversation) if conversation else None}


def _send(caller: Caller, frame: dict, sender, ref) -> None:
    conversation_id = _conversation_id(frame)
    text = validate.text(frame)
    internal = validate.boolean(frame, "internal") if caller.is_agent else False
    if not caller.is_agent and frame.get("internal"):
        raise BadRequestError("visitors cannot write internal notes", field="internal")
    commands.send(caller, conversation_id, text, sender, client_msg_id=_client_msg_id(frame), internal=internal,
                  ref=ref)
    return None  # the send acks with the stored message itself


def _typing(caller: Caller, frame: dict, sender, ref) -> None:
    conversation_id = _conversation_id(frame)
    state = validate.choice(frame, "state", ("on", "off"))
    limits.hit(limits.DEFAULTS["typing"], caller.connection_id)  # each may carry a 4,000-character preview
    preview = None
    if not caller.is_agent:
        preview = validate.string(frame, "preview", required=False, max_len=validate.MAX_TEXT,
                                  min_len=0, strip=False)
    messaging.typing(caller, conversation_id, state, preview, sender)


def _read(caller: Caller, frame: dict, sender, ref) -> None:
    conversation_id = _conversation_id(frame)
    seq = validate.integer(frame, "seq", required=True, minimum=1)
    messaging.mark_read(caller, conversation_id, seq, sender)


def _history(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation, messages, has_more = conversations.history_page(caller, _conversation_id(frame), frame)
    return {"conversation_id": conversation.id, "messages": messages, "has_more": has_more,
            "last_seq": int(conversation.last_seq)}


def _rate(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation_id = _conversation_id(frame)
    rating = validate.integer(frame, "rating", required=True, minimum=1, maximum=5)
    comment = validate.string(frame, "comment", required=False, max_len=2000)
    conversation = conversations.load(caller, conversation_id)
    return {"csat": assignment.record_csat(conversation, rating, comment, sender)}


def _choose(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation_id = _conversation_id(frame)
    option_id = validate.string(frame, "option_id", max_len=64)
    outcome = commands.choose(caller, conversation_id, option_id, sender, client_msg_id=_client_msg_id(frame))
    return {"conversation": _view(caller, outcome.conversation), **outcome.stored}


def _transcript(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation_id = _conversation_id(frame)
    email = validate.email(frame, required=True)
    conversation = conversations.load(caller, conversation_id)
    if not outgoing.enabled():
        raise BadRequestError("transcripts by email are not enabled on this deployment", field="action")
    outgoing.request_transcript(conversation, email, caller)
    return {"queued": True}


def _presence(caller: Caller, frame: dict, sender, ref) -> dict:
    status = validate.choice(frame, "status", ("online", "away", "offline"))
    agent = routing.set_presence(caller.id, status, sender)
    return {"status": status, "agent": sessions.serialize_agent(agent)}


def _join(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation = conversations.load(caller, _conversation_id(frame))
    subscriptions.subscribe(caller.connection_id, "agent", conversation.id)
    messages, has_more = conversations.history(caller, conversation)
    return {"conversation": conversations.serialize(conversation), "messages": messages, "has_more": has_more}


def _leave(caller: Caller, frame: dict, sender, ref) -> dict:
    """Stop receiving a conversation's live events on this socket (the console closed its pane)."""
    conversation = conversations.load(caller, _conversation_id(frame))
    subscriptions.unsubscribe(caller.connection_id, conversation.id)
    return {"conversation_id": conversation.id}


def _accept(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation = commands.accept(caller, _conversation_id(frame), sender)
    return {"conversation": conversations.serialize(conversation)}


def _transfer(caller: Caller, frame: dict, sender, ref) -> dict:
    conversation_id = _conversation_id(frame)
    to_agent = validate.string(frame, "to_agent_id", required=False, max_len=64)
    to_group = validate.group(frame, "to_group", required=False)
    if bool(to_agent) == bool(to_group):
        raise BadRequestError("name exactly one of to_agent_id and to_group", field="to_agent_id")
    note = validate.string(frame, "note", required=False, max_len=validate.MAX_TEXT)
    outcome = commands.transfer(caller, conversation_id, sender, to_agent=to_agent, to_group=to_group, note=note)
    return {"conversation": conversations.serialize(outcome.conversation), **outcome.stored}


def _set_status(caller: Caller, frame: dict, sender, ref) -> dict:
    status = validate.choice(frame, "status", ("open", "pending", "solved"))
    conversation = commands.set_status(caller, _conversation_id(frame), status, sender)
    return {"conversation": conversations.serialize(conversation)}


def _conversation_id(frame: dict) -> str:
    return validate.string(frame, "conversation_id", max_len=64)


def _client_msg_id(frame: dict) -> str | None:
    return validate.string(frame, "client_msg_id", required=False, max_len=64)


def _view(caller: Caller, conversation) -> dict:
    data = conversations.serialize(conversation)
    return data if caller.is_agent else conversations.for_visitor(data)


Action = Callable[[Caller, dict, object, object], dict | None]
COMMON: dict[str, Action] = {"send": _send, "typing": _typing, "read": _read, "history": _history}
VISITOR_ACTIONS: dict[str, Action] = {**COMMON, "start": _start, "current": _current, "rate": _rate, "choose": _choose,
                                      "transcript": _transcript}
AGENT_ACTIONS: dict[str, Action] = {**COMMON, "presence": _presence, "join": _join, "leave": _leave,
                                    "accept": _accept,
                                    "transfer": _transfer, "set_status": _set_status}
