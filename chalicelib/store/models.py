"""The DynamoDB tables, as pynamodb models. docs/data-model.md lists how each is read and written."""
from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.config import settings

# Tables whose changes feed the domain events (chalicelib/events.py) through DynamoDB Streams.
STREAM_TABLES = ("conversations", "messages")
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def _meta(name: str) -> type:
    return type("Meta", (), {
        **({"stream_view_type": STREAM_VIEW_TYPE} if name in STREAM_TABLES else {}),
        "table_name": settings.table(name),
        "region": settings.region,
        "billing_mode": "PAY_PER_REQUEST",
        # Lambda keeps containers warm: fail fast and let the client retry, rather than hang.
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
        "max_retry_attempts": 3,
        # One invocation at a time per Lambda container, but the sender's threads and a local stack's
        # workers share these clients: a pool smaller than them opens a new connection per request.
        "max_pool_connections": 50,
    })


class Workspace(Model):
    Meta = _meta("workspaces")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # Recent time a queued conversation waited for an agent (exponential moving average), for ETAs.
    wait_seconds = NumberAttribute(default=60)
    # Conversations whose wait for an agent timed out (handoff flow), counted as they happen.
    missed_chats = NumberAttribute(default=0)


class SiteSettings(MapAttribute):
    greeting = UnicodeAttribute(default="Hi! How can we help?")
    # Where a visitor the chat cannot serve (blocked, say) is told to write instead; none: not shown.
    contact_email = UnicodeAttribute(null=True)
    color = UnicodeAttribute(default="#1f6feb")
    # A form before the first message; fields from ("name", "email"), the required ones in prechat_required.
    prechat_enabled = BooleanAttribute(default=False)
    prechat_fields = ListAttribute(of=UnicodeAttribute, default=lambda: ["name", "email"])
    prechat_required = ListAttribute(of=UnicodeAttribute, default=lambda: ["email"])
    # Visitor flood limit: at most rate_limit_count messages per rate_limit_window seconds.
    rate_limit_count = NumberAttribute(default=20)
    rate_limit_window = NumberAttribute(default=10)
    # The flows' waits, in seconds (chalicelib/flows.py; each execution gets them in its input).
    queue_timeout = NumberAttribute(default=300)       # waiting for an agent before the team is alerted
    inactivity_wait = NumberAttribute(default=600)     # after an agent message, before `pending`
    pending_wait = NumberAttribute(default=24 * 3600)  # `pending` and still silent, before auto-solve
    survey_window = NumberAttribute(default=24 * 3600)  # after a solve, how long the survey stays open
    close_after = NumberAttribute(default=4 * 24 * 3600)  # after a solve, when the conversation closes
    # Slack- or Teams-style incoming webhook for team alerts (missed chats); none: no alert.
    webhook_url = UnicodeAttribute(null=True)
    # Days a conversation is kept after its last activity (chalicelib/retention.py); none: forever.
    retention_days = NumberAttribute(null=True)
    # The pages (scheme://host[:port], or scheme://*.domain) whose browsers may use the widget
    # (chalicelib/origins.py); none: any page, as before the setting existed.
    allowed_origins = ListAttribute(of=UnicodeAttribute, null=True)
    # The site's own rate limits, {name: {"count", "window"}} for names in limits.SITE_LIMITS; none: defaults.
    limits = MapAttribute(null=True)
    # Per language, what visitors read (chalicelib/workspace/admin.py: _site_texts); none: greeting for all.
    texts = MapAttribute(null=True)


class Site(Model):
    Meta = _meta("sites")
    site_key = UnicodeAttribute(hash_key=True)
    workspace_id = UnicodeAttribute()
    name = UnicodeAttribute()
    # Secret shared with the site's own backend for identity verification (user_hash).
    identity_secret = UnicodeAttribute(null=True)
    settings = SiteSettings(default=SiteSettings)
    # The bot (chalicelib/bot/): the flow version new conversations run, whether it is on, and the key
    # its lookups are signed with (made at the first save, shown to admins).
    bot_version = NumberAttribute(null=True)
    bot_enabled = BooleanAttribute(null=True)
    bot_secret = UnicodeAttribute(null=True)
    # Business hours (chalicelib/core/hours.py): the schedule in force, none for always open; its history
    # is in `site_hours`.
    hours = MapAttribute(null=True)
    created_at = UnicodeAttribute()


class AgentsByWorkspace(GlobalSecondaryIndex):
    class Meta:
        index_name = "workspace-index"
        projection = AllProjection()
    workspace_id = UnicodeAttribute(hash_key=True)


class AgentsByPresence(GlobalSecondaryIndex):
    """Sparse: agents whose last connection closed, until the sweeper has settled them."""
    class Meta:
        index_name = "presence-index"
        projection = AllProjection()
    presence_pending = UnicodeAttribute(hash_key=True)
    disconnected_at = NumberAttribute(range_key=True)


class AgentsOnline(GlobalSecondaryIndex):
    """Sparse: agents whose presence is online, for the sweeper's check of stale connections."""
    class Meta:
        index_name = "online-index"
        projection = KeysOnlyProjection()
    online_flag = UnicodeAttribute(hash_key=True)


class Agent(Model):
    """An agent's profile. The id is the agent's Cognito `sub`."""
    Meta = _meta("agents")
    id = UnicodeAttribute(hash_key=True)
    workspace_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute(default="agent")
    capacity = NumberAttribute(default=3)
    groups = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute(default="offline")
    # Conversations assigned and open or pending: the slots in use.
    active_chats = NumberAttribute(default=0)
    last_assigned_at = UnicodeAttribute(null=True)
    # Set while the agent has no connection left (routing.py): when, and the sparse index key.
    disconnected_at = NumberAttribute(null=True)
    presence_pending = UnicodeAttribute(null=True)
    online_flag = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    by_workspace = AgentsByWorkspace()
    by_presence = AgentsByPresence()
    online = AgentsOnline()


def email_key(workspace_id: str, email: str) -> str:
    """The visitors' email-index key: one workspace's visitors with this (lowercased) address."""
    return f"{workspace_id}#{email.lower()}"


class VisitorsByEmail(GlobalSecondaryIndex):
    """Sparse: visitors who gave an email, by workspace and address, for data requests (privacy.py)."""
    class Meta:
        index_name = "email-index"
        projection = IncludeProjection(["site_key", "name", "email", "created_at", "last_seen_at"])
    email_key = UnicodeAttribute(hash_key=True)


class Visitor(Model):
    Meta = _meta("visitors")
    id = UnicodeAttribute(hash_key=True)
    site_key = UnicodeAttribute()
    workspace_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    page_url = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    # A preview session of the console's flow editor: the bot flow version its conversations run.
    preview_bot = NumberAttribute(null=True)
    blocked = BooleanAttribute(default=False)
    active_conversation_id = UnicodeAttribute(null=True)
    # The agent who helped last: a new conversation prefers them (sticky routing).
    last_agent_id = UnicodeAttribute(null=True)
    # Their latest conversation that closed: the next one links to it.
    last_closed_conversation_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_seen_at = UnicodeAttribute(null=True)
    # "{workspace_id}#{email}" while the visitor has an email: the key of the sparse email-index.
    email_key = UnicodeAttribute(null=True)
    # TTL (epoch s): the site's retention after their last session's token runs out; none: kept.
    expires_at = NumberAttribute(null=True)
    # Set when an erasure (privacy.erase_visitor) started: the visitor is blocked until it is done.
    erasing = UnicodeAttribute(null=True)
    by_email = VisitorsByEmail()


class ConversationsByVisitor(GlobalSecondaryIndex):
    class Meta:
        index_name = "visitor-index"
        projection = AllProjection()
    visitor_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ConversationsByWorkspace(GlobalSecondaryIndex):
    class Meta:
        index_name = "workspace-activity-index"
        projection = AllProjection()
    workspace_id = UnicodeAttribute(hash_key=True)
    activity_at = UnicodeAttribute(range_key=True)


class ConversationsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "status-activity-index"
        projection = AllProjection()
    ws_status = UnicodeAttribute(hash_key=True)
    activity_at = UnicodeAttribute(range_key=True)


class ConversationsInQueue(GlobalSecondaryIndex):
    """Sparse: queued conversations, per workspace and group, longest waiting first."""
    class Meta:
        index_name = "queue-index"
        projection = AllProjection()
    queue_key = UnicodeAttribute(hash_key=True)
    queued_at = UnicodeAttribute(range_key=True)


class ConversationsByAssignee(GlobalSecondaryIndex):
    """Sparse: only conversations assigned and still open or pending carry `assignee_active`."""
    class Meta:
        index_name = "assignee-activity-index"
        projection = AllProjection()
    assignee_active = UnicodeAttribute(hash_key=True)
    activity_at = UnicodeAttribute(range_key=True)


class Conversation(Model):
    Meta = _meta("conversations")
    id = UnicodeAttribute(hash_key=True)
    workspace_id = UnicodeAttribute()
    site_key = UnicodeAttribute()
    visitor_id = UnicodeAttribute()
    visitor_name = UnicodeAttribute(null=True)
    visitor_email = UnicodeAttribute(null=True)
    page_url = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    assignee_id = UnicodeAttribute(null=True)
    group = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    activity_at = UnicodeAttribute()
    last_seq = NumberAttribute(default=0)
    first_response_at = UnicodeAttribute(null=True)
    solved_at = UnicodeAttribute(null=True)
    auto_solved = BooleanAttribute(null=True)
    # How it was solved when not by an agent's hand: "self_service" (the visitor said an article answered),
    # "bot" (the bot's flow did: confirmed, or assumed once the visitor went quiet).
    resolution = UnicodeAttribute(null=True)
    # The bot (chalicelib/bot/engine.py): where it stands in the flow version the conversation started
    # with ({v, node, wait, field, turns, seen, asked}), what it collected, and its one outcome:
    # confirmed | assumed | handed_off, with when, why (a handoff's reason) and whether it is final
    # (an assumed outcome stays revertible for 24 h). bot_until: the bot watch's lease (epoch s).
    bot = MapAttribute(null=True)
    fields = MapAttribute(null=True)
    bot_outcome = UnicodeAttribute(null=True)
    bot_outcome_at = UnicodeAttribute(null=True)
    bot_outcome_final = BooleanAttribute(null=True)
    bot_handoff_reason = UnicodeAttribute(null=True)
    bot_until = NumberAttribute(null=True)
    # A conversation of the console's flow preview: never in an inbox, never handed to a person.
    preview = BooleanAttribute(null=True)
    csat = MapAttribute(null=True)
    # Handoff flow: its task token while it waits for an agent; missed when the wait timed out.
    task_token = UnicodeAttribute(null=True)
    # Inactivity flow: the running watch (the agent message seq that started it) and until when it is
    # known to be alive (epoch s; removed while it waits in `pending`, so a new agent reply starts another).
    inactivity_owner = NumberAttribute(null=True)
    inactivity_until = NumberAttribute(null=True)
    missed = BooleanAttribute(null=True)
    missed_at = UnicodeAttribute(null=True)
    # The visitor's conversation before this one, when that one was closed.
    previous_conversation_id = UnicodeAttribute(null=True)
    # The newest message agents and the visitor may both see, for inbox lists: {seq, text (cut), kind, at}.
    last_message = MapAttribute(null=True)
    visitor_read_seq = NumberAttribute(default=0)
    agent_read_seq = NumberAttribute(default=0)
    # Live websocket connections subscribed to this conversation: {connection_id: "visitor"|"agent"}.
    # Kept on the conversation so a message needs no extra read to find its recipients.
    subscribers = MapAttribute(default=dict)
    # Email digests (mail.py): the first unseen agent reply waiting for its delayed digest, and when it
    # was queued (one digest per quiet period); the newest seq a digest has emailed.
    digest_pending_seq = NumberAttribute(null=True)
    digest_pending_at = NumberAttribute(null=True)
    digest_sent_seq = NumberAttribute(null=True)
    # When the visitor's latest messages arrived, for the flood limit (messaging.rate_action).
    rate_times = ListAttribute(of=NumberAttribute, default=list)
    # The same for the agents' messages and notes (messaging.AGENT_RATE_COUNT in AGENT_RATE_WINDOW).
    agent_rate_times = ListAttribute(of=NumberAttribute, null=True)
    # Index keys, derived from workspace, status and assignee (see conversations.index_keys).
    ws_status = UnicodeAttribute()
    assignee_active = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queued_at = UnicodeAttribute(null=True)
    # Its ticket in that queue while `queued` (chalicelib/tickets.py): positions come from tickets.
    ticket = NumberAttribute(null=True)
    blocked = BooleanAttribute(null=True)
    # The site's retention when the conversation started, and the TTL (epoch s) it gives: last activity
    # + retention_days, absent while the conversation holds an agent's slot (chalicelib/retention.py).
    retention_days = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    by_visitor = ConversationsByVisitor()
    in_queue = ConversationsInQueue()
    by_workspace = ConversationsByWorkspace()
    by_status = ConversationsByStatus()
    by_assignee = ConversationsByAssignee()


class Message(Model):
    Meta = _meta("messages")
    conversation_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    id = UnicodeAttribute()
    client_msg_id = UnicodeAttribute(null=True)
    author_kind = UnicodeAttribute()
    author_id = UnicodeAttribute()
    author_name = UnicodeAttribute(null=True)
    text = UnicodeAttribute()
    internal = BooleanAttribute(default=False)
    options = ListAttribute(null=True)
    # A bot message's articles ({id, title, snippet, url?}) and the field it asks for ({field, type, required}).
    articles = ListAttribute(null=True)
    ask = MapAttribute(null=True)
    delay_ms = NumberAttribute(null=True)  # a bot message's pause before it shows (the widget types meanwhile)
    # A system message's kind (chalicelib/chat/notices.py: joined, transferred, solved…); none for the rest.
    notice = UnicodeAttribute(null=True)
    # A notice's agent: who joined, or took the chat by a transfer (the widget's header names them).
    agent_name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    # TTL (epoch s): its conversation's retention horizon when it was written (chalicelib/retention.py).
    expires_at = NumberAttribute(null=True)


class ConnectionsByAgent(GlobalSecondaryIndex):
    """Sparse: agent connections only (with when they opened, for the sweeper)."""
    class Meta:
        index_name = "agent-index"
        projection = IncludeProjection(["connected_at"])
    agent_id = UnicodeAttribute(hash_key=True)


class AgentConnectionsByWorkspace(GlobalSecondaryIndex):
    """Sparse: agent connections only, for inbox events to a workspace's agents."""
    class Meta:
        index_name = "workspace-agents-index"
        projection = KeysOnlyProjection()
    agent_workspace_id = UnicodeAttribute(hash_key=True)


class Connection(Model):
    Meta = _meta("connections")
    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # "visitor" | "agent"
    workspace_id = UnicodeAttribute()
    site_key = UnicodeAttribute(null=True)
    visitor_id = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    agent_workspace_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    subscriptions = UnicodeSetAttribute(default=set)
    # Where a visitor's socket came from ($connect), for the per-IP limits of their frames (e.g. `start`).
    source_ip = UnicodeAttribute(null=True)
    # The site's visitor flood limit, copied at $connect so every frame's caller carries it.
    rate_limit_count = NumberAttribute(default=20)
    rate_limit_window = NumberAttribute(default=10)
    connected_at = UnicodeAttribute()
    # API Gateway closes a connection after 2 h at most; DynamoDB TTL sweeps what $disconnect missed.
    expires_at = NumberAttribute()
    by_agent = ConnectionsByAgent()
    by_agent_workspace = AgentConnectionsByWorkspace()


class CannedResponse(Model):
    """A workspace's saved reply, inserted by typing /shortcut in the console."""
    Meta = _meta("canned_responses")
    workspace_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    shortcut = UnicodeAttribute()
    text = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()


class Article(Model):
    """A workspace's knowledge-base article (chalicelib/kb/articles.py): what visitors find as they type."""
    Meta = _meta("articles")
    workspace_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    title = UnicodeAttribute()
    body = UnicodeAttribute()  # a small Markdown subset, never rendered as HTML
    locale = UnicodeAttribute()  # "en" | "fr"
    site_keys = ListAttribute(of=UnicodeAttribute, null=True)  # none: every site of the workspace
    url = UnicodeAttribute(null=True)  # the full article on the company's site
    questions = ListAttribute(of=UnicodeAttribute, default=list)  # phrasings visitors really use
    status = UnicodeAttribute(default="draft")  # "draft" | "published"
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ArticleStats(Model):
    """What visitors did with one article (chalicelib/kb/articles.py `record`): counters only, added to in
    place, kept apart from the article so an admin's save never writes over a visitor's count."""
    Meta = _meta("article_stats")
    workspace_id = UnicodeAttribute(hash_key=True)
    article_id = UnicodeAttribute(range_key=True)
    shown = NumberAttribute(default=0)  # in the widget's suggestions (once per article per page view)
    opened = NumberAttribute(default=0)
    helpful = NumberAttribute(default=0)  # "Did this answer your question?" Yes
    not_helpful = NumberAttribute(default=0)  # ... No
    resolved = NumberAttribute(default=0)  # the Yeses that solved a conversation, or spared one
    updated_at = UnicodeAttribute(null=True)


class SearchIndex(Model):
    """One search index per workspace and language, built when an article changes (chalicelib/kb/articles.py):
    `idx#{workspace}#{locale}` holds it (zlib-compressed JSON), `ver#{workspace}#{locale}` only its version,
    the one small read a warm search makes."""
    Meta = _meta("search_indexes")
    key = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(default=0)
    data = BinaryAttribute(null=True, legacy_encoding=False)
    articles = NumberAttribute(default=0)
    built_at = UnicodeAttribute(null=True)


class BotFlow(Model):
    """One saved version of a site's bot flow (chalicelib/bot/flows.py). Versions are never changed: a
    conversation runs the version it started with, so a warm container keeps them without re-reading."""
    Meta = _meta("bot_flows")
    site_key = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    workspace_id = UnicodeAttribute()
    flow = UnicodeAttribute()  # the validated document, JSON
    enabled = BooleanAttribute(default=True)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class SiteHours(Model):
    """One change of a site's business hours (chalicelib/workspace/schedule.py), kept: the reports read the
    schedule that applied on each day (`from_date`, in the site's timezone; `schedule` null: always open)."""
    Meta = _meta("site_hours")
    site_key = UnicodeAttribute(hash_key=True)
    changed_at = UnicodeAttribute(range_key=True)  # "{iso time}#{8 hex}": in order, and unique
    workspace_id = UnicodeAttribute()
    from_date = UnicodeAttribute()
    schedule = UnicodeAttribute(null=True)  # JSON
    changed_by = UnicodeAttribute(null=True)


class Key(Model):
    """Uniqueness and idempotency markers, e.g. a client_msg_id already stored; and each queue's ticket
    counter (chalicelib/tickets.py: `seq` = the last ticket, `queued_at` = the stamp it went with)."""
    Meta = _meta("keys")
    pk = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    # A rate limit's count in its window (chalicelib/limits.py).
    hits = NumberAttribute(null=True)
    queued_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)


class Webhook(Model):
    """A workspace's webhook endpoint: where its domain events are posted, signed with `secret`."""
    Meta = _meta("webhooks")
    workspace_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)  # wh_…
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)  # the event types it subscribes to
    enabled = BooleanAttribute(default=True)
    description = UnicodeAttribute(null=True)
    secret = UnicodeAttribute()  # whsec_…, the HMAC-SHA256 key; shown once, at creation and rotation
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class WebhookDelivery(Model):
    """One event for one endpoint, and how its tries went. The id sorts by the event's time."""
    Meta = _meta("webhook_deliveries")
    endpoint_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)  # dl_{event ms, 13 digits}{12 hex}: newest last
    workspace_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()  # the exact JSON posted at every try
    status = UnicodeAttribute(default="pending")  # pending | retrying | delivered | failed
    attempts = NumberAttribute(default=0)
    claim = UnicodeAttribute(null=True)  # the SQS message id of the try in progress or last made
    response_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class IdempotencyRecord(Model):
    """powertools idempotency's records (chalicelib/consumers.py): one per queue message run, written and
    read by powertools' DynamoDBPersistenceLayer; this model gives the table its schema and TTL."""
    Meta = _meta("idempotency")
    id = UnicodeAttribute(hash_key=True)  # "{service}-{queue}#{md5 of the message's id}"
    status = UnicodeAttribute(null=True)  # INPROGRESS | COMPLETED
    data = UnicodeAttribute(null=True)  # the job's result, JSON
    expiration = NumberAttribute(null=True)  # epoch seconds: DynamoDB TTL deletes the record after it
    in_progress_expiration = NumberAttribute(null=True)  # epoch ms: a run cut short may be retried after it
