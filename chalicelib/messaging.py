"""Messages: stored with the next seq before anyone hears of them, then fanned out.

The hot path costs three DynamoDB requests: the caller's connection (GetItem, in ws.py), the
conversation (GetItem) and one TransactWriteItems that bumps `last_seq` on condition it did not
move, puts the message and claims its client_msg_id. Concurrent senders lose the condition and
retry, so `seq` stays contiguous; a repeated client_msg_id fails its claim and returns the first.
"""
import hashlib
import random
import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from .conversations import (cancelled, dynamo, index_actions, load, notify_change, recipients,
                            serialize_message)
from .errors import ConflictError, RateLimitedError
from .identity import Caller
from .models import Conversation, Key, Message
from .util import iso, new_id, now

MAX_ATTEMPTS = 8
CLIENT_MSG_ID_TTL = 7 * 24 * 3600


@dataclass
class Stored:
    message: Message
    conversation: Conversation
    duplicate: bool
    status_changed: bool = False


def store_message(caller: Caller, conversation_id: str, text: str, *, client_msg_id: str | None = None,
                  internal: bool = False, options: list | None = None,
                  author: dict | None = None) -> Stored:
    """Append a message to the conversation; exactly once per (author, client_msg_id)."""
    author = author or caller.author()
    for attempt in range(MAX_ATTEMPTS):
        conversation = load(caller, conversation_id)
        if conversation.status == "closed" and author["kind"] == "visitor":
            raise ConflictError("this conversation is closed; start a new one")
        stamp, seq = iso(), int(conversation.last_seq) + 1
        actions = [Conversation.last_seq.set(seq), Conversation.updated_at.set(stamp),
                   Conversation.activity_at.set(stamp)]
        if author["kind"] == "visitor":
            actions += rate_actions(caller, conversation)
        reopen = author["kind"] == "visitor" and conversation.status == "solved" and conversation.assignee_id
        if reopen:  # a customer reply to a solved conversation reopens it to the same agent
            actions += [Conversation.status.set("open"), Conversation.solved_at.remove(),
                        *index_actions(conversation.workspace_id, "open", conversation.assignee_id)]
        if author["kind"] == "agent" and not internal and not conversation.first_response_at:
            actions.append(Conversation.first_response_at.set(stamp))
        message = Message(conversation.id, seq, id=new_id("m"), client_msg_id=client_msg_id,
                          author_kind=author["kind"], author_id=author["id"], author_name=author.get("name"),
                          text=text, internal=internal, options=options, created_at=stamp)
        try:
            with TransactWrite(connection=dynamo()) as tx:
                tx.update(conversation, actions=actions, condition=Conversation.last_seq == conversation.last_seq)
                tx.save(message, condition=Message.seq.does_not_exist())
                if client_msg_id:
                    tx.save(Key(_claim_key(conversation.id, author["id"], client_msg_id), seq=seq,
                                expires_at=int(now()) + CLIENT_MSG_ID_TTL),
                            condition=Key.pk.does_not_exist())
        except TransactWriteError as exc:
            failed = cancelled(exc)
            if client_msg_id and len(failed) > 2 and failed[2]:
                return Stored(_first(conversation.id, author["id"], client_msg_id), conversation, duplicate=True)
            if not failed or any(failed) or _is_conflict(exc):
                time.sleep(random.uniform(0, 0.005 * (2 ** attempt)))  # another writer got this seq
                continue
            raise
        if reopen:
            conversation.refresh(consistent_read=True)
        else:
            conversation.last_seq, conversation.updated_at, conversation.activity_at = seq, stamp, stamp
        return Stored(message, conversation, duplicate=False, status_changed=bool(reopen))
    raise ConflictError("too many concurrent writers; retry the send")


def _is_conflict(exc: TransactWriteError) -> bool:
    return any(r and r.code == "TransactionConflict" for r in (exc.cancellation_reasons or []))


def rate_actions(caller: Caller, conversation: Conversation) -> list:
    """Fixed-window flood limit: at most rate_limit_count visitor messages per rate_limit_window seconds.

    The window lives on the conversation item, which the send transaction writes anyway, so the
    check costs no extra request and is as consistent as the seq.
    """
    t = now()
    start, count = float(conversation.rate_window_start or 0), int(conversation.rate_count or 0)
    if t - start >= caller.rate_limit_window:
        start, count = t, 0
    if count >= caller.rate_limit_count:
        raise RateLimitedError(f"more than {caller.rate_limit_count} messages in {caller.rate_limit_window} s; "
                               "slow down", retry_after=start + caller.rate_limit_window - t)
    return [Conversation.rate_window_start.set(start), Conversation.rate_count.set(count + 1)]


def _claim_key(conversation_id: str, author_id: str, client_msg_id: str) -> str:
    digest = hashlib.sha256(f"{author_id}\x00{client_msg_id}".encode()).hexdigest()[:40]
    return f"cmid#{conversation_id}#{digest}"


def _first(conversation_id: str, author_id: str, client_msg_id: str) -> Message:
    try:
        claim = Key.get(_claim_key(conversation_id, author_id, client_msg_id), consistent_read=True)
        return Message.get(conversation_id, int(claim.seq), consistent_read=True)
    except DoesNotExist:  # the claim outlived its message: cannot happen, both are written together
        raise ConflictError("client_msg_id was used for a message that no longer exists") from None


def send_message(caller: Caller, conversation_id: str, text: str, *, client_msg_id: str | None,
                 internal: bool, sender, ref: str | None = None, ack: bool = True) -> dict:
    """Store, then deliver: the ack to the sender and the message to every other subscriber."""
    stored = store_message(caller, conversation_id, text, client_msg_id=client_msg_id, internal=internal)
    data = serialize_message(stored.message)
    deliveries = []
    if ack and caller.connection_id:
        deliveries.append((caller.connection_id,
                           {"type": "ack", "ref": ref, "message": data, "duplicate": stored.duplicate}))
    if not stored.duplicate:
        event = {"type": "message", "conversation_id": conversation_id, "message": data}
        deliveries += [(cid, event) for cid, _ in
                       recipients(stored.conversation, exclude=caller.connection_id, agents_only=internal)]
    sender.send_each(deliveries)
    if stored.status_changed:
        notify_change(stored.conversation, sender)
    return data


def post_system_message(conversation: Conversation, text: str, sender, *, options: list | None = None,
                        kind: str = "system") -> dict:
    """A message from the system or the bot, delivered to every subscriber."""
    caller = Caller(kind="agent", id=kind, workspace_id=conversation.workspace_id, name=None)
    stored = store_message(caller, conversation.id, text, options=options,
                           author={"kind": kind, "id": kind, "name": None})
    data = serialize_message(stored.message)
    sender.broadcast([cid for cid, _ in recipients(stored.conversation)],
                     {"type": "message", "conversation_id": conversation.id, "message": data})
    return data


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
    sender.send_each(deliveries)


def mark_read(caller: Caller, conversation_id: str, seq: int, sender) -> None:
    conversation = load(caller, conversation_id)
    seq = min(seq, int(conversation.last_seq))
    marker = Conversation.agent_read_seq if caller.is_agent else Conversation.visitor_read_seq
    try:
        conversation.update(actions=[marker.set(seq)], condition=(marker < seq) | marker.does_not_exist())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return  # an older or equal read mark: nothing to tell anyone
        raise
    event = {"type": "read", "conversation_id": conversation_id, "author": caller.author(), "seq": seq}
    other = "visitor" if caller.is_agent else "agent"
    sender.broadcast([cid for cid, kind in recipients(conversation, exclude=caller.connection_id)
                      if kind == other], event)

