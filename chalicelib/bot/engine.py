"""The bot's turns: from the flow, where the conversation stands and what the visitor did, what the bot
says and where it stands next. Pure: the knowledge base and the lookups come in as functions, and the
caller (chalicelib/chat/bot_turns.py) stores the turn in one transaction, or not at all.

The state kept on the conversation: {v: flow version, node: where it waits, wait: what it waits for
(options | ask | feedback | end), field: the ask node's field index, turns: visitor turns in a row
without progress, seen: nodes reached}. A turn that reaches a node not reached before, or has a field
accepted, is progress; `max_turns` turns without any hand the conversation to a person.
"""
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.core import validate
from chalicelib.errors import BadRequestError

MAX_STEPS = 50  # nodes run in one turn: more is a loop of nodes that never waits for the visitor
HUMAN, YES, NO, SKIP = "human", "yes", "no", "skip"

TEXTS = {
    "en": {"human": "Talk to a person", "solved?": "Did this solve it?", "yes": "Yes, thanks", "no": "No",
           "skip": "Skip", "found": "This may answer your question:",
           "not_found": "I could not find an answer to that.",
           "choose": "You can choose one of these, or talk to a person.",
           "retry": "That does not look right; please try again.", "handoff": "Let me find you a person.",
           "error": "Something went wrong on my side. Let me find you a person.",
           "no_progress": "I am not getting it, sorry. Let me find you a person.",
           "lookup_failed": "I could not look that up right now. Let me find you a person.",
           "dead_end": "Let me find you a person."},
    "fr": {"human": "Parler à une personne", "solved?": "Cela a-t-il résolu votre problème\u202f?",
           "yes": "Oui, merci", "no": "Non", "skip": "Passer", "found": "Ceci peut répondre à votre question\u00a0:",
           "not_found": "Je n’ai pas trouvé de réponse à cela.",
           "choose": "Vous pouvez choisir l’une de ces options, ou parler à une personne.",
           "retry": "Cela ne semble pas correct\u202f; veuillez réessayer.", "handoff": "Je vous passe un conseiller.",
           "error": "Un problème est survenu de mon côté. Je vous passe un conseiller.",
           "no_progress": "Je ne comprends pas, désolé. Je vous passe un conseiller.",
           "lookup_failed": "Je n’ai pas pu vérifier cela pour l’instant. Je vous passe un conseiller.",
           "dead_end": "Je vous passe un conseiller."},
}
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,20}$")
_NUMBER = re.compile(r"^-?[0-9]+([.,][0-9]+)?$")
_TEMPLATE_KEY = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,39})\}")


class NoSuchOption(Exception):
    """A choice the conversation's open question does not offer."""


@dataclass
class Context:
    """What a turn may know beyond the flow and the state."""
    locale: str = "en"  # the visitor's language: "fr" or "en"
    page_url: str | None = None
    identified: bool = False
    fields: dict = field(default_factory=dict)  # collected so far
    search: Callable[[str], list] = lambda words: []  # the knowledge base's best articles for words
    articles: Callable[[list], list] = lambda ids: []  # the published ones of these ids
    lookup: Callable[[dict, dict], dict | None] = lambda node, fields: None  # the answer, or None on a failure


@dataclass
class Turn:
    replies: list = field(default_factory=list)  # {text, options?, articles?, ask?}
    state: dict = field(default_factory=dict)
    fields: dict = field(default_factory=dict)  # accepted this turn
    handoff: bool = False
    group: str | None = None
    reason: str | None = None  # why it handed off: asked, flow, lookup_failed, no_progress, error, dead_end
    confirmed: bool = False  # the visitor said it solved it
    watch: dict | None = None  # set by the caller: this turn took the bot watch (its waits)


def initial_state(version: int, locale: str | None, identified: bool) -> dict:
    """The state of a conversation created on a site with a flow: its opening is still to come (`begin`)."""
    return {"v": int(version), "node": None, "wait": "start", "turns": 0, "seen": [],
            "lang": "fr" if (locale or "").lower().startswith("fr") else "en", "identified": bool(identified)}


def text(value: dict | None, locale: str) -> str:
    """A node's text in the visitor's language: French when asked for and written, else English."""
    value = value or {}
    return value.get(locale) or value.get("en") or ""


def say(key: str, locale: str) -> str:
    return TEXTS.get(locale, TEXTS["en"])[key]


def begin(flow: dict, version: int, ctx: Context, *, words: str | None = None) -> Turn:
    """A new conversation: the flow from its start node. `words`: what the visitor wrote first, answered
    where the flow first waits for them."""
    # The language and identity stay the conversation's for every later turn.
    state = {**initial_state(version, ctx.locale, ctx.identified), "node": flow["start"], "wait": None}
    turn = Turn(state=state)
    _run(flow, flow["start"], turn, ctx)
    if words is not None and not turn.handoff and not turn.confirmed:
        _words(flow, turn, ctx, words)
    return turn


def answer(flow: dict, state: dict, ctx: Context, *, words: str | None = None, option: str | None = None) -> Turn:
    """The visitor wrote `words` or chose `option` (NoSuchOption when the open question has no such choice)."""
    turn = Turn(state={**state, "seen": list(state.get("seen") or [])})
    before = len(turn.state["seen"])
    if option is not None:
        _choose(flow, turn, ctx, option)
    else:
        _words(flow, turn, ctx, words or "")
    progress = len(turn.state["seen"]) > before or bool(turn.fields)
    turn.state["turns"] = 0 if progress else int(state.get("turns") or 0) + 1
    if not turn.handoff and not turn.confirmed and turn.state["turns"] >= int(flow.get("max_turns") or 6):
        give_up(flow, turn, ctx, "no_progress")
    return turn


def give_up(flow: dict, turn: Turn, ctx: Context, reason: str) -> Turn:
    """Hand the conversation to a person, saying why in the visitor's language."""
    turn.replies.append({"text": say(reason if reason in TEXTS["en"] else "handoff", ctx.locale)})
    turn.handoff, turn.reason = True, reason
    turn.group = turn.group or flow.get("human_group")
    turn.state.update(wait=None)
    return turn


# --- walking the flow ---------------------------------------------------------------------------

def _run(flow: dict, node_id: str | None, turn: Turn, ctx: Context) -> None:
    """Run nodes from `node_id` until one waits for the visitor, hands off, or the flow ends."""
    for _ in range(MAX_STEPS):
        node = flow["nodes"].get(node_id) if node_id else None
        if node is None:
            give_up(flow, turn, ctx, "dead_end")
            return
        if node_id not in turn.state["seen"]:
            turn.state["seen"].append(node_id)
        turn.state.update(node=node_id, wait=None)
        turn.state.pop("field", None)
        kind = node["kind"]
        if kind == "message":
            turn.replies.append({"text": _fill(text(node.get("text"), ctx.locale), {**ctx.fields, **turn.fields}),
                                 **_delay(node)})
            if node.get("end"):
                turn.state["wait"] = "end"
                return
            node_id = node.get("next")
        elif kind == "options":
            turn.replies.append({"text": text(node.get("text"), ctx.locale), "options": _options(node, ctx)})
            turn.state["wait"] = "options"
            return
        elif kind == "articles":
            found = ctx.articles(node["article_ids"]) if node.get("article_ids") else \
                ctx.search(turn.state.get("q") or "")
            if not found:
                node_id = node.get("unsolved")
                continue
            _offer_articles(turn, ctx, found[:3], text(node.get("text"), ctx.locale))
            return
        elif kind == "ask":
            turn.state["field"] = 0
            if _ask_next(node, turn, ctx):
                return
            node_id = node.get("next")
        elif kind == "lookup":
            node_id = _lookup(node, turn, ctx)
            if node_id is None:
                give_up(flow, turn, ctx, "lookup_failed")
                return
        elif kind == "branch":
            node_id = _branch(node, turn, ctx)
        elif kind == "handoff":
            turn.replies.append({"text": text(node.get("text"), ctx.locale) or say("handoff", ctx.locale)})
            turn.handoff, turn.reason, turn.group = True, "flow", node.get("group")
            return
    give_up(flow, turn, ctx, "error")  # a loop of nodes that never waits: the flow's fault, not the visitor's


def _delay(node: dict) -> dict:
    return {"delay_ms": node["delay_ms"]} if node.get("delay_ms") else {}


def _options(node: dict, ctx: Context) -> list:
    """The node's choices, and the way to a person, always one tap away."""
    return [{"id": o["id"], "label": text(o["label"], ctx.locale)} for o in node["options"]] + [_human(ctx)]


def _human(ctx: Context) -> dict:
    return {"id": HUMAN, "label": say("human", ctx.locale)}


def _offer_articles(turn: Turn, ctx: Context, found: list, intro: str) -> None:
    turn.replies.append({"text": intro or say("found", ctx.locale), "articles": found})
    turn.replies.append({"text": say("solved?", ctx.locale),
                         "options": [{"id": YES, "label": say("yes", ctx.locale)},
                                     {"id": NO, "label": say("no", ctx.locale)}]})
    turn.state["wait"] = "feedback"


def _ask_next(node: dict, turn: Turn, ctx: Context) -> bool:
    """Ask the node's next field not yet known; False when all are (the node is done)."""
    fields = node["fields"]
    i = int(turn.state.get("field") or 0)
    while i < len(fields) and _known(fields[i]["name"], turn, ctx):
        i += 1
    if i >= len(fields):
        turn.state.pop("field", None)
        return False
    asked = fields[i]
    turn.state.update(field=i, wait="ask")
    reply = {"text": text(asked["label"], ctx.locale),
             "ask": {"field": asked["name"], "type": asked["type"], "required": asked["required"]}}
    if not asked["required"]:
        reply["options"] = [{"id": SKIP, "label": say("skip", ctx.locale)}]
    turn.replies.append(reply)
    return True


def _known(name: str, turn: Turn, ctx: Context) -> bool:
    return name in turn.fields or name in ctx.fields


def _lookup(node: dict, turn: Turn, ctx: Context) -> str | None:
    """The lookup's answer rendered, and the node next; the fallback on any failure (None: none usable)."""
    fields = {**ctx.fields, **turn.fields}
    answer = ctx.lookup(node, {name: fields[name] for name in node["fields"] if name in fields})
    rendered = _render(text(node.get("template"), ctx.locale), answer, fields) if isinstance(answer, dict) else None
    if rendered is None:
        return node.get("fallback")
    turn.replies.append({"text": rendered})
    return node.get("next")


def _render(template: str, answer: dict, fields: dict) -> str | None:
    """`{key}` from the answer's top-level strings and numbers, else the collected fields; None when a key
    is in neither (an answer that lacks what the template needs is a failed lookup)."""
    values = {k: v for k, v in fields.items() if isinstance(v, str)}
    values.update({k: str(v) for k, v in answer.items()
                   if isinstance(v, (str, int, float)) and not isinstance(v, bool) and len(str(v)) <= 500})
    missing = [key for key in _TEMPLATE_KEY.findall(template) if key not in values]
    if missing:
        return None
    return _TEMPLATE_KEY.sub(lambda m: values[m.group(1)], template)[:validate.MAX_TEXT]


def _fill(template: str, fields: dict) -> str:
    """A message's `{field}` placeholders filled with what the bot collected (others are left as written)."""
    return _TEMPLATE_KEY.sub(lambda m: str(fields[m.group(1)]) if fields.get(m.group(1)) else m.group(0), template)


def _branch(node: dict, turn: Turn, ctx: Context) -> str | None:
    on = node["on"]
    fields = {**ctx.fields, **turn.fields}
    value = {"locale": ctx.locale, "page_url": ctx.page_url or "", "identified": ctx.identified,
             "field": fields.get(node.get("field") or "", "")}[on]
    for case in node["cases"]:
        if "equals" in case and (value == case["equals"] if on == "identified"
                                 else str(value).lower() == str(case["equals"]).lower()):
            return case["next"]
        if "prefix" in case and str(value).lower().startswith(case["prefix"].lower()):
            return case["next"]
        if "contains" in case and case["contains"].lower() in str(value).lower():
            return case["next"]
    return node.get("default")


# --- what the visitor did -----------------------------------------------------------------------

def _choose(flow: dict, turn: Turn, ctx: Context, option: str) -> None:
    state = turn.state
    node = flow["nodes"].get(state.get("node")) or {}
    wait = state.get("wait")
    if option == HUMAN:
        turn.replies.append({"text": say("handoff", ctx.locale)})
        turn.handoff, turn.reason, turn.group = True, "asked", flow.get("human_group")
        state["wait"] = None
    elif wait == "options" and node.get("kind") == "options":
        chosen = next((o for o in node["options"] if o["id"] == option), None)
        if chosen is None:
            raise NoSuchOption(option)
        state["q"] = text(chosen["label"], ctx.locale)  # the words an articles node searches, unless they write
        _run(flow, chosen["next"], turn, ctx)
    elif wait == "feedback" and option in (YES, NO):
        back = state.pop("back", None)
        turn.confirmed = option == YES
        if back is None and node.get("kind") == "articles":  # the node's own yes / no
            _run(flow, node.get("solved" if option == YES else "unsolved"), turn, ctx)
        elif option == YES:
            state["wait"] = "end"
        else:  # articles offered for free text did not help: the question again, and the way to a person
            _reoffer(flow, back, turn, ctx)
    elif wait == "ask" and option == SKIP and node.get("kind") == "ask":
        asked = node["fields"][int(state.get("field") or 0)]
        if asked["required"]:
            raise NoSuchOption(option)
        turn.fields[asked["name"]] = None  # known: not asked again
        state["field"] = int(state.get("field") or 0) + 1
        if not _ask_next(node, turn, ctx):
            _run(flow, node.get("next"), turn, ctx)
    else:
        raise NoSuchOption(option)


def _words(flow: dict, turn: Turn, ctx: Context, words: str) -> None:
    state = turn.state
    node = flow["nodes"].get(state.get("node")) or {}
    if state.get("wait") == "ask" and node.get("kind") == "ask":
        asked = node["fields"][int(state.get("field") or 0)]
        value = _accept(asked, words)
        if value is None:
            turn.replies.append({"text": text(asked.get("retry"), ctx.locale) or say("retry", ctx.locale)})
            _ask_next(node, turn, ctx)
            return
        turn.fields[asked["name"]] = value
        state["field"] = int(state.get("field") or 0) + 1
        if not _ask_next(node, turn, ctx):
            _run(flow, node.get("next"), turn, ctx)
        return
    # Free text where a choice was expected, or after the end: the articles for the words, then the
    # question again (or the offer of a person).
    state["q"] = words[:500]
    found = ctx.search(words)[:3]
    if found:
        _offer_articles(turn, ctx, found, say("found", ctx.locale))
        if node.get("kind") == "articles":
            return  # its own yes/no follows, to its solved / unsolved nodes
        turn.replies[-1]["options"].append(_human(ctx))
        if state.get("back") is None:  # the question they wrote instead of answering, to ask it again
            state["back"] = state.get("node")
        return
    turn.replies.append({"text": say("not_found", ctx.locale)})
    _reoffer(flow, state.get("node") if state.get("wait") == "options" else None, turn, ctx)


def _reoffer(flow: dict, node_id: str | None, turn: Turn, ctx: Context) -> None:
    """The options of `node_id` again (an options node), or only the way to a person."""
    node = flow["nodes"].get(node_id) if node_id else None
    if node and node.get("kind") == "options":
        turn.replies.append({"text": say("choose", ctx.locale), "options": _options(node, ctx)})
        turn.state.update(node=node_id, wait="options")
    else:
        turn.replies.append({"text": say("choose", ctx.locale), "options": [_human(ctx)]})
        turn.state["wait"] = "end"


def _accept(asked: dict, words: str) -> str | None:
    """The answer to a field, cleaned, if it is one of its type and matches its pattern."""
    value = words.strip()
    kind = asked["type"]
    if not value or len(value) > 320:
        return None
    if kind == "email":
        value = value.lower()
        try:
            validate.email({"email": value})
        except BadRequestError:
            return None
    elif (kind == "number" and not _NUMBER.match(value)) or (kind == "phone" and not _PHONE.match(value)):
        return None
    if asked.get("pattern") and not re.fullmatch(asked["pattern"], value):
        return None
    return value
