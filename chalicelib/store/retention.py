"""Per-site retention: when a conversation, its messages and its visitor expire (DynamoDB TTL `expires_at`).

A site's `retention_days` (none or 0: keep forever) is copied onto each conversation when it starts, so
every later write finds it on the item it already read: the message hot path stays at three requests.

- A conversation expires `retention_days` after its last activity: each message, and each status
  change, moves its horizon to now + retention. While it holds an agent's slot (assigned and open or
  pending) it has no horizon at all: TTL deletes without freeing the slot, so live work never expires.
- A message expires at its conversation's horizon when it was written (its own time + retention). A
  conversation active for longer than the period keeps going while its oldest messages expire; a
  conversation never expires before its messages (each write sets the conversation's horizon at least
  as far as the message's, or none).
- A visitor expires `retention_days` after the token of their last session runs out: everything they
  can write with that token expires before their record does.
"""
from chalicelib.config import settings
from chalicelib.core.clock import now
from chalicelib.store.models import Conversation, Visitor

DAY = 24 * 3600
MAX_DAYS = 3650


def horizon(retention_days, t: float | None = None) -> int | None:
    """The epoch second data written at `t` (default now) expires, or None when it is kept forever."""
    if not retention_days:
        return None
    return int(now() if t is None else t) + int(retention_days) * DAY


def conversation_actions(retention_days, holds_slot: bool, t: float | None = None) -> list:
    """The `expires_at` update for a conversation written now: none while it holds an agent's slot."""
    if not retention_days:
        return []
    if holds_slot:
        return [Conversation.expires_at.remove()]
    return [Conversation.expires_at.set(horizon(retention_days, t))]


def visitor_actions(retention_days, t: float | None = None) -> list:
    """A visitor's `expires_at` at a new session: past whatever the session's token can still write."""
    if not retention_days:
        return [Visitor.expires_at.remove()]
    return [Visitor.expires_at.set(horizon(retention_days, t) + settings.visitor_token_ttl)]


def expired(item, t: float | None = None) -> bool:
    """Past its horizon: DynamoDB deletes such items within days; until then they count as gone."""
    at = getattr(item, "expires_at", None)
    return at is not None and int(at) <= (now() if t is None else t)
