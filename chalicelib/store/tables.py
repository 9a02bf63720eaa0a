"""Every table at once: which expire through TTL, and creating them where they do not exist (the local
stack and tests; infra/template.yaml creates them on AWS)."""
import boto3

from chalicelib.config import settings
from chalicelib.store.models import (
    Agent,
    Article,
    ArticleStats,
    BotFlow,
    CannedResponse,
    Connection,
    Conversation,
    IdempotencyRecord,
    Key,
    Message,
    SearchIndex,
    Site,
    SiteHours,
    Visitor,
    Webhook,
    WebhookDelivery,
    Workspace,
)

# Tables whose items expire through DynamoDB TTL, and the attribute that says when.
TTL_ATTRIBUTES = {"connections": "expires_at", "keys": "expires_at",
                  "conversations": "expires_at", "messages": "expires_at", "visitors": "expires_at",
                  "idempotency": "expiration", "webhook_deliveries": "expires_at"}

ALL_MODELS = (Workspace, Site, Agent, Visitor, Conversation, Message, Connection, CannedResponse, Key,
              IdempotencyRecord, Webhook, WebhookDelivery, Article, ArticleStats, SearchIndex, BotFlow, SiteHours)


def create_tables() -> None:
    """Create every table that does not exist yet, with TTL where data expires and streams on
    STREAM_TABLES (local stack and tests; infra/ creates them in AWS)."""
    client = None
    for model in ALL_MODELS:
        if model.exists():
            continue
        model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        ttl = TTL_ATTRIBUTES.get(model.Meta.table_name.removeprefix(settings.table_prefix))
        if ttl:
            client = client or boto3.client("dynamodb", region_name=settings.region)
            client.update_time_to_live(TableName=model.Meta.table_name,
                                       TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
