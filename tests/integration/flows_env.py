"""The flows on moto for integration tests (the `flows_env` fixture of tests/integration/conftest.py): the
state machines of infra/statemachines/ run by moto's ASL interpreter, their Lambda tasks dispatched to
app.py's handlers, the webhook and email queues."""
import json
import time

import boto3

from chalicelib.aws import stepfunctions
from chalicelib.config import settings
from chalicelib.edges import ws
from chalicelib.store.models import Conversation, Site
from tests.fakes import WebhookReceiver

REGION = "us-east-1"


class Flows:
    """The world of tests/integration/conftest.py, with state machines, queues and a webhook endpoint."""

    def __init__(self, world, app_module, arns: dict, webhook: WebhookReceiver):
        self.world, self.app, self.webhook = world, app_module, webhook
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.arns = {"handoff": arns["PARLEY_HANDOFF_ARN"], "inactivity": arns["PARLEY_INACTIVITY_ARN"],
                     "csat": arns["PARLEY_CSAT_ARN"]}

    def site(self, site_key="site-a", **changes):
        site = Site.get(site_key)
        for name, value in changes.items():
            setattr(site.settings, name, value)
        site.update(actions=[Site.settings.set(site.settings)])

    def executions(self, flow: str) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.arns[flow])["executions"]

    def finished(self, flow: str, name: str, timeout: float = 10.0) -> dict:
        """The execution once it stopped running (bounded wait)."""
        arn = self.arns[flow].replace(":stateMachine:", ":execution:") + f":{name}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                described = self.sfn.describe_execution(executionArn=arn)
            except self.sfn.exceptions.ExecutionDoesNotExist:
                described = {"status": "RUNNING"}
            if described["status"] != "RUNNING":
                return {**described, "output": json.loads(described.get("output") or "null")}
            time.sleep(0.05)
        raise AssertionError(f"{name} still running after {timeout} s")

    def until(self, check, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    def pump_webhooks(self) -> int:
        """The SQS consumer's part: feed each queued message to app.py's handler; delete it only on
        success (a failure leaves it for SQS to deliver again). Returns how many were delivered."""
        delivered = 0
        got = self.sqs.receive_message(QueueUrl=settings.webhook_queue_url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0)
        for message in got.get("Messages", []):
            event = {"Records": [{"body": message["Body"], "receiptHandle": message["ReceiptHandle"],
                                  "messageId": message["MessageId"], "attributes": {}, "messageAttributes": {},
                                  "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks"}]}
            try:
                result = self.app.app.handler_map["deliver_webhook"](event, None)
            except Exception:
                continue
            if result and result.get("batchItemFailures"):  # a partial batch response: left for SQS
                continue
            self.sqs.delete_message(QueueUrl=settings.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"])
            delivered += 1
        return delivered

    def chat(self, session=None, text="Hello"):
        visitor = self.world.visitor_connection(session)
        ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": text}),
                        self.world.sender)
        ack = self.world.api.of(visitor.connection_id, "ack")[-1]
        assert "conversation" in ack, ack
        return visitor, ack["conversation"]["id"]

    def frame(self, caller, **frame):
        ws.handle_frame(caller.connection_id, json.dumps({"ref": "r", **frame}), self.world.sender)
        return self.world.api.of(caller.connection_id)[-1]


def handoff_name(conversation_id: str) -> str:
    conversation = Conversation.get(conversation_id)
    return f"handoff-{conversation_id}-{stepfunctions._stamp_ms(conversation.queued_at)}"
