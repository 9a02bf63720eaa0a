"""The signatures of what Parley posts out: webhooks, team alerts, the bot's lookups. Receivers verify
them as docs/protocol.md §18.5 shows (Standard Webhooks libraries read the `webhook-*` headers)."""
import base64
import hashlib
import hmac


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
