"""What admins change (the team: Cognito users and their profiles; site settings), and blocking
visitors, which any agent of the workspace may do."""
import logging
import secrets
from dataclasses import dataclass

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.chat import routing
from chalicelib.chat.assignment import assign, set_unassigned_status
from chalicelib.chat.conversations import ACTIVE
from chalicelib.config import settings
from chalicelib.core import locales, origins, validate
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ConflictError, UnavailableError
from chalicelib.identity.sessions import serialize_agent
from chalicelib.net import urls
from chalicelib.store import limits, retention
from chalicelib.store.dynamo import owned, save_if
from chalicelib.store.models import Agent, Connection, Conversation, Site, Visitor

log = logging.getLogger(__name__)

ROLES = ("agent", "admin")
CAPACITY_MIN, CAPACITY_MAX = 1, 10


def _groups(body: dict) -> list[str]:
    groups = body.get("groups", [])
    if not isinstance(groups, list) or len(groups) > 20:
        raise BadRequestError("groups must be a list of at most 20 names", field="groups")
    return sorted({validate.group({"groups": g}, "groups") for g in groups})


# --- the team -------------------------------------------------------------------------------

# Cognito's limit on a user name (the agent's email is theirs); longer ones fail before any request.
COGNITO_USERNAME_MAX = 128


@dataclass(frozen=True)
class NewAgent:
    """A checked `POST /v1/agents` body: nothing reaches Cognito before all of it is valid."""
    email: str
    name: str
    role: str
    capacity: int
    groups: list[str]
    password: str | None
    temporary: str | None

    @property
    def password_field(self) -> str:
        """The body field whose value Cognito gets as the user's first password."""
        return "temporary_password" if self.temporary and not self.password else "password"


def create_agent(caller: Caller, body: dict) -> dict:
    """A Cognito user plus the profile, all or nothing, so a failed creation can be retried.
    Without a password, Cognito emails an invitation."""
    require_admin(caller)
    new = _new_agent(body)
    sub, created = _create_or_adopt_user(new)
    try:
        agent = _save_profile(caller, sub, new)
    except ConflictError:
        raise  # another call's profile holds this user now: it is theirs, not ours to delete
    except Exception:
        log.exception("agent profile not saved", extra={"agent_id": sub})
        if created and _delete_user(new.email):
            raise UnavailableError("the agent's profile could not be saved, so their sign-in was removed too "
                                   "and nothing was created; retry") from None
        raise UnavailableError("the agent's profile could not be saved; retry (their sign-in exists and "
                               "will be reused)") from None
    return serialize_agent(agent)


def _new_agent(body: dict) -> NewAgent:
    """Every field checked up front: a refusal after Cognito was called would leave a user behind."""
    body = validate.obj(body)
    email = validate.email(body, "email", required=True)
    if len(email) > COGNITO_USERNAME_MAX:
        raise BadRequestError(f"email must be at most {COGNITO_USERNAME_MAX} characters", field="email")
    return NewAgent(
        email=email, name=validate.string(body, "name", max_len=120),
        role=validate.choice(body, "role", ROLES, required=False, default="agent"),
        capacity=validate.integer(body, "capacity", minimum=CAPACITY_MIN, maximum=CAPACITY_MAX, default=3),
        groups=_groups(body),
        password=validate.string(body, "password", required=False, min_len=8, max_len=256, strip=False),
        # A temporary password the admin hands over; the agent chooses their own at first sign-in.
        temporary=validate.string(body, "temporary_password", required=False, min_len=8, max_len=256,
                                  strip=False))


def _create_or_adopt_user(new: NewAgent) -> tuple[str, bool]:
    """The Cognito user's sub, and whether this call created it (else it adopted a user without a profile)."""
    try:
        user = client("cognito-idp").admin_create_user(
            UserPoolId=settings.cognito_pool_id, Username=new.email,
            UserAttributes=[{"Name": "email", "Value": new.email}, {"Name": "email_verified", "Value": "true"},
                            {"Name": "name", "Value": new.name}],
            **({"MessageAction": "SUPPRESS"} if new.password or new.temporary
               else {"DesiredDeliveryMediums": ["EMAIL"]}),
            TemporaryPassword=new.password or new.temporary or _temporary_password())["User"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UsernameExistsException":
            return _adopt_user(new), False
        # Cognito refuses the user name (the email) with InvalidParameterException, a password against the
        # pool's policy with InvalidPasswordException: each is a 400 naming the field the admin sent.
        raise _cognito_refusal(exc, parameter="email", password=new.password_field) from None
    try:
        if new.password:
            _set_password(new.email, new.password, permanent=True)
    except Exception:
        _delete_user(new.email)  # a user without the password asked for is not what was created
        raise
    return _sub(user["Attributes"]), True


def _adopt_user(new: NewAgent) -> str:
    """An existing Cognito user becomes the agent only when no profile has it (an older version left
    users behind when the profile write failed); a user with a profile is a taken email."""
    user = client("cognito-idp").admin_get_user(UserPoolId=settings.cognito_pool_id, Username=new.email)
    sub = _sub(user["UserAttributes"])
    if Agent.count(sub, consistent_read=True, limit=1):
        raise ConflictError("an agent with this email exists", field="email")
    if new.password or new.temporary:  # the admin's password applies, as it would have to a new user
        _set_password(new.email, new.password or new.temporary, permanent=bool(new.password))
    return sub


def _set_password(email: str, password: str, *, permanent: bool) -> None:
    """The admin's password on the user (permanent: signs in at once; else changed at first sign-in)."""
    field = "password" if permanent else "temporary_password"
    try:
        client("cognito-idp").admin_set_user_password(UserPoolId=settings.cognito_pool_id, Username=email,
                                                      Password=password, Permanent=permanent)
    except ClientError as exc:
        raise _cognito_refusal(exc, parameter=field, password=field) from None


def _cognito_refusal(exc: ClientError, *, parameter: str, password: str) -> Exception:
    """Cognito's refusal of a value as a 400 naming the field it came from (`parameter` for an invalid
    parameter, `password` for a password the pool's policy refuses); any other failure stays as it was."""
    error = exc.response["Error"]
    field = {"InvalidPasswordException": password, "InvalidParameterException": parameter}.get(error["Code"])
    if field is None:
        return exc
    return BadRequestError(error.get("Message") or f"{field} is not accepted", field=field)


def _save_profile(caller: Caller, sub: str, new: NewAgent) -> Agent:
    """The profile, created on condition: two creations racing for one user make one profile."""
    agent = Agent(sub, workspace_id=caller.workspace_id, email=new.email, name=new.name, role=new.role,
                  capacity=new.capacity, groups=new.groups, created_at=iso())
    if not save_if(agent, Agent.id.does_not_exist()):  # only this is a 409: a throttle is raised as it is
        raise ConflictError("an agent with this email exists", field="email")
    return agent


def _delete_user(email: str) -> bool:
    """Undo a creation; False (logged) when Cognito would not, so the caller can say so."""
    try:
        client("cognito-idp").admin_delete_user(UserPoolId=settings.cognito_pool_id, Username=email)
        return True
    except Exception:
        log.exception("could not delete the Cognito user of a failed agent creation")
        return False


def _sub(attributes: list[dict]) -> str:
    """The user's `sub`, which is the agent's id."""
    return next(a["Value"] for a in attributes if a["Name"] == "sub")


def _temporary_password() -> str:
    return "Tmp-" + secrets.token_urlsafe(12) + "1a!"


def update_agent(caller: Caller, agent_id: str, body: dict, sender) -> dict:
    require_admin(caller)
    body = validate.obj(body)
    validate.known_fields(body, {"name", "role", "capacity", "groups"})
    agent = _team_member(caller, agent_id)
    actions = []
    if "name" in body:
        actions.append(Agent.name.set(validate.string(body, "name", max_len=120)))
    if "role" in body:
        role = validate.choice(body, "role", ROLES)
        if agent.id == caller.id and role != "admin":
            raise BadRequestError("you cannot remove your own admin role", field="role")
        actions.append(Agent.role.set(role))
    if "capacity" in body:
        actions.append(Agent.capacity.set(validate.integer(body, "capacity", required=True, minimum=CAPACITY_MIN,
                                                           maximum=CAPACITY_MAX)))
    if "groups" in body:
        actions.append(Agent.groups.set(_groups(body)))
    if actions:
        agent.update(actions=actions)
        routing.settle(caller.workspace_id, sender)  # more capacity or a new group may drain the queue
        agent.refresh(consistent_read=True)
    return serialize_agent(agent)


def remove_agent(caller: Caller, agent_id: str, sender) -> None:
    """The profile and the Cognito user go; their open chats return to the queue at once."""
    require_admin(caller)
    if agent_id == caller.id:
        raise BadRequestError("you cannot remove yourself", field="agent_id")
    agent = _team_member(caller, agent_id)
    system = Caller.system(caller.workspace_id)
    for conversation in Conversation.by_assignee.query(agent.id):
        if conversation.status in ACTIVE:
            try:
                assign(system, conversation, None, "queued", sender)
            except ConflictError:
                pass
    for connection in Connection.by_agent.query(agent.id):
        sender.close(connection.id)
    try:
        client("cognito-idp").admin_delete_user(UserPoolId=settings.cognito_pool_id, Username=agent.email)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "UserNotFoundException":
            raise
    agent.delete()
    routing.settle(caller.workspace_id, sender)


def _team_member(caller: Caller, agent_id: str) -> Agent:
    return owned(caller, Agent, agent_id, "agent")


# --- sites ----------------------------------------------------------------------------------

DAY = 24 * 3600
SITE_FIELDS = {"greeting": "string", "color": "color", "contact_email": "email",
               "rate_limit_count": (1, 1000), "rate_limit_window": (1, 3600),
               "prechat_enabled": "bool", "prechat_fields": "fields", "prechat_required": "fields",
               # the flows' waits, in seconds (Step Functions waits up to a year; these stay sensible)
               "queue_timeout": (1, DAY), "inactivity_wait": (1, 7 * DAY), "pending_wait": (1, 30 * DAY),
               "survey_window": (1, 30 * DAY), "close_after": (1, 90 * DAY), "webhook_url": "webhook",
               # days conversations are kept after their last activity; null or 0: forever
               "retention_days": "retention",
               # the pages whose browsers may use the widget; null: any page (chalicelib/origins.py)
               "allowed_origins": "origins",
               # the site's own rate limits, {name: {"count", "window"}} (chalicelib/limits.py); null: defaults
               "limits": "limits",
               # per language, what visitors read: {"fr": {"greeting": ..., "teams": {group: label}}}; null: none
               "texts": "texts"}


def get_site_settings(caller: Caller, site_key: str) -> dict:
    site = _own_site(caller, site_key)
    return _serialize_site(site)


def update_site_settings(caller: Caller, site_key: str, body: dict) -> dict:
    """Per-site settings, the flood limit among them (new connections pick it up)."""
    require_admin(caller)
    body = validate.obj(body)
    validate.known_fields(body, SITE_FIELDS, what="setting")
    site = _own_site(caller, site_key)
    for name, kind in SITE_FIELDS.items():
        if name not in body:
            continue
        if kind == "string":
            value = validate.string(body, name, max_len=500)
        elif kind == "color":
            value = validate.string(body, name, max_len=7)
            digits = value[1:]
            if not (value.startswith("#") and len(digits) == 6 and all(c in "0123456789abcdefABCDEF" for c in digits)):
                raise BadRequestError(f"{name} must be a colour like #1f6feb", field=name)
        elif kind == "bool":
            value = validate.boolean(body, name)
        elif kind == "email":  # null or "" removes it
            value = validate.email(body, name) or None
        elif kind == "webhook":  # null or "" removes it
            value = validate.string(body, name, required=False, max_len=2048) or None
            problem = urls.url_problem(value) if value else None
            if problem:  # the same rule as workspace endpoints, and its own words for why
                raise BadRequestError(f"{name} {problem}", field=name)
        elif kind == "retention":  # null or 0 removes it: keep forever
            try:
                value = validate.integer(body, name, minimum=0, maximum=retention.MAX_DAYS) or None
            except BadRequestError:
                raise BadRequestError(f"the retention period must be 1 to {retention.MAX_DAYS} days "
                                      "(0 or null: keep forever)", field=name) from None
        elif kind == "origins":
            value = origins.parse_list(body, name)
        elif kind == "limits":
            value = _site_limits(body, name)
        elif kind == "texts":
            value = _site_texts(body, name)
        elif kind == "fields":
            value = body[name]
            if not isinstance(value, list) or any(v not in ("name", "email") for v in value):
                raise BadRequestError(f"{name} must be a list of name, email", field=name)
        else:
            value = validate.integer(body, name, required=True, minimum=kind[0], maximum=kind[1])
        setattr(site.settings, name, value)
    site.update(actions=[Site.settings.set(site.settings)])
    return _serialize_site(site)


def _site_limits(body: dict, name: str) -> dict | None:
    """{"start_ip": {"count": 20, "window": 600}, ...}: only the limits a site may change; null: defaults."""
    value = body[name]
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequestError(f"{name} must be an object of limits (or null for the defaults)", field=name)
    out = {}
    for key, limit in value.items():
        where = f"{name}.{key}"
        if key not in limits.SITE_LIMITS:
            raise BadRequestError(f"{where}: a site may set {', '.join(limits.SITE_LIMITS)}", field=where)
        limit = validate.obj(limit, where)
        if set(limit) - {"count", "window"}:
            raise BadRequestError(f"{where} takes count and window only", field=where)
        try:
            out[key] = {"count": validate.integer(limit, "count", required=True, minimum=1, maximum=limits.MAX_COUNT),
                        "window": validate.integer(limit, "window", required=True, minimum=1,
                                                   maximum=limits.MAX_WINDOW)}
        except BadRequestError as exc:
            raise BadRequestError(f"{where}.{exc.message}", field=f"{where}.{exc.field}") from None
    return out or None


def _site_texts(body: dict, name: str) -> dict | None:
    """{"fr": {"greeting": "Bonjour !", "teams": {"billing": "notre service facturation"}}}: a language's
    greeting (else `greeting`) and the labels a transfer to a group reads to visitors (else "another team")."""
    value = body[name]
    if value is None:
        return None
    value = validate.obj(value, name)
    out = {}
    for lang, texts in value.items():
        where = f"{name}.{lang}"
        if lang not in locales.SUPPORTED:
            raise BadRequestError(f"{where}: the languages are {', '.join(locales.SUPPORTED)}", field=where)
        texts = validate.obj(texts, where)
        unknown = sorted(set(texts) - {"greeting", "teams"})
        if unknown:
            raise BadRequestError(f"{where}.{unknown[0]}: a language's texts are greeting and teams",
                                  field=f"{where}.{unknown[0]}")
        entry = {}
        greeting = validate.string(texts, "greeting", required=False, max_len=500)
        if greeting:
            entry["greeting"] = greeting
        teams = validate.obj(texts.get("teams") or {}, f"{where}.teams")
        labels = {}
        for group, label in teams.items():
            here = f"{where}.teams.{group}"
            try:
                key = validate.group({"group": group}, "group")
                labels[key] = validate.string({"label": label}, "label", max_len=80)
            except BadRequestError as exc:
                raise BadRequestError(f"{here}: {exc.message}", field=here) from None
        if labels:
            entry["teams"] = labels
        if entry:
            out[lang] = entry
    return out or None


def _own_site(caller: Caller, site_key: str) -> Site:
    return owned(caller, Site, site_key, "site")


def _serialize_site(site: Site) -> dict:
    return {"site_key": site.site_key, "name": site.name,
            "settings": {"retention_days": None, "allowed_origins": None, "limits": None, "contact_email": None,
                         "texts": None,
                         **site.settings.as_dict()},
            "identity_verification": bool(site.identity_secret)}


# --- blocking -------------------------------------------------------------------------------

def set_blocked(caller: Caller, visitor_id: str, blocked: bool, sender) -> dict:
    """A blocked visitor's sockets close now and are refused (403) from then on; their open
    conversation is marked so nothing more of theirs is stored or reaches agents."""
    visitor = owned(caller, Visitor, visitor_id, "visitor", consistent=True)
    visitor.update(actions=[Visitor.blocked.set(blocked)])
    if visitor.active_conversation_id:
        try:
            conversation = Conversation.get(visitor.active_conversation_id, consistent_read=True)
            conversation.update(actions=[Conversation.blocked.set(True) if blocked else Conversation.blocked.remove()])
            if blocked and conversation.status == "queued":  # out of the queue: nobody should be routed to it
                set_unassigned_status(conversation, "solved", sender)
            if blocked:
                for cid, kind in (conversation.subscribers.as_dict() if conversation.subscribers else {}).items():
                    if kind == "visitor":
                        sender.close(cid)
        except DoesNotExist:
            pass
    return {"visitor_id": visitor_id, "blocked": blocked}
