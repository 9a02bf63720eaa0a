"""Who hears of a conversation: the sockets subscribed to it, and the workspace's agents' inbox."""

import logging

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.chat.conversations import for_visitor, serialize
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Connection, Conversation

log = logging.getLogger(__name__)


def subscribe(connection_id: str, kind: str, conversation_id: str, *, skip_closed: bool = False) -> None:
    """Deliver this conversation's live events to the connection."""
    condition = Conversation.id.exists()
    if skip_closed:
        condition &= Conversation.status != "closed"
    if not update_if(Conversation(conversation_id), [Conversation.subscribers[connection_id].set(kind)], condition):
        raise DoesNotExist()
    Connection(connection_id).update(actions=[Connection.subscriptions.add({conversation_id})],
                                     condition=Connection.id.exists())


def deliver(conversation: Conversation, deliveries: list[tuple[str, dict]], sender) -> None:
    """Send, then drop from the conversation any subscriber API Gateway says is gone: its connection
    record may already have expired, so forgetting the connection alone would not reach this list."""
    gone = sender.send_each(deliveries)
    if not gone:
        return
    try:
        dropped = update_if(conversation, [Conversation.subscribers[cid].remove() for cid in gone],
                            Conversation.id.exists())
    except UpdateError:
        # Best effort, every failure swallowed (a throttle too): the frames went out (an ack among them)
        # and a subscriber left behind is found gone again, and dropped, by the next delivery. Raised, a
        # throttle would fail a command whose write and deliveries were made already.
        log.warning("dropping gone subscribers failed", exc_info=True, extra={"conversation_id": conversation.id})
        return
    if not dropped:
        log.info("conversation gone before its subscribers", extra={"conversation_id": conversation.id})


def unsubscribe(connection_id: str, conversation_id: str) -> None:
    Conversation(conversation_id).update(actions=[Conversation.subscribers[connection_id].remove()],
                                         condition=Conversation.id.exists())
    Connection(connection_id).update(actions=[Connection.subscriptions.delete({conversation_id})],
                                     condition=Connection.id.exists())


def recipients(conversation: Conversation, *, exclude: str | None = None,
               agents_only: bool = False) -> list[tuple[str, str]]:
    subs = conversation.subscribers.as_dict() if conversation.subscribers else {}
    return [(cid, kind) for cid, kind in subs.items()
            if cid != exclude and (kind == "agent" or not agents_only)]


def agent_connections(workspace_id: str) -> list[str]:
    return [c.id for c in Connection.by_agent_workspace.query(workspace_id)]


def notify_inbox(conversation: Conversation, sender) -> None:
    """`inbox` to every connected agent of the workspace."""
    sender.broadcast(agent_connections(conversation.workspace_id),
                     {"type": "inbox", "conversation": serialize(conversation)})


def notify_change(conversation: Conversation, sender) -> None:
    """`conversation` to its subscribers, `inbox` to the workspace's agents."""
    notify_subscribers(conversation, sender)
    notify_inbox(conversation, sender)


def notify_subscribers(conversation: Conversation, sender) -> None:
    """`conversation` to its subscribers only (a change no agent's list shows: the bot's)."""
    data = serialize(conversation)
    deliveries = [(cid, {"type": "conversation", "conversation": data if kind == "agent" else for_visitor(data)})
                  for cid, kind in recipients(conversation)]
    deliver(conversation, deliveries, sender)
