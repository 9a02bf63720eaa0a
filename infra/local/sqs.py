"""Lambda's SQS event source mapping, locally: receive a batch, call the consumer, delete what it did.

Mirrors an event source mapping with FunctionResponseTypes=["ReportBatchItemFailures"]: the consumer
gets the records in Lambda's shape; when it returns, every record is deleted except those its
response lists in batchItemFailures; when it raises, none is. What is left comes back after the
queue's visibility timeout, and goes to its dead-letter queue after maxReceiveCount receives.
"""
import asyncio
import logging

from .gateway import LambdaContext

log = logging.getLogger("parley.local")
REGION = "us-east-1"
ACCOUNT = "123456789012"


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
              wait_seconds: int = 0) -> int:
    """One receive (up to batch_size messages, as the mapping's BatchSize), one invocation, the deletes.
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


async def keep_polling(step, executor, stop: asyncio.Event, what: str, idle: float) -> None:
    """Run `step()` (returns how much it moved) on the executor until `stop`; rest `idle` seconds when
    it moved nothing. A failed step is logged and the loop goes on, as Lambda's pollers do."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            moved = await loop.run_in_executor(executor, step)
        except Exception:
            log.exception("%s failed", what)
            moved = 0
        if not moved:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle)
            except asyncio.TimeoutError:
                pass
