"""Every setting the app reads from its environment, read here and nowhere else."""
import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _parameter(name: str, region: str) -> str:
    """A SecureString from SSM Parameter Store, decrypted."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        parameter = boto3.client("ssm", region_name=region).get_parameter(Name=name, WithDecryption=True)
        return parameter["Parameter"]["Value"]
    except (BotoCoreError, ClientError) as exc:
        raise RuntimeError(f"cannot read the SSM parameter {name}: {exc}") from exc


@dataclass
class Settings:
    stage: str = field(default_factory=lambda: os.environ.get("PARLEY_STAGE", "dev"))
    region: str = field(default_factory=lambda: os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    table_prefix: str = field(default_factory=lambda: os.environ.get("PARLEY_TABLE_PREFIX", "parley-dev-"))
    # Visitor tokens are HS256 JWTs signed with the secret `token_secret` returns: PARLEY_TOKEN_SECRET, or
    # on AWS the SSM SecureString named by PARLEY_TOKEN_SECRET_PARAMETER (infra/deploy.py creates it), so
    # the secret is in neither .chalice/config.json nor the functions' environment.
    token_secret_value: str = field(default_factory=lambda: os.environ.get("PARLEY_TOKEN_SECRET", ""), repr=False)
    token_secret_parameter: str = field(default_factory=lambda: os.environ.get("PARLEY_TOKEN_SECRET_PARAMETER", ""))
    visitor_token_ttl: int = field(default_factory=lambda: _int("PARLEY_VISITOR_TOKEN_TTL", 24 * 3600))
    resume_window: int = field(default_factory=lambda: _int("PARLEY_RESUME_WINDOW", 30 * 24 * 3600))
    cognito_pool_id: str = field(default_factory=lambda: os.environ.get("PARLEY_COGNITO_POOL_ID", ""))
    cognito_client_id: str = field(default_factory=lambda: os.environ.get("PARLEY_COGNITO_CLIENT_ID", ""))
    # Where the pool publishes its keys; derived from the pool id when unset.
    cognito_jwks_url: str = field(default_factory=lambda: os.environ.get("PARLEY_COGNITO_JWKS_URL", ""))
    # The API Gateway management endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}).
    # Derived from the first websocket event when unset.
    ws_callback_url: str = field(default_factory=lambda: os.environ.get("PARLEY_WS_CALLBACK_URL", ""))
    # Presence: an agent with no connection left goes offline after presence_grace seconds (a reload
    # keeps them online), and their open chats return to the queue requeue_grace seconds after that.
    presence_grace: int = field(default_factory=lambda: _int("PARLEY_PRESENCE_GRACE", 20))
    requeue_grace: int = field(default_factory=lambda: _int("PARLEY_REQUEUE_GRACE", 120))
    # The console's origin(s), comma-separated (e.g. https://d123.cloudfront.net): the only pages whose
    # browsers may open agent sockets. Empty: not checked (in-process tests).
    console_origins: tuple = field(default_factory=lambda: tuple(
        o.strip().lower().rstrip("/") for o in os.environ.get("PARLEY_CONSOLE_ORIGIN", "").split(",") if o.strip()))
    fanout_workers: int = field(default_factory=lambda: _int("PARLEY_FANOUT_WORKERS", 16))
    max_frame_bytes: int = 32 * 1024
    # Multiplies every count of chalicelib/limits.py (1: as documented). The test suite's shared stack
    # sets a large one: its hundreds of sessions from 127.0.0.1 are one test run, not an attack.
    rate_limit_scale: float = field(default_factory=lambda: float(os.environ.get("PARLEY_RATE_LIMIT_SCALE") or 1))
    # Email (chalicelib/mail.py). No queue URL: email is off and nothing else changes.
    email_queue_url: str = field(default_factory=lambda: os.environ.get("PARLEY_EMAIL_QUEUE_URL", ""))
    # The queue's name for the SQS consumer's event source (infra creates it, with its dead-letter queue).
    email_queue_name: str = field(default_factory=lambda: os.environ.get("PARLEY_EMAIL_QUEUE", "parley-email"))
    # The sender, an SES-verified address or domain, e.g. "Parley <support@example.com>".
    email_from: str = field(default_factory=lambda: os.environ.get("PARLEY_EMAIL_FROM", ""))
    # The SES configuration set sends go through (reputation metrics; infra/ creates it). Empty: none.
    ses_configuration_set: str = field(default_factory=lambda: os.environ.get("PARLEY_SES_CONFIGURATION_SET", ""))
    # Replies come back to reply+{conversation}.{signature}@inbound_domain (an SES receipt rule's domain).
    inbound_domain: str = field(default_factory=lambda: os.environ.get("PARLEY_INBOUND_DOMAIN", ""))
    # Where the SES receipt rule stores inbound mail (the S3 event source).
    inbound_bucket: str = field(default_factory=lambda: os.environ.get("PARLEY_INBOUND_BUCKET", "parley-inbound"))
    # The quiet period before an unseen agent reply is emailed (SQS DelaySeconds: 0 to 900).
    digest_delay: int = field(default_factory=lambda: min(900, max(0, _int(
        "PARLEY_DIGEST_DELAY", 2 if os.environ.get("PARLEY_STAGE") == "local" else 120))))
    # The page whose widget a resume link opens; the conversation's page_url when unset.
    widget_url: str = field(default_factory=lambda: os.environ.get("PARLEY_WIDGET_URL", ""))
    # The REST API's public base URL, for links in emails (CSAT ratings).
    public_api_url: str = field(default_factory=lambda: os.environ.get("PARLEY_PUBLIC_API_URL", ""))

    # Step Functions state machines (infra/statemachines/). Empty: that flow is off (no timers at all).
    handoff_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_HANDOFF_ARN", ""))
    inactivity_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_INACTIVITY_ARN", ""))
    csat_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_CSAT_ARN", ""))
    # The bot watch (bot.asl.json): a bot conversation quiet this long is solved, outcome `assumed`, which a
    # return within bot_final_wait reverts (docs/bot.md).
    bot_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_BOT_ARN", ""))
    bot_idle_wait: int = field(default_factory=lambda: max(1, _int("PARLEY_BOT_IDLE_WAIT", 1800)))
    bot_final_wait: int = field(default_factory=lambda: max(1, _int("PARLEY_BOT_FINAL_WAIT", 24 * 3600)))
    # Team alerts (Slack/Teams incoming webhooks) go through this queue; empty: no alerts are posted.
    webhook_queue_url: str = field(default_factory=lambda: os.environ.get("PARLEY_WEBHOOK_QUEUE_URL", ""))
    # How long a container reuses a site's settings for the flows' waits (0: read them every time).
    site_cache_seconds: int = field(default_factory=lambda: _int("PARLEY_SITE_CACHE_SECONDS", 60))
    webhook_timeout: int = field(default_factory=lambda: _int("PARLEY_WEBHOOK_TIMEOUT", 5))

    # Domain events (chalicelib/events.py) and the workspaces' webhooks built on them (webhooks.py).
    # The EventBridge bus the stream consumers publish to; empty: no domain events at all.
    event_bus_name: str = field(default_factory=lambda: os.environ.get("PARLEY_EVENT_BUS", ""))
    # The queue a rule on the bus (source "parley") targets; `dispatch_webhooks` consumes it.
    events_queue_url: str = field(default_factory=lambda: os.environ.get("PARLEY_EVENTS_QUEUE_URL", ""))
    # Where a webhook delivery goes after its last try (a job that replays the delivery).
    webhook_dlq_url: str = field(default_factory=lambda: os.environ.get("PARLEY_WEBHOOK_DLQ_URL", ""))
    # The DynamoDB streams (NEW_AND_OLD_IMAGES) of the conversations and messages tables.
    conversations_stream_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_CONVERSATIONS_STREAM_ARN", ""))
    messages_stream_arn: str = field(default_factory=lambda: os.environ.get("PARLEY_MESSAGES_STREAM_ARN", ""))
    # Tries per delivery (the first one included); retry k waits min(900, base * 4^(k-1)) seconds:
    # 30 s, 2 min, 8 min, 15 min, 15 min by default.
    webhook_max_attempts: int = field(default_factory=lambda: max(1, _int("PARLEY_WEBHOOK_MAX_ATTEMPTS", 6)))
    webhook_retry_base: int = field(default_factory=lambda: max(0, _int("PARLEY_WEBHOOK_RETRY_BASE", 30)))
    # Posts to http://127.0.0.1 and http://localhost (the local stack and tests); never on a deployed stage.
    webhook_allow_loopback: bool = field(default_factory=lambda: os.environ.get(
        "PARLEY_WEBHOOK_ALLOW_LOOPBACK", "").lower() in ("1", "true", "yes"))
    # How long a container reuses a workspace's list of endpoints when dispatching events.
    webhook_cache_seconds: int = field(default_factory=lambda: _int("PARLEY_WEBHOOK_CACHE_SECONDS", 5))
    # Delivery records expire (DynamoDB TTL) this many days after the event.
    webhook_delivery_days: int = field(default_factory=lambda: _int("PARLEY_WEBHOOK_DELIVERY_DAYS", 30))
    # Observability (chalicelib/observability.py): powertools' service name (a log key and a metric
    # dimension), the CloudWatch metric namespace, the log level, and X-Ray tracing (off: the X-Ray
    # SDK is never imported).
    service_name: str = field(default_factory=lambda: os.environ.get("POWERTOOLS_SERVICE_NAME") or "parley")
    metrics_namespace: str = field(default_factory=lambda: os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
                                   or "Parley")
    log_level: str = field(default_factory=lambda: (os.environ.get("POWERTOOLS_LOG_LEVEL")
                                                    or os.environ.get("LOG_LEVEL") or "INFO").upper())
    tracing: bool = field(default_factory=lambda: os.environ.get("PARLEY_TRACING", "").strip().lower()
                          in ("1", "true", "yes", "on"))

    @property
    def token_secret(self) -> str:
        """The visitor tokens' secret; from SSM once per container, when first needed (a cold start that
        signs nothing never waits on SSM)."""
        if not self.token_secret_value and self.token_secret_parameter:
            self.token_secret_value = _parameter(self.token_secret_parameter, self.region)
        return self.token_secret_value

    @property
    def email_enabled(self) -> bool:
        return bool(self.email_queue_url and self.email_from and self.inbound_domain)

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"

    @property
    def webhook_queue_name(self) -> str:
        """The queue the webhook consumer is subscribed to (chalice needs a name at deploy time)."""
        return self.webhook_queue_url.rstrip("/").rsplit("/", 1)[-1] if self.webhook_queue_url \
            else f"parley-{self.stage}-webhooks"

    @property
    def events_queue_name(self) -> str:
        """The queue the `dispatch_webhooks` consumer is subscribed to."""
        return self.events_queue_url.rstrip("/").rsplit("/", 1)[-1] if self.events_queue_url \
            else f"parley-{self.stage}-events"

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.cognito_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"


settings = Settings()
