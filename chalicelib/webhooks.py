"""Team alerts to a site's Slack- or Teams-style incoming webhook, through SQS.

The flow only enqueues; the SQS consumer posts. A slow or failing endpoint then costs retries on
the queue (and, in the end, its dead-letter queue), never a stuck flow.
"""
import json
import logging
import urllib.error
import urllib.request

import boto3

from .config import settings

log = logging.getLogger(__name__)
_clients = {}


def _sqs():
    """One SQS client per container, created on first use."""
    if "sqs" not in _clients:
        _clients["sqs"] = boto3.client("sqs", region_name=settings.region)
    return _clients["sqs"]


class WebhookError(Exception):
    """The endpoint did not take the post; raised so SQS delivers the message again."""


def valid_url(url: str) -> bool:
    """https anywhere; plain http only to this machine (the local stack and tests)."""
    return url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost"))


def enqueue(url: str, payload: dict) -> bool:
    """Queue one post; False when alerts are off (no queue configured) or the url is not allowed."""
    if not settings.webhook_queue_url or not url or not valid_url(url):
        return False
    _sqs().send_message(QueueUrl=settings.webhook_queue_url,
                       MessageBody=json.dumps({"url": url, "payload": payload}, separators=(",", ":")))
    return True


def deliver(message: dict) -> int:
    """The consumer's work for one queued message ({"url", "payload"}): POST the payload as JSON; raise unless 2xx."""
    url = message["url"]
    if not valid_url(url):
        log.warning("webhook url refused", extra={"url": url[:200]})
        return 0  # never retried: it will not become valid
    request = urllib.request.Request(url, data=json.dumps(message["payload"]).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "Parley"})
    try:
        with urllib.request.urlopen(request, timeout=settings.webhook_timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"webhook answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookError(f"webhook unreachable: {exc}") from None
