"""A bot flow document checked before it is saved (docs/bot.md): every problem named by its node and
field, e.g. `nodes.menu.options[1].next`, so the console's editor can point at it. Pure: no AWS."""
import re

from chalicelib.core import validate
from chalicelib.net.urls import url_problem  # the webhooks' address rules, checked again at each post

MAX_NODES, MAX_OPTIONS, MAX_FIELDS, MAX_CASES, MAX_FIXED_ARTICLES = 100, 10, 5, 20, 3
MAX_TEXT, MAX_LABEL, MAX_PATTERN = 1000, 80, 200
MAX_TURNS_RANGE, DEFAULT_MAX_TURNS = (1, 50), 6
MAX_DELAY_MS = 5000
NODE_ID = re.compile(r"^[a-z0-9_-]{1,40}$")
OPTION_ID = NODE_ID
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Option ids the bot gives meanings of its own (docs/bot.md): a flow may not use them.
RESERVED_OPTIONS = ("human", "yes", "no", "skip")
KINDS = ("message", "options", "articles", "ask", "lookup", "branch", "handoff")
FIELD_TYPES = ("text", "email", "number", "phone")
BRANCH_ON = ("locale", "page_url", "identified", "field")
LANGUAGES = ("en", "fr")


class Problems:
    """Every problem found, in document order: [{field, message}]."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})


def check(document) -> tuple[dict, list[dict]]:
    """(the flow as it will be stored, problems). The stored form keeps only known keys, with defaults."""
    problems = Problems()
    if not isinstance(document, dict):
        problems.add("flow", "must be a JSON object")
        return {}, problems.items
    nodes = document.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        problems.add("nodes", "must be an object of nodes by id, at least one")
        nodes = {}
    elif len(nodes) > MAX_NODES:
        problems.add("nodes", f"at most {MAX_NODES} nodes")
    flow = {"enabled": _boolean(document, "enabled", True, problems), "start": document.get("start"),
            "max_turns": _max_turns(document, problems), "nodes": {}}
    human_group = document.get("human_group")
    if human_group is not None:
        if not isinstance(human_group, str) or not GROUP.match(human_group):
            problems.add("human_group", "must be a group name (lowercase letters, digits, - and _)")
        else:
            flow["human_group"] = human_group
    for node_id, node in nodes.items():
        where = f"nodes.{node_id}"
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            problems.add(where, "node ids are 1-40 lowercase letters, digits, - and _")
            continue
        flow["nodes"][node_id] = _node(node, where, problems)
    known = set(flow["nodes"])
    if not isinstance(flow["start"], str) or flow["start"] not in known:
        problems.add("start", "must name a node of the flow")
    for node_id, node in flow["nodes"].items():
        for field, target in _targets(node):
            if target not in known:
                problems.add(f"nodes.{node_id}.{field}", f"names no node ({target!r})")
    return flow, problems.items


def _boolean(obj: dict, key: str, default: bool, problems: Problems, where: str = "") -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        problems.add(where + key, "must be true or false")
        return default
    return value


def _max_turns(document: dict, problems: Problems) -> int:
    value = document.get("max_turns", DEFAULT_MAX_TURNS)
    low, high = MAX_TURNS_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add("max_turns", f"must be a whole number from {low} to {high}")
        return DEFAULT_MAX_TURNS
    return value


def _text(obj: dict, key: str, where: str, problems: Problems, *, required: bool = True,
          limit: int = MAX_TEXT) -> dict | None:
    """A text in English (required) and French (optional): {"en": …, "fr"?: …}; a plain string is English."""
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(f"{where}.{key}", "is required: {\"en\": \"…\", \"fr\": \"…\"}")
        return None
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        problems.add(f"{where}.{key}", "must be an object of texts by language: {\"en\": \"…\", \"fr\": \"…\"}")
        return None
    out = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            problems.add(f"{where}.{key}.{lang}", f"languages are {', '.join(LANGUAGES)}")
        elif not isinstance(text, str) or not text.strip() or not validate.is_text(text):
            problems.add(f"{where}.{key}.{lang}", "must be non-blank text")
        elif len(text) > limit:
            problems.add(f"{where}.{key}.{lang}", f"at most {limit} characters")
        else:
            out[lang] = text.strip()
    if "en" not in out and not any(p["field"].startswith(f"{where}.{key}.") for p in problems.items):
        problems.add(f"{where}.{key}.en", "the English text is required")
    return out


def _ref(obj: dict, key: str, where: str, problems: Problems, *, required: bool = True):
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(f"{where}.{key}", "is required: the id of the node that comes next")
        return None
    if not isinstance(value, str) or not NODE_ID.match(value):
        problems.add(f"{where}.{key}", "must be a node id")
        return None
    return value


def _node(node, where: str, problems: Problems) -> dict:
    if not isinstance(node, dict):
        problems.add(where, "must be an object")
        return {"kind": "message"}
    kind = node.get("kind")
    if kind not in KINDS:
        problems.add(f"{where}.kind", f"must be one of {', '.join(KINDS)}")
        return {"kind": "message"}
    out = {"kind": kind}
    if kind == "message":
        out["text"] = _text(node, "text", where, problems)
        delay = node.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MS:
            problems.add(f"{where}.delay_ms", f"must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}")
        elif delay:
            out["delay_ms"] = delay
        if node.get("end") is True:
            out["end"] = True
        else:
            out["next"] = _ref(node, "next", where, problems)
    elif kind == "options":
        out["text"] = _text(node, "text", where, problems)
        out["options"] = _options(node, where, problems)
    elif kind == "articles":
        out["text"] = _text(node, "text", where, problems)
        out["solved"] = _ref(node, "solved", where, problems)
        out["unsolved"] = _ref(node, "unsolved", where, problems)
        fixed = node.get("article_ids")
        if fixed is not None:
            if (not isinstance(fixed, list) or not 1 <= len(fixed) <= MAX_FIXED_ARTICLES
                    or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in fixed)):
                problems.add(f"{where}.article_ids", f"must be a list of 1 to {MAX_FIXED_ARTICLES} article ids")
            else:
                out["article_ids"] = list(dict.fromkeys(fixed))
    elif kind == "ask":
        out["fields"] = _fields(node, where, problems)
        out["next"] = _ref(node, "next", where, problems)
    elif kind == "lookup":
        out.update(_lookup(node, where, problems))
    elif kind == "branch":
        out.update(_branch(node, where, problems))
    elif kind == "handoff":
        out["text"] = _text(node, "text", where, problems, required=False)
        group = node.get("group")
        if group is not None:
            if not isinstance(group, str) or not GROUP.match(group):
                problems.add(f"{where}.group", "must be a group name (lowercase letters, digits, - and _)")
            else:
                out["group"] = group
    return {k: v for k, v in out.items() if v is not None}


def _objects(node: dict, key: str, where: str, problems: Problems, most: int, shape: str):
    """(place, object) of each item of the node's list `key`, once the list and each item are checked."""
    items = node.get(key)
    if not isinstance(items, list) or not 1 <= len(items) <= most:
        problems.add(f"{where}.{key}", f"must be a list of 1 to {most} {key}")
        return
    for i, item in enumerate(items):
        at = f"{where}.{key}[{i}]"
        if isinstance(item, dict):
            yield at, item
        else:
            problems.add(at, f"must be an object: {shape}")


def _options(node: dict, where: str, problems: Problems) -> list:
    out, seen = [], set()
    for at, option in _objects(node, "options", where, problems, MAX_OPTIONS, "{id, label, next}"):
        option_id = option.get("id")
        if not isinstance(option_id, str) or not OPTION_ID.match(option_id):
            problems.add(f"{at}.id", "option ids are 1-40 lowercase letters, digits, - and _")
        elif option_id in RESERVED_OPTIONS:
            problems.add(f"{at}.id", f"{option_id!r} is reserved (so are {', '.join(RESERVED_OPTIONS)}: docs/bot.md)")
        elif option_id in seen:
            problems.add(f"{at}.id", f"{option_id!r} is used twice in this node")
        seen.add(option_id)
        out.append({"id": option_id, "label": _text(option, "label", at, problems, limit=MAX_LABEL),
                    "next": _ref(option, "next", at, problems)})
    return out


def _fields(node: dict, where: str, problems: Problems) -> list:
    out, seen = [], set()
    for at, field in _objects(node, "fields", where, problems, MAX_FIELDS, "{name, type, label, required}"):
        name = field.get("name")
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            problems.add(f"{at}.name", "field names are a lowercase letter, then up to 39 letters, digits and _")
        elif name in seen:
            problems.add(f"{at}.name", f"{name!r} is asked twice in this node")
        seen.add(name)
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            problems.add(f"{at}.type", f"must be one of {', '.join(FIELD_TYPES)}")
        entry = {"name": name, "type": kind, "label": _text(field, "label", at, problems),
                 "required": _boolean(field, "required", True, problems, f"{at}.")}
        pattern = field.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN:
                problems.add(f"{at}.pattern", f"must be a regular expression of at most {MAX_PATTERN} characters")
            else:
                try:
                    re.compile(pattern)
                    entry["pattern"] = pattern
                except re.error as exc:
                    problems.add(f"{at}.pattern", f"is not a valid regular expression: {exc}")
        retry = _text(field, "retry", at, problems, required=False)
        if retry:
            entry["retry"] = retry
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _lookup(node: dict, where: str, problems: Problems) -> dict:
    url = node.get("url")
    problem = url_problem(url)
    if problem:
        problems.add(f"{where}.url", problem)
    fields = node.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 20 or not all(
            isinstance(f, str) and FIELD_NAME.match(f) for f in fields):
        problems.add(f"{where}.fields", "must be a list of field names collected before")
        fields = []
    return {"url": url if not problem else None, "fields": list(dict.fromkeys(fields)),
            "template": _text(node, "template", where, problems),
            "next": _ref(node, "next", where, problems), "fallback": _ref(node, "fallback", where, problems)}


def _branch(node: dict, where: str, problems: Problems) -> dict:
    on = node.get("on")
    if on not in BRANCH_ON:
        problems.add(f"{where}.on", f"must be one of {', '.join(BRANCH_ON)}")
    out = {"on": on, "default": _ref(node, "default", where, problems), "cases": []}
    if on == "field":
        field = node.get("field")
        if not isinstance(field, str) or not FIELD_NAME.match(field):
            problems.add(f"{where}.field", "must name a field collected before")
        out["field"] = field
    for at, case in _objects(node, "cases", where, problems, MAX_CASES, "{equals | prefix | contains, next}"):
        tests = {k: case[k] for k in ("equals", "prefix", "contains") if k in case}
        if len(tests) != 1:
            problems.add(at, "needs exactly one of equals, prefix, contains")
            continue
        (test, value), = tests.items()
        if on == "identified":
            if test != "equals" or not isinstance(value, bool):
                problems.add(f"{at}.{test}", "an identified branch tests equals: true or false")
        elif not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL * 25:
            problems.add(f"{at}.{test}", "must be non-empty text")
        out["cases"].append({test: value, "next": _ref(case, "next", at, problems)})
    return out


def _targets(node: dict):
    """(field, node id) of every reference a node makes to another."""
    for key in ("next", "fallback", "solved", "unsolved", "default"):
        if node.get(key):
            yield key, node[key]
    for i, option in enumerate(node.get("options") or []):
        if option.get("next"):
            yield f"options[{i}].next", option["next"]
    for i, case in enumerate(node.get("cases") or []):
        if case.get("next"):
            yield f"cases[{i}].next", case["next"]
