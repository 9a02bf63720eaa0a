"""What a site's widget may know before a visitor says anything: is anyone there to answer."""
from chalicelib.bot import flows
from chalicelib.chat import notices
from chalicelib.chat.availability import eta_seconds, is_available, is_online, wait_per_position
from chalicelib.chat.conversations import plain
from chalicelib.core import hours, origins
from chalicelib.core.clock import iso, now
from chalicelib.core.locales import language
from chalicelib.errors import UnauthorizedError
from chalicelib.identity.sessions import get_site
from chalicelib.store.models import Agent, SiteSettings


def widget_settings(site_key: str, origin: str | None = None) -> dict:
    """What the widget needs before it opens: texts, colour, the pre-chat form, who is there."""
    site = allowed_site(site_key, origin)
    s = site.settings
    texts = plain_texts(s.texts)
    greetings = {lang: entry["greeting"] for lang, entry in texts.items() if entry.get("greeting")}
    return {"site_key": site.site_key, "name": site.name, "greeting": s.greeting, "greetings": greetings,
            "color": s.color,
            "contact_email": s.contact_email,
            "prechat": {"enabled": bool(s.prechat_enabled), "fields": list(s.prechat_fields or []),
                        "required": list(s.prechat_required or [])},
            "availability": availability_of(site),
            "bot": {"enabled": True, "name": BOT_NAME} if flows.live(site) else None}


BOT_NAME = "Assistant"  # the name the bot's messages carry (chat/bot_turns.py)
DEFAULT_GREETING = SiteSettings.greeting.default
DEFAULT_GREETING_FR = "Bonjour\u00a0! Comment pouvons-nous vous aider\u202f?"


def texts(site_key: str) -> dict:
    """The site's texts per language ({} when none, or the site is gone)."""
    try:
        return plain_texts(get_site(site_key).settings.texts)
    except UnauthorizedError:  # the site is gone
        return {}


def plain_texts(value) -> dict:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def availability(site_key: str, origin: str | None = None, locale: str | None = None) -> dict:
    """GET /v1/sites/{site_key}/availability: who is there, the wait, and the greeting saying so in `locale`."""
    site = allowed_site(site_key, origin)
    available = availability_of(site)
    return {**available, "greeting": greeting(site, available, locale)}


def greeting(site, available: dict, locale: str | None) -> str:
    """The site's greeting in the visitor's language, then who is online and the real wait (the queue's
    moving average): what the bot opens with, and what the availability route answers."""
    lang = language(locale)
    own = (plain_texts(site.settings.texts).get(lang) or {}).get("greeting") or site.settings.greeting
    if lang == "fr" and own == DEFAULT_GREETING:  # the site never wrote one: ours, in the visitor's language
        own = DEFAULT_GREETING_FR
    people = available.get("agents") or []
    if not available["online"]:
        status = notices.text("nobody_online", lang)
    else:
        many = "many" if available["agents_online"] > 1 else "one"
        who = notices.names(people, lang) if people else notices.text("an_agent", lang)
        status = (notices.text(f"available_{many}", lang, names=who) if available["eta_seconds"] == 0 else
                  notices.text(f"busy_{many}", lang, names=who, wait=notices.wait(available["eta_seconds"], lang)))
    return f"{own} {status}".strip()


def allowed_site(site_key: str, origin: str | None):
    """The site, if the page asking (its Origin) may use its widget; else OriginNotAllowedError."""
    site = get_site(site_key)
    origins.check_site(site, origin)
    return site


def availability_of(site) -> dict:
    """The same rule routing uses: 0 s when an agent has a free slot; when all are full, the wait of the
    next place in the queue at the workspace's recent average; none when nobody is online."""
    team = list(Agent.by_workspace.query(site.workspace_id))
    online = [a for a in team if is_online(a)]
    # Away but connected: they take chats by hand (the Unassigned view), so a visitor may still chat.
    away = [a for a in team if a.status == "away" and not a.presence_pending]
    if not online:
        eta = None
    elif any(is_available(a) for a in online):
        eta = 0
    else:
        eta = eta_seconds(1, wait_per_position(site.workspace_id))
    # First names only, three at most: what a visitor may know of who is there before anyone joins.
    names = sorted({(a.name or "").split()[0] for a in online if (a.name or "").strip()})[:3]
    open_now, changes = hours.open_state(plain(site.hours), now())
    return {"online": bool(online), "agents_online": len(online), "agents_away": len(away), "eta_seconds": eta,
            "agents": names, "open_now": open_now,
            # Closed: when the team is back (the widget says so in the visitor's language and the site's time).
            "opens_at": iso(changes.timestamp()) if changes and not open_now else None}
