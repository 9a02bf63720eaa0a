"""Rate limits on the public entry points: counters in DynamoDB that expire on their own.

Each limit is a fixed window: the first use in a window creates the counter item (keys table,
`rl#{limit}#{digest of the key}#{window start}`) and every use adds one on condition that the count
is still under the limit, so one conditional UpdateItem both checks and counts, with no Scan and no
read. DynamoDB TTL removes the item once its window is over. A burst can reach twice a limit across a
window's edge; the windows are short and the limits generous enough that this does not matter.

docs/protocol.md §14 lists the limits, their defaults and where a site changes them.
"""
import hashlib
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError

from chalicelib.config import settings
from chalicelib.core.clock import now
from chalicelib.errors import RateLimitedError
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Key

# Counters outlive their window by this much, so a TTL sweep that runs early never resets one.
TTL_GRACE = 300


@dataclass(frozen=True)
class Limit:
    """At most `count` uses per `window` seconds, per key (an IP, a visitor, an address…)."""
    name: str
    count: int
    window: int
    what: str  # for the error: "too many {what}"

    def scaled(self) -> int:
        """The count in force: PARLEY_RATE_LIMIT_SCALE multiplies every count (the test suite's shared
        stack, whose hundreds of sessions all come from 127.0.0.1, runs with a large one)."""
        return max(1, int(self.count * settings.rate_limit_scale))


DEFAULTS = {limit.name: limit for limit in (
    Limit("session_ip", 60, 600, "visitor sessions from this address"),
    Limit("start_ip", 10, 600, "new conversations from this address"),
    Limit("transcript_conversation", 3, 3600, "transcripts of this conversation"),
    Limit("transcript_visitor", 5, 86400, "transcripts requested"),
    Limit("transcript_recipient", 5, 86400, "transcripts sent to this address"),
    Limit("login_email", 10, 900, "sign-in attempts for this account"),
    Limit("login_ip", 50, 900, "sign-in attempts from this address"),
    # The widget sends at most one `typing` every 0.8 s while its visitor types; agents' consoles fewer.
    Limit("typing", 20, 10, "typing events on this connection"),
    # Suggestions as the visitor types (debounced in the widget: about one a second at most).
    Limit("search_ip", 600, 600, "article searches from this address"),
    Limit("search_visitor", 120, 600, "article searches"),
)}
# The limits a site may change for its own visitors (SiteSettings.limits; PATCH /v1/sites/{site_key}).
SITE_LIMITS = ("session_ip", "start_ip", "transcript_conversation", "transcript_visitor", "search_ip",
               "search_visitor")
MAX_COUNT, MAX_WINDOW = 100_000, 7 * 86400


def for_site(name: str, site_settings=None) -> Limit:
    """The limit as the site set it, or the default."""
    limit = DEFAULTS[name]
    own = site_settings.limits if site_settings is not None and name in SITE_LIMITS else None
    override = (own.as_dict() if hasattr(own, "as_dict") else own or {}).get(name)
    if override:
        return Limit(name, int(override["count"]), int(override["window"]), limit.what)
    return limit


def per_site(site_key: str, address: str | None) -> str | None:
    """The key of a per-address limit that a site sets for itself: the site's own count for the address."""
    return address and f"{site_key}#{address}"


def _counter_key(limit: Limit, key: str, window_start: int) -> str:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"rl#{limit.name}#{digest}#{window_start}"


def hit(limit: Limit, key: str | None) -> None:
    """Count one use of `limit` by `key`; RateLimitedError (with when to retry) once the window is full.
    A missing key (no source IP known, e.g. an internal caller) is not limited."""
    if not key:
        return
    t = now()
    start = int(t) - int(t) % limit.window
    if not update_if(Key(_counter_key(limit, key, start)),
                     [Key.hits.add(1), Key.expires_at.set(start + limit.window + TTL_GRACE)],
                     Key.hits.does_not_exist() | (Key.hits < limit.scaled())):
        retry_after = max(0.001, start + limit.window - t)
        raise RateLimitedError(f"too many {limit.what}; retry in {int(retry_after) + 1} s", retry_after=retry_after)


def reset(limit: Limit, key: str | None) -> None:
    """Forget this window's count (a successful sign-in clears the failures before it)."""
    if not key:
        return
    t = now()
    # Best effort, every failure swallowed (a throttle too): a count left behind only makes the limit
    # stricter until it expires.
    try:
        Key(_counter_key(limit, key, int(t) - int(t) % limit.window)).delete()
    except DeleteError:
        pass
