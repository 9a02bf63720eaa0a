"""Domain events: real writes on moto make real stream records; app.py's stream consumers publish
them to a moto EventBridge bus whose rule delivers them to the events queue."""
import json

import boto3
import pytest

from chalicelib import events
from chalicelib.aws import bus as bus_module
from chalicelib.aws import clients
from chalicelib.chat import conversations
from chalicelib.config import settings
from chalicelib.store.models import Conversation
from infra.local.events import STREAMS_CONFIG, StreamReader
from tests.integration.webhook_env import REGION


def published(env) -> list[dict]:
    """Run only the stream consumers, then read what the rule put on the events queue."""
    for reader in env.pipeline.readers:
        while reader.pump():
            pass
    messages = env.queued(settings.events_queue_url)
    for message in messages:
        assert message["source"] == "parley" and message["detail-type"] == message["detail"]["type"]
    return [m["detail"] for m in messages]


def test_a_conversation_lifecycle_becomes_domain_events(events_env):
    env = events_env
    agent = env.world.online_agent()
    visitor, cid = env.chat("Where is my parcel?")  # routed to the agent at once
    env.frame(agent, action="send", conversation_id=cid, text="Checking now")
    env.frame(agent, action="send", conversation_id=cid, text="VIP customer", internal=True)
    env.frame(agent, action="set_status", conversation_id=cid, status="solved")
    env.frame(visitor, action="rate", conversation_id=cid, rating=5, comment="Quick!")

    got = published(env)
    types = [e["type"] for e in got]
    for expected in ("conversation.created", "conversation.assigned", "conversation.status_changed",
                     "message.created", "csat.submitted"):
        assert expected in types, types
    assert types.index("conversation.created") < types.index("conversation.assigned")
    for event in got:
        assert set(event) == {"id", "type", "occurred_at", "workspace_id", "data"}
        assert event["id"].startswith("evt_") and event["workspace_id"] == "ws_a"
        assert event["occurred_at"].endswith("Z") and event["data"]["conversation"]["id"] == cid
    assert len({e["id"] for e in got}) == len(got)

    assigned = next(e for e in got if e["type"] == "conversation.assigned")
    assert (assigned["data"]["assignee_id"], assigned["data"]["previous_assignee_id"]) == (agent.id, None)
    changes = [(e["data"]["from"], e["data"]["to"]) for e in got if e["type"] == "conversation.status_changed"]
    assert ("queued", "open") in changes and ("open", "solved") in changes
    created = [e["data"]["message"] for e in got if e["type"] == "message.created"]
    assert [m["notice"] for m in created if "notice" in m] == ["joined", "solved"]  # what the visitor was told
    texts = {m["text"]: m for m in created if "notice" not in m}
    assert set(texts) == {"Where is my parcel?", "Checking now", "VIP customer"}
    assert texts["VIP customer"]["internal"] is True and texts["Checking now"]["internal"] is False
    assert texts["Where is my parcel?"]["author"]["kind"] == "visitor"
    csat = next(e for e in got if e["type"] == "csat.submitted")
    assert csat["data"]["csat"] == {"rating": 5, "comment": "Quick!"}
    # the conversation in the last event is what REST serves now
    assert csat["data"]["conversation"] == conversations.serialize(Conversation.get(cid))


def test_noise_and_deletions_publish_nothing(events_env):
    env = events_env
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    published(env)  # what the chat made
    env.frame(visitor, action="read", conversation_id=cid, seq=1)
    env.frame(agent, action="typing", conversation_id=cid, state="on")
    env.frame(agent, action="leave", conversation_id=cid)
    env.frame(agent, action="join", conversation_id=cid)
    Conversation(cid).update(actions=[Conversation.title.set("Renamed")])
    assert published(env) == []
    Conversation(cid).delete()  # as TTL expiry or an erasure does
    assert published(env) == []


def test_replayed_stream_records_keep_their_event_ids(events_env):
    env = events_env
    env.chat()
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=STREAMS_CONFIG)
    batches = []
    for arn in (settings.conversations_stream_arn, settings.messages_stream_arn):
        reader = StreamReader(streams, arn, lambda event, context: batches.append(event["Records"]), "read")
        reader.pump()
    records = [r for batch in batches for r in batch]
    first = [e["id"] for _, e in events.derive(records)]
    again = [e["id"] for _, e in events.derive(records)]
    assert first and first == again


def test_nothing_is_published_without_a_bus(events_env, monkeypatch):
    env = events_env
    monkeypatch.setattr(settings, "event_bus_name", "")
    env.chat()
    assert published(env) == []


class RefusingBus:
    """EventBridge as it answers under throttling: the first `refusals` calls refuse every other
    entry (all of them with `every=1`), with FailedEntryCount and per-entry ErrorCode; the rest, and
    later calls, go to the real (moto) bus."""

    def __init__(self, refusals: int, every: int = 2):
        self.real = boto3.client("events", region_name=REGION)
        self.refusals, self.every, self.calls = refusals, every, []

    def put_events(self, Entries):
        self.calls.append(len(Entries))
        if self.refusals <= 0:
            return self.real.put_events(Entries=Entries)
        self.refusals -= 1
        refused = [i % self.every == self.every - 1 for i in range(len(Entries))]
        kept = [e for e, no in zip(Entries, refused, strict=False) if not no]
        taken = iter(self.real.put_events(Entries=kept)["Entries"] if kept else [])
        out = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"} if no else next(taken) for no in refused]
        return {"FailedEntryCount": sum(refused), "Entries": out}


def test_refused_entries_are_published_again_and_batches_hold_ten(events_env, monkeypatch):
    env = events_env
    bus = RefusingBus(refusals=1)
    monkeypatch.setitem(clients._clients, "events", bus)
    made = [events.envelope(f"evt_{i:032x}", "message.created", "2026-11-22T16:04:05.000Z", "ws_a", {"n": i})
            for i in range(13)]
    assert events.publish(made) == []
    assert bus.calls == [10, 5, 3]  # 10, its 5 refused again, then the last 3
    got = [m["detail"]["data"]["n"] for m in env.queued(settings.events_queue_url)]
    assert sorted(got) == list(range(13))


def test_events_that_stay_refused_fail_the_batch_from_their_record(events_env, monkeypatch):
    env = events_env
    monkeypatch.setitem(clients._clients, "events", RefusingBus(refusals=100, every=1))
    monkeypatch.setattr(bus_module, "PUT_TRIES", 2)
    env.chat()
    records = []
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=STREAMS_CONFIG)
    StreamReader(streams, settings.messages_stream_arn, lambda event, c: records.extend(event["Records"]), "r").pump()
    StreamReader(streams, settings.conversations_stream_arn, lambda event, c: records.extend(event["Records"]),
                 "r").pump()
    result = events.from_stream(records)
    failures = result["batchItemFailures"]
    assert len(failures) == 1
    sequence = failures[0]["itemIdentifier"]
    assert sequence in {r["dynamodb"]["SequenceNumber"] for r in records}


def test_the_stream_handlers_answer_partial_batch_responses(events_env):
    env = events_env
    env.chat()
    seen = []
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=STREAMS_CONFIG)
    handler = env.app.app.handler_map["publish_message_events"]
    StreamReader(streams, settings.messages_stream_arn,
                 lambda event, context: seen.append(handler(event, context)), "publish_message_events").pump()
    assert seen == [{"batchItemFailures": []}]
    assert [e["detail"]["type"] for e in [json.loads(json.dumps(m)) for m in env.queued(settings.events_queue_url)]] \
        == ["message.created"]


@pytest.mark.parametrize("table", ["conversations", "messages"])
def test_stream_tables_are_created_with_new_and_old_images(events_env, table):
    described = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=settings.table(table))["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_a_cancelled_transaction_publishes_nothing(events_env):
    """A repeated client_msg_id cancels the message's transaction (its claim exists): one event."""
    env = events_env
    visitor, cid = env.chat()
    published(env)
    for _ in range(2):
        env.frame(visitor, action="send", conversation_id=cid, client_msg_id="once-1", text="Only once")
    got = [e for e in published(env) if e["type"] == "message.created"]
    assert [e["data"]["message"]["text"] for e in got] == ["Only once"]
