"""A conversation's status and assignee, changed atomically with the agents' slots, and the flows that
follow a change (handoff, survey, close)."""

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import observability
from chalicelib.aws import stepfunctions
from chalicelib.chat.conversations import ACTIVE, entry_ticket, index_actions, load
from chalicelib.chat.subscriptions import notify_change
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, CapacityError, ConflictError, NotFoundError
from chalicelib.store import retention
from chalicelib.store.dynamo import cancelled, dynamo, owned, update_if
from chalicelib.store.models import Agent, Conversation, Visitor


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
           resolution: str | None = None, expect_seq: int | None = None) -> Conversation:
    """Move the conversation to agent_id (None: back to the queue) with the given status, atomically.

    The new assignee's slot is taken only while `active_chats < capacity`; the conversation moves only
    if nobody changed its assignee or status meanwhile (nor, given `expect_seq`, wrote to it). `group`
    moves it to another group's queue, at its back (a new ticket there, tickets.py). `auto_solved`: a
    solve by the inactivity flow or the visitor's own "yes" to an article, not an agent; `resolution` says
    which when it is not the flow ("self_service").
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
            actions += _solved_actions(status, stamp, auto_solved, resolution)
            actions += retention.conversation_actions(conversation.retention_days, holds_new)
            unchanged = (Conversation.status == old_status) & (
                (Conversation.assignee_id == old_agent) if old_agent else Conversation.assignee_id.does_not_exist())
            if expect_seq is not None:
                unchanged &= Conversation.last_seq == expect_seq
            tx.update(conversation, actions=actions, condition=unchanged)
            items.append("conversation")
    except TransactWriteError as exc:
        failed = dict(zip(items, cancelled(exc), strict=False))  # all updates: pynamodb keeps their order
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


def _solved_actions(status: str, stamp: str, auto: bool = False, resolution: str | None = None) -> list:
    if status == "solved":
        return [Conversation.solved_at.set(stamp), Conversation.auto_solved.set(auto),
                Conversation.resolution.set(resolution) if resolution else Conversation.resolution.remove()]
    return [Conversation.solved_at.remove(), Conversation.auto_solved.remove(), Conversation.resolution.remove()]


def _check_agent(caller: Caller, agent_id: str) -> None:
    try:
        owned(caller, Agent, agent_id, "agent")
    except NotFoundError as exc:
        exc.field = "assignee_id"
        raise


def set_status(caller: Caller, conversation_id: str, status: str, sender, *, auto_solved: bool = False,
               resolution: str | None = None, expect_seq: int | None = None) -> Conversation:
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
        return set_unassigned_status(conversation, status, sender, auto_solved, expect_seq, resolution)
    return assign(caller, conversation, agent, status, sender, auto_solved=auto_solved, resolution=resolution,
                  expect_seq=expect_seq)


def set_unassigned_status(conversation: Conversation, status: str, sender, auto_solved: bool = False,
                           expect_seq: int | None = None, resolution: str | None = None) -> Conversation:
    stamp, old_status = iso(), conversation.status
    actions = [Conversation.status.set(status), Conversation.updated_at.set(stamp),
               *index_actions(conversation.workspace_id, status, None, conversation.group)]
    actions += _solved_actions(status, stamp, auto_solved, resolution)
    actions += retention.conversation_actions(conversation.retention_days, False)
    condition = Conversation.status == old_status
    if expect_seq is not None:
        condition &= Conversation.last_seq == expect_seq
    if not update_if(conversation, actions, condition):
        raise ConflictError("the conversation changed meanwhile; reload it")
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
    closed = [Conversation.status.set("closed"), Conversation.updated_at.set(stamp),
              *index_actions(conversation.workspace_id, "closed", None),
              *retention.conversation_actions(conversation.retention_days, False)]
    if not update_if(conversation, closed, (Conversation.status == "solved") & (Conversation.solved_at == solved_at)):
        return False  # reopened, solved again (a newer flow closes it), or closed already
    # The visitor may have moved on to another conversation already: then theirs stays as it is.
    update_if(Visitor(conversation.visitor_id),
              [Visitor.active_conversation_id.remove(), Visitor.last_closed_conversation_id.set(conversation.id)],
              Visitor.active_conversation_id == conversation.id)
    notify_change(conversation, sender)
    return True


def patch(caller: Caller, conversation_id: str, body: dict, sender) -> Conversation:
    """PATCH /v1/conversations/{id}: title, tags (the whole list, or `add_tags` / `remove_tags`, which two
    agents may send at once without losing either's), status, assignee_id."""
    body = validate.obj(body)
    validate.known_fields(body, {"title", "tags", "add_tags", "remove_tags", "status", "assignee_id"})
    title = validate.string(body, "title", required=False, max_len=200) if "title" in body else None
    tags = validate.tags(body) if "tags" in body else None
    added = validate.tags(body, "add_tags") if "add_tags" in body else []
    removed = validate.tags(body, "remove_tags") if "remove_tags" in body else []
    if tags is not None and ("add_tags" in body or "remove_tags" in body):
        raise BadRequestError("send tags (the whole list) or add_tags and remove_tags, not both", field="tags")
    status = validate.choice(body, "status", ("open", "pending", "solved"), required=False)
    if body.get("assignee_id") is not None:
        validate.string(body, "assignee_id", max_len=64)
    conversation = load(caller, conversation_id)
    if added and len(set(conversation.tags or []) | set(added)) > MAX_TAGS:  # refused before anything moves
        raise BadRequestError(f"a conversation holds at most {MAX_TAGS} tags", field="add_tags")
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
    changed = bool(actions) | _change_tags(conversation, added, removed)
    if changed:
        notify_change(conversation, sender)
    return conversation


MAX_TAGS = 20
TAG_TRIES = 8


def _change_tags(conversation: Conversation, added: list[str], removed: list[str]) -> bool:
    """Add and remove tags against the list as it is now, on condition nobody changed it meanwhile
    (a lost race reads the list again and tries again). True when the list changed."""
    for _ in range(TAG_TRIES):
        current = list(conversation.tags or [])
        wanted = [t for t in current if t not in removed] + [t for t in added if t not in current]
        if wanted == current:
            return False
        if len(wanted) > MAX_TAGS:
            raise BadRequestError(f"a conversation holds at most {MAX_TAGS} tags", field="add_tags")
        unchanged = (Conversation.tags == current) if current else \
            (Conversation.tags.does_not_exist() | (Conversation.tags == []))
        if update_if(conversation, [Conversation.tags.set(wanted), Conversation.updated_at.set(iso())], unchanged):
            return True
        conversation.refresh(consistent_read=True)
    raise ConflictError("the tags kept changing meanwhile; reload the conversation and retry")


def record_csat(conversation: Conversation, rating: int, comment: str | None = None, sender=None) -> dict:
    """CSAT is recorded once per conversation (the `rate` action and the emailed rating links); the agents
    following it, and the inbox, see the rating at once (`conversation`, `inbox`)."""
    csat = {"rating": rating, **({"comment": comment} if comment else {})}
    if not update_if(conversation, [Conversation.csat.set(csat)], Conversation.csat.does_not_exist()):
        raise ConflictError("this conversation is already rated")
    observability.metric("CSAT", rating, "None")
    observability.metric("CSATResponses")
    if sender is not None:
        notify_change(conversation, sender)
    return csat
