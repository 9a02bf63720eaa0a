"""Messages: stored with the next seq before anyone hears of them, then fanned out.

The hot path costs three DynamoDB requests: the caller's connection (GetItem, in ws.py); one
UpdateItem on the conversation that takes the next `seq` atomically, checks the caller may write
there, claims the client_msg_id, counts the flood limit and returns the subscribers (ALL_NEW); and
one PutItem of the message. Concurrent senders each get their own seq from the atomic counter, so
`seq` stays contiguous without retries. When the condition fails, one GetItem tells why.
"""
import hashlib
import logging
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .conversations import check_id, load, notify_change, recipients, reopen, serialize_message
from .errors import ConflictError, RateLimitedError
from .identity import Caller
from .models import Conversation, Message
from .util import iso, new_id, now

log = logging.getLogger(__name__)

# Claims of recent client_msg_ids kept on the conversation: pruned to the newest KEEP past MAX.
CLAIMS_MAX, CLAIMS_KEEP = 64, 32


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
    check_id(conversation_id)
    author = author or caller.author()
    claim = _claim(author["id"], client_msg_id) if client_msg_id else None
    visitor = author["kind"] == "visitor"
    for _ in range(3):
        stamp, t = iso(), now()
        actions = [Conversation.last_seq.set(Conversation.last_seq + 1), Conversation.updated_at.set(stamp),
                   Conversation.activity_at.set(stamp)]
        if visitor:
            condition = (Conversation.visitor_id == caller.id) & (Conversation.status != "closed")
        else:
            condition = Conversation.workspace_id == caller.workspace_id
        if claim:
            actions.append(Conversation.client_ids[claim].set(Conversation.last_seq + 1))
            condition &= Conversation.client_ids[claim].does_not_exist()
        if visitor:
            rate, rate_condition = rate_actions(caller, t)
            actions += rate
            condition &= rate_condition
        if author["kind"] == "agent" and not internal:
            actions.append(Conversation.first_response_at.set(Conversation.first_response_at | stamp))
        conversation = Conversation(conversation_id)
        try:
            conversation.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            current, first_seq = _why_refused(caller, conversation_id, claim, visitor, t)
            if first_seq is not None:
                return _complete_duplicate(current, first_seq, author, text, internal, options, client_msg_id)
            continue  # the conversation changed between the write and the diagnosis: try again
        message = Message(conversation.id, int(conversation.last_seq), id=new_id("m"), client_msg_id=client_msg_id,
                          author_kind=author["kind"], author_id=author["id"], author_name=author.get("name"),
                          text=text, internal=internal, options=options, created_at=stamp)
        message.save(condition=Message.seq.does_not_exist())
        _prune(conversation, t, caller.rate_limit_window)
        changed = False
        if visitor and conversation.status == "solved" and conversation.assignee_id:
            # A customer reply to a solved conversation reopens it to the same agent.
            changed = reopen(conversation)
        return Stored(message, conversation, duplicate=False, status_changed=changed)
    raise ConflictError("the conversation keeps changing; retry the send")


def rate_actions(caller: Caller, t: float) -> tuple[list, object]:
    """Flood limit: at most rate_limit_count visitor messages in any rate_limit_window seconds.

    Counters live in buckets of one window each; a message counts in its own bucket and the next, so
    the bucket checked holds the messages of the current and the previous window together, and any
    sliding window (which spans at most two buckets) never exceeds the limit. The counters sit on the
    conversation item the send writes anyway: no extra request.
    """
    bucket = int(t // caller.rate_limit_window)
    current, following = Conversation.rate_buckets[str(bucket)], Conversation.rate_buckets[str(bucket + 1)]
    actions = [current.set((current | 0) + 1), following.set((following | 0) + 1),
               Conversation.rate_buckets[str(bucket - 1)].remove()]
    return actions, current.does_not_exist() | (current < caller.rate_limit_count)


def _why_refused(caller: Caller, conversation_id: str, claim: str | None, visitor: bool,
                 t: float) -> tuple[Conversation, int | None]:
    """Raise the error a refused write deserves; return the first seq when it was a repeat."""
    conversation = load(caller, conversation_id)  # NotFoundError when it is not the caller's
    claims = conversation.client_ids.as_dict() if conversation.client_ids else {}
    if claim and claim in claims:
        return conversation, int(claims[claim])
    if visitor and conversation.status == "closed":
        raise ConflictError("this conversation is closed; start a new one")
    if visitor:
        window = caller.rate_limit_window
        bucket = int(t // window)
        if int(conversation.rate_buckets.as_dict().get(str(bucket), 0)) >= caller.rate_limit_count:
            raise RateLimitedError(f"more than {caller.rate_limit_count} messages in {window} s; slow down",
                                   retry_after=(bucket + 1) * window - t)
    return conversation, None


def _complete_duplicate(conversation: Conversation, seq: int, author: dict, text: str, internal: bool,
                        options, client_msg_id: str) -> Stored:
    """A repeated client_msg_id: the first message; or, if the first send died before storing it, this one."""
    try:
        return Stored(Message.get(conversation.id, seq, consistent_read=True), conversation, duplicate=True)
    except DoesNotExist:
        pass
    message = Message(conversation.id, seq, id=new_id("m"), client_msg_id=client_msg_id, author_kind=author["kind"],
                      author_id=author["id"], author_name=author.get("name"), text=text, internal=internal,
                      options=options, created_at=iso())
    try:
        message.save(condition=Message.seq.does_not_exist())
    except PutError:  # a concurrent retry stored it first
        return Stored(Message.get(conversation.id, seq, consistent_read=True), conversation, duplicate=True)
    log.warning("stored a message whose first send died after taking its seq",
                extra={"conversation_id": conversation.id, "seq": seq})
    return Stored(message, conversation, duplicate=False)


def _claim(author_id: str, client_msg_id: str) -> str:
    return hashlib.sha256(f"{author_id}\x00{client_msg_id}".encode()).hexdigest()[:16]


def _prune(conversation: Conversation, t: float, window: int) -> None:
    """Keep the claim and flood maps small; runs about once every CLAIMS_MAX - CLAIMS_KEEP messages."""
    claims = conversation.client_ids.as_dict() if conversation.client_ids else {}
    buckets = conversation.rate_buckets.as_dict() if conversation.rate_buckets else {}
    stale = [k for k in buckets if int(k) < int(t // window) - 1]
    if len(claims) <= CLAIMS_MAX and len(stale) < 8:
        return
    oldest = sorted(claims, key=lambda k: claims[k])[:max(0, len(claims) - CLAIMS_KEEP)]
    actions = [Conversation.client_ids[k].remove() for k in oldest]
    actions += [Conversation.rate_buckets[k].remove() for k in stale]
    if actions:
        conversation.update(actions=actions)


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

