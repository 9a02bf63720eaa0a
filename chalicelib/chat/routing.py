"""Routing: who is available, the queue, and handing queued conversations to agents.

A queued conversation goes to the online agent of its group with a free slot and the fewest open
chats (ties: the one assigned longest ago); a returning visitor prefers the agent who helped last.
The queue drains whenever that can change: a conversation is queued, an agent frees a slot, comes
online or gains capacity. Every assignment is the conditional transaction of assignment.assign,
so concurrent drains never exceed a capacity or assign one conversation twice. Nothing here reads
more than a queue's first QUEUE_HEAD places: positions behind them come from tickets (tickets.py).
"""
import logging

from pynamodb.exceptions import DoesNotExist

from chalicelib.chat.assignment import assign
from chalicelib.chat.availability import DEFAULT_WAIT, eta_seconds, is_available, wait_per_position
from chalicelib.chat.conversations import ACTIVE, missed_this_wait, queue_key
from chalicelib.chat.messaging import post_notice
from chalicelib.chat.subscriptions import recipients, subscribe
from chalicelib.chat.tickets import place
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, now, parse_iso
from chalicelib.errors import CapacityError, ConflictError
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Agent, Connection, Conversation, Visitor, Workspace

log = logging.getLogger(__name__)

MAX_ASSIGNMENTS_PER_DRAIN = 50
# A queue's first places, read in one Query: what a drain considers, and what each move of the queue
# re-announces. Positions behind them come from tickets (tickets.place), so no read spans a queue.
QUEUE_HEAD = 20
WAIT_SMOOTHING = 0.3  # weight of the newest wait in the workspace's moving average


def serves(agent: Agent, group: str | None) -> bool:
    return group is None or group in (agent.groups or [])


def ranked(agents: list[Agent], group: str | None) -> list[Agent]:
    """Available agents of the group: fewest open chats first, then the one assigned longest ago."""
    fit = [a for a in agents if is_available(a) and serves(a, group)]
    return sorted(fit, key=lambda a: (int(a.active_chats or 0), a.last_assigned_at or ""))


def drain(workspace_id: str, sender, *, prefer: dict | None = None) -> list[str]:
    """Assign queued conversations, longest waiting first, while an agent of their group has a slot.

    `prefer` maps a conversation id to an agent id to try first (sticky routing). Returns the ids
    of the conversations assigned. Queue positions are re-announced for every queue that moved.
    """
    assigned, moved_groups = [], set()
    agents = list(Agent.by_workspace.query(workspace_id))
    groups = {None} | {g for a in agents for g in (a.groups or [])}
    heads: dict[str | None, list[Conversation]] = {g: _queue(workspace_id, g) for g in groups}
    caller = Caller.system(workspace_id)
    while len(assigned) < MAX_ASSIGNMENTS_PER_DRAIN:
        waiting = [(conv.queued_at, g, conv) for g, convs in heads.items() for conv in convs[:1]]
        waiting = [w for w in waiting if ranked(agents, w[1])]
        if not waiting:
            break
        _, group, conversation = min(waiting, key=lambda w: w[0])
        heads[group].pop(0)
        choices = ranked(agents, group)
        preferred = (prefer or {}).get(conversation.id) or _last_agent(conversation)
        choices.sort(key=lambda a: a.id != preferred)  # stable: the preferred first, the rest ranked
        queued_at = conversation.queued_at
        for agent in choices:
            try:
                assign(caller, conversation, agent.id, "open", sender, verify_agent=False)
            except CapacityError:
                agent.active_chats = agent.capacity  # someone else filled it meanwhile
                continue
            except ConflictError:
                break  # the conversation moved (accepted by hand, or another drain): next one
            agent.active_chats = int(agent.active_chats or 0) + 1
            agent.last_assigned_at = conversation.updated_at
            assigned.append(conversation.id)
            moved_groups.add(group)
            _after_assignment(conversation, agent, queued_at)
            post_notice(conversation, "joined", sender, agent=agent.name)
            break
    for group in moved_groups:
        announce_queue(workspace_id, group, sender)
    return assigned


def _queue(workspace_id: str, group: str | None) -> list[Conversation]:
    """The queue's first QUEUE_HEAD conversations, longest waiting first: one Query, whatever its length."""
    return list(Conversation.in_queue.query(queue_key(workspace_id, group), limit=QUEUE_HEAD))


def _last_agent(conversation: Conversation) -> str | None:
    try:
        return Visitor.get(conversation.visitor_id).last_agent_id
    except DoesNotExist:
        return None


def _after_assignment(conversation: Conversation, agent: Agent, queued_at: str | None) -> None:
    """Remember who helped (sticky routing), learn how long the wait was, and put the agent's open
    consoles on the conversation so its messages reach them without a `join`."""
    # On condition: an update would otherwise create a record for a visitor who expired or was erased.
    update_if(Visitor(conversation.visitor_id), [Visitor.last_agent_id.set(agent.id)], Visitor.id.exists())
    waited = max(0.0, now() - parse_iso(queued_at or conversation.created_at))
    try:
        workspace = Workspace.get(conversation.workspace_id)
        average = (1 - WAIT_SMOOTHING) * float(workspace.wait_seconds or DEFAULT_WAIT) + WAIT_SMOOTHING * waited
        workspace.update(actions=[Workspace.wait_seconds.set(round(average, 1))])
    except DoesNotExist:
        pass
    for connection in Connection.by_agent.query(agent.id):
        try:
            subscribe(connection.id, "agent", conversation.id)
        except DoesNotExist:
            pass


def settle(workspace_id: str, sender) -> list[str]:
    """After anything that can free a slot or move the queue: drain it, and re-announce every
    queue's positions (an accept by hand moves a queue too)."""
    assigned = drain(workspace_id, sender)
    groups = {None} | {g for a in Agent.by_workspace.query(workspace_id) for g in (a.groups or [])}
    for group in groups:
        announce_queue(workspace_id, group, sender)
    return assigned


def route_new(conversation: Conversation, sender) -> None:
    """A conversation just handed to humans: assign it if someone is free, else tell its position."""
    drain(conversation.workspace_id, sender)
    conversation.refresh(consistent_read=True)
    if conversation.status == "queued":
        announce_one(conversation, sender)


def announce_one(conversation: Conversation, sender) -> None:
    """Tell this conversation's visitor their position and an estimated wait."""
    spot = position(conversation)
    if spot is None or missed_this_wait(conversation):
        return
    per_position = wait_per_position(conversation.workspace_id)
    sender.send_each([(cid, _queue_event(conversation, spot, per_position))
                      for cid, kind in recipients(conversation) if kind == "visitor"])


def announce_queue(workspace_id: str, group: str | None, sender) -> None:
    """Tell the visitors in this queue's first QUEUE_HEAD places their position and an estimated wait.

    Only those: the cost of a move must not grow with the queue. A visitor further back keeps the
    figure they were last told, an upper bound still (nobody enters a queue ahead of those waiting),
    until they reach the first places."""
    head = _queue(workspace_id, group)
    if not head:
        return
    per_position = wait_per_position(workspace_id)
    sender.send_each([(cid, _queue_event(conversation, spot, per_position))
                      for spot, conversation in enumerate(head, start=1) if not missed_this_wait(conversation)
                      for cid, kind in recipients(conversation) if kind == "visitor"])


def position(conversation: Conversation) -> int | None:
    """Its place in its queue: exact among the first QUEUE_HEAD, an upper bound from tickets behind."""
    if conversation.status != "queued":
        return None
    return place(conversation, _queue(conversation.workspace_id, conversation.group))


def _queue_event(conversation: Conversation, spot: int, per_position: float) -> dict:
    return {"type": "queue", "conversation_id": conversation.id, "position": spot,
            "eta_seconds": eta_seconds(spot, per_position)}


# --- presence -------------------------------------------------------------------------------

def set_presence(agent_id: str, status: str, sender) -> Agent:
    """online / away / offline by the agent's choice. Going offline starts the requeue grace period."""
    actions = [Agent.status.set(status)]
    if status == "offline":
        actions += [Agent.online_flag.remove(), Agent.presence_pending.set("pending"),
                    Agent.disconnected_at.set(round(now(), 3))]
    else:  # said on a live socket: present, whatever a closed socket had started
        actions += [Agent.presence_pending.remove(), Agent.disconnected_at.remove()]
        actions.append(Agent.online_flag.set("online") if status == "online" else Agent.online_flag.remove())
    agent = Agent(agent_id)
    agent.update(actions=actions, condition=Agent.id.exists())
    if status == "online":
        drain(agent.workspace_id, sender)
    return agent


def connected(agent_id: str) -> None:
    """An agent's socket opened: a reload within the grace period changes nothing for them."""
    # A failed condition: offline by choice, and connecting does not make them available. Anything else (a
    # throttle) fails the $connect, which the console retries: swallowed, the sweep would take a connected
    # agent offline.
    update_if(Agent(agent_id), [Agent.presence_pending.remove(), Agent.disconnected_at.remove()],
              Agent.id.exists() & (Agent.status != "offline"))


def last_connection_closed(agent_id: str) -> None:
    """No socket left: not available for new chats now; offline and requeued after the grace periods."""
    # A failed condition: pending already. Anything else (a throttle) must fail the disconnect, whose
    # connection record is then left for the sweep: swallowed, the agent would stay online with no socket.
    update_if(Agent(agent_id), [Agent.presence_pending.set("pending"), Agent.disconnected_at.set(round(now(), 3))],
              Agent.id.exists() & Agent.presence_pending.does_not_exist())


def sweep(sender) -> dict:
    """Run every minute (a schedule on AWS, a timer locally): settle agents who left, drop stale sockets.

    1. An agent without a connection for `presence_grace` seconds goes offline.
    2. After `requeue_grace` more seconds, their open chats return to the queue, which drains.
    3. Every online agent's connections are checked with API Gateway; gone ones are forgotten, so a
       stale connection never keeps an agent online (`sender.exists` forgets a gone one).
    """
    t, report = now(), {"offline": 0, "requeued": 0, "stale_connections": 0}
    for connection_id in _online_agent_connections():
        try:
            gone = not sender.exists(connection_id)
        except Exception:  # one unreachable check must not stop the sweep
            log.warning("connection check failed", extra={"connection_id": connection_id})
            continue
        if gone:  # and now forgotten: the sender's on_gone ran
            report["stale_connections"] += 1
    for agent in Agent.by_presence.query("pending", Agent.disconnected_at <= t - settings.presence_grace):
        # Conditional on the same disconnect still pending: an agent back meanwhile is left alone.
        # A throttle on these updates is no agent back: it fails the sweep, and the next one finds the agent
        # still pending.
        still_gone = (Agent.presence_pending == "pending") & (Agent.disconnected_at == agent.disconnected_at)
        if agent.status != "offline":
            if not update_if(agent, [Agent.status.set("offline"), Agent.online_flag.remove()], still_gone):
                continue
            report["offline"] += 1
        if float(agent.disconnected_at) <= t - settings.presence_grace - settings.requeue_grace:
            if not update_if(agent, [Agent.presence_pending.remove()], still_gone):
                continue
            report["requeued"] += requeue_chats(agent, sender)
    return report


SETTLING_SECONDS = 30  # a socket this young may still be finishing $connect: API Gateway does not know it yet


def _online_agent_connections() -> list[str]:
    """Connection ids of online agents, old enough that API Gateway must know them."""
    ids, cutoff = [], iso(now() - SETTLING_SECONDS)
    for agent in Agent.online.query("online"):
        ids += [c.id for c in Connection.by_agent.query(agent.id) if (c.connected_at or "") < cutoff]
    return ids


def requeue_chats(agent: Agent, sender) -> int:
    """The agent's open and pending chats go back to the queue (the unassigned view), then it drains."""
    moved = 0
    caller = Caller.system(agent.workspace_id)
    for conversation in Conversation.by_assignee.query(agent.id):
        if conversation.status not in ACTIVE:
            continue
        try:
            assign(caller, conversation, None, "queued", sender)
            moved += 1
        except ConflictError:
            continue
    if moved:
        drain(agent.workspace_id, sender)
    return moved
