"""What a site's widget may know before a visitor says anything: is anyone there to answer."""
from chalicelib.core import origins
from chalicelib.identity.sessions import get_site
from chalicelib.store.models import Agent

ETA_WHEN_BUSY = 300  # seconds; routing (queue statistics) refines this


def widget_settings(site_key: str, origin: str | None = None) -> dict:
    """What the widget needs before it opens: texts, colour, the pre-chat form, who is there."""
    site = allowed_site(site_key, origin)
    s = site.settings
    return {"site_key": site.site_key, "name": site.name, "greeting": s.greeting, "color": s.color,
            "prechat": {"enabled": bool(s.prechat_enabled), "fields": list(s.prechat_fields or []),
                        "required": list(s.prechat_required or [])},
            "availability": _availability(site)}


def availability(site_key: str, origin: str | None = None) -> dict:
    return _availability(allowed_site(site_key, origin))


def allowed_site(site_key: str, origin: str | None):
    """The site, if the page asking (its Origin) may use its widget; else OriginNotAllowedError."""
    site = get_site(site_key)
    origins.check_site(site, origin)
    return site


def _availability(site) -> dict:
    # Online by choice and connected: an agent whose sockets all closed is not counted, even in the grace.
    online = [a for a in Agent.by_workspace.query(site.workspace_id)
              if a.status == "online" and not a.presence_pending]
    free = any(int(a.active_chats or 0) < int(a.capacity) for a in online)
    return {"online": bool(online), "agents_online": len(online),
            "eta_seconds": (0 if free else ETA_WHEN_BUSY) if online else None, "open_now": True}
