"""Domain events: derived from the conversations and messages tables' DynamoDB streams, published on EventBridge.

The hot path writes nothing extra for them: a change lands in a table, its stream record reaches
`from_stream` (app.py's stream consumers), and this module turns it into events with a stable
envelope (docs/protocol.md, "Events and webhooks"). Event ids are derived from the stream record, so
a batch the stream delivers again yields the same ids and receivers can drop the repeats.
"""
import hashlib
import logging

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.aws.bus import envelope, publish
from chalicelib.chat.conversations import serialize, serialize_message
from chalicelib.config import settings
from chalicelib.core.clock import iso, parse_iso
from chalicelib.store.models import Conversation, Message

log = logging.getLogger(__name__)

EVENT_TYPES = ("conversation.created", "conversation.assigned", "conversation.status_changed",
               "message.created", "csat.submitted", "bot.outcome")
TEST_EVENT = "webhook.test"  # sent by POST /v1/webhooks/{id}/test only, to that one endpoint
_plain = TypeDeserializer()


# --- stream records → events ----------------------------------------------------------------

def _table(record: dict) -> str:
    """Which table a record comes from: its stream ARN names it (…:table/{name}/stream/…)."""
    arn = record.get("eventSourceARN") or ""
    name = arn.split(":table/", 1)[-1].split("/", 1)[0]
    return name.removeprefix(settings.table_prefix)


def _event_id(record: dict, event_type: str) -> str:
    """Stable across redeliveries of the same stream record."""
    key = f"{record.get('eventID') or record['dynamodb'].get('SequenceNumber')}:{event_type}"
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _when(record: dict) -> str:
    """When the write happened: the stream's ApproximateCreationDateTime (epoch seconds in Lambda)."""
    raw = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(raw, (int, float)):
        return iso(float(raw))
    if isinstance(raw, str):
        try:
            return iso(parse_iso(raw))
        except ValueError:
            pass
    return iso()


def _value(image: dict | None, name: str):
    if not image or name not in image:
        return None
    return _plain.deserialize(image[name])


def conversation_events(record: dict) -> list[dict]:
    """conversation.created on INSERT; on MODIFY, one event per change that matters (status,
    assignee, csat). Everything else (read marks, subscribers, digests, flood windows) says nothing."""
    name = record.get("eventName")
    new = record.get("dynamodb", {}).get("NewImage")
    if name not in ("INSERT", "MODIFY") or not new:
        return []  # REMOVE: TTL expiry or erasure, not a domain event
    conversation = Conversation.from_raw_data(new)
    data = serialize(conversation)
    when = _when(record)
    out = []

    def add(event_type: str, **extra) -> None:
        out.append(envelope(_event_id(record, event_type), event_type, when, conversation.workspace_id,
                            {"conversation": data, **extra}))

    if name == "INSERT":
        add("conversation.created")
        return out
    old = record["dynamodb"].get("OldImage") or {}
    before_status, before_assignee = _value(old, "status"), _value(old, "assignee_id")
    if conversation.assignee_id != before_assignee:
        add("conversation.assigned", assignee_id=conversation.assignee_id, previous_assignee_id=before_assignee)
    if conversation.status != before_status:
        add("conversation.status_changed", **{"from": before_status, "to": conversation.status})
    before_csat = _value(old, "csat")
    if data.get("csat") and data["csat"] != before_csat:
        add("csat.submitted", csat=data["csat"])
    # The bot's one outcome (docs/bot.md), an assumed one's revert (outcome null), and its becoming final.
    outcome, before_outcome = conversation.bot_outcome, _value(old, "bot_outcome")
    final, before_final = bool(conversation.bot_outcome_final), bool(_value(old, "bot_outcome_final"))
    if outcome != before_outcome or (outcome and final != before_final):
        add("bot.outcome", outcome=outcome, final=final if outcome else False,
            reverted=before_outcome if not outcome else None, reason=conversation.bot_handoff_reason)
    return out


def message_events(records: list[dict]) -> list[tuple[dict, dict]]:
    """(record, message.created) for each message INSERT. Messages carry no workspace, so their
    conversations are read in one consistent BatchGetItem per 100 (off the hot path, which stays at
    3 requests; consistent, as a conversation may be milliseconds older than its first message)."""
    inserts = [(r, Message.from_raw_data(r["dynamodb"]["NewImage"])) for r in records
               if r.get("eventName") == "INSERT" and r.get("dynamodb", {}).get("NewImage")]
    if not inserts:
        return []
    ids = list({m.conversation_id for _, m in inserts})
    found = {}
    for start in range(0, len(ids), 100):
        for conversation in Conversation.batch_get(ids[start:start + 100], consistent_read=True):
            found[conversation.id] = conversation
    out = []
    for record, message in inserts:
        conversation = found.get(message.conversation_id)
        if conversation is None:  # erased since: nobody to tell
            log.info("message.created skipped: conversation gone", extra={"conversation_id": message.conversation_id})
            continue
        out.append((record, envelope(_event_id(record, "message.created"), "message.created", message.created_at,
                                     conversation.workspace_id,
                                     {"conversation": serialize(conversation), "message": serialize_message(message)})))
    return out


def derive(records: list[dict]) -> list[tuple[dict, dict]]:
    """(stream record, event) pairs in stream order, for records of either stream table."""
    pairs: list[tuple[dict, dict]] = []
    messages = [r for r in records if _table(r) == "messages"]
    by_record = {}
    for record, event in message_events(messages):
        by_record.setdefault(id(record), []).append(event)
    for record in records:
        if _table(record) == "messages":
            pairs += [(record, e) for e in by_record.get(id(record), [])]
        else:
            pairs += [(record, e) for e in conversation_events(record)]
    return pairs


# --- publishing -----------------------------------------------------------------------------

def from_stream(records: list[dict]) -> dict:
    """A stream consumer's whole job: derive the batch's events, publish them. Returns Lambda's
    partial batch response: the first record whose events could not be published (the stream is
    read again from there; events published twice keep their ids)."""
    if not settings.event_bus_name or not records:
        return {"batchItemFailures": []}
    pairs = derive(records)
    failed = {e["id"] for e in publish([e for _, e in pairs])}
    for record, event in pairs:
        if event["id"] in failed:
            return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    return {"batchItemFailures": []}
