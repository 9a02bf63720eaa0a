"""The websocket side of the fuzz tests: a socket read by a thread, what docs/protocol.md §3 says a frame
must get back (the frame-level checks, in their documented order), and the ledger that proves every
frame got exactly the replies it was owed.

Refs are how replies are matched, so every echoed ref the tests send is unique for the whole session
(a number drawn at send time, never by hypothesis, whose replays would repeat it). A frame whose ref
cannot be echoed is answered with `"ref": null`; one such frame at most is in flight at a time, and
the ledger counts the null replies against the null frames.
"""
import itertools
import json
import math
import re
import threading
import time
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fuzz.strategies import FrameTemplate, Ref, encode, printable

ERROR_CODES = {"bad_request", "unauthorized", "forbidden", "not_found", "too_large", "rate_limited", "conflict",
               "capacity", "internal"}
REPLY_TYPES = ("ack", "error", "pong")
NO_REPLY_ACTIONS = ("typing", "read")  # silent on success, one error frame on failure (§3.3)
MAX_FRAME = 32 * 1024
MAX_DEPTH = 16
MAX_REF = 64
SEND_LIMIT = 100_000  # under the gateway's 128 KB message limit, past which the socket closes (documented)
# What each ack carries (docs/protocol.md §4, §5). `choose` is never acked (§6).
ACK_FIELDS = {"start": {"conversation"}, "current": {"conversation"}, "send": {"message", "duplicate"},
              "history": {"conversation_id", "messages", "has_more", "last_seq"}, "rate": {"csat"},
              "transcript": {"queued"}, "presence": {"status", "agent"},
              "join": {"conversation", "messages", "has_more"}, "leave": {"conversation_id"},
              "accept": {"conversation"}, "transfer": {"conversation"}, "set_status": {"conversation"}}
REPLY_TIMEOUT = 30.0  # generous: the machine is shared and a `start` may route and start a flow

_unique = itertools.count(1)
_TRACEBACK = re.compile(r"Traceback|File \"|\bline \d+\b|botocore|pynamodb", re.I)


def ref_key(ref) -> str:
    """How a reply's ref is filed: its JSON (so 7 and "7" differ; null for no ref)."""
    return json.dumps(ref, ensure_ascii=False)


NULL = ref_key(None)


# --- the socket ---------------------------------------------------------------------------------

class Socket:
    """One websocket to the stack, read by a thread that files every reply under its ref."""

    def __init__(self, url: str, kind: str):
        self.url, self.kind = url, kind
        self.cond = threading.Condition()
        self.replies: dict[str, list[dict]] = {}
        self.events: list[dict] = []
        self.bad_frames: list[str] = []   # server frames that were not JSON objects with a type
        self.closed_by: str | None = None
        self.open()

    def open(self) -> None:
        # No keepalive pings: their payload comes from `random`, which hypothesis wants left alone while it draws.
        self.ws = connect(self.url, open_timeout=20, close_timeout=2, max_size=None, compression=None, proxy=None,
                          ping_interval=None)
        self.closed = False
        threading.Thread(target=self._read, args=(self.ws,), daemon=True, name=f"fuzz-{self.kind}").start()

    def _read(self, ws) -> None:
        try:
            for data in ws:
                try:
                    frame = json.loads(data)
                except ValueError:
                    frame = None
                with self.cond:
                    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                        self.bad_frames.append(str(data)[:300])
                    elif frame["type"] in REPLY_TYPES:
                        self.replies.setdefault(ref_key(frame.get("ref")), []).append(frame)
                    else:
                        self.events.append(frame)
                    self.cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self.cond:
                if ws is self.ws:
                    self.closed = True
                    self.close_code = ws.close_code
                self.cond.notify_all()

    def send(self, data) -> None:
        self.ws.send(data)

    def count(self, key: str) -> int:
        with self.cond:
            return len(self.replies.get(key, ()))

    def wait(self, key: str, count: int, timeout: float = REPLY_TIMEOUT) -> list[dict]:
        """The replies filed under `key` once there are at least `count` (fails when the socket closes)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.replies.get(key, ())) < count:
                assert not self.closed, f"{self.kind} socket closed ({self.close_code}) waiting for ref {key}"
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{self.kind}: no reply with ref {key} within {timeout} s"
                self.cond.wait(remaining)
            return list(self.replies[key])

    def ping(self) -> None:
        """A ping answered by its pong: the socket is open and still served."""
        ref = f"ping-{next(_unique)}"
        self.send(json.dumps({"action": "ping", "ref": ref}))
        (pong,) = self.wait(ref_key(ref), 1)
        assert pong["type"] == "pong", pong

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


# --- what a frame is owed (docs/protocol.md §3.3) -------------------------------------------------

@dataclass
class Expected:
    raw: object                 # what was sent (str or bytes)
    key: str                    # the ref its reply carries
    replies: str                # "one" (exactly one), "none" (silence) or "at-most-one-error"
    code: str | None = None     # when the frame-level checks decide the answer
    field: str | None = None
    action: str | None = None   # the action that handles it, once the frame-level checks pass

    def brief(self) -> str:
        text = self.raw.decode("utf-8", "replace") if isinstance(self.raw, bytes) else self.raw
        return printable(text if len(text) < 400 else f"{text[:300]}... ({len(text)} characters)")


def _echoable(ref) -> bool:
    if isinstance(ref, str):
        return is_text(ref) and len(ref) <= MAX_REF
    return isinstance(ref, int) and not isinstance(ref, bool) and len(str(ref)) <= MAX_REF


def is_text(value: str) -> bool:
    return not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value)


def max_depth(raw: str) -> int:
    """How deep arrays and objects nest in JSON text, strings skipped (a plain scan, not the server's)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def first_bad_text(value, path: str = "", root: str = "frame") -> str | None:
    """The field the server names for the first string that is not valid text (§1), or None."""
    if isinstance(value, str):
        return None if is_text(value) else (path or root)
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_text(key):
                return path or root
            found = first_bad_text(item, f"{path}.{key}" if path else key, root)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = first_bad_text(item, f"{path}.{index}" if path else str(index), root)
            if found:
                return found
    return None


@dataclass
class Verdict:
    """What the frame-level checks decide: the ref key, and the error (code, field) or the action."""
    key: str
    code: str | None = None
    field: str | None = None
    action: str | None = None
    frame: object = None


def expect(raw: str, actions: set[str], deep_ref=None) -> Verdict:
    """The frame-level checks of §3.3, in their documented order: code None when they pass and the
    action decides (action "ping": a pong)."""
    size = len(raw.encode("utf-8", "surrogatepass"))
    too_large = size > MAX_FRAME
    if max_depth(raw) > MAX_DEPTH:
        key = ref_key(deep_ref if _echoable(deep_ref) else None)
        return Verdict(key, "too_large") if too_large else Verdict(key, "bad_request", "frame")
    try:
        frame = json.loads(raw)
    except ValueError:
        return Verdict(NULL, "too_large") if too_large else Verdict(NULL, "bad_request", "frame")
    ref = frame.get("ref") if isinstance(frame, dict) else None
    key = ref_key(ref if _echoable(ref) else None)
    if too_large:
        return Verdict(key, "too_large")
    if not isinstance(frame, dict):
        return Verdict(key, "bad_request", "frame")
    bad = first_bad_text(frame)
    if bad:
        return Verdict(key, "bad_request", bad)
    action = frame.get("action")
    if not isinstance(action, str) or not action:
        return Verdict(key, "bad_request", "action")
    if action != "ping" and action not in actions:
        return Verdict(key, "bad_request", "action")
    return Verdict(key, action=action, frame=frame)


def plainly_valid(verdict: Verdict, own_conversations: set[str], is_agent: bool) -> bool:
    """A typing or read frame every field of which is right, on a conversation the caller may use: it
    must get no reply at all (§4)."""
    frame = verdict.frame
    cid = frame.get("conversation_id")
    if not (isinstance(cid, str) and cid.strip() in own_conversations):
        return False
    if verdict.action == "typing":
        preview = frame.get("preview")
        return frame.get("state") in ("on", "off") and (
            is_agent or preview is None or (isinstance(preview, str) and len(preview) <= 4000))
    seq = frame.get("seq")
    if isinstance(seq, str) and re.fullmatch(r"-?\d{1,15}", seq.strip()):
        seq = int(seq)
    return isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1


def materialize(template: FrameTemplate, actions: set[str], own_conversations: set[str], is_agent: bool,
                force_echo: bool = False) -> tuple[object, Expected]:
    """The frame to send (unique refs filled in) and what it is owed. `force_echo` gives a frame whose
    ref would not be echoed a unique one instead (only one null-ref frame may be in flight)."""
    deep_ref = None
    if template.raw is not None:
        raw = template.raw
        if isinstance(raw, str) and "{REF}" in raw:
            deep_ref = f"{template.raw_ref_prefix}{next(_unique)}"
            raw = raw.replace("{REF}", json.dumps(deep_ref))
    else:
        value = template.value
        if isinstance(value, dict):
            value = {k: _fill(v) for k, v in value.items()}
            if force_echo and not _echoable(value.get("ref")):
                value["ref"] = f"r-{next(_unique)}"
            deep_ref = value.get("ref")
        raw = encode(value, template.ascii_only)
        if len(raw.encode("utf-8", "surrogatepass")) > SEND_LIMIT and template.ascii_only:
            raw = encode(value, False)  # escapes can triple a frame: write the characters themselves
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw  # as the local gateway decodes
    verdict = expect(text, actions, deep_ref)
    replies = "one"
    if verdict.action in NO_REPLY_ACTIONS:
        replies = "none" if plainly_valid(verdict, own_conversations, is_agent) else "at-most-one-error"
    data = raw.encode() if template.binary and isinstance(raw, str) else raw
    return data, Expected(raw=data, key=verdict.key, replies=replies, code=verdict.code, field=verdict.field,
                          action=verdict.action)


def _fill(value):
    if isinstance(value, Ref):
        if value.kind == "unique-int":
            return 10 ** 9 + next(_unique)
        if value.kind == "unique-str":
            if value.prefix == "pad64":
                return f"p{next(_unique)}".ljust(MAX_REF, "~")
            return f"{value.prefix}{next(_unique)}"
        return value.value
    return value


def size_of(data) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


# --- checking replies -----------------------------------------------------------------------------

def check_reply(reply: dict, expected: Expected) -> None:
    """One reply against the protocol: its type, its code and field when the frame decided them, an
    ack's documented fields, an error's documented code and readable message."""
    where = f"reply {reply} to frame {expected.brief()!r}"
    assert "ref" in reply, f"a reply without ref: {where}"
    if reply["type"] == "error":
        check_error(reply, where)
        if expected.code:
            assert reply["code"] == expected.code, f"expected {expected.code}: {where}"
        if expected.field:
            assert reply.get("field") == expected.field, f"expected field {expected.field!r}: {where}"
        return
    assert expected.code is None, f"expected error {expected.code} ({expected.field}): {where}"
    if expected.action == "ping":
        assert reply["type"] == "pong", where
        return
    assert reply["type"] == "ack", where
    assert expected.action not in NO_REPLY_ACTIONS, f"typing/read are never acked: {where}"
    missing = ACK_FIELDS[expected.action] - set(reply)
    assert not missing, f"ack without {sorted(missing)}: {where}"


def check_error(reply: dict, where: str) -> None:
    assert reply.get("code") in ERROR_CODES, f"undocumented error code: {where}"
    message = reply.get("message")
    assert isinstance(message, str) and message.strip(), f"error without a message: {where}"
    assert not _TRACEBACK.search(message), f"internals in an error message: {where}"
    assert reply["code"] != "internal", f"internal error: {where}"
    if reply["code"] == "bad_request":
        assert isinstance(reply.get("field"), str) and reply["field"], f"bad_request naming no field: {where}"
    if reply["code"] == "rate_limited":
        retry = reply.get("retry_after")
        assert isinstance(retry, (int, float)) and math.isfinite(retry) and retry >= 0, f"bad retry_after: {where}"


class Ledger:
    """Every frame sent on one socket and what it was owed; `settle` checks the whole run at the end."""

    def __init__(self, socket: Socket):
        self.socket = socket
        self.owed: list[Expected] = []
        self.null_frames = 0

    def record(self, expected: Expected) -> None:
        self.owed.append(expected)
        if expected.key == NULL:
            assert expected.replies == "one", expected
            self.null_frames += 1

    def settle(self, quiet: float = 2.0) -> None:
        """After a pause for late arrivals: no ref answered twice, no silent frame answered, nothing
        answered that was not asked, no frame the server sent that breaks the frame format."""
        time.sleep(quiet)
        sock = self.socket
        with sock.cond:
            replies = {k: list(v) for k, v in sock.replies.items()}
            assert not sock.bad_frames, f"server frames that are not JSON objects with a type: {sock.bad_frames[:3]}"
            with_ref = [e for e in sock.events if "ref" in e]
            assert not with_ref, f"events carrying a ref: {with_ref[:3]}"
        sent = {e.key: e for e in self.owed if e.key != NULL}
        for key, frames in replies.items():
            if key == NULL:
                assert len(frames) == self.null_frames, \
                    f"{len(frames)} replies with ref null to {self.null_frames} frames that could not be echoed"
                continue
            if key.startswith('"ping-'):
                assert len(frames) == 1 and frames[0]["type"] == "pong", (key, frames)
                continue
            assert key in sent, f"a reply to a ref nobody sent: {frames}"
        for key, expected in sent.items():
            got = replies.get(key, [])
            if expected.replies == "one":
                assert len(got) == 1, f"{len(got)} replies to frame {expected.brief()!r}: {got}"
            elif expected.replies == "none":
                assert not got, f"a valid {expected.action} frame was answered: {expected.brief()!r}: {got}"
            else:
                assert len(got) <= 1, f"{len(got)} replies to frame {expected.brief()!r}: {got}"
                if got:
                    assert got[0]["type"] == "error", f"a {expected.action} frame acknowledged: {got[0]}"
            for reply in got:
                check_reply(reply, expected)


def start_conversation(stack, session: dict) -> str:
    """A conversation of this visitor with one message in it, started on a socket of its own."""
    sock = Socket(f"{stack.ws}?token={session['token']}", "setup")
    try:
        ref = f"setup-{next(_unique)}"
        sock.send(json.dumps({"action": "start", "ref": ref, "text": "hello, a conversation to fuzz"}))
        (ack,) = sock.wait(ref_key(ref), 1)
        assert ack["type"] == "ack", ack
        return ack["conversation"]["id"]
    finally:
        sock.close()
