"""A visitor's conversation on a site: the active one found again, or a new one created and claimed."""

from pynamodb.exceptions import DoesNotExist

from chalicelib.bot import flows
from chalicelib.bot.engine import initial_state as bot_state
from chalicelib.chat import tickets
from chalicelib.chat.conversations import index_keys, queue_key
from chalicelib.chat.subscriptions import notify_inbox, subscribe
from chalicelib.core import validate
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, new_id
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.store import limits, retention
from chalicelib.store.dynamo import save_if, update_if
from chalicelib.store.models import Connection, Conversation, Site, Visitor, email_key


def start(caller: Caller, body: dict, sender, *, announce: bool = True) -> Conversation:
    """A visitor's active conversation on this site, or a new one (announced to the workspace's agents
    with `inbox` unless the caller announces it itself, e.g. once its first message is stored)."""
    fields = body.get("fields") or {}
    validate.obj(fields, "fields")
    name = validate.string(fields, "name", required=False, max_len=120)
    email = validate.email(fields, "email")
    page_url = validate.string(body, "page_url", required=False, max_len=2048)
    try:
        visitor = Visitor.get(caller.id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("unknown visitor") from None
    if visitor.blocked:
        raise ForbiddenError("this visitor is blocked")
    profile = [getattr(Visitor, k).set(v) for k, v in (("name", name), ("email", email)) if v]
    if email:
        profile.append(Visitor.email_key.set(email_key(caller.workspace_id, email)))
    if profile:
        visitor.update(actions=profile)
    if name:  # the name the visitor's messages carry from now on
        Connection(caller.connection_id).update(actions=[Connection.name.set(name)],
                                                condition=Connection.id.exists())

    for _ in range(3):
        current = visitor.active_conversation_id
        previous = visitor.last_closed_conversation_id
        if current:
            try:
                conversation = Conversation.get(current, consistent_read=True)
                if retention.expired(conversation):
                    raise DoesNotExist()  # past its retention: as good as deleted
                if conversation.status != "closed":
                    if profile or page_url:
                        _update_visitor_fields(conversation, name, email, page_url)
                    subscribe(caller.connection_id, "visitor", conversation.id)
                    conversation.refresh(consistent_read=True)
                    return conversation
                previous = conversation.id
            except DoesNotExist:
                pass
        site, bot_version = _site(visitor)
        if bot_version is None:
            _check_prechat(site, visitor)  # with a bot, the flow's `ask` nodes are the form
        # only new conversations count, per site and address
        limits.hit(limits.for_site("start_ip", site.settings), limits.per_site(site.site_key, caller.source_ip))
        # Create first, then claim: whoever reads the visitor's active id finds the conversation there.
        conversation = _create(caller, visitor, new_id("c"), page_url, previous, site.settings.retention_days,
                               bot_version=bot_version)
        claim = (Visitor.active_conversation_id == current) if current else \
            Visitor.active_conversation_id.does_not_exist()
        claimed = False
        try:
            claimed = update_if(visitor, [Visitor.active_conversation_id.set(conversation.id)], claim)
        finally:
            if not claimed:  # lost, or a throttle (raised on: the client's retry starts afresh)
                # Unclaimed, it would wait in the queue for a visitor who never sees it.
                conversation.delete()
        if not claimed:
            visitor.refresh(consistent_read=True)  # another tab started one first: use theirs
            continue
        subscribe(caller.connection_id, "visitor", conversation.id)
        conversation.refresh(consistent_read=True)
        if announce:
            notify_inbox(conversation, sender)
        return conversation
    raise ConflictError("could not start a conversation; retry")


def _site(visitor: Visitor) -> tuple[Site, int | None]:
    """The visitor's site (its retention goes on the new conversation), and the bot flow version the new
    conversation runs: the site's live one, or the one a preview session was made for."""
    try:
        site = Site.get(visitor.site_key)
    except DoesNotExist:
        raise NotFoundError("unknown site") from None
    return site, int(visitor.preview_bot) if visitor.preview_bot else flows.live(site)


def _check_prechat(site: Site, visitor: Visitor) -> None:
    """A site with a pre-chat form gets its required fields before the first conversation."""
    if not site.settings.prechat_enabled:
        return
    for field in site.settings.prechat_required or []:
        if not getattr(visitor, field, None):
            raise BadRequestError(f"{field} is required by this site's pre-chat form", field=field)


def _create(caller: Caller, visitor: Visitor, conversation_id: str, page_url: str | None,
            previous_id: str | None = None, retention_days: int | None = None, *,
            bot_version: int | None = None) -> Conversation:
    """In the queue at once, or with the bot (`bot_version`: its opening is still to come, bot_turns.opening)."""
    status = "bot" if bot_version else "queued"
    ticket = tickets.take(queue_key(caller.workspace_id, None)) if status == "queued" else None
    stamp = ticket.queued_at if ticket else iso()
    conversation = Conversation(
        conversation_id, workspace_id=caller.workspace_id, site_key=visitor.site_key, visitor_id=visitor.id,
        visitor_name=visitor.name, visitor_email=visitor.email, page_url=page_url or visitor.page_url,
        status=status, created_at=stamp, updated_at=stamp, activity_at=stamp, subscribers={}, rate_times=[],
        previous_conversation_id=previous_id, retention_days=retention_days or None,
        bot=bot_state(bot_version, visitor.locale, bool(visitor.user_id)) if bot_version else None,
        preview=True if visitor.preview_bot else None,
        expires_at=retention.horizon(retention_days), **index_keys(caller.workspace_id, status, None, None, ticket))
    # A throttle is raised as it is: it is no conflict (the widget gives up on those).
    if not save_if(conversation, Conversation.id.does_not_exist()):
        raise ConflictError("conversation id taken; retry")
    return conversation


def _update_visitor_fields(conversation: Conversation, name, email, page_url) -> None:
    actions = [getattr(Conversation, k).set(v)
               for k, v in (("visitor_name", name), ("visitor_email", email), ("page_url", page_url)) if v]
    conversation.update(actions=actions)
