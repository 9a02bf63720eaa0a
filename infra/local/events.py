"""Domain events and webhooks without AWS: what Lambda's event source mappings and EventBridge do.

On AWS, Lambda reads the conversations and messages tables' streams and calls the app's
`publish_*_events`; EventBridge routes what they publish to the events queue; Lambda polls that queue
(`dispatch_webhooks`) and the webhook queue (`deliver_webhook`). Here moto holds the tables, bus,
rule and queues, and these readers and pumps call the same handlers with Lambda-shaped events. The
local stack runs each in a loop of its own (the queues long-polled, the streams read with a backoff
when idle); tests call `Pipeline.drain()` to run everything that is ready, once, deterministically.
"""
import json
import logging
import os
from datetime import datetime

from botocore.config import Config

from . import sqs as event_source
from .gateway import LambdaContext

log = logging.getLogger("parley.local")

REGION = "us-east-1"
BUS = "parley-local"
RULE = "parley-webhooks"
STREAM_HANDLERS = {"conversations": "publish_conversation_events", "messages": "publish_message_events"}
# botocore's default for DynamoDB Streams is an account-based endpoint ({account}.streams-ddb…) that
# moto does not answer; the regional endpoint is the same service.
STREAMS_CONFIG = Config(account_id_endpoint_mode="disabled")
# Lambda reads a stream about 4 times a second; here at most that often while records come (a busy
# stream is read in batches: bench/load.py measured record-by-record reads at a fifth of the stack's
# CPU), and from 0.1 s after a quiet read, backing off to 1 s.
STREAM_IDLE, STREAM_MAX_IDLE, STREAM_PACE = 0.1, 1.0, 0.25


def create_bus(events, sqs, prefix: str = "parley-local-") -> dict[str, str]:
    """The bus, the events queue (with its dead-letter queue) and the rule between them, as the
    infrastructure template makes them. Returns the environment variables that name them."""
    dlq = sqs.create_queue(QueueName=f"{prefix}events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"{prefix}events", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = f"{prefix.rstrip('-')}"
    events.create_event_bus(Name=bus)
    events.put_rule(Name=RULE, EventBusName=bus, EventPattern=json.dumps({"source": ["parley"]}))
    events.put_targets(Rule=RULE, EventBusName=bus, Targets=[{"Id": "events-queue", "Arn": queue_arn}])
    return {"PARLEY_EVENT_BUS": bus, "PARLEY_EVENTS_QUEUE_URL": queue}


def stream_arns(dynamodb, table_prefix: str) -> dict[str, str]:
    """The stream ARN of each stream table, as environment variables."""
    from chalicelib.store.models import STREAM_TABLES
    arns = {name: dynamodb.describe_table(TableName=f"{table_prefix}{name}")["Table"]["LatestStreamArn"]
            for name in STREAM_TABLES}
    return {"PARLEY_CONVERSATIONS_STREAM_ARN": arns["conversations"], "PARLEY_MESSAGES_STREAM_ARN": arns["messages"]}


def _epoch(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


class StreamReader:
    """Lambda's DynamoDB stream poller for one table: reads from where it stopped (from the start
    of the stream the first time), hands batches to the app's handler, and on a partial batch
    failure reads again from the failed record."""

    def __init__(self, client, stream_arn: str, handler, name: str):
        self.client, self.arn, self.handler, self.name = client, stream_arn, handler, name
        shard = client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][-1]
        self.shard_id = shard["ShardId"]
        self.iterator = client.get_shard_iterator(StreamArn=stream_arn, ShardId=self.shard_id,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def pump(self, limit: int = 100) -> int:
        """One batch: returns how many records the handler took (0 when there was nothing new)."""
        got = self.client.get_records(ShardIterator=self.iterator, Limit=limit)
        records = got.get("Records", [])
        if not records:
            self.iterator = got.get("NextShardIterator") or self.iterator
            return 0
        event = {"Records": [{**r, "eventSourceARN": self.arn, "dynamodb": {
            **r["dynamodb"], "ApproximateCreationDateTime": _epoch(r["dynamodb"]["ApproximateCreationDateTime"])}}
            for r in records]}
        try:
            result = self.handler(event, LambdaContext(self.name)) or {}
        except Exception:
            log.exception("%s failed; the batch is read again", self.name)
            result = {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
        failures = result.get("batchItemFailures") or []
        if failures:
            self.iterator = self.client.get_shard_iterator(
                StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=failures[0]["itemIdentifier"])["ShardIterator"]
            return 0
        self.iterator = got["NextShardIterator"]
        return len(records)


def pump_queue(sqs, queue_url: str, handler, name: str, wait: int = 0) -> int:
    """Lambda's SQS poller, once (infra/local/sqs.py). Returns how many messages it received."""
    return event_source.poll_once(sqs, queue_url, handler, name, wait_seconds=wait)


class Pipeline:
    """Streams → EventBridge → events queue → dispatch → webhook queue → delivery, on moto, with the
    app's own handlers. `drain()` runs every step until none has anything ready."""

    def __init__(self, chalice_app, settings):
        import boto3
        self.app, self.settings = chalice_app, settings
        self.sqs = boto3.client("sqs", region_name=REGION)
        streams = boto3.client("dynamodbstreams", region_name=REGION, config=STREAMS_CONFIG)
        self.readers = [StreamReader(streams, arn, chalice_app.handler_map[STREAM_HANDLERS[table]],
                                     STREAM_HANDLERS[table])
                        for table, arn in (("conversations", settings.conversations_stream_arn),
                                           ("messages", settings.messages_stream_arn)) if arn]

    def read_streams(self) -> int:
        """One batch from each table's stream; how many records moved."""
        return sum(reader.pump() for reader in self.readers)

    def dispatch(self, wait: int = 0) -> int:
        """One batch of domain events from the events queue to dispatch_webhooks."""
        if not self.settings.events_queue_url:
            return 0
        return pump_queue(self.sqs, self.settings.events_queue_url, self.app.handler_map["dispatch_webhooks"],
                          "dispatch_webhooks", wait)

    def deliver(self, wait: int = 0) -> int:
        """One batch of delivery jobs from the webhook queue to deliver_webhook."""
        if not self.settings.webhook_queue_url:
            return 0
        return pump_queue(self.sqs, self.settings.webhook_queue_url, self.app.handler_map["deliver_webhook"],
                          "deliver_webhook", wait)

    def step(self, wait: int = 0) -> int:
        """Each stage once; how much moved."""
        return self.read_streams() + self.dispatch(wait) + self.deliver(wait)

    def drain(self, rounds: int = 50) -> int:
        """Steps until one moves nothing (delayed messages are not ready: they wait for a later drain)."""
        total = 0
        for _ in range(rounds):
            moved = self.step()
            if not moved:
                return total
            total += moved
        raise AssertionError(f"the event pipeline still had work after {rounds} rounds")


def configure(moto_url: str) -> None:
    """Local stack: the bus, queue and rule, and the settings that switch events and webhooks on,
    with retries at local speed (3 tries, 1 s then 4 s apart)."""
    import boto3
    env = create_bus(boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION))
    os.environ.update(env)
    for key, value in (("PARLEY_WEBHOOK_MAX_ATTEMPTS", "3"), ("PARLEY_WEBHOOK_RETRY_BASE", "1"),
                       ("PARLEY_WEBHOOK_ALLOW_LOOPBACK", "true")):
        os.environ.setdefault(key, value)


def configure_streams() -> None:
    """Local stack, once the tables exist: their stream ARNs, in the environment and in the settings
    chalicelib already read (creating the tables imported it)."""
    import boto3

    from chalicelib.config import settings
    arns = stream_arns(boto3.client("dynamodb", region_name=REGION), settings.table_prefix)
    os.environ.update(arns)
    settings.conversations_stream_arn = arns["PARLEY_CONVERSATIONS_STREAM_ARN"]
    settings.messages_stream_arn = arns["PARLEY_MESSAGES_STREAM_ARN"]


async def run(chalice_app, executor, stop) -> None:
    """The local stack's pollers, one loop per source as Lambda has one poller per event source
    mapping: the streams (backing off when idle) and the two queues (long-polled). `executor` is the
    pollers' own, with a thread for each loop."""
    import asyncio

    from chalicelib.config import settings
    loop = asyncio.get_running_loop()
    try:
        pipeline = await loop.run_in_executor(executor, Pipeline, chalice_app, settings)
    except Exception:
        log.exception("the event pipeline cannot start: no domain events or webhooks")
        return
    wait = event_source.WAIT_SECONDS
    await asyncio.gather(
        event_source.keep_polling(pipeline.read_streams, executor, stop, "reading the tables' streams",
                                  idle=STREAM_IDLE, max_idle=STREAM_MAX_IDLE, pace=STREAM_PACE),
        event_source.keep_polling(lambda: pipeline.dispatch(wait), executor, stop, "polling the events queue",
                                  idle=0.1),
        event_source.keep_polling(lambda: pipeline.deliver(wait), executor, stop, "polling the webhook queue",
                                  idle=0.1))
