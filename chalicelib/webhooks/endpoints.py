"""Outgoing webhooks: a site's team alerts, and each workspace's signed endpoints for its domain events.

Both are posted by the webhook queue's consumer (`handle_job`, through consumers.consume): a flow or a domain event only
enqueues, so nothing waits on a receiver. Team alerts are retried by SQS itself (then its
dead-letter queue keeps them). Endpoint deliveries retry on their own schedule: a failed try
re-enqueues the job with a growing DelaySeconds, the last one goes to the dead-letter queue, and
every try is recorded in `webhook_deliveries` for the console.
"""
import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import time
import urllib.parse
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.core import validate
from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.events import EVENT_TYPES, TEST_EVENT, envelope
from chalicelib.identity.sessions import Caller
from chalicelib.store.models import Webhook, WebhookDelivery
from chalicelib.core.clock import iso, now

log = logging.getLogger(__name__)

USER_AGENT = "Parley-Webhooks/1"
MAX_ENDPOINTS = 10  # per workspace: bounds each event's fan-out
MAX_URL = 2048
MAX_DELAY = 900  # SQS DelaySeconds' ceiling
DELIVERIES_DEFAULT, DELIVERIES_MAX = 20, 100
SECRET_PREFIX = "whsec_"
_WEBHOOK_ID = re.compile(r"^wh_[0-9a-f]{32}$")
_DELIVERY_ID = re.compile(r"^dl_[0-9]{13}[0-9a-f]{12}$")
_endpoint_cache: dict[str, tuple[float, list[Webhook]]] = {}


class WebhookError(Exception):
    """The endpoint did not take the post; raised so SQS delivers the message again."""


class _AddressRefusedError(OSError):
    """The socket reached an address posts may not go to; raised before a byte is sent."""


# --- which URLs and addresses may be posted to ----------------------------------------------

# IPv6 prefixes that carry an IPv4 address in their last 32 bits: the NAT64 well-known prefix
# (RFC 6052), IPv4-compatible (RFC 4291, deprecated) and IPv4-translated (RFC 2765) addresses.
# IPv4-mapped (::ffff:0:0/96), 6to4 (2002::/16) and Teredo (2001::/32) are decoded by ipaddress.
_LAST_32_BITS_PREFIXES = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96"))
# The local-use NAT64 prefix (RFC 8215): a network's own translator, where the IPv4 address sits
# depends on its configuration, and which may reach anything that network reaches.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a post to this IPv6 address would really reach ([] when it carries none)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:  # (server: bits 32-63, client: the last 32 bits inverted)
        return list(address.teredo)
    if any(address in prefix for prefix in _LAST_32_BITS_PREFIXES):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally reachable unicast; ipaddress counts multicast as global, a webhook never is."""
    return address.is_global and not address.is_multicast


def address_problem(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What an IP address is when a post may not go to it, or None. An IPv6 address that carries an
    IPv4 address is judged by that IPv4 address (which is what it reaches); loopback (127.0.0.0/8,
    ::1) only where PARLEY_WEBHOOK_ALLOW_LOOPBACK is on."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return None if settings.webhook_allow_loopback else "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return "a local NAT64 address"
        carried = embedded_ipv4(ip)
        hidden = next((v4 for v4 in carried if not _public(v4)), None)
        if hidden is not None:
            return f"a private or reserved address (it carries {hidden})"
        if carried:
            return None  # the envelope's own prefix says nothing more about where it goes
    return None if _public(ip) else "a private or reserved address"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url) -> str | None:
    """Why a URL may not be posted to, or None. https only, to a public host; http to this machine
    only where PARLEY_WEBHOOK_ALLOW_LOOPBACK is on (the local stack and tests). Every post checks it
    again, with the addresses the hostname resolves to and the one it connects to (`_post`)."""
    if not isinstance(url, str) or not url:
        return "must be a URL"
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if _loopback(host):
        return None if settings.webhook_allow_loopback else "must not point at this machine"
    if parts.scheme != "https":
        return "must be an https:// URL"
    try:
        problem = address_problem(host)
    except ValueError:
        return None  # a hostname: its addresses are checked at each post
    return f"must not point at {problem}" if problem else None


def valid_url(url: str) -> bool:
    return url_problem(url) is None


def _resolution_problem(host: str, port: int) -> str | None:
    """Why the host's current addresses may not be posted to: every one must pass, not just the first."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return "cannot resolve the host"
    for info in infos:
        problem = address_problem(info[4][0])
        if problem:
            return f"refused: the host resolves to {problem}"
    return None


def _vetted_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connection whose peer passed `address_problem`: the DNS answer may have changed since the
    check (rebinding), so the address the socket reached is what is judged, before a byte is sent."""
    sock = socket.create_connection((host, port), timeout)
    problem = address_problem(sock.getpeername()[0])
    if problem:
        sock.close()
        raise _AddressRefusedError(f"connected to {problem}")
    return sock


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying TLS context per container (loading the CA bundle costs milliseconds)."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


class _VettedConnection(http.client.HTTPConnection):
    """HTTP or HTTPS over `_vetted_socket`; Host, SNI and the certificate check use the URL's hostname.
    http.client follows no redirects and uses no proxy: a 3xx is an answer, not an instruction."""

    def __init__(self, host: str, port: int, timeout: float, tls: bool):
        super().__init__(host, port, timeout=timeout)
        self.tls = tls
        self.default_port = 443 if tls else 80  # no ":443" in the Host header

    def connect(self):
        sock = _vetted_socket(self.host, self.port, self.timeout)
        self.sock = _tls().wrap_socket(sock, server_hostname=self.host) if self.tls else sock


_TARGET_SAFE = "".join(chr(c) for c in range(33, 127))  # printable ASCII stays; the rest is %-encoded


# --- team alerts (a site's Slack/Teams incoming webhook) --------------------------------------

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
    status, error = _post(url, json.dumps(message["payload"]).encode(), {"User-Agent": "Parley"})
    if status is None or not 200 <= status < 300:
        raise WebhookError(f"webhook failed: {error}")
    return status


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str | None]:
    """(status, None) for a 2xx, (status, "HTTP n") for another answer, (None, why) when there was
    none. Every outbound post (endpoints and team alerts) goes through here, so the address rules
    hold for all of them: the URL, every address its host resolves to, and the connected peer."""
    problem = url_problem(url)
    if problem:
        return None, f"refused: url {problem}"
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    host, port = parts.hostname, parts.port or (443 if tls else 80)
    refused = _resolution_problem(host, port)
    if refused:
        return None, refused
    target = urllib.parse.quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_TARGET_SAFE)
    connection = _VettedConnection(host, port, settings.webhook_timeout, tls)
    try:
        connection.request("POST", target, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read(1024)
    except _AddressRefusedError as exc:
        return None, f"refused: {exc}"
    except (http.client.HTTPException, OSError, UnicodeError) as exc:
        return None, f"unreachable: {exc}"[:200]
    finally:
        connection.close()
    return response.status, None if 200 <= response.status < 300 else f"HTTP {response.status}"


# --- endpoints: the admin REST routes ---------------------------------------------------------

def _require_admin(caller: Caller) -> None:
    if caller.role != "admin":
        raise ForbiddenError("only admins can manage webhooks")


def _own(caller: Caller, webhook_id: str) -> Webhook:
    _require_admin(caller)
    if not isinstance(webhook_id, str) or not _WEBHOOK_ID.match(webhook_id):
        raise BadRequestError("webhook_id is not a webhook id", field="webhook_id")
    try:
        return Webhook.get(caller.workspace_id, webhook_id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("no such webhook") from None


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def standard_secret(secret: str) -> str:
    """The endpoint's secret as Standard Webhooks libraries take one: `whsec_` + base64 of the key bytes.
    The key bytes are the secret's UTF-8, the key Parley-Signature has always used, so one secret signs
    both headers and the endpoints made before the Standard Webhooks headers need no new one."""
    return SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def serialize_webhook(hook: Webhook, secret: bool = False) -> dict:
    out = {"id": hook.id, "url": hook.url, "events": list(hook.events or []), "enabled": bool(hook.enabled),
           "description": hook.description, "created_at": hook.created_at, "updated_at": hook.updated_at,
           "secret_hint": SECRET_PREFIX + "…" + hook.secret[-4:]}
    if secret:  # only in the answer that created or rotated it
        out["secret"] = hook.secret
        out["standard_webhooks_secret"] = standard_secret(hook.secret)
    return out


def _url(body: dict) -> str:
    url = validate.string(body, "url", max_len=MAX_URL)
    problem = url_problem(url)
    if problem:
        raise BadRequestError(f"url {problem}", field="url")
    return url


def _event_types(body: dict) -> list[str]:
    value = body.get("events")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequestError(f"events must be a non-empty list of event types ({', '.join(EVENT_TYPES)})",
                              field="events")
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise BadRequestError(f"events: unknown event type {unknown[0][:60]}; one of {', '.join(EVENT_TYPES)}",
                              field="events")
    return [t for t in EVENT_TYPES if t in value]


def list_endpoints(caller: Caller) -> dict:
    _require_admin(caller)
    hooks = sorted(Webhook.query(caller.workspace_id, consistent_read=True), key=lambda h: h.created_at)
    return {"items": [serialize_webhook(h) for h in hooks], "event_types": list(EVENT_TYPES)}


def create_endpoint(caller: Caller, body: dict) -> dict:
    """A new endpoint; its secret is in this answer and never again (rotate to get a new one)."""
    _require_admin(caller)
    body = validate.obj(body)
    validate.known_fields(body, {"url", "events", "enabled", "description"})
    url, types = _url(body), _event_types(body)
    enabled = validate.boolean(body, "enabled", default=True)
    description = validate.string(body, "description", required=False, max_len=200)
    if Webhook.count(caller.workspace_id) >= MAX_ENDPOINTS:
        raise ConflictError(f"a workspace has at most {MAX_ENDPOINTS} webhooks")
    stamp = iso()
    hook = Webhook(caller.workspace_id, "wh_" + secrets.token_hex(16), url=url, events=types, enabled=enabled,
                   description=description, secret=new_secret(), created_by=caller.id, created_at=stamp,
                   updated_at=stamp)
    hook.save(condition=Webhook.id.does_not_exist())
    _endpoint_cache.pop(caller.workspace_id, None)
    return serialize_webhook(hook, secret=True)


def update_endpoint(caller: Caller, webhook_id: str, body: dict) -> dict:
    hook = _own(caller, webhook_id)
    body = validate.obj(body)
    validate.known_fields(body, {"url", "events", "enabled", "description"})
    actions = []
    if "url" in body:
        actions.append(Webhook.url.set(_url(body)))
    if "events" in body:
        actions.append(Webhook.events.set(_event_types(body)))
    if "enabled" in body:
        actions.append(Webhook.enabled.set(validate.boolean(body, "enabled")))
    if "description" in body:
        description = validate.string(body, "description", required=False, max_len=200)
        actions.append(Webhook.description.set(description) if description else Webhook.description.remove())
    if actions:
        hook.update(actions=actions + [Webhook.updated_at.set(iso())], condition=Webhook.id.exists())
        _endpoint_cache.pop(caller.workspace_id, None)
    return serialize_webhook(hook)


def delete_endpoint(caller: Caller, webhook_id: str) -> None:
    """The endpoint goes; jobs still queued for it are dropped, its delivery records expire by TTL."""
    hook = _own(caller, webhook_id)
    hook.delete()
    _endpoint_cache.pop(caller.workspace_id, None)


def rotate_secret(caller: Caller, webhook_id: str) -> dict:
    """A new secret, in force for the next try of every delivery; the old one stops at once."""
    hook = _own(caller, webhook_id)
    hook.update(actions=[Webhook.secret.set(new_secret()), Webhook.updated_at.set(iso())],
                condition=Webhook.id.exists())
    _endpoint_cache.pop(caller.workspace_id, None)
    return serialize_webhook(hook, secret=True)


def send_test(caller: Caller, webhook_id: str) -> dict:
    """A `webhook.test` event to this endpoint alone (enabled or not), through the same queue."""
    hook = _own(caller, webhook_id)
    if not settings.webhook_queue_url:
        raise ConflictError("webhooks are not configured on this deployment")
    event = envelope("evt_" + secrets.token_hex(16), TEST_EVENT, iso(), caller.workspace_id,
                     {"webhook": {"id": hook.id, "url": hook.url},
                      "message": "A test event from Parley. Verify its signature as for any other event."})
    delivery = _new_delivery(hook, event)
    _enqueue_jobs([_job(delivery, attempt=1, round_start=0)])
    return serialize_delivery(delivery)


# --- deliveries: records and REST -------------------------------------------------------------

def delivery_id(event: dict, webhook_id: str) -> str:
    """Sorts by the event's time; the same event and endpoint always give the same id."""
    try:
        ms = int(datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        ms = int(now() * 1000)
    digest = hashlib.sha256(f"{event['id']}:{webhook_id}".encode()).hexdigest()[:12]
    return f"dl_{ms:013d}{digest}"


def serialize_delivery(d: WebhookDelivery) -> dict:
    return {"id": d.id, "webhook_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
            "status": d.status, "attempts": int(d.attempts or 0),
            "response_code": int(d.response_code) if d.response_code is not None else None,
            "error": d.error, "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
            "created_at": d.created_at, "updated_at": d.updated_at}


def _new_delivery(hook: Webhook, event: dict) -> WebhookDelivery | None:
    """The delivery record, created once per (event, endpoint). None when a record for it exists
    and has been tried already (a redelivered event); the pending one when it was never tried."""
    stamp = iso()
    delivery = WebhookDelivery(hook.id, delivery_id(event, hook.id), workspace_id=hook.workspace_id,
                               event_id=event["id"], event_type=event["type"],
                               body=json.dumps(event, separators=(",", ":")), status="pending", attempts=0,
                               created_at=stamp, updated_at=stamp,
                               expires_at=int(now()) + settings.webhook_delivery_days * 24 * 3600)
    try:
        delivery.save(condition=WebhookDelivery.id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        existing = WebhookDelivery.get(hook.id, delivery.id, consistent_read=True)
        return existing if existing.status == "pending" and not existing.attempts else None
    return delivery


def list_deliveries(caller: Caller, webhook_id: str, query: dict) -> dict:
    """Newest first, a page at a time (`cursor` = the last id of the page before)."""
    hook = _own(caller, webhook_id)
    limit = validate.integer(query, "limit", minimum=1, maximum=DELIVERIES_MAX, default=DELIVERIES_DEFAULT)
    cursor = validate.string(query, "cursor", required=False, max_len=64)
    if cursor and not _DELIVERY_ID.match(cursor):
        raise BadRequestError("cursor is not a delivery id", field="cursor")
    start = {"endpoint_id": {"S": hook.id}, "id": {"S": cursor}} if cursor else None
    results = WebhookDelivery.query(hook.id, scan_index_forward=False, limit=limit, page_size=limit,
                                    last_evaluated_key=start)
    items = [serialize_delivery(d) for d in results]
    more = results.last_evaluated_key is not None and len(items) == limit
    return {"items": items, "cursor": items[-1]["id"] if more else None}


def retry_delivery(caller: Caller, webhook_id: str, delivery_id_: str) -> dict:
    """A failed delivery gets a new round of tries (the same schedule as the first)."""
    hook = _own(caller, webhook_id)
    if not isinstance(delivery_id_, str) or not _DELIVERY_ID.match(delivery_id_):
        raise BadRequestError("delivery_id is not a delivery id", field="delivery_id")
    try:
        delivery = WebhookDelivery.get(hook.id, delivery_id_, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("no such delivery") from None
    if delivery.status != "failed":
        raise ConflictError(f"only a failed delivery can be retried; this one is {delivery.status}")
    attempts = int(delivery.attempts or 0)
    _enqueue_jobs([_job(delivery, attempt=attempts + 1, round_start=attempts)])
    try:
        delivery.update(actions=[WebhookDelivery.status.set("retrying"), WebhookDelivery.next_attempt_at.set(iso()),
                                 WebhookDelivery.updated_at.set(iso())],
                        condition=(WebhookDelivery.status == "failed") & (WebhookDelivery.attempts == attempts))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise ConflictError("this delivery is being retried already") from None
        raise
    return serialize_delivery(delivery)


# --- dispatch: one domain event → one delivery job per subscribed endpoint --------------------

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
        delivery = _new_delivery(hook, event)
        if delivery is not None:
            jobs.append(_job(delivery, attempt=1, round_start=0))
    _enqueue_jobs(jobs)
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


# --- delivery: the webhook queue's consumer ---------------------------------------------------

def retry_delay(tries: int) -> int:
    """Seconds before the next try after `tries` failed ones: base, ×4 each time, at most 15 min."""
    return min(MAX_DELAY, settings.webhook_retry_base * 4 ** (max(1, tries) - 1))


def _job(delivery: WebhookDelivery, attempt: int, round_start: int) -> dict:
    return {"kind": "webhook", "workspace_id": delivery.workspace_id, "webhook_id": delivery.endpoint_id,
            "delivery_id": delivery.id, "attempt": attempt, "round_start": round_start}


def _enqueue_jobs(jobs: list[dict], delay: int = 0) -> None:
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


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `v1` signature: hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the whole secret."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_standard(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature`: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}",
    keyed with the same bytes as `sign` (what `standard_secret` encodes)."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict:
    """Both signatures of one post. `webhook-id` is the event's id, the same on every try and every retry
    round of its delivery, so Standard Webhooks receivers drop what they have seen."""
    return {"Parley-Signature": f"t={timestamp},v1={sign(secret, timestamp, body)}",
            "webhook-id": event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard(secret, event_id, timestamp, body)}


def _claim(job: dict, message_id: str) -> WebhookDelivery | None:
    """Record that try number `attempt` is being made by this queue message. None when another
    message made it already (SQS delivered a job twice) or the record is gone."""
    attempt = int(job["attempt"])
    delivery = WebhookDelivery(job["webhook_id"], job["delivery_id"])
    try:
        delivery.update(actions=[WebhookDelivery.attempts.set(attempt), WebhookDelivery.claim.set(message_id),
                                 WebhookDelivery.updated_at.set(iso())],
                        condition=WebhookDelivery.id.exists() & ((WebhookDelivery.attempts < attempt)
                                                                 | (WebhookDelivery.claim == message_id)))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            log.info("webhook try already made", extra={"delivery_id": job["delivery_id"], "attempt": attempt})
            return None
        raise
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
        code, error = _post(hook.url, body, {
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
        _enqueue_jobs([{**job, "attempt": attempt + 1}], delay=delay)
        actions += [WebhookDelivery.error.set(error or f"HTTP {code}"),
                    WebhookDelivery.next_attempt_at.set(iso(now() + delay))]
    else:
        status = "failed"
        if retry and settings.webhook_dlq_url:  # a job that, moved back to the webhook queue, tries again
            client("sqs").send_message(QueueUrl=settings.webhook_dlq_url, MessageBody=json.dumps(
                {**job, "attempt": attempt + 1, "round_start": attempt, "last_error": error or f"HTTP {code}",
                 "dead_lettered_at": stamp}, separators=(",", ":")))
        actions += [WebhookDelivery.error.set(error or f"HTTP {code}"), WebhookDelivery.next_attempt_at.remove()]
    try:
        delivery.update(actions=actions + [WebhookDelivery.status.set(status)],
                        condition=WebhookDelivery.claim == message_id)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
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
