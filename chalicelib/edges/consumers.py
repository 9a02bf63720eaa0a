"""SQS consumers: each record's job runs at most once, and only the records that failed come back.

Lambda's event source mapping (with ReportBatchItemFailures on) deletes every record of a batch except
those listed in the response's batchItemFailures; SQS delivers those again after the visibility
timeout, and parks them in the queue's dead-letter queue after its maxReceiveCount. A record can
also arrive twice (SQS is at-least-once, and a batch whose Lambda timed out comes back whole): the
job is wrapped in powertools idempotency, keyed on the message's own id (the body's `id`, else the
SQS messageId), so a second delivery returns the first run's result instead of running again.

powertools' batch and idempotency utilities, and the DynamoDB client the idempotency records need,
are loaded on the first batch: the websocket and REST handlers never pay for them.
"""
import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib import observability
from chalicelib.aws.clients import client
from chalicelib.config import settings

log = logging.getLogger(__name__)

# As long as SQS may keep a message (14 days at most): a redelivery is recognised for as long as one can come.
IDEMPOTENCY_SECONDS = 14 * 24 * 3600

# Outside Lambda (tests, scripts) there is no context to tell how long a run may take: assume this long.
OUTSIDE_LAMBDA_MS = 60_000

_state: dict = {}  # per container: the DynamoDB client, and per queue its persistence layer, config and jobs


def _persistence(name: str):
    """The queue's idempotency persistence layer and config, created once per container, on one shared
    DynamoDB client. One layer per queue: a layer keeps the key prefix of its latest call, and the
    local stack runs two consumers at once in one process."""
    if ("store", name) not in _state:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
        _state["store", name] = DynamoDBPersistenceLayer(
            table_name=settings.table("idempotency"), key_attr="id", expiry_attr="expiration",
            boto3_client=client("dynamodb"))
        _state["config", name] = IdempotencyConfig(event_key_jmespath="id", raise_on_no_idempotency_key=True,
                                                   expires_after_seconds=IDEMPOTENCY_SECONDS)
    return _state["store", name], _state["config", name]


def _runner(job: Callable[..., Any], with_message_id: bool) -> Callable[..., Any]:
    """The job called with what it takes of a record: its body, and the SQS message id if it asks."""
    def run(message: dict) -> Any:
        if with_message_id:
            return job(message["body"], message["message_id"])
        return job(message["body"])
    return run


def _once(name: str, job: Callable[..., Any], with_message_id: bool) -> Callable[..., Any]:
    """`job` wrapped in powertools idempotency, its keys prefixed with the service's and the queue's name."""
    if ("job", name, job) not in _state:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        store, config = _persistence(name)
        _state["job", name, job] = idempotent_function(
            _runner(job, with_message_id), data_keyword_argument="message", persistence_store=store,
            config=config, key_prefix=f"{settings.service_name}-{name}")
    return _state["job", name, job]


class _OutsideLambda:
    def get_remaining_time_in_millis(self) -> int:
        return OUTSIDE_LAMBDA_MS


def consume(event, job: Callable[..., Any], *, name: str, with_message_id: bool = False,
            idempotent: bool = True) -> dict:
    """Run `job(body)` on each record of an SQS event (a chalice SQSEvent or the raw dict), where body is
    the message's JSON object (`job(body, message_id)` with `with_message_id`, for jobs that also claim
    their work with the SQS message id). `idempotent=False` for a job that is idempotent by itself
    (conditional writes keyed on the message's content): it skips the two idempotency-record writes.
    Returns Lambda's partial batch response: {"batchItemFailures": [...]},
    the messageIds of the records whose job raised. A body that is not a JSON object is logged and
    dropped (no retry can fix it). When every record fails, powertools raises, so the whole batch is
    retried even where the event source was left without ReportBatchItemFailures."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    raw = event if isinstance(event, dict) else event.to_dict()
    context = None if isinstance(event, dict) else getattr(event, "context", None)
    if idempotent:
        once = _once(name, job, with_message_id)
        # A run cut short (a timeout, a crash) leaves its record in progress until the time left runs out;
        # a delivery after that runs the job again.
        _persistence(name)[1].register_lambda_context(context if context is not None else _OutsideLambda())
    else:
        once = _runner(job, with_message_id)

    def handle(record) -> Any:
        try:
            body = json.loads(record.body)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except (TypeError, ValueError):
            log.error("dropping a malformed message", extra={"queue": name, "message_id": record.message_id})
            return None
        key = body.get("id") if isinstance(body.get("id"), str) and body.get("id") else record.message_id
        observability.annotate(conversation_id=observability.short(body.get("conversation_id")), message_key=key)
        try:
            return once(message={"id": key, "body": body, "message_id": record.message_id})
        except Exception:
            log.exception("queue message failed; SQS will deliver it again",
                          extra={"queue": name, "message_id": record.message_id, "message_key": key})
            raise
        finally:
            observability.logger.thread_safe_remove_keys(["conversation_id", "message_key"])

    return process_partial_response(event=raw, record_handler=handle,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
