"""Messages: stored with the next seq before anyone hears of them, then fanned out.

The hot path costs three DynamoDB requests: the caller's connection (GetItem, in ws.py), the
conversation (GetItem: may the caller write here, its last seq, its subscribers, the flood
counters) and one TransactWriteItems that puts the message at last_seq + 1, claims its
client_msg_id, and moves the conversation on, on condition that nobody else did meanwhile. A
concurrent sender loses that condition and retries with the new last_seq, so `seq` rises by exactly
one per stored message, with no gap even if a Lambda dies half-way; a repeated client_msg_id fails
its claim and returns the first message.
"""
import hashlib
import logging
import random
import time
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.aws import stepfunctions
from chalicelib.chat import notices
from chalicelib.chat.conversations import ACTIVE, index_actions, load, serialize_message
from chalicelib.chat.subscriptions import deliver, notify_change, recipients
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, new_id, now
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, RateLimitedError
from chalicelib.mail import outgoing
from chalicelib.store import limits, retention
from chalicelib.store.dynamo import cancelled, cancelled_for, dynamo, update_if
from chalicelib.store.models import Agent, Conversation, Key, Message, Visitor

log = logging.getLogger(__name__)

# Concurrent writers to one conversation retry until one of them wins each seq, with jittered
# exponential backoff. How many may race is bounded (`_join_race`: 8 per side in 2 s; the rest are
# refused after one lost race), and that bound is what keeps a pile-up of hundreds of sends
# from holding every worker: the racers finish in about as many rounds. This deadline is the backstop,
# inside the Lambda's 30 s (48 legitimate racers take about 15 s on the local stack's moto), and ends in
# `rate_limited` (retry in a second).
RETRY_SECONDS = 20.0
BACKOFF_BASE, BACKOFF_CAP = 0.002, 0.064
# At most this many sends of one side of a conversation stay in a race in any 2 s (more are refused).
RACE_LIMIT = limits.Limit("racing_sends", 8, 2, "messages at once in this conversation")
# Agents' flood limit, per conversation (all agents and notes together): a colleague pasting canned
# responses stays far below it; a script that fires hundreds of sends into one conversation does not.
AGENT_RATE_COUNT, AGENT_RATE_WINDOW = 30, 10
CLIENT_MSG_ID_TTL = 7 * 24 * 3600
PREVIEW_CHARS = 140


@dataclass
class Stored:
    message: Message | None  # None: a turn of the bot's alone (a conversation's opening)
    conversation: Conversation
    duplicate: bool
    status_changed: bool = False
    watch: dict | None = None  # this agent reply took the inactivity watch: its waits, to start its execution
    followers: list = field(default_factory=list)  # the bot's replies stored with it (Follow)
    follow: object = None  # what the Follow callback returned, for its caller


@dataclass
class Follow:
    """What the bot adds to a visitor's message, in the same transaction: its replies (dicts of text and
    options, articles, ask) and conversation updates (its state, a status). `result` is the caller's."""
    replies: list
    actions: list
    author: dict
    result: object = None
    first_text: str | None = None  # the visitor's message as the bot read it (a choice: its label)


def store_message(caller: Caller, conversation_id: str, text: str | None, *, client_msg_id: str | None = None,
                  internal: bool = False, options: list | None = None,
                  author: dict | None = None, notice: str | None = None, agent_name: str | None = None,
                  preview: bool = True, follow=None) -> Stored:
    """Append a message to the conversation; exactly once per (author, client_msg_id). `preview`: it
    becomes the conversation's last_message (what the inbox shows, and what the inactivity watch reads).
    `follow(conversation, seq)`: a Follow (the bot's answer to message `seq`, written in the same
    transaction, on the same condition) or None; with `text` None, only the Follow's messages are stored."""
    author = author or caller.author()
    visitor = author["kind"] == "visitor" and text is not None
    deadline, attempt = time.monotonic() + RETRY_SECONDS, 0
    assignee_gone = False
    while time.monotonic() < deadline:
        attempt += 1
        conversation = load(caller, conversation_id)
        stamp, seq = iso(), int(conversation.last_seq) + (1 if text is not None else 0)
        actions = [Conversation.updated_at.set(stamp), Conversation.activity_at.set(stamp)]
        try:
            if visitor and conversation.blocked:
                raise ForbiddenError("this visitor is blocked")
            if visitor and conversation.status == "closed":
                raise ConflictError("this conversation is closed; start a new one")
            if visitor:
                actions.append(rate_action(conversation, Conversation.rate_times, caller.rate_limit_count,
                                           caller.rate_limit_window, now()))
            elif author["kind"] == "agent":
                actions.append(rate_action(conversation, Conversation.agent_rate_times, _agent_rate_count(),
                                           AGENT_RATE_WINDOW, now()))
        except (ConflictError, RateLimitedError):
            if client_msg_id:  # a retry of a message stored before the refusal still gets its ack
                first = _first(conversation.id, author["id"], client_msg_id, missing_ok=True)
                if first is not None:
                    return Stored(first, conversation, duplicate=True)
            raise
        try:
            follow_up = follow(conversation, seq) if follow else None
        except NotFoundError:
            # A retried choice whose turn was made: the question it answered is gone, its first answer is not.
            first = _first(conversation.id, author["id"], client_msg_id, missing_ok=True) if client_msg_id else None
            if first is None:
                raise
            return Stored(first, conversation, duplicate=True)
        followers = _followers(conversation, seq, follow_up, stamp)
        if follow_up and follow_up.first_text is not None and text is not None:
            text = follow_up.first_text
        if text is None and not followers:
            return Stored(None, conversation, duplicate=True)  # nothing to say: the turn was someone else's
        last = followers[-1].seq if followers else seq
        actions.append(Conversation.last_seq.set(last))
        if follow_up:
            actions += follow_up.actions
        # A customer reply to a solved conversation reopens it to the same agent, who takes the slot back.
        reopen = (visitor and conversation.status == "solved" and bool(conversation.assignee_id)
                  and not assignee_gone and not follow_up)
        if reopen:
            actions += [Conversation.status.set("open"), Conversation.solved_at.remove(),
                        Conversation.auto_solved.remove(),
                        *index_actions(conversation.workspace_id, "open", conversation.assignee_id)]
        preview = preview and not internal  # a note must never show in a list a visitor's view could carry
        shown = ({"seq": last, "text": followers[-1].text[:PREVIEW_CHARS], "kind": followers[-1].author_kind,
                  "at": stamp} if followers else
                 {"seq": seq, "text": text[:PREVIEW_CHARS], "kind": author["kind"], "at": stamp})
        if preview:
            actions.append(Conversation.last_message.set(shown))
        first_reply = author["kind"] == "agent" and not internal and not conversation.first_response_at
        if first_reply:
            actions.append(Conversation.first_response_at.set(stamp))
        lease, watch = (stepfunctions.inactivity_lease(conversation, seq, now())
                        if author["kind"] == "agent" and not internal and conversation.status in ACTIVE
                        else ([], None))
        actions += lease
        # Retention rides on what was read: the message expires at the conversation's new horizon.
        expires_at = retention.horizon(conversation.retention_days)
        holds_slot = bool(conversation.assignee_id) and (reopen or conversation.status in ACTIVE)
        actions += retention.conversation_actions(conversation.retention_days, holds_slot)
        message = Message(conversation.id, seq, id=new_id("m"), client_msg_id=client_msg_id,
                          author_kind=author["kind"], author_id=author["id"], author_name=author.get("name"),
                          text=text, internal=internal, options=options, notice=notice, agent_name=agent_name,
                          created_at=stamp, expires_at=expires_at) if text is not None else None
        for follower in followers:
            follower.expires_at = expires_at
        unchanged = (Conversation.last_seq == conversation.last_seq) & (Conversation.status == conversation.status)
        try:
            with TransactWrite(connection=dynamo()) as tx:
                if message is not None:
                    tx.save(message, condition=Message.seq.does_not_exist())
                if client_msg_id and message is not None:
                    tx.save(Key(claim_key(conversation.id, author["id"], client_msg_id), seq=seq,
                                expires_at=_claim_expiry(expires_at)),
                            condition=Key.pk.does_not_exist())
                for follower in followers:
                    tx.save(follower, condition=Message.seq.does_not_exist())
                tx.update(conversation, actions=actions, condition=unchanged)
                if reopen:
                    tx.update(Agent(conversation.assignee_id), actions=[Agent.active_chats.add(1)],
                              condition=Agent.id.exists())
        except TransactWriteError as exc:
            # pynamodb sends puts before updates: message, claim (if any), conversation, agent (if any).
            items = [*(["message"] if message is not None else []),
                     *(["claim"] if client_msg_id and message is not None else []),
                     *(["follower"] * len(followers)), "conversation", "agent"]
            failed = dict(zip(items, cancelled(exc), strict=False))
            if failed.get("claim"):
                return Stored(_first(conversation.id, author["id"], client_msg_id), conversation, duplicate=True)
            if failed.get("agent"):
                assignee_gone = True  # the agent was removed: store the reply, leave the status
            raced = any(failed.values()) or cancelled_for(exc, "TransactionConflict")
            if raced or cancelled_for(exc, "ThrottlingError"):  # a hot item: nothing was written, try again
                if raced and attempt == 1:  # another writer took this seq: only so many may stay in the race
                    _join_race(conversation.id, author["kind"])
                # back off, the more the longer it goes on
                time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt, 10))))
                continue
            raise
        conversation.last_seq, conversation.updated_at, conversation.activity_at = last, stamp, stamp
        if preview:
            conversation.last_message = shown
        if reopen:
            conversation.status, conversation.solved_at, conversation.auto_solved = "open", None, None
            conversation.assignee_active = conversation.assignee_id
        if message is not None:
            observability.metric("MessagesStored", author=author["kind"])
        if followers:
            observability.metric("MessagesStored", len(followers), author="bot")
        if first_reply:
            observability.metric("FirstResponseTime", observability.seconds_between(conversation.created_at, stamp),
                                 "Seconds")
        return Stored(message, conversation, duplicate=False, status_changed=reopen, watch=watch,
                      followers=followers, follow=follow_up.result if follow_up else None)
    observability.metric("SendsGivenUp")
    raise RateLimitedError("too many messages at once in this conversation; retry the send", retry_after=1.0)


def _followers(conversation: Conversation, seq: int, follow_up: Follow | None, stamp: str) -> list[Message]:
    """The bot's replies to message `seq`, numbered after it."""
    if not follow_up:
        return []
    author = follow_up.author
    return [Message(conversation.id, seq + i, id=new_id("m"), author_kind=author["kind"], author_id=author["id"],
                    author_name=author.get("name"), text=reply["text"], options=reply.get("options"),
                    articles=reply.get("articles"), ask=reply.get("ask"), delay_ms=reply.get("delay_ms"),
                    created_at=stamp)
            for i, reply in enumerate(follow_up.replies, start=1)]


def _join_race(conversation_id: str, kind: str) -> None:
    """A send that lost its first race counts itself among the conversation's racers of its side; past
    RACERS in RACE_WINDOW it is refused at once (`rate_limited`), so a pile-up of hundreds of sends costs
    each of them one lost race, while the few who stay in finish in as many rounds (every lost round
    costs each racer a read and a cancelled transaction: k racers cost k²). A send that wins at once
    costs nothing more: the hot path stays three requests."""
    limits.hit(RACE_LIMIT, f"{conversation_id}#{kind}")


def _agent_rate_count() -> int:
    """The agents' flood limit in force: a deployment-wide limit, so PARLEY_RATE_LIMIT_SCALE scales it like
    chalicelib/limits.py's (a visitor's flood limit is the site's own setting, and is not scaled)."""
    return max(1, int(AGENT_RATE_COUNT * settings.rate_limit_scale))


def rate_action(conversation: Conversation, times, limit: int, window: int, t: float):
    """Flood limit: at most `limit` messages in any `window` seconds, the visitor's in `rate_times`,
    the agents' in `agent_rate_times`.

    The conversation keeps the times of the side's latest messages (as many as the limit): a
    message is refused while the limit's worth of them are younger than the window, and allowed
    again the moment the oldest leaves it. They live on the conversation item, which the send
    writes anyway: no extra request, as consistent as the seq.
    """
    recent = [float(x) for x in (getattr(conversation, times.attr_name) or []) if float(x) > t - window][-limit:]
    if len(recent) >= limit:
        raise RateLimitedError(f"more than {limit} messages in {window} s; slow down",
                               retry_after=recent[0] + window - t)
    return times.set([round(x, 3) for x in recent] + [round(t, 3)])


def _claim_expiry(message_expires_at: int | None) -> int:
    """A claim is kept 7 days, never longer than the message it points at."""
    until = int(now()) + CLIENT_MSG_ID_TTL
    return min(until, message_expires_at) if message_expires_at else until


def claim_key(conversation_id: str, author_id: str, client_msg_id: str) -> str:
    digest = hashlib.sha256(f"{author_id}\x00{client_msg_id}".encode()).hexdigest()[:40]
    return f"cmid#{conversation_id}#{digest}"


def _first(conversation_id: str, author_id: str, client_msg_id: str, *, missing_ok: bool = False) -> Message | None:
    """The message first stored under this client_msg_id."""
    try:
        claim = Key.get(claim_key(conversation_id, author_id, client_msg_id), consistent_read=True)
    except DoesNotExist:
        if missing_ok:
            return None
        raise
    try:
        return Message.get(conversation_id, int(claim.seq), consistent_read=True)
    except DoesNotExist:  # both are written in one transaction; only an erasure or retention separates them
        raise ConflictError("client_msg_id was used for a message that no longer exists") from None


def send_message(caller: Caller, conversation_id: str, text: str, *, client_msg_id: str | None,
                 internal: bool, sender, ref: str | None = None, ack: bool = True) -> dict:
    """Store, then deliver: the ack to the sender and the message to every other subscriber."""
    return post_message(caller, conversation_id, text, client_msg_id=client_msg_id, internal=internal,
                        sender=sender, ref=ref, ack=ack)[0]


def post_message(caller: Caller, conversation_id: str, text: str, *, client_msg_id: str | None,
                 internal: bool, sender, ref: str | None = None, ack: bool = True) -> tuple[dict, Conversation]:
    """send_message, and the conversation as the write left it (for what a command does next)."""
    stored = post_stored(caller, conversation_id, text, client_msg_id=client_msg_id, internal=internal,
                         sender=sender, ref=ref, ack=ack)
    return serialize_message(stored.message), stored.conversation


def post_stored(caller: Caller, conversation_id: str, text: str | None, *, client_msg_id: str | None,
                internal: bool, sender, ref: str | None = None, ack: bool = True, follow=None,
                echo: bool = True) -> Stored:
    """Store (with the bot's answer, when `follow` gives one), then deliver: the ack to the sender, the
    message to every other subscriber, the bot's replies to all of them (to the sender too, unless `echo`
    is off: a `start` carries them in its ack, before the widget knows the conversation)."""
    stored = store_message(caller, conversation_id, text, client_msg_id=client_msg_id, internal=internal,
                           follow=follow)
    data = serialize_message(stored.message) if stored.message is not None else None
    deliveries = []
    if ack and caller.connection_id and data:
        deliveries.append((caller.connection_id,
                           {"type": "ack", "ref": ref, "message": data, "duplicate": stored.duplicate}))
    if not stored.duplicate and data:
        event = {"type": "message", "conversation_id": conversation_id, "message": data}
        deliveries += [(cid, event) for cid, _ in
                       recipients(stored.conversation, exclude=caller.connection_id, agents_only=internal)]
    for follower in stored.followers:
        event = {"type": "message", "conversation_id": conversation_id, "message": serialize_message(follower)}
        deliveries += [(cid, event) for cid, _ in
                       recipients(stored.conversation, exclude=None if echo else caller.connection_id)]
    deliver(stored.conversation, deliveries, sender)
    if stored.duplicate or data is None:
        return stored
    if not stored.duplicate and not internal and caller.is_agent and not any(
            kind == "visitor" for _, kind in recipients(stored.conversation)):
        try:  # no visitor connection heard it: email it after a quiet period (the subscribers are in hand)
            outgoing.note_unseen_reply(stored.conversation, stored.message.seq)
        except Exception:  # the message is stored and acknowledged; the widget shows it on return
            log.exception("digest not queued", extra={"conversation_id": conversation_id})
    if stored.watch:
        stepfunctions.start_inactivity(stored.conversation, int(stored.message.seq), stored.watch)
    if stored.status_changed:
        try:
            notify_change(stored.conversation, sender)
        except Exception:  # the frame has its ack already; the change shows on the next read
            log.exception("reopen notification failed", extra={"conversation_id": conversation_id})
    return stored


def post_system_message(conversation: Conversation, text: str, sender, *, options: list | None = None,
                        kind: str = "system", notice: str | None = None, agent_name: str | None = None,
                        preview: bool = True) -> dict:
    """A message from the system or the bot, delivered to every subscriber."""
    caller = Caller.system(conversation.workspace_id, actor=kind, name=None)
    stored = store_message(caller, conversation.id, text, options=options, notice=notice, agent_name=agent_name,
                           preview=preview,
                           author={"kind": kind, "id": kind, "name": None})
    data = serialize_message(stored.message)
    event = {"type": "message", "conversation_id": conversation.id, "message": data}
    deliver(stored.conversation, [(cid, event) for cid, _ in recipients(stored.conversation)], sender)
    return data


def post_notice(conversation: Conversation, code: str, sender, *, preview: bool = False, **values) -> dict | None:
    """A notice (chat/notices.py) in the visitor's language, to every subscriber. Not the inbox's preview
    unless asked: the list keeps showing what the visitor last wrote. A notice is a courtesy: it never
    fails what it follows (the change is made and told already), it is logged."""
    try:
        locale = visitor_locale(conversation)
        agent_name = values.get("agent")  # whom the visitor now chats with (the widget's header names them)
        values = {name: value or notices.text("an_agent", locale) for name, value in values.items()}  # nameless
        text = notices.text(code, locale, **values)
        return post_system_message(conversation, text, sender, notice=code, agent_name=agent_name, preview=preview)
    except Exception:
        log.exception("notice not posted", extra={"conversation_id": conversation.id, "notice": code})
        return None


def visitor_locale(conversation: Conversation) -> str | None:
    try:
        return Visitor.get(conversation.visitor_id).locale
    except DoesNotExist:
        return None


def typing(caller: Caller, conversation_id: str, state: str, preview: str | None, sender) -> None:
    """Typing goes to the other side only; the preview (sneak peek) to agents only."""
    conversation = load(caller, conversation_id)
    base = {"type": "typing", "conversation_id": conversation_id, "author": caller.author(), "state": state}
    with_preview = {**base, "preview": preview} if preview is not None and state == "on" else base
    deliveries = []
    for cid, kind in recipients(conversation, exclude=caller.connection_id):
        if kind == caller.kind == "visitor":
            continue  # the visitor's own other tabs
        deliveries.append((cid, with_preview if kind == "agent" and not caller.is_agent else base))
    deliver(conversation, deliveries, sender)


def mark_read(caller: Caller, conversation_id: str, seq: int, sender) -> None:
    conversation = load(caller, conversation_id)
    seq = min(seq, int(conversation.last_seq))
    marker = Conversation.agent_read_seq if caller.is_agent else Conversation.visitor_read_seq
    if not update_if(conversation, [marker.set(seq)], (marker < seq) | marker.does_not_exist()):
        return  # an older or equal read mark: nothing to tell anyone
    event = {"type": "read", "conversation_id": conversation_id, "author": caller.author(), "seq": seq}
    other = "visitor" if caller.is_agent else "agent"
    deliver(conversation, [(cid, event) for cid, kind in recipients(conversation, exclude=caller.connection_id)
                           if kind == other], sender)

