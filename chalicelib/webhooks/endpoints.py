"""A workspace's webhook endpoints and their deliveries, as the admin REST routes see them."""
import base64
import re
import secrets

from pynamodb.exceptions import DoesNotExist

from chalicelib.config import settings
from chalicelib.core import validate
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError
from chalicelib.events import EVENT_TYPES, TEST_EVENT, envelope
from chalicelib.net.urls import MAX_URL, url_problem
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Webhook, WebhookDelivery
from chalicelib.webhooks.delivery import delivery_job, enqueue_jobs, forget_endpoints, new_delivery

MAX_ENDPOINTS = 10  # per workspace: bounds each event's fan-out


DELIVERIES_DEFAULT, DELIVERIES_MAX = 20, 100


SECRET_PREFIX = "whsec_"


_WEBHOOK_ID = re.compile(r"^wh_[0-9a-f]{32}$")


_DELIVERY_ID = re.compile(r"^dl_[0-9]{13}[0-9a-f]{12}$")


def _own(caller: Caller, webhook_id: str) -> Webhook:
    require_admin(caller, "manage webhooks")
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
    require_admin(caller, "manage webhooks")
    hooks = sorted(Webhook.query(caller.workspace_id, consistent_read=True), key=lambda h: h.created_at)
    return {"items": [serialize_webhook(h) for h in hooks], "event_types": list(EVENT_TYPES)}


def create_endpoint(caller: Caller, body: dict) -> dict:
    """A new endpoint; its secret is in this answer and never again (rotate to get a new one)."""
    require_admin(caller, "manage webhooks")
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
    forget_endpoints(caller.workspace_id)
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
        forget_endpoints(caller.workspace_id)
    return serialize_webhook(hook)


def delete_endpoint(caller: Caller, webhook_id: str) -> None:
    """The endpoint goes; jobs still queued for it are dropped, its delivery records expire by TTL."""
    hook = _own(caller, webhook_id)
    hook.delete()
    forget_endpoints(caller.workspace_id)


def rotate_secret(caller: Caller, webhook_id: str) -> dict:
    """A new secret, in force for the next try of every delivery; the old one stops at once."""
    hook = _own(caller, webhook_id)
    hook.update(actions=[Webhook.secret.set(new_secret()), Webhook.updated_at.set(iso())],
                condition=Webhook.id.exists())
    forget_endpoints(caller.workspace_id)
    return serialize_webhook(hook, secret=True)


def send_test(caller: Caller, webhook_id: str) -> dict:
    """A `webhook.test` event to this endpoint alone (enabled or not), through the same queue."""
    hook = _own(caller, webhook_id)
    if not settings.webhook_queue_url:
        raise ConflictError("webhooks are not configured on this deployment")
    event = envelope("evt_" + secrets.token_hex(16), TEST_EVENT, iso(), caller.workspace_id,
                     {"webhook": {"id": hook.id, "url": hook.url},
                      "message": "A test event from Parley. Verify its signature as for any other event."})
    delivery = new_delivery(hook, event)
    enqueue_jobs([delivery_job(delivery, attempt=1, round_start=0)])
    return serialize_delivery(delivery)


def serialize_delivery(d: WebhookDelivery) -> dict:
    return {"id": d.id, "webhook_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
            "status": d.status, "attempts": int(d.attempts or 0),
            "response_code": int(d.response_code) if d.response_code is not None else None,
            "error": d.error, "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
            "created_at": d.created_at, "updated_at": d.updated_at}


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
    enqueue_jobs([delivery_job(delivery, attempt=attempts + 1, round_start=attempts)])
    retrying = [WebhookDelivery.status.set("retrying"), WebhookDelivery.next_attempt_at.set(iso()),
                WebhookDelivery.updated_at.set(iso())]
    if not update_if(delivery, retrying, (WebhookDelivery.status == "failed") & (WebhookDelivery.attempts == attempts)):
        raise ConflictError("this delivery is being retried already")
    return serialize_delivery(delivery)
