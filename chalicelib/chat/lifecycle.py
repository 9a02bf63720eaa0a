"""The websocket lifecycle: $connect records who opened a socket, $disconnect forgets it, and every
frame in between learns its caller from the record."""
import logging

from pynamodb.exceptions import DoesNotExist

from chalicelib.chat import routing
from chalicelib.chat.subscriptions import subscribe
from chalicelib.core import origins
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, now, parse_iso
from chalicelib.errors import ForbiddenError, UnauthorizedError
from chalicelib.identity import sessions, tokens
from chalicelib.store.models import Connection, Conversation, Visitor

log = logging.getLogger(__name__)

CONNECTION_TTL = 3 * 3600  # API Gateway closes connections after 2 h
# A socket is recorded (and subscribed) during its $connect, but API Gateway answers 410 Gone to posts
# until $connect has returned (29 s at most). A 410 that young means "not open yet", not "gone".
OPENING_SECONDS = 30


def connect(connection_id: str, token: str | None, origin: str | None = None, *,
            source_ip: str | None = None) -> Connection:
    """$connect: authenticate the token, check the page's origin, and record the connection. Raises
    before anything is stored."""
    if not token:
        raise UnauthorizedError("missing token")
    kind = sessions.token_kind(token)
    stamp, expires = iso(), int(now()) + CONNECTION_TTL
    if kind == "visitor":
        claims = tokens.verify_visitor_token(token)
        try:
            visitor = Visitor.get(claims["sub"], consistent_read=True)
        except DoesNotExist:
            raise UnauthorizedError("unknown visitor") from None
        if visitor.blocked:
            raise ForbiddenError("this visitor is blocked")
        site = sessions.get_site(claims["site"])
        origins.check_site(site, origin)
        connection = Connection(
            connection_id, kind="visitor", workspace_id=site.workspace_id, site_key=site.site_key,
            visitor_id=visitor.id, name=visitor.name, connected_at=stamp, expires_at=expires, source_ip=source_ip,
            rate_limit_count=site.settings.rate_limit_count, rate_limit_window=site.settings.rate_limit_window)
        connection.save()
        if visitor.active_conversation_id:
            _resubscribe(connection, visitor.active_conversation_id)
        return connection
    if kind == "agent":
        origins.check_console(origin)  # before the token: a foreign page learns nothing about it
        agent = sessions.agent_from_token(token)
        connection = Connection(
            connection_id, kind="agent", workspace_id=agent.workspace_id, agent_id=agent.id,
            agent_workspace_id=agent.workspace_id, name=agent.name, role=agent.role, connected_at=stamp,
            expires_at=expires)
        connection.save()
        routing.connected(agent.id)
        return connection
    raise UnauthorizedError("invalid token")


def _resubscribe(connection: Connection, conversation_id: str) -> None:
    """A returning visitor's new socket receives its open conversation's events at once."""
    try:
        subscribe(connection.id, "visitor", conversation_id, skip_closed=True)
    except DoesNotExist:
        pass


def caller_for_connection(connection_id: str) -> Caller:
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        raise UnauthorizedError("unknown connection; reconnect") from None
    if connection.kind == "agent":
        return Caller.for_agent(connection.agent_id, connection.workspace_id, name=connection.name,
                                role=connection.role, connection_id=connection_id)
    return Caller.for_visitor(connection.visitor_id, connection.workspace_id, name=connection.name,
                              site_key=connection.site_key, connection_id=connection_id,
                              rate_limit_count=int(connection.rate_limit_count),
                              rate_limit_window=int(connection.rate_limit_window), source_ip=connection.source_ip)


def forget_gone(connection_id: str) -> bool:
    """API Gateway said 410 Gone: forget the connection (True), unless it is still opening (False). A
    returning visitor's socket, subscribed in its $connect, would otherwise lose its record and its
    subscription to a message posted in that instant, and hear nothing more (issue 13, defect 10)."""
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return True
    if connection.connected_at and now() - parse_iso(connection.connected_at) < OPENING_SECONDS:
        return False
    disconnect(connection_id)
    return True


def disconnect(connection_id: str) -> Connection | None:
    """$disconnect, or a 410 from API Gateway: forget the connection and its subscriptions."""
    try:
        connection = Connection.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return None
    for conversation_id in connection.subscriptions or ():
        try:
            Conversation(conversation_id).update(
                actions=[Conversation.subscribers[connection_id].remove()],
                condition=Conversation.id.exists())
        except Exception:  # the conversation may be gone; the connection must still go
            log.info("unsubscribe skipped", extra={"conversation_id": conversation_id})
    # The agent's presence before the record goes: if this fails half-way ($disconnect runs once), the
    # record left behind is what the presence sweep finds (routing.sweep) to do it again.
    if connection.kind == "agent" and connection.agent_id:
        _offline_when_last(connection.agent_id, connection_id)
    connection.delete()
    return connection


def _offline_when_last(agent_id: str, closed_id: str) -> None:
    """An agent whose last connection closed is no longer available; routing settles the rest."""
    # The index is eventually consistent: it may still list the connection just deleted.
    if not [c for c in Connection.by_agent.query(agent_id, limit=5) if c.id != closed_id]:
        routing.last_connection_closed(agent_id)
