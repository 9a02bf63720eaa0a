"""Conversations as they are read: loading one, its index keys, serializers, history and the views."""
import base64
import binascii
import json
import logging

from pynamodb.exceptions import DoesNotExist

from chalicelib.chat import tickets
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, now
from chalicelib.errors import BadRequestError, NotFoundError
from chalicelib.store import retention
from chalicelib.store.models import Conversation, Message, Visitor

log = logging.getLogger(__name__)


STATUSES = ("bot", "queued", "open", "pending", "solved", "closed")


ACTIVE = ("open", "pending")  # statuses that hold one of the assignee's slots


VIEWS = ("unassigned", "mine", "open", "pending", "solved", "all")


HISTORY_DEFAULT, HISTORY_MAX = 50, 100


HISTORY_MAX_BYTES = 96 * 1024


def queue_key(workspace_id: str, group: str | None) -> str:
    return f"{workspace_id}#{group or '*'}"


def index_keys(workspace_id: str, status: str, assignee_id: str | None, group: str | None = None,
               ticket: tickets.Ticket | None = None) -> dict:
    """The derived index attributes of a conversation created in `status` (queued: with its ticket)."""
    queued = status == "queued"
    return {"ws_status": f"{workspace_id}#{status}",
            "assignee_active": assignee_id if assignee_id and status in ACTIVE else None,
            "queue_key": queue_key(workspace_id, group) if queued else None,
            "queued_at": (ticket.queued_at if ticket else iso()) if queued else None,
            "ticket": ticket.number if queued and ticket else None}


def index_actions(workspace_id: str, status: str, assignee_id: str | None, group: str | None = None,
                  ticket: tickets.Ticket | None = None) -> list:
    """The derived index attributes for a new status. Entering a queue takes that queue's `ticket` and
    its queued_at (the back of the line); staying in the same queue (no ticket) keeps both."""
    keys = index_keys(workspace_id, status, assignee_id, group, ticket)
    actions = [Conversation.ws_status.set(keys["ws_status"])]
    if keys["assignee_active"]:
        actions.append(Conversation.assignee_active.set(keys["assignee_active"]))
    else:
        actions.append(Conversation.assignee_active.remove())
    if keys["queue_key"] and ticket:
        actions += [Conversation.queue_key.set(keys["queue_key"]), Conversation.queued_at.set(ticket.queued_at),
                    Conversation.ticket.set(ticket.number)]
    elif keys["queue_key"]:
        actions += [Conversation.queue_key.set(keys["queue_key"]),
                    Conversation.queued_at.set(Conversation.queued_at | keys["queued_at"])]
    else:
        actions += [Conversation.queue_key.remove(), Conversation.queued_at.remove(), Conversation.ticket.remove()]
    return actions


def entry_ticket(conversation: Conversation, status: str, group: str | None) -> tickets.Ticket | None:
    """A ticket when the conversation enters a queue it is not in yet (None: it stays where it is)."""
    if status != "queued":
        return None
    queue = queue_key(conversation.workspace_id, group)
    if conversation.status == "queued" and conversation.queue_key == queue:
        return None
    return tickets.take(queue)


def check_id(conversation_id) -> None:
    if not isinstance(conversation_id, str) or not conversation_id or len(conversation_id) > 64:
        raise BadRequestError("conversation_id is required", field="conversation_id")


def load(caller: Caller, conversation_id) -> Conversation:
    """The conversation, if the caller may see it: its visitor, or an agent of its workspace."""
    check_id(conversation_id)
    try:
        conversation = Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("no such conversation") from None
    if conversation.workspace_id != caller.workspace_id or retention.expired(conversation):
        raise NotFoundError("no such conversation")
    if not caller.is_agent and conversation.visitor_id != caller.id:
        raise NotFoundError("no such conversation")
    return conversation


def serialize(c: Conversation) -> dict:
    out = {
        "id": c.id, "site_key": c.site_key,
        "visitor": {"id": c.visitor_id, "name": c.visitor_name, "email": c.visitor_email,
                    "page_url": c.page_url},
        "status": c.status, "assignee_id": c.assignee_id, "group": c.group, "title": c.title,
        "tags": list(c.tags or []), "created_at": c.created_at, "updated_at": c.updated_at,
        "last_seq": int(c.last_seq), "first_response_at": c.first_response_at, "solved_at": c.solved_at,
        "visitor_read_seq": int(c.visitor_read_seq or 0), "agent_read_seq": int(c.agent_read_seq or 0),
        "activity_at": c.activity_at, "last_message": plain(c.last_message),
    }
    if c.status == "queued" and c.queued_at:
        out["queued_at"] = c.queued_at
    if c.auto_solved is not None:
        out["auto_solved"] = c.auto_solved
    if c.resolution:
        out["resolution"] = c.resolution
    if c.csat:
        out["csat"] = plain(c.csat)
    if c.missed:
        out["missed"], out["missed_at"] = True, c.missed_at
    if c.previous_conversation_id:
        out["previous_conversation_id"] = c.previous_conversation_id
    if c.fields:
        out["fields"] = plain(c.fields)  # what the bot collected (agents read them beside the chat)
    if c.bot_outcome:
        out["bot"] = {"outcome": c.bot_outcome, "outcome_at": c.bot_outcome_at, "final": bool(c.bot_outcome_final),
                      **({"handoff_reason": c.bot_handoff_reason} if c.bot_handoff_reason else {})}
    if c.preview:
        out["preview"] = True
    return out


def plain(value):
    """A MapAttribute's value as plain data (None stays None)."""
    return value.as_dict() if hasattr(value, "as_dict") else value


def missed_this_wait(c: Conversation) -> bool:
    """The handoff timed out in the conversation's present wait: its visitor was told the answer comes by
    email, so no place in the queue is announced to them any more."""
    return bool(c.missed) and c.status == "queued" and (c.missed_at or "") >= (c.queued_at or "")


def for_visitor(data: dict) -> dict:
    """What a visitor may see of a conversation: no agent-side read marks or tags."""
    return {k: v for k, v in data.items() if k not in ("tags", "agent_read_seq")}


def serialize_message(m: Message) -> dict:
    out = {"id": m.id, "conversation_id": m.conversation_id, "seq": int(m.seq),
           "author": {"kind": m.author_kind, "id": m.author_id, "name": m.author_name},
           "text": m.text, "internal": bool(m.internal), "created_at": m.created_at}
    if m.client_msg_id:
        out["client_msg_id"] = m.client_msg_id
    if m.options:
        out["options"] = [plain(o) for o in m.options]
    if m.articles:
        out["articles"] = [plain(a) for a in m.articles]
    if m.ask:
        out["ask"] = plain(m.ask)
    if m.delay_ms:
        out["delay_ms"] = int(m.delay_ms)
    if m.notice:
        out["notice"] = m.notice
    if m.agent_name:
        out["agent_name"] = m.agent_name
    return out


def history(caller: Caller, conversation: Conversation, *, after_seq: int | None = None,
            before_seq: int | None = None, limit: int = HISTORY_DEFAULT) -> tuple[list[dict], bool]:
    """Messages in seq order, `limit` at most. Without after_seq, the latest ones (before before_seq)."""
    if after_seq is not None and before_seq is not None and before_seq <= after_seq + 1:
        return [], False
    condition = None
    if after_seq is not None and before_seq is not None:
        condition = Message.seq.between(after_seq + 1, before_seq - 1)
    elif after_seq is not None:
        condition = Message.seq > after_seq
    elif before_seq is not None:
        condition = Message.seq < before_seq
    forward = after_seq is not None
    # Messages past their horizon are gone, whether or not DynamoDB's TTL has deleted them yet.
    visible = Message.expires_at.does_not_exist() | (Message.expires_at > int(now()))
    if not caller.is_agent:
        visible &= Message.internal == False  # noqa: E712 (pynamodb builds the condition from ==)
    results, has_more = [], False
    query = Message.query(conversation.id, range_key_condition=condition, filter_condition=visible,
                          scan_index_forward=forward, consistent_read=True, page_size=limit + 1)
    size = 0
    for message in query:
        # A reply must fit in one websocket post (128 KB): stop early and say there is more.
        size += len(message.text.encode()) + 400
        if len(results) == limit or (results and size > HISTORY_MAX_BYTES):
            has_more = True
            break
        results.append(message)
    if not forward:
        results.reverse()
    return [serialize_message(m) for m in results], has_more


VIEW_LIMIT_DEFAULT, VIEW_LIMIT_MAX = 25, 100


def history_page(caller: Caller, conversation_id, params: dict) -> tuple[Conversation, list[dict], bool]:
    """One page of a conversation's history as a frame or a query asks for it (`after_seq`, `before_seq`,
    `limit`): the conversation, its messages the caller may see, and whether there are more."""
    after = validate.integer(params, "after_seq", minimum=0)
    before = validate.integer(params, "before_seq", minimum=1)
    limit = validate.integer(params, "limit", minimum=1, maximum=HISTORY_MAX, default=HISTORY_DEFAULT)
    conversation = load(caller, conversation_id)
    messages, has_more = history(caller, conversation, after_seq=after, before_seq=before, limit=limit)
    return conversation, messages, has_more


def list_view(caller: Caller, view: str, limit: int, cursor: str | None) -> dict:
    """An inbox view, newest activity first, one page at a time."""
    ws = caller.workspace_id
    if view == "mine":
        index, hash_key, hash_name = Conversation.by_assignee, caller.id, "assignee_active"
    elif view == "all":
        index, hash_key, hash_name = Conversation.by_workspace, ws, "workspace_id"
    else:
        status = "queued" if view == "unassigned" else view
        index, hash_key, hash_name = Conversation.by_status, f"{ws}#{status}", "ws_status"
    start = _decode_cursor(cursor, hash_name, hash_key) if cursor else None
    # The console's flow previews are the workspace's conversations but nobody's work: never listed (the
    # query reads on past them until the page is full).
    page = index.query(hash_key, scan_index_forward=False, limit=limit, last_evaluated_key=start,
                       filter_condition=Conversation.preview.does_not_exist())
    items = [serialize(c) for c in page]
    last = page.last_evaluated_key
    return {"items": items, "next_cursor": _encode_cursor(last) if last and len(items) == limit else None}


def _encode_cursor(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, hash_name: str, hash_value: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        valid = (isinstance(key, dict) and set(key) == {"id", hash_name, "activity_at"}
                 and key[hash_name] == {"S": hash_value}
                 and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                         for v in key.values()))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        valid = False
    if not valid:
        raise BadRequestError("cursor is not valid for this view", field="cursor")
    return key


def counts(caller: Caller) -> dict:
    """How many conversations each inbox view holds (Query with Select=COUNT on its index)."""
    ws = caller.workspace_id
    listed = Conversation.preview.does_not_exist()  # as the views list them: no flow previews
    out = {view: Conversation.by_status.count(f"{ws}#{'queued' if view == 'unassigned' else view}",
                                              filter_condition=listed)
           for view in ("unassigned", "open", "pending", "solved")}
    out["mine"] = Conversation.by_assignee.count(caller.id)
    out["all"] = Conversation.by_workspace.count(ws, filter_condition=listed)
    return out


def current(caller: Caller) -> Conversation | None:
    try:
        visitor = Visitor.get(caller.id, consistent_read=True)
        if not visitor.active_conversation_id:
            return None
        conversation = Conversation.get(visitor.active_conversation_id, consistent_read=True)
    except DoesNotExist:
        return None
    return conversation if conversation.status != "closed" and not retention.expired(conversation) else None
