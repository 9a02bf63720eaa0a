"""The bot's `lookup` node: a signed POST to the company's own server with the fields the bot collected
(an order number), its JSON answer read within 3 seconds. Any failure is None: the flow's fallback."""
import json
import logging
import time

from chalicelib.core.clock import new_id
from chalicelib.net import signing, urls

log = logging.getLogger(__name__)

TIMEOUT = 3.0  # seconds, for the whole exchange
MAX_ANSWER = 16 * 1024


def call(node: dict, fields: dict, *, secret: str | None, site_key: str, conversation_id: str,
         locale: str) -> dict | None:
    """The answer's JSON object, or None (refused address, timeout, non-2xx, not a JSON object)."""
    body = json.dumps({"site_key": site_key, "conversation_id": conversation_id, "locale": locale,
                       "fields": fields}, separators=(",", ":"), ensure_ascii=False).encode()
    message_id, stamp = new_id("lk"), int(time.time())
    headers = {"User-Agent": "Parley-Bot/1", "webhook-id": message_id, "webhook-timestamp": str(stamp)}
    if secret:
        headers["webhook-signature"] = signing.sign_standard(secret, message_id, stamp, body)
    status, answer, error = urls.exchange(node.get("url") or "", body, headers, timeout=TIMEOUT, keep=MAX_ANSWER)
    if error:
        log.info("bot lookup failed", extra={"conversation_id": conversation_id, "status": status, "error": error})
        return None
    try:
        value = json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        log.info("bot lookup answered no JSON", extra={"conversation_id": conversation_id})
        return None
    return value if isinstance(value, dict) else None
