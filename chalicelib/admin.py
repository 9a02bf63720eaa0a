"""What admins change (the team: Cognito users and their profiles; site settings), and blocking
visitors, which any agent of the workspace may do."""
import logging
import secrets

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PutError

from . import origins, retention, routing, validate, webhooks
from .clients import client
from .config import settings
from .conversations import ACTIVE, assign, set_unassigned_status
from .errors import BadRequestError, ConflictError, ForbiddenError
from .identity import Caller, owned, serialize_agent
from .models import Agent, Connection, Conversation, Site, Visitor
from .util import iso

log = logging.getLogger(__name__)

ROLES = ("agent", "admin")
CAPACITY_MIN, CAPACITY_MAX = 1, 10


def require_admin(caller: Caller) -> None:
    if caller.role != "admin":
        raise ForbiddenError("only admins can do this")


def _groups(body: dict) -> list[str]:
    groups = body.get("groups", [])
    if not isinstance(groups, list) or len(groups) > 20:
        raise BadRequestError("groups must be a list of at most 20 names", field="groups")
    return sorted({validate.group({"groups": g}, "groups") for g in groups})


# --- the team -------------------------------------------------------------------------------

def create_agent(caller: Caller, body: dict) -> dict:
    """A Cognito user plus the profile. Without a password, Cognito emails an invitation."""
    require_admin(caller)
    body = validate.obj(body)
    email = validate.email(body, "email", required=True)
    name = validate.string(body, "name", max_len=120)
    role = validate.choice(body, "role", ROLES, required=False, default="agent")
    capacity = validate.integer(body, "capacity", minimum=CAPACITY_MIN, maximum=CAPACITY_MAX, default=3)
    groups = _groups(body)
    password = validate.string(body, "password", required=False, min_len=8, max_len=256, strip=False)
    # A temporary password the admin hands over; the agent chooses their own at first sign-in.
    temporary = validate.string(body, "temporary_password", required=False, min_len=8, max_len=256, strip=False)
    pool = settings.cognito_pool_id
    try:
        user = client("cognito-idp").admin_create_user(
            UserPoolId=pool, Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
                            {"Name": "name", "Value": name}],
            **({"MessageAction": "SUPPRESS"} if password or temporary else {"DesiredDeliveryMediums": ["EMAIL"]}),
            TemporaryPassword=password or temporary or _temporary_password())["User"]
        if password:
            client("cognito-idp").admin_set_user_password(UserPoolId=pool, Username=email, Password=password,
                                                          Permanent=True)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "UsernameExistsException":
            raise ConflictError("an agent with this email exists", field="email") from None
        if code in ("InvalidPasswordException", "InvalidParameterException"):
            raise BadRequestError(exc.response["Error"].get("Message", "invalid password"), field="password") from None
        raise
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    agent = Agent(sub, workspace_id=caller.workspace_id, email=email, name=name, role=role, capacity=capacity,
                  groups=groups, created_at=iso())
    try:
        agent.save(condition=Agent.id.does_not_exist())
    except PutError:
        raise ConflictError("this user already has a profile", field="email") from None
    return serialize_agent(agent)


def _temporary_password() -> str:
    return "Tmp-" + secrets.token_urlsafe(12) + "1a!"


def update_agent(caller: Caller, agent_id: str, body: dict, sender) -> dict:
    require_admin(caller)
    body = validate.obj(body)
    unknown = set(body) - {"name", "role", "capacity", "groups"}
    if unknown:
        raise BadRequestError(f"unknown field {sorted(unknown)[0]}", field=sorted(unknown)[0])
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
    system = routing.system_caller(caller.workspace_id)
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
SITE_FIELDS = {"greeting": "string", "color": "color", "rate_limit_count": (1, 1000), "rate_limit_window": (1, 3600),
               "prechat_enabled": "bool", "prechat_fields": "fields", "prechat_required": "fields",
               # the flows' waits, in seconds (Step Functions waits up to a year; these stay sensible)
               "queue_timeout": (1, DAY), "inactivity_wait": (1, 7 * DAY), "pending_wait": (1, 30 * DAY),
               "survey_window": (1, 30 * DAY), "close_after": (1, 90 * DAY), "webhook_url": "webhook",
               # days conversations are kept after their last activity; null or 0: forever
               "retention_days": "retention",
               # the pages whose browsers may use the widget; null: any page (chalicelib/origins.py)
               "allowed_origins": "origins"}


def get_site_settings(caller: Caller, site_key: str) -> dict:
    site = _own_site(caller, site_key)
    return _serialize_site(site)


def update_site_settings(caller: Caller, site_key: str, body: dict) -> dict:
    """Per-site settings, the flood limit among them (new connections pick it up)."""
    require_admin(caller)
    body = validate.obj(body)
    unknown = set(body) - set(SITE_FIELDS)
    if unknown:
        raise BadRequestError(f"unknown setting {sorted(unknown)[0]}", field=sorted(unknown)[0])
    site = _own_site(caller, site_key)
    for name, kind in SITE_FIELDS.items():
        if name not in body:
            continue
        if kind == "string":
            value = validate.string(body, name, max_len=500)
        elif kind == "color":
            value = validate.string(body, name, max_len=7)
            if not (value.startswith("#") and len(value) == 7 and all(c in "0123456789abcdefABCDEF" for c in value[1:])):
                raise BadRequestError(f"{name} must be a colour like #1f6feb", field=name)
        elif kind == "bool":
            value = validate.boolean(body, name)
        elif kind == "webhook":  # null or "" removes it
            value = validate.string(body, name, required=False, max_len=2048) or None
            if value and not webhooks.valid_url(value):
                raise BadRequestError(f"{name} must be an https:// URL", field=name)
        elif kind == "retention":  # null or 0 removes it: keep forever
            try:
                value = validate.integer(body, name, minimum=0, maximum=retention.MAX_DAYS) or None
            except BadRequestError:
                raise BadRequestError(f"the retention period must be 1 to {retention.MAX_DAYS} days "
                                      "(0 or null: keep forever)", field=name) from None
        elif kind == "origins":
            value = origins.parse_list(body, name)
        elif kind == "fields":
            value = body[name]
            if not isinstance(value, list) or any(v not in ("name", "email") for v in value):
                raise BadRequestError(f"{name} must be a list of name, email", field=name)
        else:
            value = validate.integer(body, name, required=True, minimum=kind[0], maximum=kind[1])
        setattr(site.settings, name, value)
    site.update(actions=[Site.settings.set(site.settings)])
    return _serialize_site(site)


def _own_site(caller: Caller, site_key: str) -> Site:
    return owned(caller, Site, site_key, "site")


def _serialize_site(site: Site) -> dict:
    return {"site_key": site.site_key, "name": site.name,
            "settings": {"retention_days": None, "allowed_origins": None, **site.settings.as_dict()},
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
