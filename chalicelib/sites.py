"""What a site's widget may know before a visitor says anything: is anyone there to answer."""
from .identity import get_site
from .models import Agent

ETA_WHEN_BUSY = 300  # seconds; routing (queue statistics) refines this


def availability(site_key: str) -> dict:
    site = get_site(site_key)
    online = [a for a in Agent.by_workspace.query(site.workspace_id) if a.status == "online"]
    free = any(int(a.active_chats or 0) < int(a.capacity) for a in online)
    return {"online": bool(online), "agents_online": len(online),
            "eta_seconds": (0 if free else ETA_WHEN_BUSY) if online else None, "open_now": True}
