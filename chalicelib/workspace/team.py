"""What agents of one workspace share: the team, visitor profiles, canned responses."""
import re

from pynamodb.exceptions import DoesNotExist

from chalicelib.chat.conversations import serialize
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, new_id
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError
from chalicelib.identity.sessions import serialize_agent
from chalicelib.store.dynamo import owned
from chalicelib.store.models import Agent, CannedResponse, Conversation, Visitor

_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CANNED = 500


def list_agents(caller: Caller) -> dict:
    agents = sorted(Agent.by_workspace.query(caller.workspace_id), key=lambda a: a.name.lower())
    return {"items": [serialize_agent(a) for a in agents]}


def visitor_profile(caller: Caller, visitor_id: str) -> dict:
    """The visitor as agents see them, with their conversations, newest first."""
    visitor = owned(caller, Visitor, visitor_id, "visitor")
    history = Conversation.by_visitor.query(visitor_id, scan_index_forward=False, limit=20)
    return {"visitor": {"id": visitor.id, "name": visitor.name, "email": visitor.email,
                        "user_id": visitor.user_id, "page_url": visitor.page_url, "locale": visitor.locale,
                        "blocked": bool(visitor.blocked), "created_at": visitor.created_at,
                        "last_seen_at": visitor.last_seen_at, "erasing": bool(visitor.erasing)},
            "conversations": [serialize(c) for c in history]}


# --- canned responses -----------------------------------------------------------------------

def _serialize_canned(c: CannedResponse) -> dict:
    return {"id": c.id, "shortcut": c.shortcut, "text": c.text, "updated_at": c.updated_at}


def list_canned(caller: Caller) -> dict:
    items = sorted(CannedResponse.query(caller.workspace_id), key=lambda c: c.shortcut)
    return {"items": [_serialize_canned(c) for c in items]}


def _canned_fields(body: dict) -> tuple[str, str]:
    body = validate.obj(body)
    shortcut = validate.string(body, "shortcut", max_len=33)
    shortcut = shortcut.lstrip("/").lower()
    if not _SHORTCUT.match(shortcut):
        raise BadRequestError("shortcut must be 1-32 of a-z, 0-9, - and _", field="shortcut")
    return shortcut, validate.text(body, "text")


def _taken(caller: Caller, shortcut: str, except_id: str | None = None) -> list:
    existing = list(CannedResponse.query(caller.workspace_id))
    if any(c.shortcut == shortcut and c.id != except_id for c in existing):
        raise ConflictError(f"/{shortcut} already exists", field="shortcut")
    return existing


def create_canned(caller: Caller, body: dict) -> dict:
    shortcut, text = _canned_fields(body)
    if len(_taken(caller, shortcut)) >= MAX_CANNED:
        raise BadRequestError(f"a workspace holds at most {MAX_CANNED} canned responses", field="shortcut")
    canned = CannedResponse(caller.workspace_id, new_id("cr"), shortcut=shortcut, text=text,
                            created_by=caller.id, updated_at=iso())
    canned.save()
    return _serialize_canned(canned)


def update_canned(caller: Caller, canned_id: str, body: dict) -> dict:
    shortcut, text = _canned_fields(body)
    canned = _get_canned(caller, canned_id)
    _taken(caller, shortcut, except_id=canned_id)
    canned.update(actions=[CannedResponse.shortcut.set(shortcut), CannedResponse.text.set(text),
                           CannedResponse.updated_at.set(iso())])
    return _serialize_canned(canned)


def delete_canned(caller: Caller, canned_id: str) -> None:
    _get_canned(caller, canned_id).delete()


def _get_canned(caller: Caller, canned_id: str) -> CannedResponse:
    try:
        return CannedResponse.get(caller.workspace_id, canned_id)
    except DoesNotExist:
        raise NotFoundError("no such canned response") from None
