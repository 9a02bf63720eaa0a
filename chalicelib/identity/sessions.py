"""Who is calling: visitor sessions, agent sign-in, and the websocket connections they open."""
import logging
from dataclasses import dataclass

import jwt
from pynamodb.exceptions import DoesNotExist

from chalicelib.core import origins, validate
from chalicelib.identity import cognito, tokens
from chalicelib.store import limits, retention
from chalicelib.errors import ForbiddenError, NotFoundError, UnauthorizedError
from chalicelib.store.models import Agent, Connection, Conversation, Site, Visitor
from chalicelib.core.clock import iso, new_id, now

log = logging.getLogger(__name__)

CONNECTION_TTL = 3 * 3600  # API Gateway closes connections after 2 h


@dataclass(frozen=True)
class Caller:
    kind: str  # "visitor" | "agent"
    id: str
    workspace_id: str
    name: str | None = None
    site_key: str | None = None
    role: str = "visitor"
    connection_id: str | None = None
    rate_limit_count: int = 20
    rate_limit_window: int = 10
    source_ip: str | None = None  # where the caller's socket came from, for per-IP limits

    @property
    def is_agent(self) -> bool:
        return self.kind == "agent"

    def author(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name}


def owned(caller: Caller, model, key: str, what: str, *, consistent: bool = False):
    """The item of the caller's workspace with this key; NotFoundError for a missing one and for
    another workspace's alike, so ids leak nothing across workspaces."""
    try:
        item = model.get(key, consistent_read=consistent)
    except DoesNotExist:
        raise NotFoundError(f"no such {what}") from None
    if item.workspace_id != caller.workspace_id:
        raise NotFoundError(f"no such {what}")
    return item


# --- visitors -------------------------------------------------------------------------------

def email_key(workspace_id: str, email: str) -> str:
    """The visitors' email-index key: one workspace's visitors with this (lowercased) address."""
    return f"{workspace_id}#{email.lower()}"


def get_site(site_key: str) -> Site:
    try:
        return Site.get(site_key)
    except DoesNotExist:
        raise UnauthorizedError("unknown site_key", field="site_key") from None


def create_visitor_session(body: dict, origin: str | None = None, *, source_ip: str | None = None) -> dict:
    """POST /v1/visitor/sessions: a token for a new or returning visitor, on a page the site allows
    (limited per source IP)."""
    body = validate.obj(body)
    site_key = validate.string(body, "site_key", max_len=64)
    name = validate.string(body, "name", required=False, max_len=120)
    email = validate.email(body, "email")
    user_id = validate.string(body, "user_id", required=False, max_len=256)
    user_hash = validate.string(body, "user_hash", required=False, max_len=128)
    page_url = validate.string(body, "page_url", required=False, max_len=2048)
    locale = validate.string(body, "locale", required=False, max_len=35)
    resume_token = validate.string(body, "resume_token", required=False, max_len=4096)
    site = get_site(site_key)
    origins.check_site(site, origin)
    limits.hit(limits.for_site("session_ip", site.settings), limits.per_site(site.site_key, source_ip))

    if user_id is not None:
        if user_hash is None or not tokens.verify_user_hash(site.identity_secret, user_id, user_hash):
            raise UnauthorizedError("user_hash does not match user_id", field="user_hash")
        visitor_id = tokens.verified_visitor_id(site_key, user_id)
    elif resume_token is not None:
        visitor_id = tokens.verify_resume_token(resume_token, site_key)
    else:
        visitor_id = new_id("v")

    visitor = _upsert_visitor(visitor_id, site, name=name, email=email, user_id=user_id,
                              page_url=page_url, locale=locale)
    if visitor.blocked:
        raise ForbiddenError("this visitor is blocked")
    token, ttl = tokens.issue_visitor_token(visitor_id, site_key, site.workspace_id)
    return {"visitor_id": visitor_id, "token": token, "expires_in": ttl}


def _upsert_visitor(visitor_id: str, site: Site, **fields) -> Visitor:
    stamp = iso()
    actions = [Visitor.site_key.set(site.site_key), Visitor.workspace_id.set(site.workspace_id),
               Visitor.created_at.set(Visitor.created_at | stamp), Visitor.last_seen_at.set(stamp),
               Visitor.blocked.set(Visitor.blocked | False)]
    actions += [getattr(Visitor, name).set(value) for name, value in fields.items() if value is not None]
    if fields.get("email"):
        actions.append(Visitor.email_key.set(email_key(site.workspace_id, fields["email"])))
    actions += retention.visitor_actions(site.settings.retention_days)
    visitor = Visitor(visitor_id)
    # A resumed id from another site's token cannot get here: verify_resume_token checks the site.
    visitor.update(actions=actions)
    return visitor


# --- agents ---------------------------------------------------------------------------------

def agent_login(body: dict, *, source_ip: str | None = None) -> dict:
    """POST /v1/agents/login. Attempts are limited per address and per account; a success clears the
    account's count, so only a run of failures (someone guessing) locks it for a while."""
    body = validate.obj(body)
    email = validate.string(body, "email", max_len=320).lower()
    password = validate.string(body, "password", max_len=256, strip=False)
    _count_sign_in(email, source_ip)
    result = cognito.login(email, password)
    limits.reset(limits.DEFAULTS["login_email"], email)
    agent = agent_from_token(result["AccessToken"])
    return {"token": result["AccessToken"], "expires_in": result["ExpiresIn"],
            "refresh_token": result["RefreshToken"], "agent": serialize_agent(agent)}


def agent_new_password(body: dict, *, source_ip: str | None = None) -> dict:
    """POST /v1/agents/new-password: finish a first sign-in by choosing a password."""
    body = validate.obj(body)
    email = validate.string(body, "email", max_len=320)
    session = validate.string(body, "session", max_len=4096)
    password = validate.string(body, "password", min_len=8, max_len=256, strip=False)
    _count_sign_in(email.lower(), source_ip)
    result = cognito.set_new_password(email.lower(), session, password)
    agent = agent_from_token(result["AccessToken"])
    return {"token": result["AccessToken"], "expires_in": result["ExpiresIn"],
            "refresh_token": result["RefreshToken"], "agent": serialize_agent(agent)}


def _count_sign_in(email: str, source_ip: str | None) -> None:
    limits.hit(limits.DEFAULTS["login_ip"], source_ip)
    limits.hit(limits.DEFAULTS["login_email"], email)


def agent_refresh(body: dict) -> dict:
    body = validate.obj(body)
    refresh_token = validate.string(body, "refresh_token", max_len=8192)
    result = cognito.refresh(refresh_token)
    agent = agent_from_token(result["AccessToken"])
    return {"token": result["AccessToken"], "expires_in": result["ExpiresIn"],
            "refresh_token": result.get("RefreshToken", refresh_token), "agent": serialize_agent(agent)}


def agent_from_token(token: str) -> Agent:
    claims = cognito.verify_access_token(token)
    try:
        return Agent.get(claims["sub"])
    except DoesNotExist:
        raise ForbiddenError("no agent profile for this sign-in") from None


def agent_caller(authorization: str | None) -> tuple[Caller, Agent]:
    """The agent behind a REST request's `Authorization: Bearer` header."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise UnauthorizedError("missing bearer token")
    token = authorization[7:].strip()
    if _token_kind(token) != "agent":
        raise UnauthorizedError("an agent token is required")
    agent = agent_from_token(token)
    return _caller_for_agent(agent), agent


def serialize_agent(agent: Agent) -> dict:
    return {"id": agent.id, "name": agent.name, "email": agent.email, "role": agent.role,
            "capacity": agent.capacity, "groups": list(agent.groups or []), "status": agent.status,
            "active_chats": agent.active_chats}


def _caller_for_agent(agent: Agent, connection_id: str | None = None) -> Caller:
    return Caller(kind="agent", id=agent.id, workspace_id=agent.workspace_id, name=agent.name,
                  role=agent.role, connection_id=connection_id)


def _token_kind(token: str) -> str | None:
    if not validate.is_text(token):  # jwt would fail encoding it, not as a PyJWTError
        return None
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return None
    return {"HS256": "visitor", "RS256": "agent"}.get(alg)


# --- websocket connections ------------------------------------------------------------------

def connect(connection_id: str, token: str | None, origin: str | None = None, *,
            source_ip: str | None = None) -> Connection:
    """$connect: authenticate the token, check the page's origin, and record the connection. Raises
    before anything is stored."""
    if not token:
        raise UnauthorizedError("missing token")
    kind = _token_kind(token)
    stamp, expires = iso(), int(now()) + CONNECTION_TTL
    if kind == "visitor":
        claims = tokens.verify_visitor_token(token)
        try:
            visitor = Visitor.get(claims["sub"], consistent_read=True)
        except DoesNotExist:
            raise UnauthorizedError("unknown visitor") from None
        if visitor.blocked:
            raise ForbiddenError("this visitor is blocked")
        site = get_site(claims["site"])
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
        agent = agent_from_token(token)
        connection = Connection(
            connection_id, kind="agent", workspace_id=agent.workspace_id, agent_id=agent.id,
            agent_workspace_id=agent.workspace_id, name=agent.name, role=agent.role, connected_at=stamp,
            expires_at=expires)
        connection.save()
        from chalicelib.chat import routing  # routing builds on this module
        routing.connected(agent.id)
        return connection
    raise UnauthorizedError("invalid token")


def _resubscribe(connection: Connection, conversation_id: str) -> None:
    """A returning visitor's new socket receives its open conversation's events at once."""
    from chalicelib.chat.conversations import subscribe  # the conversation service depends on this module
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
        return Caller(kind="agent", id=connection.agent_id, workspace_id=connection.workspace_id,
                      name=connection.name, role=connection.role or "agent", connection_id=connection_id)
    return Caller(kind="visitor", id=connection.visitor_id, workspace_id=connection.workspace_id,
                  name=connection.name, site_key=connection.site_key, connection_id=connection_id,
                  rate_limit_count=int(connection.rate_limit_count),
                  rate_limit_window=int(connection.rate_limit_window), source_ip=connection.source_ip)


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
        from chalicelib.chat import routing
        routing.last_connection_closed(agent_id)
