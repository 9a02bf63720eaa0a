"""Conversations: starting one, finding and listing them, their lifecycle and assignment."""
import base64
import binascii
import json
import logging

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.aws import stepfunctions
from chalicelib.chat import tickets
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, new_id, now
from chalicelib.errors import BadRequestError, CapacityError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.store import limits, retention
from chalicelib.store.dynamo import cancelled, dynamo, owned
from chalicelib.store.models import Agent, Connection, Conversation, Message, Site, Visitor, email_key

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


# --- reading --------------------------------------------------------------------------------

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
        "activity_at": c.activity_at, "last_message": _plain(c.last_message),
    }
    if c.status == "queued" and c.queued_at:
        out["queued_at"] = c.queued_at
    if c.auto_solved is not None:
        out["auto_solved"] = c.auto_solved
    if c.csat:
        out["csat"] = _plain(c.csat)
    if c.missed:
        out["missed"], out["missed_at"] = True, c.missed_at
    if c.previous_conversation_id:
        out["previous_conversation_id"] = c.previous_conversation_id
    return out


def _plain(value):
    return value.as_dict() if hasattr(value, "as_dict") else value


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
        out["options"] = list(m.options)
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
        visible &= Message.internal == False  # noqa: E712
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
    page = index.query(hash_key, scan_index_forward=False, limit=limit, last_evaluated_key=start)
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
    except (ValueError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadRequestError("cursor is not valid for this view", field="cursor")
    return key


# --- subscriptions --------------------------------------------------------------------------

def subscribe(connection_id: str, kind: str, conversation_id: str, *, skip_closed: bool = False) -> None:
    """Deliver this conversation's live events to the connection."""
    condition = Conversation.id.exists()
    if skip_closed:
        condition &= Conversation.status != "closed"
    try:
        Conversation(conversation_id).update(actions=[Conversation.subscribers[connection_id].set(kind)],
                                             condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise DoesNotExist() from None
        raise
    Connection(connection_id).update(actions=[Connection.subscriptions.add({conversation_id})],
                                     condition=Connection.id.exists())


def deliver(conversation: Conversation, deliveries: list[tuple[str, dict]], sender) -> None:
    """Send, then drop from the conversation any subscriber API Gateway says is gone: its connection
    record may already have expired, so forgetting the connection alone would not reach this list."""
    gone = sender.send_each(deliveries)
    if gone:
        try:
            conversation.update(actions=[Conversation.subscribers[cid].remove() for cid in gone],
                                condition=Conversation.id.exists())
        except UpdateError:
            log.info("conversation gone before its subscribers", extra={"conversation_id": conversation.id})


def unsubscribe(connection_id: str, conversation_id: str) -> None:
    Conversation(conversation_id).update(actions=[Conversation.subscribers[connection_id].remove()],
                                         condition=Conversation.id.exists())
    Connection(connection_id).update(actions=[Connection.subscriptions.delete({conversation_id})],
                                     condition=Connection.id.exists())


def counts(caller: Caller) -> dict:
    """How many conversations each inbox view holds (Query with Select=COUNT on its index)."""
    ws = caller.workspace_id
    out = {view: Conversation.by_status.count(f"{ws}#{'queued' if view == 'unassigned' else view}")
           for view in ("unassigned", "open", "pending", "solved")}
    out["mine"] = Conversation.by_assignee.count(caller.id)
    out["all"] = Conversation.by_workspace.count(ws)
    return out


def recipients(conversation: Conversation, *, exclude: str | None = None,
               agents_only: bool = False) -> list[tuple[str, str]]:
    subs = conversation.subscribers.as_dict() if conversation.subscribers else {}
    return [(cid, kind) for cid, kind in subs.items()
            if cid != exclude and (kind == "agent" or not agents_only)]


# --- starting -------------------------------------------------------------------------------

def current(caller: Caller) -> Conversation | None:
    try:
        visitor = Visitor.get(caller.id, consistent_read=True)
        if not visitor.active_conversation_id:
            return None
        conversation = Conversation.get(visitor.active_conversation_id, consistent_read=True)
    except DoesNotExist:
        return None
    return conversation if conversation.status != "closed" and not retention.expired(conversation) else None


def start(caller: Caller, body: dict, sender, *, announce: bool = True) -> Conversation:
    """A visitor's active conversation on this site, or a new one (announced to the workspace's agents
    with `inbox` unless the caller announces it itself, e.g. once its first message is stored)."""
    fields = body.get("fields") or {}
    validate.obj(fields, "fields")
    name = validate.string(fields, "name", required=False, max_len=120)
    email = validate.email(fields, "email")
    page_url = validate.string(body, "page_url", required=False, max_len=2048)
    try:
        visitor = Visitor.get(caller.id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("unknown visitor") from None
    if visitor.blocked:
        raise ForbiddenError("this visitor is blocked")
    profile = [getattr(Visitor, k).set(v) for k, v in (("name", name), ("email", email)) if v]
    if email:
        profile.append(Visitor.email_key.set(email_key(caller.workspace_id, email)))
    if profile:
        visitor.update(actions=profile)
    if name:  # the name the visitor's messages carry from now on
        Connection(caller.connection_id).update(actions=[Connection.name.set(name)],
                                                condition=Connection.id.exists())

    for _ in range(3):
        current = visitor.active_conversation_id
        previous = visitor.last_closed_conversation_id
        if current:
            try:
                conversation = Conversation.get(current, consistent_read=True)
                if retention.expired(conversation):
                    raise DoesNotExist()  # past its retention: as good as deleted
                if conversation.status != "closed":
                    if profile or page_url:
                        _update_visitor_fields(conversation, name, email, page_url)
                    subscribe(caller.connection_id, "visitor", conversation.id)
                    conversation.refresh(consistent_read=True)
                    return conversation
                previous = conversation.id
            except DoesNotExist:
                pass
        site = _check_prechat(visitor)
        # only new conversations count, per site and address
        limits.hit(limits.for_site("start_ip", site.settings), limits.per_site(site.site_key, caller.source_ip))
        # Create first, then claim: whoever reads the visitor's active id finds the conversation there.
        conversation = _create(caller, visitor, new_id("c"), page_url, previous, site.settings.retention_days)
        claim = (Visitor.active_conversation_id == current) if current else \
            Visitor.active_conversation_id.does_not_exist()
        try:
            visitor.update(actions=[Visitor.active_conversation_id.set(conversation.id)], condition=claim)
        except UpdateError as exc:
            # Unclaimed, it would wait in the queue for a visitor who never sees it.
            conversation.delete()
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise  # a throttle: the client's retry starts afresh
            visitor.refresh(consistent_read=True)  # another tab started one first: use theirs
            continue
        subscribe(caller.connection_id, "visitor", conversation.id)
        conversation.refresh(consistent_read=True)
        if announce:
            notify_inbox(conversation, sender)
        return conversation
    raise ConflictError("could not start a conversation; retry")


def _check_prechat(visitor: Visitor) -> Site:
    """A site with a pre-chat form gets its required fields before the first conversation. Returns the
    site (its retention goes on the new conversation)."""
    try:
        site = Site.get(visitor.site_key)
    except DoesNotExist:
        raise NotFoundError("unknown site") from None
    if not site.settings.prechat_enabled:
        return site
    for field in site.settings.prechat_required or []:
        if not getattr(visitor, field, None):
            raise BadRequestError(f"{field} is required by this site's pre-chat form", field=field)
    return site


def _create(caller: Caller, visitor: Visitor, conversation_id: str, page_url: str | None,
            previous_id: str | None = None, retention_days: int | None = None) -> Conversation:
    status = "queued"  # no bot configured: hand off at once
    ticket = tickets.take(queue_key(caller.workspace_id, None))
    stamp = ticket.queued_at
    conversation = Conversation(
        conversation_id, workspace_id=caller.workspace_id, site_key=visitor.site_key, visitor_id=visitor.id,
        visitor_name=visitor.name, visitor_email=visitor.email, page_url=page_url or visitor.page_url,
        status=status, created_at=stamp, updated_at=stamp, activity_at=stamp, subscribers={}, rate_times=[],
        previous_conversation_id=previous_id, retention_days=retention_days or None,
        expires_at=retention.horizon(retention_days), **index_keys(caller.workspace_id, status, None, None, ticket))
    try:
        conversation.save(condition=Conversation.id.does_not_exist())
    except PutError as exc:  # a throttle is a PutError too, and no conflict: the widget gives up on those
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConflictError("conversation id taken; retry") from None
        raise
    return conversation


def _update_visitor_fields(conversation: Conversation, name, email, page_url) -> None:
    actions = [getattr(Conversation, k).set(v)
               for k, v in (("visitor_name", name), ("visitor_email", email), ("page_url", page_url)) if v]
    conversation.update(actions=actions)


# --- lifecycle and assignment ---------------------------------------------------------------

def accept(caller: Caller, conversation_id: str, sender) -> Conversation:
    conversation = load(caller, conversation_id)
    if conversation.assignee_id == caller.id and conversation.status in ACTIVE:
        _start_flows(conversation, conversation.status)  # a retry, if the first try failed before the flows
        return conversation
    if conversation.status == "closed":
        raise ConflictError("conversation is closed")
    if conversation.assignee_id and conversation.status in ACTIVE:
        raise ConflictError("another agent has this conversation")
    return assign(caller, conversation, caller.id, "open", sender)


KEEP = object()  # assign(group=KEEP): leave the conversation's group as it is


def assign(caller: Caller, conversation: Conversation, agent_id: str | None, status: str, sender, *,
           group=KEEP, verify_agent: bool = True, notify: bool = True, auto_solved: bool = False,
           expect_seq: int | None = None) -> Conversation:
    """Move the conversation to agent_id (None: back to the queue) with the given status, atomically.

    The new assignee's slot is taken only while `active_chats < capacity`; the conversation moves only
    if nobody changed its assignee or status meanwhile (nor, given `expect_seq`, wrote to it). `group`
    moves it to another group's queue, at its back (a new ticket there, tickets.py). `auto_solved`: a
    solve by the inactivity flow, not an agent.
    """
    old_agent, old_status = conversation.assignee_id, conversation.status
    queued_at = conversation.queued_at if old_status == "queued" else None
    if old_status == "closed":
        raise ConflictError("conversation is closed")
    if agent_id is None:
        status = "queued"
    elif agent_id != caller.id and verify_agent:
        _check_agent(caller, agent_id)
    new_group = conversation.group if group is KEEP else group
    ticket = entry_ticket(conversation, status, new_group)
    stamp = iso()
    holds_old = bool(old_agent) and old_status in ACTIVE
    holds_new = bool(agent_id) and status in ACTIVE
    items = []
    try:
        with TransactWrite(connection=dynamo()) as tx:
            same_slot = holds_old and holds_new and agent_id == old_agent
            if holds_new and not same_slot:
                tx.update(Agent(agent_id), actions=[Agent.active_chats.add(1), Agent.last_assigned_at.set(stamp)],
                          condition=(Agent.workspace_id == caller.workspace_id)
                          & (Agent.active_chats < Agent.capacity))
                items.append("new")
            if holds_old and not same_slot:
                tx.update(Agent(old_agent), actions=[Agent.active_chats.add(-1)],
                          condition=Agent.id.exists())
                items.append("old")
            actions = [Conversation.status.set(status), Conversation.updated_at.set(stamp),
                       *index_actions(conversation.workspace_id, status, agent_id, new_group, ticket)]
            actions.append(Conversation.assignee_id.set(agent_id) if agent_id else Conversation.assignee_id.remove())
            actions.append(Conversation.group.set(new_group) if new_group else Conversation.group.remove())
            actions += _solved_actions(status, stamp, auto_solved)
            actions += retention.conversation_actions(conversation.retention_days, holds_new)
            unchanged = (Conversation.status == old_status) & (
                (Conversation.assignee_id == old_agent) if old_agent else Conversation.assignee_id.does_not_exist())
            if expect_seq is not None:
                unchanged &= Conversation.last_seq == expect_seq
            tx.update(conversation, actions=actions, condition=unchanged)
            items.append("conversation")
    except TransactWriteError as exc:
        failed = dict(zip(items, cancelled(exc)))  # all updates: pynamodb keeps their order
        if failed.get("conversation"):
            raise ConflictError("the conversation changed meanwhile; reload it") from None
        if failed.get("new"):
            raise CapacityError("all your chat slots are taken" if agent_id == caller.id
                                else "that agent has no free chat slot") from None
        raise
    conversation.refresh(consistent_read=True)
    if queued_at and agent_id:  # out of the queue to an agent: by routing, an accept or a transfer
        observability.metric("QueueWait", observability.seconds_between(queued_at, stamp), "Seconds")
    if notify:
        notify_change(conversation, sender)
    _start_flows(conversation, old_status)
    return conversation


def _start_flows(conversation: Conversation, old_status: str | None) -> None:
    """What a status change sets going: leaving the queue resumes the handoff flow; entering it starts
    one; a solve by an agent starts the survey and the close countdown."""
    stepfunctions.release_handoff(conversation)
    if conversation.status == old_status:
        return
    if conversation.status == "queued":
        stepfunctions.start_handoff(conversation)
    elif conversation.status == "solved" and not conversation.auto_solved:
        stepfunctions.start_csat(conversation)


def _solved_actions(status: str, stamp: str, auto: bool = False) -> list:
    if status == "solved":
        return [Conversation.solved_at.set(stamp), Conversation.auto_solved.set(auto)]
    return [Conversation.solved_at.remove(), Conversation.auto_solved.remove()]


def _check_agent(caller: Caller, agent_id: str) -> None:
    try:
        owned(caller, Agent, agent_id, "agent")
    except NotFoundError as exc:
        exc.field = "assignee_id"
        raise


def set_status(caller: Caller, conversation_id: str, status: str, sender, *, auto_solved: bool = False,
               expect_seq: int | None = None) -> Conversation:
    conversation = load(caller, conversation_id)
    if status not in ("open", "pending", "solved"):
        raise BadRequestError("status must be one of open, pending, solved", field="status")
    if conversation.status == "closed":
        raise ConflictError("conversation is closed")
    if conversation.status == status:
        # Perhaps a retry of a change written by a first try that failed before it started its flows (a
        # throttle right after the write): start them now. Starts are idempotent by execution name.
        _start_flows(conversation, None)
        return conversation
    # Opening an unassigned conversation takes it, like accept.
    agent = conversation.assignee_id or (caller.id if status in ACTIVE else None)
    if agent is None:
        return set_unassigned_status(conversation, status, sender, auto_solved, expect_seq)
    return assign(caller, conversation, agent, status, sender, auto_solved=auto_solved, expect_seq=expect_seq)


def set_unassigned_status(conversation: Conversation, status: str, sender, auto_solved: bool = False,
                           expect_seq: int | None = None) -> Conversation:
    stamp, old_status = iso(), conversation.status
    actions = [Conversation.status.set(status), Conversation.updated_at.set(stamp),
               *index_actions(conversation.workspace_id, status, None, conversation.group)]
    actions += _solved_actions(status, stamp, auto_solved)
    actions += retention.conversation_actions(conversation.retention_days, False)
    condition = Conversation.status == old_status
    if expect_seq is not None:
        condition &= Conversation.last_seq == expect_seq
    try:
        conversation.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConflictError("the conversation changed meanwhile; reload it") from None
        raise
    notify_change(conversation, sender)
    _start_flows(conversation, old_status)
    return conversation


def close_if_solved(conversation_id: str, solved_at: str, sender) -> bool:
    """The close step of the csat flow: `closed` if the conversation is still the same solve. The
    visitor's next `start` then creates a new conversation linked to this one."""
    try:
        conversation = Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        return False
    stamp = iso()
    try:
        conversation.update(actions=[Conversation.status.set("closed"), Conversation.updated_at.set(stamp),
                                     *index_actions(conversation.workspace_id, "closed", None),
                                     *retention.conversation_actions(conversation.retention_days, False)],
                            condition=(Conversation.status == "solved") & (Conversation.solved_at == solved_at))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False  # reopened, solved again (a newer flow closes it), or closed already
        raise
    try:
        Visitor(conversation.visitor_id).update(
            actions=[Visitor.active_conversation_id.remove(),
                     Visitor.last_closed_conversation_id.set(conversation.id)],
            condition=Visitor.active_conversation_id == conversation.id)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    notify_change(conversation, sender)
    return True


def patch(caller: Caller, conversation_id: str, body: dict, sender) -> Conversation:
    """PATCH /v1/conversations/{id}: title, tags, status, assignee_id."""
    body = validate.obj(body)
    validate.known_fields(body, {"title", "tags", "status", "assignee_id"})
    title = validate.string(body, "title", required=False, max_len=200) if "title" in body else None
    tags = validate.tags(body) if "tags" in body else None
    status = validate.choice(body, "status", ("open", "pending", "solved"), required=False)
    if body.get("assignee_id") is not None:
        validate.string(body, "assignee_id", max_len=64)
    conversation = load(caller, conversation_id)
    # The part that can be refused goes first, so a refusal leaves nothing half-applied.
    if "assignee_id" in body and body["assignee_id"] != conversation.assignee_id:
        new_status = status or (conversation.status if conversation.status in ACTIVE else "open")
        conversation = assign(caller, conversation, body["assignee_id"], new_status, sender)
    elif status and status != conversation.status:
        conversation = set_status(caller, conversation_id, status, sender)
    actions = []
    if "title" in body:
        actions.append(Conversation.title.set(title) if title else Conversation.title.remove())
    if tags is not None:
        actions.append(Conversation.tags.set(tags))
    if actions:
        conversation.update(actions=actions + [Conversation.updated_at.set(iso())])
        notify_change(conversation, sender)
    return conversation


def record_csat(conversation: Conversation, rating: int, comment: str | None = None) -> dict:
    """CSAT is recorded once per conversation (the `rate` action and the emailed rating links)."""
    csat = {"rating": rating, **({"comment": comment} if comment else {})}
    try:
        conversation.update(actions=[Conversation.csat.set(csat)], condition=Conversation.csat.does_not_exist())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConflictError("this conversation is already rated") from None
        raise
    observability.metric("CSAT", rating, "None")
    observability.metric("CSATResponses")
    return csat


# --- events ---------------------------------------------------------------------------------

def agent_connections(workspace_id: str) -> list[str]:
    return [c.id for c in Connection.by_agent_workspace.query(workspace_id)]


def notify_inbox(conversation: Conversation, sender) -> None:
    """`inbox` to every connected agent of the workspace."""
    sender.broadcast(agent_connections(conversation.workspace_id),
                     {"type": "inbox", "conversation": serialize(conversation)})


def notify_change(conversation: Conversation, sender) -> None:
    """`conversation` to its subscribers, `inbox` to the workspace's agents."""
    data = serialize(conversation)
    deliveries = [(cid, {"type": "conversation", "conversation": data if kind == "agent" else for_visitor(data)})
                  for cid, kind in recipients(conversation)]
    deliver(conversation, deliveries, sender)
    notify_inbox(conversation, sender)
