"""Data requests (GDPR) by a workspace's admins: find a visitor by email, export all that is stored about
them, erase it. docs/protocol.md §13.4 has the routes; docs/data-model.md §2.10 every request they make.

An erasure is idempotent and resumable. It marks the visitor `erasing` (and blocked, so nothing new of
theirs is stored) before anything else; then, per conversation: close it through the usual status
change (the agent's slot is freed and the queue settles, the handoff flow is released), close the
visitor's sockets, delete the messages and their client_msg_id claims, then the conversation, on
condition that no message arrived meanwhile (else sweep again). The visitor record goes last. A Lambda
that dies half-way leaves the visitor marked and findable: the next call finishes the job.
"""
import json
import logging
import re
import time
from collections import Counter
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist

from chalicelib.chat import routing
from chalicelib.chat.assignment import assign, set_unassigned_status
from chalicelib.chat.conversations import ACTIVE, serialize, serialize_message
from chalicelib.chat.lifecycle import disconnect
from chalicelib.chat.messaging import claim_key
from chalicelib.core import validate
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError, TooLargeError
from chalicelib.store.dynamo import delete_if, update_if
from chalicelib.store.models import Connection, Conversation, Key, Message, Visitor, email_key

log = logging.getLogger(__name__)

EXPORT_FORMAT = "parley.visitor-export/1"
# A Lambda's response is at most 6 MB: an export stops short of it rather than fail on the way out.
MAX_EXPORT_BYTES = 5 * 1024 * 1024
# API Gateway gives up on a REST call after 29 s: an erase stops after this and says it is not complete.
ERASE_SECONDS = 20.0
ERASE_ROUNDS = 5
CONVERSATION_ATTEMPTS = 5
FIND_MAX = 50
CONFIRM = "erase"

ABOUT = {
    "internal_notes": "Messages with \"internal\": true are agents' internal notes: the company's own records "
                      "that mention the visitor, never shown to them. Review them before handing this over.",
    "times": "ISO 8601 UTC. expires_at: when the site's retention period deletes the item (absent: kept).",
    "not_included": "Nothing else is stored about the visitor. While one of their sockets is open, its "
                    "record holds their display name (deleted when it closes, at most 3 hours later); "
                    "emails waiting in the email queue hold a conversation id (and, for a transcript, the "
                    "address asked for) until sent; logs hold identifiers only.",
}


def _check_visitor_id(visitor_id) -> str:
    if not isinstance(visitor_id, str) or not visitor_id or len(visitor_id) > 64:
        raise BadRequestError("visitor_id must be 1 to 64 characters", field="visitor_id")
    return visitor_id


def _audit(action: str, caller: Caller, visitor_id: str | None, **details) -> None:
    """One structured line per data request: who, which workspace, which visitor id, how much. Never a
    name, an address or a message."""
    record = {"audit": "privacy", "action": action, "workspace_id": caller.workspace_id, "actor_id": caller.id,
              "visitor_id": visitor_id, **details}
    log.info("audit %s", json.dumps(record, sort_keys=True), extra={"audit": record})


def _scope(caller: Caller, visitor_id: str) -> tuple[Visitor | None, list[Conversation]]:
    """The visitor (None when their record is gone: expired, or an erasure got that far) and their
    conversations in the caller's workspace. 404 when neither is there, or they are another
    workspace's, so ids tell nothing across workspaces."""
    try:
        visitor = Visitor.get(visitor_id, consistent_read=True)
    except DoesNotExist:
        visitor = None
    if visitor is not None and visitor.workspace_id not in (None, caller.workspace_id):
        raise NotFoundError("no such visitor")
    found = _conversations(caller, visitor_id)
    if (visitor is None or visitor.workspace_id is None) and not found:
        raise NotFoundError("no such visitor")
    return visitor, found


def _conversations(caller: Caller, visitor_id: str) -> list[Conversation]:
    """Every conversation of the visitor (visitor-index, all pages), oldest first."""
    return [c for c in Conversation.by_visitor.query(visitor_id) if c.workspace_id == caller.workspace_id]


# --- finding ---------------------------------------------------------------------------------

def find_by_email(caller: Caller, query: dict) -> dict:
    """GET /v1/visitors?email=: the workspace's visitors who gave this address (sparse email-index)."""
    require_admin(caller)
    email = validate.email(query, "email", required=True)
    found = list(Visitor.by_email.query(email_key(caller.workspace_id, email), limit=FIND_MAX))
    _audit("find", caller, None, found=len(found))
    return {"items": [{"id": v.id, "site_key": v.site_key, "name": v.name, "email": v.email,
                       "created_at": v.created_at, "last_seen_at": v.last_seen_at} for v in found]}


# --- export ----------------------------------------------------------------------------------

def _when(epoch) -> str | None:
    return iso(float(epoch)) if epoch is not None else None


def _visitor_record(v: Visitor) -> dict:
    return {"id": v.id, "site_key": v.site_key, "name": v.name, "email": v.email, "user_id": v.user_id,
            "page_url": v.page_url, "locale": v.locale, "blocked": bool(v.blocked),
            "created_at": v.created_at, "last_seen_at": v.last_seen_at,
            "active_conversation_id": v.active_conversation_id,
            "last_closed_conversation_id": v.last_closed_conversation_id, "last_agent_id": v.last_agent_id,
            "expires_at": _when(v.expires_at), **({"erasing_since": v.erasing} if v.erasing else {})}


def export_visitor(caller: Caller, visitor_id: str) -> dict:
    """GET /v1/visitors/{id}/export: the profile, every conversation with its CSAT and all its messages
    (internal notes flagged), as one JSON document."""
    require_admin(caller)
    _check_visitor_id(visitor_id)
    visitor, found = _scope(caller, visitor_id)
    size, total, out = 4096, 0, []
    for conversation in found:
        record = {**serialize(conversation), "retention_days": conversation.retention_days,
                  "expires_at": _when(conversation.expires_at), "messages": []}
        for message in Message.query(conversation.id, consistent_read=True):
            size += len(message.text.encode()) + 512
            if size > MAX_EXPORT_BYTES:
                raise TooLargeError("this visitor's data is larger than one export can carry (5 MB)")
            data = serialize_message(message)
            data["expires_at"] = _when(message.expires_at)
            record["messages"].append(data)
        total += len(record["messages"])
        out.append(record)
    _audit("export", caller, visitor_id, conversations=len(out), messages=total)
    return {"format": EXPORT_FORMAT, "exported_at": iso(), "workspace_id": caller.workspace_id,
            "visitor_id": visitor_id, "about": ABOUT,
            "visitor": _visitor_record(visitor) if visitor is not None and visitor.workspace_id else None,
            "conversations": out}


def download_headers(visitor_id: str) -> dict:
    safe = re.sub(r"[^A-Za-z0-9_-]", "", visitor_id)[:64] or "visitor"
    return {"Content-Type": "application/json",
            "Content-Disposition": f'attachment; filename="parley-{safe}-{_today()}.json"',
            "Cache-Control": "no-store"}


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# --- erasure ---------------------------------------------------------------------------------

def erase_visitor(caller: Caller, visitor_id: str, query: dict, sender, *,
                  budget: float = ERASE_SECONDS) -> dict:
    """DELETE /v1/visitors/{id}?confirm=erase: delete everything stored about the visitor. Returns what
    was deleted, and `complete: false` when the time ran out first (call again to go on)."""
    require_admin(caller)
    _check_visitor_id(visitor_id)
    if validate.string(query, "confirm", required=False, max_len=16) != CONFIRM:
        raise BadRequestError("confirm=erase is required: this deletes everything stored about the visitor",
                              field="confirm")
    visitor, found = _scope(caller, visitor_id)
    deadline = time.monotonic() + budget
    counts = Counter(conversations=0, messages=0, keys=0, connections=0, visitor=0)
    _audit("erase_started", caller, visitor_id)
    if visitor is not None and visitor.workspace_id and not _mark_erasing(visitor):
        visitor = None  # another erasure deleted the record meanwhile
    done: set[str] = set()
    freed, complete = False, False
    try:
        for _ in range(ERASE_ROUNDS):
            todo = [c.id for c in found if c.id not in done]
            if visitor is not None:  # one started meanwhile may not be in the index yet
                todo += [cid for cid in (visitor.active_conversation_id, visitor.last_closed_conversation_id)
                         if cid and cid not in done and cid not in todo]
            if not todo and (visitor is None or _delete_visitor(visitor)):
                counts["visitor"] += int(visitor is not None)
                complete = True
                break
            for conversation_id in todo:
                if time.monotonic() > deadline:
                    break
                freed |= _erase_conversation(caller, visitor_id, conversation_id, sender, counts)
                done.add(conversation_id)
            if time.monotonic() > deadline:
                break
            found = _conversations(caller, visitor_id)
            if visitor is not None:
                try:
                    visitor.refresh(consistent_read=True)
                except DoesNotExist:
                    visitor = None
    finally:
        if freed:  # slots were freed: the queue may drain to them now
            try:
                routing.settle(caller.workspace_id, sender)
            except Exception:  # the next settle (any accept, solve or drain) catches up
                log.exception("settling after an erasure failed")
        _audit("erase", caller, visitor_id, complete=complete, **counts)
    return {"visitor_id": visitor_id, "complete": complete, "erased": dict(counts)}


def _mark_erasing(visitor: Visitor) -> bool:
    """First: from now on the visitor gets no session, socket, conversation or message stored. False
    when the record is gone (the condition keeps the update from creating it again)."""
    return update_if(visitor, [Visitor.erasing.set(Visitor.erasing | iso()), Visitor.blocked.set(True)],
                     Visitor.workspace_id == visitor.workspace_id)


def _delete_visitor(visitor: Visitor) -> bool:
    """Last: the record, unless a conversation was claimed on it since it was read (then: go round)."""
    active = visitor.active_conversation_id
    unchanged = (Visitor.active_conversation_id == active) if active else \
        Visitor.active_conversation_id.does_not_exist()
    return delete_if(visitor, unchanged)


def _erase_conversation(caller: Caller, visitor_id: str, conversation_id: str, sender, counts: Counter) -> bool:
    """Close, disconnect, delete messages and claims, delete the conversation. True if a slot was freed."""
    freed = False
    for _ in range(CONVERSATION_ATTEMPTS):
        try:
            conversation = Conversation.get(conversation_id, consistent_read=True)
        except DoesNotExist:
            return freed
        if conversation.workspace_id != caller.workspace_id or conversation.visitor_id != visitor_id:
            return freed
        if conversation.status != "closed":
            try:
                freed |= _close(conversation, sender)
            except ConflictError:
                continue  # it changed meanwhile: read it again
        _disconnect_subscribers(conversation, sender, counts)
        last_seq = int(conversation.last_seq)
        _delete_messages(conversation.id, counts)
        if not delete_if(conversation, Conversation.last_seq == last_seq):
            continue  # a message was stored meanwhile: sweep again
        counts["conversations"] += 1
        return freed
    raise ConflictError("a conversation of this visitor keeps changing; erase again")


def _close(conversation: Conversation, sender) -> bool:
    """`closed` through the usual status change, so routing stays consistent: an assignee's slot is
    freed in the same transaction, a waiting handoff flow is released, agents get the change."""
    system = Caller.system(conversation.workspace_id)
    if conversation.assignee_id and conversation.status in ACTIVE:
        assign(system, conversation, conversation.assignee_id, "closed", sender, verify_agent=False)
        return True
    set_unassigned_status(conversation, "closed", sender)
    return False


def _disconnect_subscribers(conversation: Conversation, sender, counts: Counter) -> None:
    """The visitor's sockets close now (their records, which carry the name, go with them); agents'
    sockets forget the conversation."""
    subscribers = conversation.subscribers.as_dict() if conversation.subscribers else {}
    for connection_id, kind in subscribers.items():
        if kind == "visitor":
            try:
                sender.close(connection_id)
            except Exception:  # API Gateway refused: the record still goes, so the socket can do nothing
                log.warning("closing a socket failed", extra={"connection_id": connection_id})
            disconnect(connection_id)
            counts["connections"] += 1
        else:
            # A failed condition: that socket is gone already. A throttle fails the erasure, which the
            # next call resumes.
            update_if(Connection(connection_id), [Connection.subscriptions.delete({conversation.id})],
                      Connection.id.exists())


def _delete_messages(conversation_id: str, counts: Counter) -> None:
    """Every message of the conversation (Query, all pages) and the client_msg_id claims that point at
    them, 25 to a BatchWriteItem."""
    with Message.batch_write() as messages, Key.batch_write() as claims:
        for message in Message.query(conversation_id, consistent_read=True):
            messages.delete(message)
            counts["messages"] += 1
            if message.client_msg_id:
                claims.delete(Key(claim_key(conversation_id, message.author_id, message.client_msg_id)))
                counts["keys"] += 1
