"""Who is calling: visitor sessions and agent sign-in (the sockets they open: chat/lifecycle.py)."""
import jwt
from pynamodb.exceptions import DoesNotExist

from chalicelib.core import origins, validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, new_id
from chalicelib.errors import ForbiddenError, UnauthorizedError
from chalicelib.identity import cognito, tokens
from chalicelib.store import limits, retention
from chalicelib.store.models import Agent, Site, Visitor, email_key

# --- visitors -------------------------------------------------------------------------------

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
    preview = validate.string(body, "preview", required=False, max_len=4096)
    site = get_site(site_key)
    origins.check_site(site, origin)
    limits.hit(limits.for_site("session_ip", site.settings), limits.per_site(site.site_key, source_ip))

    preview_bot = None
    if preview is not None:  # the console's flow preview: a visitor of its own, running that version
        preview_bot = tokens.verify_preview_ticket(preview, site_key)
        visitor_id = new_id("v")
    elif user_id is not None:
        if user_hash is None or not tokens.verify_user_hash(site.identity_secret, user_id, user_hash):
            raise UnauthorizedError("user_hash does not match user_id", field="user_hash")
        visitor_id = tokens.verified_visitor_id(site_key, user_id)
    elif resume_token is not None:
        visitor_id = tokens.verify_resume_token(resume_token, site_key)
    else:
        visitor_id = new_id("v")

    visitor = _upsert_visitor(visitor_id, site, name=name, email=email, user_id=None if preview_bot else user_id,
                              page_url=page_url, locale=locale, preview_bot=preview_bot)
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
    if token_kind(token) != "agent":
        raise UnauthorizedError("an agent token is required")
    agent = agent_from_token(token)
    return Caller.for_agent(agent.id, agent.workspace_id, name=agent.name, role=agent.role), agent


def serialize_agent(agent: Agent) -> dict:
    return {"id": agent.id, "name": agent.name, "email": agent.email, "role": agent.role,
            "capacity": agent.capacity, "groups": list(agent.groups or []), "status": agent.status,
            "active_chats": agent.active_chats}


def token_kind(token: str) -> str | None:
    if not validate.is_text(token):  # jwt would fail encoding it, not as a PyJWTError
        return None
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return None
    return {"HS256": "visitor", "RS256": "agent"}.get(alg)
