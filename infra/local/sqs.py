"""Lambda's SQS event source mapping, locally: receive a batch, call the consumer, delete what it did.

Mirrors an event source mapping with FunctionResponseTypes=["ReportBatchItemFailures"]: the consumer
gets the records in Lambda's shape; when it returns, every record is deleted except those its
response lists in batchItemFailures; when it raises, none is. What is left comes back after the
queue's visibility timeout, and goes to its dead-letter queue after maxReceiveCount receives.

Like the mapping, the pollers long-poll: an idle queue costs one receive every WAIT_SECONDS, not a
busy loop (moto's receive walks the whole queue, in-flight messages included, at every call).
"""
import asyncio
import logging

from .gateway import LambdaContext

log = logging.getLogger("parley.local")
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Lambda long-polls for 20 s; shorter here because a stopping stack waits for the receive in flight.
WAIT_SECONDS = 2
FAILED_STEP_REST = 1.0  # after a failed step (moto unreachable), so a failure does not spin


def event(messages: list[dict], queue_url: str) -> dict:
    """The Lambda event for messages as ReceiveMessage returned them."""
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "awsRegion": REGION} for m in messages]}


def failures(response) -> set[str]:
    """The messageIds a partial batch response reports as failed."""
    items = response.get("batchItemFailures") if isinstance(response, dict) else None
    return {item.get("itemIdentifier") for item in items or [] if isinstance(item, dict)}


def poll_once(sqs, queue_url: str, handler, function_name: str, *, batch_size: int = 10,
              wait_seconds: int = WAIT_SECONDS) -> int:
    """One receive (up to batch_size messages, as the mapping's BatchSize; long polling unless
    wait_seconds=0, as tests draining a queue ask), one invocation, the deletes.
    Returns how many messages were received."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=wait_seconds,
                                   AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
    if not messages:
        return 0
    try:
        response = handler(event(messages, queue_url), LambdaContext(function_name))
    except Exception:
        log.warning("%s failed its whole batch; SQS will deliver it again", function_name, exc_info=True)
        return len(messages)
    failed = failures(response)
    done = [m for m in messages if m["MessageId"] not in failed]
    if failed:
        log.warning("%s reported %d of %d messages failed; SQS will deliver them again",
                    function_name, len(failed), len(messages))
    if done:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    return len(messages)


async def keep_polling(step, executor, stop: asyncio.Event, what: str, idle: float,
                       max_idle: float | None = None, pace: float = 0.0) -> None:
    """Run `step()` (returns how much it moved) on the executor until `stop`, again while it moves
    something (a backlog drains; at most one step every `pace` seconds, so a busy source is read in
    batches rather than record by record), resting when it moved nothing: `idle` seconds, doubling up
    to `max_idle` while nothing comes. A failed step is logged and the loop goes on, as Lambda's
    pollers do."""
    loop = asyncio.get_running_loop()
    rest = idle
    while not stop.is_set():
        began = loop.time()
        try:
            moved = await loop.run_in_executor(executor, step)
        except Exception:
            log.exception("%s failed", what)
            moved, rest = 0, max(rest, FAILED_STEP_REST)
        if moved:
            rest = idle
            if pace and not stop.is_set():
                await asyncio.sleep(max(0.0, began + pace - loop.time()))
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=rest)
        except TimeoutError:
            pass
        rest = min(rest * 2, max_idle or idle)
