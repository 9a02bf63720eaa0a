"""The bot in a conversation (docs/bot.md): each visitor turn, and the bot's answer to it, stored in one
transaction on condition that the conversation did not move meanwhile, so a retried or concurrent turn
is answered once, and a handoff happens once; only the turn that made it tells the agents.

A turn costs the caller's connection (read by the edge), the conversation (read by store_message) and
one transaction; the flow's version is kept by the container after its first read, and a turn that
searches the knowledge base reads its index's version. No Step Functions transition per turn: the bot
watch (the `assumed` outcome) is started once per stretch, like the inactivity watch.
"""
import logging
from dataclasses import dataclass, field

from chalicelib.aws import stepfunctions
from chalicelib.bot import engine, flows
from chalicelib.bot import lookup as lookups
from chalicelib.chat import messaging, routing, sites, tickets
from chalicelib.chat.conversations import index_actions, plain, queue_key, serialize_message
from chalicelib.chat.subscriptions import notify_change, notify_subscribers
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, now
from chalicelib.errors import NotFoundError, ParleyError
from chalicelib.kb import articles
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation, Message, Site, Visitor

log = logging.getLogger(__name__)

MAX_REPLIES = 20  # bot messages in one turn (a DynamoDB transaction holds 100 items)
PROFILE_FIELDS = ("name", "email")  # what an ask node collects onto the visitor's profile too


@dataclass
class Played:
    """A turn as stored: the visitor's message (if any), the bot's replies, the conversation after."""
    conversation: Conversation
    message: dict | None = None
    replies: list = field(default_factory=list)
    duplicate: bool = False
    answered: bool = False  # the bot took the turn (False: a person's conversation, stored as any message)


def opening(caller: Caller, conversation: Conversation, sender, *, words: str | None = None,
            client_msg_id: str | None = None) -> Played:
    """A new bot conversation: the flow from its start; the visitor's first words, if any, answered where
    the flow first waits. A retried start finds the opening made and adds nothing (or answers the words)."""
    hello = _greeting(conversation)

    def opened(flow: dict, ctx: engine.Context, state: dict) -> engine.Turn:
        turn = engine.begin(flow, state["v"], ctx, words=words)
        turn.replies.insert(0, {"text": hello[ctx.locale]})
        return turn

    def decide(current: Conversation, seq: int):
        state = _state(current)
        if state is None:
            return None
        if state.get("wait") == "start":
            return _follow(current, lambda flow, ctx: opened(flow, ctx, state), engaged=words is not None)
        if words is None:
            return None
        return _follow(current, lambda flow, ctx: engine.answer(flow, state, ctx, words=words))
    played = _play(caller, conversation.id, sender, words, client_msg_id, decide, echo=False)
    if words is None and not played.replies:
        played.replies = _opening_made(played.conversation)
    return played


def _opening_made(conversation: Conversation) -> list:
    """The opening another start made (a second tab starting at the same moment, whose socket may have
    joined too late for its events, or a reload), while the visitor has not answered yet: this ack's too."""
    state = _state(conversation)
    if conversation.status != "bot" or state is None or state.get("engaged") or state.get("wait") == "start":
        return []
    return [serialize_message(m) for m in Message.query(conversation.id, limit=MAX_REPLIES + 1)
            if m.author_kind == "bot"]


def visitor_turn(caller: Caller, conversation_id: str, sender, *, words: str | None = None,
                 option: str | None = None, client_msg_id: str | None = None, ack: bool = False,
                 ref=None) -> Played:
    """The visitor wrote (`words`, acknowledged here when `ack`) or chose (`option`). In a conversation the
    bot holds, the bot answers in the same write; in any other, the message is stored as every message is."""
    def decide(current: Conversation, seq: int):
        state = _state(current)
        if state is None:
            if option is not None:
                raise NotFoundError("no such option: this conversation has no bot question open", field="option_id")
            return None  # a person holds it now: the message is stored as any other
        return _follow(current, lambda flow, ctx: engine.answer(flow, state, ctx, words=words, option=option),
                       choice=option)
    text = words if option is None else ""  # a choice is stored as its label (the Follow names it)
    return _play(caller, conversation_id, sender, text, client_msg_id, decide, ack=ack and option is None, ref=ref)


def _greeting(conversation: Conversation) -> dict:
    """The site's greeting, naming who is online and the wait (chat/sites.py), in both languages."""
    try:
        site = Site.get(conversation.site_key)
        available = sites.availability_of(site)
        return {lang: sites.greeting(site, available, lang) for lang in ("en", "fr")}
    except Exception:  # a greeting is a courtesy: the flow opens without it rather than not at all
        log.exception("bot greeting unavailable", extra={"conversation_id": conversation.id})
        return {"en": "Hi!", "fr": "Bonjour\u00a0!"}


def confirm(caller: Caller, conversation: Conversation, sender) -> bool:
    """The article view's "Yes" in a conversation the bot holds: its `yes` when it asked whether an article
    solved it, else confirmed as it stands. False when the conversation moved meanwhile."""
    state = _state(conversation)
    if state is None:
        return False
    if state.get("wait") == "feedback":
        played = visitor_turn(caller, conversation.id, sender, option=engine.YES)
        return played.answered and not played.duplicate
    stamp = iso()
    confirmed = update_if(conversation, [
        Conversation.status.set("solved"), Conversation.solved_at.set(stamp), Conversation.resolution.set("bot"),
        Conversation.auto_solved.set(True), *index_actions(conversation.workspace_id, "solved", None),
        Conversation.bot_outcome.set("confirmed"), Conversation.bot_outcome_at.set(stamp),
        Conversation.bot_outcome_final.set(True)],
        (Conversation.status == conversation.status) & (Conversation.last_seq == conversation.last_seq))
    if confirmed:
        conversation.refresh(consistent_read=True)
        notify_change(conversation, sender)
    return confirmed


def holds(conversation: Conversation) -> bool:
    """The bot answers this conversation's visitor: it is the bot's, or solved by it and still revertible."""
    return _state(conversation) is not None


# --- one turn -------------------------------------------------------------------------------------

def _state(conversation: Conversation) -> dict | None:
    state = dict(plain(conversation.bot) or {})
    if not state:
        return None
    if conversation.status == "bot":
        return dict(state)
    if conversation.status == "solved" and conversation.bot_outcome == "assumed" and not conversation.bot_outcome_final:
        return dict(state)  # assumed solved, the 24 hours not over: the visitor's return reverts it
    return None


def _follow(conversation: Conversation, play, *, choice: str | None = None,
            engaged: bool = False) -> messaging.Follow:
    """The engine's turn for this conversation as it was read, as store_message writes it. `engaged`: the
    visitor wrote in this turn (an opening that answers their first words counts: they talked to the bot)."""
    state = _state(conversation)
    lang = state.get("lang") or "en"
    flow = flows.version(conversation.site_key, state["v"])
    ctx = _context(conversation, state)
    try:
        if flow is None:
            raise LookupError(f"flow version {state['v']} of {conversation.site_key} is gone")
        turn = play(flow, ctx)
    except engine.NoSuchOption:
        raise NotFoundError("no such option: it is not among the bot's open question's choices",
                            field="option_id") from None
    except ParleyError:
        raise
    except Exception:  # the bot's own failure must not strand the visitor: a person takes over
        log.exception("bot turn failed", extra={"conversation_id": conversation.id})
        turn = engine.give_up(flow or {}, engine.Turn(state=dict(state)), ctx, "error")
    if len(turn.replies) > MAX_REPLIES:
        turn.replies = turn.replies[:MAX_REPLIES - 1]
        engine.give_up(flow or {}, turn, ctx, "error")
    turn.state["engaged"] = bool(state.get("engaged")) or engaged or state.get("wait") != "start" \
        or choice is not None
    follow = messaging.Follow(replies=[_reply(r) for r in turn.replies], actions=_actions(conversation, state, turn),
                              author={"kind": "bot", "id": "bot", "name": sites.BOT_NAME},
                              result=turn)
    if choice is not None:
        follow.first_text = _choice_label(flow or {}, state, choice, lang)
    return follow


def _reply(reply: dict) -> dict:
    return {k: v for k, v in reply.items() if k in ("text", "options", "articles", "ask", "delay_ms")}


def _choice_label(flow: dict, state: dict, option: str, lang: str) -> str:
    """What the visitor's choice says in the transcript: the label they tapped."""
    if option in (engine.HUMAN, engine.YES, engine.NO, engine.SKIP):
        return engine.say(option, lang)
    node = (flow.get("nodes") or {}).get(state.get("node")) or {}
    chosen = next((o for o in node.get("options") or [] if o["id"] == option), None)
    return engine.text(chosen["label"], lang) if chosen else option


def _context(conversation: Conversation, state: dict) -> engine.Context:
    lang = state.get("lang") or "en"
    fields = dict(plain(conversation.fields) or {})
    site_key, workspace_id = conversation.site_key, conversation.workspace_id

    def search(words: str) -> list:
        if not words.strip():
            return []
        return [_article(a) for a in articles.matches(workspace_id, site_key, lang, words, 3)]

    def fixed(ids: list) -> list:
        return [_article(a) for a in articles.published(workspace_id, site_key, lang, ids)]

    def lookup(node: dict, values: dict) -> dict | None:
        return lookups.call(node, values, secret=_site_secret(site_key), site_key=site_key,
                            conversation_id=conversation.id, locale=lang)
    return engine.Context(locale=lang, page_url=conversation.page_url, identified=bool(state.get("identified")),
                          fields=fields, search=search, articles=fixed, lookup=lookup)


def _article(item: dict) -> dict:
    return {k: item[k] for k in ("id", "title", "snippet", "url") if item.get(k)}


def _site_secret(site_key: str) -> str | None:
    try:
        return Site.get(site_key, attributes_to_get=["bot_secret"]).bot_secret
    except Exception:  # a lookup unsigned beats no lookup; the receiver may refuse it)
        log.exception("bot secret unreadable", extra={"site_key": site_key})
        return None


def _actions(conversation: Conversation, before: dict, turn: engine.Turn) -> list:
    """The conversation's updates for this turn: the bot's state and fields, and a status it changes."""
    stamp = iso()
    actions = [Conversation.bot.set(turn.state)]
    accepted = {k: v for k, v in turn.fields.items() if v is not None}
    if accepted:
        actions.append(Conversation.fields.set({**(plain(conversation.fields) or {}), **accepted}))
    ws = conversation.workspace_id
    # An assumed outcome the visitor's return reverts: solved no more (unless this turn solves it again).
    reverted = conversation.status == "solved"
    unsolve = [Conversation.solved_at.remove(), Conversation.resolution.remove(), Conversation.auto_solved.remove()]
    if turn.handoff:
        outcome = [Conversation.bot_outcome.set("handed_off"), Conversation.bot_outcome_at.set(stamp),
                   Conversation.bot_outcome_final.set(True), Conversation.bot_handoff_reason.set(turn.reason or "flow")]
        if conversation.preview:  # the preview ends where a person would take over
            actions += [Conversation.status.set("solved"), Conversation.solved_at.set(stamp),
                        Conversation.resolution.set("preview"), Conversation.auto_solved.set(True),
                        *index_actions(ws, "solved", None), *outcome]
        else:
            group = turn.group
            ticket = tickets.take(queue_key(ws, group))
            actions += [Conversation.status.set("queued"), Conversation.group.set(group) if group
                        else Conversation.group.remove(), *index_actions(ws, "queued", None, group, ticket), *outcome,
                        *(unsolve if reverted else [])]
    elif turn.confirmed:
        actions += [Conversation.status.set("solved"), Conversation.solved_at.set(stamp),
                    Conversation.resolution.set("bot"), Conversation.auto_solved.set(True),
                    *index_actions(ws, "solved", None), Conversation.bot_outcome.set("confirmed"),
                    Conversation.bot_outcome_at.set(stamp), Conversation.bot_outcome_final.set(True)]
    else:
        if reverted:
            actions += [Conversation.status.set("bot"), *unsolve, Conversation.bot_outcome.remove(),
                        Conversation.bot_outcome_at.remove(), Conversation.bot_outcome_final.remove(),
                        *index_actions(ws, "bot", None)]
        lease, turn.watch = stepfunctions.bot_watch_lease(conversation, now())
        actions += lease
    return actions


def _play(caller: Caller, conversation_id: str, sender, text: str | None, client_msg_id: str | None, decide,
          *, ack: bool = False, ref=None, echo: bool = True) -> Played:
    stored = messaging.post_stored(caller, conversation_id, text, client_msg_id=client_msg_id, internal=False,
                                   sender=sender, ref=ref, ack=ack, follow=decide, echo=echo)
    played = Played(stored.conversation, serialize_message(stored.message) if stored.message is not None else None,
                    [serialize_message(m) for m in stored.followers], stored.duplicate, bool(stored.follow))
    turn = stored.follow
    if turn is not None and not stored.duplicate:
        reverted = played.conversation.status == "solved"  # an assumed outcome this turn undid
        if turn.handoff or turn.confirmed or reverted:
            played.conversation.refresh(consistent_read=True)  # the turn moved its status: read it as written
        _after(played.conversation, turn, sender, reverted=reverted)
    return played


def _after(conversation: Conversation, turn: engine.Turn, sender, *, reverted: bool = False) -> None:
    """What follows a stored turn, for the one turn that stored it: the profile, a handoff, the watch."""
    profile = {k: v for k, v in turn.fields.items() if k in PROFILE_FIELDS and v}
    if profile:
        try:
            Visitor(conversation.visitor_id).update(actions=[getattr(Visitor, k).set(v) for k, v in profile.items()],
                                                    condition=Visitor.id.exists())
        except Exception:  # the field is on the conversation already; the profile is a copy)
            log.exception("visitor profile not updated", extra={"conversation_id": conversation.id})
    if turn.handoff and not conversation.preview:
        hand_off(conversation, sender)
        return
    if turn.handoff or turn.confirmed:
        notify_change(conversation, sender)
    elif reverted:  # solved no more: the visitor's tabs hear it (the agents' views never listed it as theirs)
        notify_subscribers(conversation, sender)
    if getattr(turn, "watch", None) and not (turn.handoff or turn.confirmed):
        stepfunctions.start_bot_watch(conversation, turn.watch)


def hand_off(conversation: Conversation, sender) -> None:
    """The conversation entered the queue (once: the turn that moved it): the agents hear of it, routing
    runs, and the handoff flow waits for a person (named by its queue time, so it starts once)."""
    conversation.refresh(consistent_read=True)
    notify_change(conversation, sender)
    routing.route_new(conversation, sender)
    conversation.refresh(consistent_read=True)
    if conversation.status == "queued":
        stepfunctions.start_handoff(conversation, announce=False)
