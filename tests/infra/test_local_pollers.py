"""The local stack's pollers (infra/local/sqs.py) rest when there is nothing to do.

A queue left idle used to be received from every few hundred milliseconds, and moto's receive walks
the whole queue each time. Each test polls for an interval and counts what the poller did; the
bounds hold however slow the machine is (a slow machine only does fewer calls).
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import boto3

from infra.local import sqs as event_source


class CountingSqs:
    """A real (moto) SQS client that records the arguments of every receive."""

    def __init__(self, client):
        self._client = client
        self.receives: list[dict] = []

    def receive_message(self, **kwargs):
        self.receives.append(kwargs)
        return self._client.receive_message(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


async def _poll_for(seconds: float, step, **rests) -> None:
    """Run keep_polling on a pollers' executor until `seconds` have passed."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poller") as pollers:
        await event_source.keep_polling(step, pollers, stop, "the test's poller", **rests)


async def test_an_idle_queue_is_long_polled(aws):
    sqs = CountingSqs(boto3.client("sqs", region_name="us-east-1"))
    queue = sqs.create_queue(QueueName="idle")["QueueUrl"]
    handled = []
    interval = 4.5

    await _poll_for(interval, lambda: event_source.poll_once(
        sqs, queue, lambda event, context: handled.append(event), "consumer"), idle=0.1)

    assert sqs.receives and not handled
    waits = {r.get("WaitTimeSeconds", 0) for r in sqs.receives}
    assert min(waits) >= 1, waits  # long polling, as Lambda's event source mapping does
    # An empty long poll takes WaitTimeSeconds in moto, as in SQS: so many receives at most.
    assert len(sqs.receives) <= interval // min(waits) + 1, sqs.receives


async def test_an_idle_step_backs_off_up_to_max_idle():
    calls = []
    interval = 3.0

    await _poll_for(interval, lambda: calls.append(1) or 0, idle=0.1, max_idle=1.0)

    # Rests of 0.1, 0.2, 0.4, 0.8, then 1 s each: 6 fit in 3 s, so at most 7 steps (a fixed 0.1 s rest: 30).
    assert 1 <= len(calls) <= 7, len(calls)
