"""Who can take a chat, and how long a wait is likely to be: one rule for routing and for the widget."""
import math

from pynamodb.exceptions import DoesNotExist

from chalicelib.store.models import Agent, Workspace

DEFAULT_WAIT = 60.0  # seconds per conversation ahead, until the workspace has waits of its own


def is_online(agent: Agent) -> bool:
    """Online by choice and connected: an agent whose sockets all closed is not counted, even in the grace."""
    return agent.status == "online" and not agent.presence_pending


def is_available(agent: Agent) -> bool:
    """Online, and a slot free."""
    return is_online(agent) and int(agent.active_chats or 0) < int(agent.capacity)


def wait_per_position(workspace_id: str) -> float:
    """The workspace's recent wait per conversation ahead (a moving average kept by routing)."""
    try:
        return float(Workspace.get(workspace_id).wait_seconds or DEFAULT_WAIT)
    except DoesNotExist:
        return DEFAULT_WAIT


def eta_seconds(position: int, per_position: float) -> int:
    """The expected wait of the conversation at `position` in its queue (1 = next)."""
    return int(math.ceil(position * per_position))
