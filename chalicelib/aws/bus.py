"""The event bus: domain events' one envelope, and PutEvents with retries (EventBridge).

Below every capability, so any of them may publish: the stream consumers (chalicelib/events.py) derive
conversation and message events from the tables' streams; the knowledge base publishes what visitors
do with its articles (chalicelib/kb/articles.py) as it records them.
"""
import json
import logging
import time

from chalicelib.aws.clients import client
from chalicelib.config import settings

log = logging.getLogger(__name__)

SOURCE = "parley"
PUT_BATCH = 10  # PutEvents takes at most 10 entries
PUT_TRIES = 4


def envelope(event_id: str, event_type: str, occurred_at: str, workspace_id: str, data: dict) -> dict:
    """The one shape every event has, on the bus and in webhook bodies."""
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "workspace_id": workspace_id,
            "data": data}


def publish(events: list[dict]) -> list[dict]:
    """PutEvents in batches of 10; entries EventBridge refused are tried again (with a short
    backoff) up to PUT_TRIES times. Returns the events that still failed."""
    if not settings.event_bus_name:
        return []
    failed: list[dict] = []
    for start in range(0, len(events), PUT_BATCH):
        pending = events[start:start + PUT_BATCH]
        for attempt in range(PUT_TRIES):
            entries = [{"Source": SOURCE, "DetailType": e["type"], "EventBusName": settings.event_bus_name,
                        "Detail": json.dumps(e, separators=(",", ":"))} for e in pending]
            result = client("events").put_events(Entries=entries)
            if not result.get("FailedEntryCount"):
                pending = []
                break
            pending = [e for e, r in zip(pending, result["Entries"], strict=False) if r.get("ErrorCode")]
            log.warning("PutEvents refused %d entries", len(pending),
                        extra={"codes": sorted({r.get("ErrorCode") for r in result["Entries"] if r.get("ErrorCode")})})
            if attempt < PUT_TRIES - 1:
                time.sleep(0.1 * 2 ** attempt)
        failed += pending
    return failed
