"""A site's bot flow: saved as numbered versions that never change (so a conversation runs the one it
started with, and a warm container keeps them without reading again), the site pointing at the
version new conversations get. Admin REST: GET / PUT / DELETE /v1/sites/{site_key}/bot, and the
console's preview tickets (POST /v1/sites/{site_key}/bot/preview)."""
import json
import secrets

from pynamodb.exceptions import DoesNotExist

from chalicelib.bot import schema
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError, ProblemsError
from chalicelib.identity import tokens
from chalicelib.store.dynamo import owned, save_if, update_if
from chalicelib.store.models import BotFlow, Site

SAVE_TRIES = 3

_versions: dict[tuple[str, int], dict] = {}  # (site_key, version) → flow: immutable, kept for the container's life


def version(site_key: str, number: int) -> dict | None:
    """Version `number` of the site's flow (None when it does not exist)."""
    key = (site_key, int(number))
    if key not in _versions:
        try:
            item = BotFlow.get(site_key, int(number))
        except DoesNotExist:
            return None
        _versions[key] = json.loads(item.flow)
    return _versions[key]


def live(site: Site) -> int | None:
    """The version a new conversation on this site runs, if its flow is on."""
    return int(site.bot_version) if site.bot_version and site.bot_enabled else None


def read(caller: Caller, site_key: str) -> dict:
    """GET /v1/sites/{site_key}/bot: the site's current flow (none yet: version null)."""
    require_admin(caller, "read the bot's flow")
    site = owned(caller, Site, site_key, "site", consistent=True)
    return _answer(site, _item(site_key, site.bot_version) if site.bot_version else None)


def save(caller: Caller, site_key: str, body) -> dict:
    """PUT /v1/sites/{site_key}/bot: a new version, checked first; the site's pointer moves to it."""
    require_admin(caller, "change the bot's flow")
    site = owned(caller, Site, site_key, "site", consistent=True)
    flow, problems = schema.check(body)
    if problems:
        raise ProblemsError(problems)
    stored = json.dumps(flow, separators=(",", ":"), ensure_ascii=False)
    for _ in range(SAVE_TRIES):
        latest = _latest(site_key)
        number = (int(latest.version) if latest else 0) + 1
        item = BotFlow(site_key, number, workspace_id=site.workspace_id, flow=stored, enabled=flow["enabled"],
                       created_by=caller.id, created_at=iso())
        if not save_if(item, BotFlow.version.does_not_exist()):
            continue  # another admin's save took this number: the next one
        actions = [Site.bot_version.set(number), Site.bot_enabled.set(flow["enabled"])]
        if not site.bot_secret:
            actions.append(Site.bot_secret.set(Site.bot_secret | new_secret()))
        # A slower save of an older version never moves the pointer back.
        update_if(site, actions, Site.bot_version.does_not_exist() | (Site.bot_version < number))
        site.refresh(consistent_read=True)
        _versions[(site_key, number)] = flow
        return _answer(site, item)
    raise ConflictError("the flow is being saved by someone else; retry")


def remove(caller: Caller, site_key: str) -> None:
    """DELETE /v1/sites/{site_key}/bot: new conversations start without the bot; saved versions stay for
    the conversations still running them."""
    require_admin(caller, "remove the bot's flow")
    site = owned(caller, Site, site_key, "site", consistent=True)
    site.update(actions=[Site.bot_version.remove(), Site.bot_enabled.remove()])


def _latest(site_key: str) -> BotFlow | None:
    """The site's newest saved version (enabled or not)."""
    return next(iter(BotFlow.query(site_key, scan_index_forward=False, limit=1, consistent_read=True)), None)


def new_secret() -> str:
    return "bot_" + secrets.token_urlsafe(32)


def _item(site_key: str, number) -> BotFlow | None:
    try:
        return BotFlow.get(site_key, int(number), consistent_read=True)
    except DoesNotExist:
        return None


def _answer(site: Site, item: BotFlow | None) -> dict:
    return {"site_key": site.site_key, "version": int(item.version) if item else None,
            "enabled": bool(site.bot_enabled) if item else False,
            "flow": json.loads(item.flow) if item else None,
            "updated_at": item.created_at if item else None, "updated_by": item.created_by if item else None,
            "lookup_secret": site.bot_secret}


# --- previews -------------------------------------------------------------------------------

def preview_ticket(caller: Caller, site_key: str, body: dict | None) -> dict:
    """POST /v1/sites/{site_key}/bot/preview: a ticket the widget trades for a preview session (its
    conversations run `version`, enabled or not, and never reach a person). Default: the newest version."""
    require_admin(caller, "preview the bot")
    site = owned(caller, Site, site_key, "site", consistent=True)
    body = body or {}
    number = body.get("version")
    if number is None:
        latest = _latest(site_key)
        if latest is None:
            raise NotFoundError("this site has no bot flow to preview; save one first", field="version")
        number = int(latest.version)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise BadRequestError("version must be a whole number from 1", field="version")
    if version(site.site_key, number) is None:
        raise NotFoundError("no such version of this site's flow", field="version")
    ticket, ttl = tokens.issue_preview_ticket(site.site_key, number, caller.id)
    return {"ticket": ticket, "version": number, "expires_in": ttl}

