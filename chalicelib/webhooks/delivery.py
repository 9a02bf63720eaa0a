"""Outgoing webhooks on the way out: a site's team alerts, and each workspace's signed endpoint deliveries.

Both are posted by the webhook queue's consumer (`handle_job`, through edges/consumers.py): a flow or a
domain event only enqueues, so nothing waits on a receiver. Team alerts are retried by SQS itself (then
its dead-letter queue keeps them). Endpoint deliveries retry on their own schedule: a failed try
re-enqueues the job with a growing DelaySeconds, the last one goes to the dead-letter queue, and every
try is recorded in `webhook_deliveries` for the console.
"""
import hashlib
import json
import logging
import time

from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.core.clock import iso, now, parse_iso
from chalicelib.errors import ConflictError
from chalicelib.events import TEST_EVENT
from chalicelib.net.signing import sign, sign_standard, signature_headers  # noqa: F401 (sign: tests, docs)
from chalicelib.net.urls import post, valid_url
from chalicelib.store.dynamo import save_if, update_if
from chalicelib.store.models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)


USER_AGENT = "Parley-Webhooks/1"


MAX_DELAY = 900  # SQS DelaySeconds' ceiling


_endpoint_cache: dict[str, tuple[float, list[Webhook]]] = {}


class WebhookError(Exception):
    """The endpoint did not take the post; raised so SQS delivers the message again."""


def enqueue(url: str, payload: dict) -> bool:
    """Queue one alert; False when alerts are off (no queue configured) or the url is not allowed."""
    if not settings.webhook_queue_url or not url or not valid_url(url):
        return False
    client("sqs").send_message(QueueUrl=settings.webhook_queue_url,
                        MessageBody=json.dumps({"url": url, "payload": payload}, separators=(",", ":")))
    return True


def deliver_alert(message: dict) -> int:
    """POST an alert's payload as JSON; raise unless 2xx, so SQS tries again."""
    url = message["url"]
    if not valid_url(url):
        log.warning("webhook url refused", extra={"url": url[:200]})
        return 0  # never retried: it will not become valid
    status, error = post(url, json.dumps(message["payload"]).encode(), {"User-Agent": "Parley"})
    if status is None or not 200 <= status < 300:
        raise WebhookError(f"webhook failed: {error}")
    return status


def delivery_id(event: dict, webhook_id: str) -> str:
    """Sorts by the event's time; the same event and endpoint always give the same id."""
    try:
        ms = int(parse_iso(event["occurred_at"]) * 1000)
    except (KeyError, TypeError, ValueError, AttributeError):  # no time, or not a stamp: now
        ms = int(now() * 1000)
    digest = hashlib.sha256(f"{event['id']}:{webhook_id}".encode()).hexdigest()[:12]
    return f"dl_{ms:013d}{digest}"


def new_delivery(hook: Webhook, event: dict) -> WebhookDelivery | None:
    """The delivery record, created once per (event, endpoint). None when a record for it exists
    and has been tried already (a redelivered event); the pending one when it was never tried."""
    stamp = iso()
    delivery = WebhookDelivery(hook.id, delivery_id(event, hook.id), workspace_id=hook.workspace_id,
                               event_id=event["id"], event_type=event["type"],
                               body=json.dumps(event, separators=(",", ":")), status="pending", attempts=0,
                               created_at=stamp, updated_at=stamp,
                               expires_at=int(now()) + settings.webhook_delivery_days * 24 * 3600)
    if not save_if(delivery, WebhookDelivery.id.does_not_exist()):
        existing = WebhookDelivery.get(hook.id, delivery.id, consistent_read=True)
        return existing if existing.status == "pending" and not existing.attempts else None
    return delivery


def forget_endpoints(workspace_id: str) -> None:
    """An endpoint changed: this container reads the workspace's endpoints afresh."""
    _endpoint_cache.pop(workspace_id, None)


def endpoints_for(workspace_id: str) -> list[Webhook]:
    """The workspace's endpoints, reused by this container for webhook_cache_seconds."""
    hit = _endpoint_cache.get(workspace_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    hooks = list(Webhook.query(workspace_id))
    if settings.webhook_cache_seconds > 0:
        _endpoint_cache[workspace_id] = (time.monotonic() + settings.webhook_cache_seconds, hooks)
    return hooks


def dispatch_event(event: dict) -> int:
    """Queue the event for each enabled endpoint of its workspace that subscribes to its type."""
    hooks = [h for h in endpoints_for(event["workspace_id"]) if h.enabled and event["type"] in (h.events or [])]
    jobs = []
    for hook in hooks:
        delivery = new_delivery(hook, event)
        if delivery is not None:
            jobs.append(delivery_job(delivery, attempt=1, round_start=0))
    enqueue_jobs(jobs)
    return len(jobs)


def dispatch_record(message: dict) -> int:
    """One message of the events queue (the `dispatch_webhooks` consumer, through consumers.consume): an
    EventBridge event whose `detail` is our envelope."""
    event = message.get("detail", message) if isinstance(message, dict) else None
    if not isinstance(event, dict) or not all(isinstance(event.get(k), str) for k in ("id", "type", "workspace_id")):
        log.warning("events queue: not a Parley event; dropped")
        return 0
    if not settings.webhook_queue_url:
        return 0
    return dispatch_event(event)


def retry_delay(tries: int) -> int:
    """Seconds before the next try after `tries` failed ones: base, ×4 each time, at most 15 min."""
    return min(MAX_DELAY, settings.webhook_retry_base * 4 ** (max(1, tries) - 1))


def delivery_job(delivery: WebhookDelivery, attempt: int, round_start: int) -> dict:
    return {"kind": "webhook", "workspace_id": delivery.workspace_id, "webhook_id": delivery.endpoint_id,
            "delivery_id": delivery.id, "attempt": attempt, "round_start": round_start}


def enqueue_jobs(jobs: list[dict], delay: int = 0) -> None:
    if not jobs:
        return
    if not settings.webhook_queue_url:
        raise ConflictError("webhooks are not configured on this deployment")
    for start in range(0, len(jobs), 10):
        batch = jobs[start:start + 10]
        result = client("sqs").send_message_batch(QueueUrl=settings.webhook_queue_url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps(job, separators=(",", ":")), "DelaySeconds": delay}
            for i, job in enumerate(batch)])
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} webhook jobs were not queued")


def _claim(job: dict, message_id: str) -> WebhookDelivery | None:
    """Record that try number `attempt` is being made by this queue message. None when another
    message made it already (SQS delivered a job twice) or the record is gone."""
    attempt = int(job["attempt"])
    delivery = WebhookDelivery(job["webhook_id"], job["delivery_id"])
    claimed = update_if(delivery, [WebhookDelivery.attempts.set(attempt), WebhookDelivery.claim.set(message_id),
                                   WebhookDelivery.updated_at.set(iso())],
                        WebhookDelivery.id.exists() & ((WebhookDelivery.attempts < attempt)
                                                       | (WebhookDelivery.claim == message_id)))
    if not claimed:
        log.info("webhook try already made", extra={"delivery_id": job["delivery_id"], "attempt": attempt})
        return None
    return delivery


def attempt_delivery(job: dict, message_id: str) -> str | None:
    """One try of one delivery: post, then record the outcome and queue what comes next (the next
    try after retry_delay, or the dead-letter queue after the last). Returns the new status."""
    delivery = _claim(job, message_id)
    if delivery is None:
        return None
    attempt, round_start = int(job["attempt"]), int(job.get("round_start") or 0)
    try:
        hook = Webhook.get(job["workspace_id"], job["webhook_id"])
    except DoesNotExist:
        hook = None
    code, error, retry = None, None, False
    if hook is None:
        error = "the endpoint was deleted"
    elif not hook.enabled and delivery.event_type != TEST_EVENT:
        error = "the endpoint is disabled"
    else:
        body = delivery.body.encode()
        stamp = int(now())
        code, error = post(hook.url, body, {
            "User-Agent": USER_AGENT, "Parley-Event-Id": delivery.event_id, "Parley-Event-Type": delivery.event_type,
            "Parley-Delivery-Id": delivery.id, "Parley-Delivery-Attempt": str(attempt),
            **signature_headers(hook.secret, delivery.event_id, stamp, body)})
        retry = True
    stamp = iso()
    actions = [WebhookDelivery.updated_at.set(stamp),
               WebhookDelivery.response_code.set(code) if code is not None else WebhookDelivery.response_code.remove()]
    if code is not None and 200 <= code < 300:
        status = "delivered"
        actions += [WebhookDelivery.delivered_at.set(stamp), WebhookDelivery.error.remove(),
                    WebhookDelivery.next_attempt_at.remove()]
    elif retry and attempt - round_start < settings.webhook_max_attempts:
        status = "retrying"
        delay = retry_delay(attempt - round_start)
        enqueue_jobs([{**job, "attempt": attempt + 1}], delay=delay)
        actions += [WebhookDelivery.error.set(error or f"HTTP {code}"),
                    WebhookDelivery.next_attempt_at.set(iso(now() + delay))]
    else:
        status = "failed"
        if retry and settings.webhook_dlq_url:  # a job that, moved back to the webhook queue, tries again
            client("sqs").send_message(QueueUrl=settings.webhook_dlq_url, MessageBody=json.dumps(
                {**job, "attempt": attempt + 1, "round_start": attempt, "last_error": error or f"HTTP {code}",
                 "dead_lettered_at": stamp}, separators=(",", ":")))
        actions += [WebhookDelivery.error.set(error or f"HTTP {code}"), WebhookDelivery.next_attempt_at.remove()]
    if not update_if(delivery, actions + [WebhookDelivery.status.set(status)], WebhookDelivery.claim == message_id):
        log.info("a newer try of this delivery was recorded", extra={"delivery_id": delivery.id})
    log.info("webhook try", extra={"delivery_id": delivery.id, "attempt": attempt, "status": status, "code": code})
    return status


def handle_job(job: dict, message_id: str) -> None:
    """One message of the webhook queue (the `deliver_webhook` consumer, through consumers.consume): an
    endpoint delivery's try, or a team alert (raises on failure, so SQS retries it)."""
    if job.get("kind") == "webhook":
        attempt_delivery(job, message_id)
    else:
        deliver_alert(job)
