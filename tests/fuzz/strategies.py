"""Hypothesis strategies for hostile input, built from docs/protocol.md: each documented field gets
good values most of the time and, the rest of the time, the wrong type, nothing, null, odd or huge
strings, numbers out of range or deep nesting; frames and bodies also carry fields nobody asked for.

Values are Python objects written to JSON by `encode`, which also writes what `json.dumps` cannot or
will not: a lone UTF-16 surrogate as the escape a browser's JSON.stringify writes ("\\ud800"), numbers
of more digits than Python prints, NaN and Infinity literals (`Raw`).
"""
import json
import re
from dataclasses import dataclass

from hypothesis import strategies as st

MISSING = object()  # a field left out of the object


@dataclass(frozen=True)
class Raw:
    """A JSON text written verbatim where a value goes (1e400, NaN, a 5,000-digit number, 1,000 brackets)."""
    text: str


# --- writing JSON ------------------------------------------------------------------------------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(value: str, ascii_only: bool) -> str:
    # json.dumps(ensure_ascii=False) leaves a lone surrogate raw, which no UTF-8 encoder accepts: write it
    # as its escape, like JSON.stringify does (two separate halves of a pair become an emoji once parsed).
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text if ascii_only else _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def printable(text: str) -> str:
    """Text for a failure message: invisible characters (U+0080, U+200F, U+202E...) as escapes. A fuzz
    failure once read `"user_hash": ""` when it was "\\u0080"."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _short(text, limit: int = 300) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} long)"


def encode(value, ascii_only: bool = False) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, str):
        return _string(value, ascii_only)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k), ascii_only)}:{encode(v, ascii_only)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v, ascii_only) for v in value) + "]"
    return json.dumps(value)  # None, bools, ints, floats (nan and inf as NaN / Infinity, as Python writes them)


# --- odd values --------------------------------------------------------------------------------

PIECES = ["a", " ", "\t", "\n", "\x00", "\ud800", "\udfff", "\ud83d", "\ude00", "\u202e", "\u200f", "\u2028",
          "\ufeff", "\uffff", "\U0010ffff", "😀", "👩‍👩‍👧", "é", "e\u0301", "مرحبا", "שלום", "日本語", "<", ">", "&",
          '"', "\\", "/", "'", "%", "{{visitor.name}}", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
          "${jndi:ldap://x}", "' OR 1=1 --", "../", "null", "0", "-1", "NaN", "\x7f", "\x1b[31m"]
ODD_STRINGS = ["", " ", "  \t\n ", "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "\ud83d\ude00", "\u202eabc",
               "<b>bold</b>", "c_" + "0" * 32, "v_" + "f" * 32, "m_x", "demo", "DEMO", "demo ", "on", "off",
               "online", "solved", "true", "1", "01", " 5 ", "-5", "1e3", "0x10", "１２", "a" * 64, "a" * 65,
               "a" * 257, "é" * 121, "x@y", "a@b.co", "A@B.CO", "@", "javascript:alert(1)", "http://127.0.0.1:1/x",
               "https://evil.example", "#1f6feb", "#zzzzzz", "*", "%00", "%ZZ", "?a=b&c", "#frag", "/", "//", ".", ".."]
# Long strings that still fit in a frame (32 KB) ...
LONG_STRINGS = ["a" * 1_000, "a" * 4_000, "a" * 4_001, "😀" * 4_000, "😀" * 4_001, " " + "b" * 4_000 + " ",
                "x" * 10_000, "\n" * 20_000, "é" * 15_000, "<i>" * 8_000, "\u202e" * 9_000, "\ud800" * 2_000,
                "a\x00" * 2_000, "a" * 64, "a" * 65, "a" * 2_049]
# ... and 40 KB ones (in a frame: too_large; in a REST body, which takes 64 KB, they reach the route).
BIG_STRINGS = ["a" * 40_000, "😀" * 10_000, "é" * 20_000, "<b>hi</b>" * 4_500, "\u202e" * 13_000, " " * 40_000,
               "x" * 32_700]

def pick(values: list):
    """One of `values`, like sampled_from, but with a short repr (these lists hold 40 KB strings)."""
    return st.integers(0, len(values) - 1).map(values.__getitem__)


odd_text = st.one_of(
    pick(ODD_STRINGS),
    st.lists(pick(PIECES), min_size=1, max_size=8).map("".join),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # only lone surrogates
)
long_text = pick(LONG_STRINGS)
big_text = pick(BIG_STRINGS)

EDGE_INTS = [0, 1, -1, 2, 5, 6, 50, 64, 100, 101, 2 ** 31 - 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64,
             10 ** 15, 10 ** 16, 10 ** 38, 10 ** 38 + 1, 10 ** 39, -(10 ** 40), 10 ** 126, 10 ** 4_000]
RAW_NUMBERS = [Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1" + "0" * 5_000),
               Raw("-0"), Raw("1.0"), Raw("5.0"), Raw("1E2"), Raw("0.5"), Raw("1e-400"),
               Raw("123456789012345678901234567890.5")]
numbers = st.one_of(st.integers(), pick(EDGE_INTS), st.floats(), pick(RAW_NUMBERS))

scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(odd_text, inner, max_size=4), max_leaves=10)


def nested(depth: int, kind: str):
    """Arrays or objects `depth` levels deep (written as text past what Python's encoder recurses into)."""
    if depth > 200:
        return Raw("[" * depth + "]" * depth) if kind == "list" else Raw('{"a":' * depth + "0" + "}" * depth)
    value = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


deep = st.builds(nested, st.sampled_from([14, 15, 16, 17, 18, 40, 1_000]), st.sampled_from(["list", "dict"]))


def weighted(*choices):
    """One of several strategies, drawn in proportion to their (integer) weights (shrinking towards the first)."""
    table = [s for weight, s in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(table.__getitem__)


def hostile(good):
    """A field's value: usually a good one, else absent, null, the wrong type, odd, huge or too deep."""
    return weighted((40, good), (2, st.just(MISSING)), (1, st.none()), (2, odd_text), (1, numbers),
                    (1, st.booleans()), (1, json_values), (3, long_text), (1, big_text), (1, deep))


# --- good values, from the protocol's field rules -----------------------------------------------

good_text = st.one_of(st.sampled_from(["hello", "  Bonjour, j'ai une question  ", "😀 thanks!", "مرحبا بكم",
                                       "<b>bold</b> & <script>alert(1)</script>", "line\u2028break", "\u202eevil",
                                       "a" * 4_000, "Dana 👩‍👩‍👧 here"]),
                      st.text(min_size=1, max_size=40))
client_msg_id = st.one_of(st.sampled_from(["m-1", "m-2", "m-3", " m-1 ", "😀"]), st.uuids().map(str))
email = st.sampled_from(["visitor@example.com", "Dana.V@Example.COM", "a@b.co", "x+tag@mail.example.org"])
name = st.sampled_from(["Dana", "  Zoë  ", "أحمد", "李雷", "<b>Bob</b>", "a" * 120])
page_url = st.sampled_from(["https://shop.example/cart", "http://127.0.0.1/", "/relative", "x" * 2_048])
seq = st.one_of(st.integers(1, 60), st.sampled_from([" 7 ", "3", 2 ** 63, 10 ** 30]))
small_int = st.one_of(st.integers(0, 120), st.sampled_from(["5", " 10 "]))
group = st.sampled_from(["billing", "tier-2", "Sales", "support_fr", "x" * 40])
note = st.one_of(st.none(), good_text)


def choice(*values):
    return st.sampled_from(values)


def ws_schemas(conversation_ids, agent_ids):
    """Every documented field of every websocket action (docs/protocol.md §4, §5), as a good-value strategy."""
    cid = st.sampled_from(conversation_ids)
    common = {
        "send": {"conversation_id": cid, "text": good_text, "client_msg_id": client_msg_id,
                 "internal": st.booleans()},  # visitors: only false is right (below)
        "typing": {"conversation_id": cid, "state": choice("on", "off"),
                   "preview": st.one_of(st.just(""), good_text)},
        "read": {"conversation_id": cid, "seq": seq},
        "history": {"conversation_id": cid, "after_seq": small_int, "before_seq": small_int, "limit": small_int},
    }
    visitor = {**common, "send": {**common["send"], "internal": st.just(False)},
               "start": {"text": good_text, "client_msg_id": client_msg_id, "page_url": page_url,
                         "fields": st.fixed_dictionaries({}, optional={"name": name, "email": email,
                                                                        "phone": st.just("+33 6 00 00 00 00")})},
               "current": {},
               "rate": {"conversation_id": cid, "rating": st.integers(0, 6), "comment": st.one_of(good_text,
                                                                                                 st.just(""))},
               "choose": {"conversation_id": cid, "option_id": choice("opt-1", "yes", "a" * 64)},
               "transcript": {"conversation_id": cid, "email": email}}
    agent = {**common,
             "presence": {"status": choice("online", "away", "offline")},
             "join": {"conversation_id": cid},
             "leave": {"conversation_id": cid},
             "accept": {"conversation_id": cid},
             # exactly one of to_agent_id and to_group is right: each is left out half the time
             "transfer": {"conversation_id": cid, "to_group": st.one_of(st.just(MISSING), group), "note": note,
                          "to_agent_id": st.one_of(st.just(MISSING), st.sampled_from(agent_ids))},
             "set_status": {"conversation_id": cid, "status": choice("open", "pending", "solved")}}
    return {"visitor": visitor, "agent": agent}


# --- refs: the shape is drawn; the unique part is added when the frame is sent -------------------

@dataclass(frozen=True)
class Ref:
    """A ref slot: `unique-str` / `unique-int` (echoed, made unique when sent) or a literal `value`."""
    kind: str
    prefix: str = ""
    value: object = None


ECHOED_PREFIXES = ["r-", "😀", "\u202e", "<i>", "é ", " ", "a" * 50]
refs = weighted(
    (6, st.builds(Ref, st.just("unique-str"), st.sampled_from(ECHOED_PREFIXES))),
    (1, st.just(Ref("unique-str", "pad64"))),   # exactly 64 characters: still echoed
    (2, st.just(Ref("unique-int"))),
    (1, st.just(Ref("absent"))),
    (3, st.builds(lambda v: Ref("literal", value=v), st.sampled_from(
        [None, True, False, 1.5, Raw("NaN"), [], {}, {"a": 1}, ["r"], "r" * 65, 10 ** 64, Raw("1e400"),
         "\ud800", "r\x00", "\udfff" * 3]))),
)


# --- frames -------------------------------------------------------------------------------------

@dataclass
class FrameTemplate:
    """What a strategy drew: a value (a dict, or anything) to write as JSON, or a raw text / bytes."""
    value: object = MISSING
    raw: object = None       # str or bytes sent as they are
    raw_ref_prefix: str = "raw-"  # the unique ref that replaces `{REF}` in a raw text starts with this
    ascii_only: bool = False
    binary: bool = False     # sent as a binary websocket message
    action: object = None    # the action the frame names (for the report), if any

    def __repr__(self) -> str:  # hypothesis prints failing examples: a 40 KB string once is enough
        text = self.raw if self.raw is not None else encode(self.value)
        return f"FrameTemplate({_short(text)}, ascii_only={self.ascii_only}, binary={self.binary})"

extra_keys = st.one_of(st.sampled_from(["extra", "id", "type", "__proto__", "constructor", "conversation", "x" * 100,
                                        "ref ", "Action", "text\u202e"]),
                       odd_text).filter(lambda key: key not in ("ref", "action"))
UNKNOWN_ACTIONS = ["teleport", "Send", "send ", " ping", "PING", "__proto__", "constructor", "toString",
                   "start\x00", "a" * 300, "$default", "$connect", "ack", "error", "pong", "message", "inbox"]

# Raw texts: `{REF}` is replaced by a unique string ref (made of `prefix` and a number) written as JSON.
RAW_FRAMES = ["", " ", "this is not json {", "{", "}", '{"action": "ping"', '{"action": "ping",}', "[1, 2, 3]",
              '"send"', "42", "null", "true", "NaN", "{'action': 'ping'}", '{"action": "ping"}\n{"action": "ping"}',
              '{"action": "ping", "ref": "dup", "ref": {REF}}', "\ufeff{}", '{"\\ud800": 1}',
              '{"action": "\\u0000", "ref": {REF}}', "[" * 17 + "]" * 17, "[" * 1_000 + "]" * 1_000, "{" * 5_000,
              '{"a":' * 100 + "1" + "}" * 100, "z" * (33 * 1024),
              '{"action": "ping", "ref": {REF}, "x": "' + "y" * (33 * 1024) + '"}',
              '{"action": "history", "x": ' + "[" * 40 + "]" * 40 + ', "ref": {REF}}',
              '{"ref": {REF}, "action": "send", "text": "[[[[[[[[[[[[[[[[[[[[", "x": ' + "{" * 20 + "}" * 20 + "}",
              "1" * 5_000, '{"action": "ping", "ref": ' + "9" * 5_000 + "}"]
RAW_REF_PREFIXES = ["raw-", 'q"uote\\-', "[{", "}]"]
# Invalid UTF-8 in binary messages (the local gateway decodes them with U+FFFD); valid ones come from frames().
RAW_BYTES = [b"\xff\xfe\xfd", b'{"action": "ping", "x": "\xc3\x28"}', b"\x00" * 10, b'{"action": "\xed\xa0\x80"}']


def frames(schemas: dict, kind: str):
    """A frame for a `kind` socket: most name one of its actions with hostile fields; some name
    another kind's action, an unknown one or none; some are not objects or not JSON at all."""
    mine = schemas[kind]
    theirs = [a for a in schemas["agent" if kind == "visitor" else "visitor"] if a not in mine]

    @st.composite
    def action_frame(draw):
        action = draw(weighted((30, st.sampled_from(sorted(mine))), (1, st.just("ping")),
                               (1, st.sampled_from(theirs)), (1, st.sampled_from(UNKNOWN_ACTIONS))))
        fields = mine.get(action) or schemas["agent"].get(action) or schemas["visitor"].get(action) or {}
        value = {}
        for key in draw(st.permutations(["ref", "action", *fields])):
            if key == "ref":
                ref = draw(refs)
                if ref.kind != "absent":
                    value["ref"] = ref
            elif key == "action":
                value["action"] = draw(weighted((20, st.just(action)), (1, st.just(MISSING)), (1, scalars),
                                                (1, json_values)))
            else:
                field = draw(hostile(fields[key]))
                if field is not MISSING:
                    value[key] = field
        if draw(weighted((5, st.just(False)), (1, st.just(True)))):  # fields nobody asked for
            value.update(draw(st.dictionaries(extra_keys, json_values, min_size=1, max_size=3)))
        value = {k: v for k, v in value.items() if v is not MISSING}
        return FrameTemplate(value=value, ascii_only=draw(st.booleans()),
                             binary=draw(weighted((30, st.just(False)), (1, st.just(True)))), action=action)

    not_object = st.builds(lambda v, a: FrameTemplate(value=v, ascii_only=a), json_values, st.booleans())
    raw = st.builds(lambda r, p: FrameTemplate(raw=r, raw_ref_prefix=p), pick(RAW_FRAMES),
                    st.sampled_from(RAW_REF_PREFIXES))
    binary = st.builds(lambda r: FrameTemplate(raw=r, binary=True), pick(RAW_BYTES))
    return weighted((40, action_frame()), (1, not_object), (2, raw), (1, binary))


def well_formed(kind: str, own: str, other: str, agent_id: str) -> list[list[FrameTemplate]]:
    """A right frame of every action, in batches: the success paths a short random run may not reach."""
    def frame(action, **fields):
        return FrameTemplate(value={"ref": Ref("unique-str", "ok-"), "action": action, **fields}, action=action)
    if kind == "visitor":
        frames_ = [frame("start", text="hello again", fields={"name": "Dana"}), frame("current"),
                   frame("send", conversation_id=own, text="a question", client_msg_id="ok-1"),
                   frame("typing", conversation_id=own, state="on", preview="a quest"),
                   frame("read", conversation_id=own, seq=1),
                   frame("send", conversation_id=own, text="a question", client_msg_id="ok-1"),  # duplicate: true
                   frame("history", conversation_id=own, limit=10), frame("history", conversation_id=own,
                                                                           after_seq=0, before_seq=3),
                   frame("rate", conversation_id=own, rating=5, comment="great"),
                   frame("choose", conversation_id=own, option_id="opt-1"),
                   frame("transcript", conversation_id=own, email="visitor@example.com"), frame("ping")]
    else:
        frames_ = [frame("presence", status="away"), frame("join", conversation_id=own),
                   frame("history", conversation_id=own, limit=5),
                   frame("send", conversation_id=own, text="hi from the agent", client_msg_id="ok-a"),
                   frame("send", conversation_id=own, text="a note", internal=True),
                   frame("typing", conversation_id=own, state="on"), frame("read", conversation_id=own, seq=1),
                   frame("accept", conversation_id=other),
                   frame("set_status", conversation_id=other, status="pending"),
                   frame("transfer", conversation_id=other, to_group="billing", note="over to you"),
                   frame("transfer", conversation_id=other, to_agent_id=agent_id),
                   frame("leave", conversation_id=own), frame("presence", status="online"),
                   frame("presence", status="away")]
    return [frames_[i:i + 4] for i in range(0, len(frames_), 4)]


# --- REST ---------------------------------------------------------------------------------------

@dataclass
class RequestTemplate:
    """One drawn REST request; tokens and ids are filled in from the test's world when it is sent."""
    method: str
    route: str                  # the route as app.py declares it, e.g. /v1/conversations/{conversation_id}
    params: dict                # path parameter values (text; percent-encoded when sent)
    query: list                 # (name, value) pairs, or a raw query string
    body: object = MISSING      # a value written as JSON, or bytes sent as they are
    ascii_only: bool = False
    content_type: str | None = "application/json"
    auth: str = "agent"         # which Authorization header (test_rest_fuzz.World.headers)

    def __repr__(self) -> str:
        body = "MISSING" if self.body is MISSING else _short(self.body if isinstance(self.body, bytes)
                                                             else encode(self.body))
        return (f"RequestTemplate({self.method} {self.route} {_short(repr(self.params))} "
                f"query={_short(repr(self.query))} body={body} ascii_only={self.ascii_only} "
                f"content_type={self.content_type!r} auth={self.auth})")

def _as_query_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value) if value is not None else ""


query_odd = st.one_of(odd_text, st.integers().map(str), st.sampled_from(
    ["", "-1", "0", "1", "100", "101", "1e3", "NaN", "Infinity", "9" * 40, " 5", "5 ", "+5", "0x10", "٣", "true",
     "null", "[]", "{}", "a" * 3_000]))
RAW_QUERIES = ["&&&", "=", "==x", "limit", "limit=1&limit=2&limit=", "view=all&view=mine", "%ZZ=1", "limit=%ZZ",
               "a=%ED%A0%80", "a=%00", "%00=1", "cursor=" + "A" * 2_100, "after_seq=1;before_seq=2", "+=+",
               "limit=1%26view%3Dmine", "email=a%40b.co&email=", "confirm=erase&confirm=no", "sig=" + "0" * 64]
RAW_BODIES = [b"", b"   ", b"not json", b"[1, 2]", b'"a string"', b"null", b"42", b"{", b'{"a": 1,}', b"{'a': 1}",
              b'{"a": NaN}', b'{"a": Infinity}', b'{"\\ud800": 1}', b'{"a": "\\u0000"}', b'{"a": "\xc3\x28"}',
              b"\xff\xfe{\x00}\x00", '{"title": "utf-16"}'.encode("utf-16"), b"\xef\xbb\xbf{}", b"{}" * 2,
              b"[" * 5_000, b'{"a":' * 30 + b"1" + b"}" * 30, b"[" * 70_000 + b"]" * 70_000,
              b'{"x": "' + b"a" * 70_000 + b'"}', b'{"a": 1' + b"0" * 5_000 + b"}", b"\x00" * 8]
CONTENT_TYPES = ["application/json", "text/plain", None, "application/json; charset=utf-8", "TEXT/PLAIN",
                 "application/json, text/plain", "application/xml", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded", "*/*", ""]
AUTH_KINDS = ["agent", "admin", "foreign", "visitor", "none", "garbage", "not-bearer", "forged", "alg-none",
              "huge"]


def rest_bodies(fields: dict):
    """A request body for a route that takes these fields: usually an object of them, some hostile."""
    @st.composite
    def body_object(draw):
        value = {}
        for key in draw(st.permutations(sorted(fields))):
            field = draw(hostile(fields[key]))
            if field is not MISSING:
                value[key] = field
        if draw(weighted((4, st.just(False)), (1, st.just(True)))):
            value.update(draw(st.dictionaries(extra_keys, json_values, min_size=1, max_size=3)))
        return value
    return weighted((20, body_object()), (2, json_values), (3, pick(RAW_BODIES)), (1, deep))


def rest_requests(routes: list, specs: dict, path_values: dict):
    """A request to one of `routes` ((method, route, content types)); `specs[(method, route)]` holds
    the body fields and query parameters the route documents, each a good-value strategy."""
    @st.composite
    def request(draw):
        method, route = draw(st.sampled_from(routes))
        spec = specs[(method, route)]
        params = {}
        for name in re.findall(r"{(\w+)}", route):
            params[name] = draw(weighted((8, path_values[name]), (1, odd_text.filter(bool)),
                                         (1, st.sampled_from(["a" * 300, " ", "..", "%", "😀", "null"]))))
        query = []
        if draw(weighted((12, st.just(False)), (1, st.just(True)))):
            query = draw(pick(RAW_QUERIES))
        else:
            for name, good in spec.get("query", {}).items():
                for value in draw(st.lists(weighted((6, good), (3, query_odd), (1, scalars)), max_size=2)):
                    query.append((name, _as_query_text(value)))
            if draw(weighted((5, st.just(False)), (1, st.just(True)))):
                query += draw(st.lists(st.tuples(extra_keys, query_odd), min_size=1, max_size=2))
        if "body" in spec:
            body = draw(weighted((12, rest_bodies(spec["body"])), (1, st.just(MISSING))))
        else:
            body = draw(weighted((12, st.just(MISSING)), (1, rest_bodies({"x": st.just(1)}))))
        content_type = draw(weighted((30, st.just("application/json")), (6, st.sampled_from(CONTENT_TYPES))))
        auth = draw(weighted((10, st.sampled_from(spec.get("auth", ["agent"]))), (3, st.sampled_from(AUTH_KINDS))))
        return RequestTemplate(method, route, params, query, body, draw(st.booleans()), content_type, auth)
    return request()
