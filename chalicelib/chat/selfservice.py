"""Self-service: what a visitor did with the knowledge base's suggestions, and the articles an agent sees
beside a conversation. A visitor's "yes, this answered my question" is a resolution: it spares a
conversation, or solves the one they had started (by self-service, no survey follows)."""
import logging

from chalicelib.chat import assignment, bot_turns, messaging, routing
from chalicelib.chat.conversations import load
from chalicelib.core import locales, validate
from chalicelib.core.caller import Caller
from chalicelib.errors import ConflictError, UnauthorizedError
from chalicelib.kb import articles
from chalicelib.store.models import Conversation, Message

log = logging.getLogger(__name__)

# The visitor's last question is among the conversation's latest messages, or it is too old to matter.
RECENT_MESSAGES = 30
SOLVABLE = ("queued", "open", "pending")


def feedback(site, body: dict, claims: dict | None, sender, *, source_ip: str | None = None) -> dict:
    """POST /v1/articles/events: count what the widget reports; a `helpful` with the visitor's conversation
    solves it. A conversation id needs the token of its visitor (401 without one, 404 for another's)."""
    visitor_id = claims["sub"] if claims else None
    happened = articles.article_event(site, body, visitor_id=visitor_id, source_ip=source_ip)
    resolved = False
    if happened.event == "helpful":  # without a conversation: a question answered before any, one spared
        resolved = _solve(site, happened.conversation_id, claims, sender) if happened.conversation_id else True
    articles.record(site, happened, visitor_id=visitor_id, resolved=resolved)
    return {"recorded": [a.id for a in happened.articles], "resolved": resolved}


def _solve(site, conversation_id: str, claims: dict | None, sender) -> bool:
    """Solve the visitor's conversation by self-service; False when it was not theirs to solve any more
    (solved or closed already, or moved by someone meanwhile)."""
    if not claims or claims.get("site") != site.site_key:
        raise UnauthorizedError("a conversation_id needs the visitor token of that conversation's visitor")
    visitor = Caller.for_visitor(claims["sub"], site.workspace_id, site_key=site.site_key)
    conversation = load(visitor, conversation_id)
    if bot_turns.holds(conversation):  # the bot's articles answered: the bot's own confirmation
        return bot_turns.confirm(visitor, conversation, sender)
    if conversation.status not in SOLVABLE:
        return False
    system = Caller.system(site.workspace_id, "self_service", "Self-service")
    try:
        conversation = assignment.set_status(system, conversation.id, "solved", sender, auto_solved=True,
                                             resolution="self_service")
    except ConflictError:
        log.info("self-service solve lost a race", extra={"conversation_id": conversation_id})
        return False
    routing.settle(site.workspace_id, sender)  # an agent's slot may be free now
    messaging.post_notice(conversation, "solved_self_service", sender)
    return True


def matches(caller: Caller, conversation_id: str, query: dict | None) -> dict:
    """GET /v1/conversations/{id}/articles: the articles answering the visitor's last question, for the
    agent to link or quote. Nothing asked yet, or nothing close enough: no items."""
    limit = validate.integer(query or {}, "limit", minimum=1, maximum=10, default=3)
    conversation = load(caller, conversation_id)
    question = last_question(conversation)
    if not question:
        return {"query": None, "items": [], "abstained": True}
    locale = locales.language(messaging.visitor_locale(conversation))
    items = [{k: v for k, v in item.items() if k != "body"}
             for item in articles.matches(conversation.workspace_id, conversation.site_key, locale, question, limit)]
    return {"query": question, "items": items, "abstained": not items}


def last_question(conversation: Conversation) -> str | None:
    """What the visitor last wrote (internal notes and other authors are skipped)."""
    recent = Message.query(conversation.id, scan_index_forward=False, limit=RECENT_MESSAGES)
    for message in recent:
        if message.author_kind == "visitor" and not message.internal:
            return message.text
    return None
