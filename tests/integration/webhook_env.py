"""The events pipeline on moto for integration tests (the `events_env` fixture of tests/integration/
conftest.py): tables with streams, a bus with its rule to the events queue, the webhook queue and its
dead-letter queue, app.py's handlers, and receivers (tests.fakes.WebhookReceiver)."""
import json
import re
import time
from pathlib import Path

import boto3

from chalicelib import events
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.edges import ws
from chalicelib.store.models import Agent
from chalicelib.webhooks import endpoints
from infra.local.events import Pipeline
from tests.fakes import WebhookReceiver

REGION = "us-east-1"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


class EventsEnv:
    def __init__(self, world, app_module, receivers):
        self.world, self.app = world, app_module
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.pipeline = Pipeline(app_module.app, settings)
        self._receivers = receivers

    def receiver(self, statuses=(), default=200) -> WebhookReceiver:
        receiver = WebhookReceiver(statuses, default)
        self._receivers.append(receiver)
        return receiver

    def admin(self, workspace_id: str = "ws_a") -> Caller:
        agent_id = self.world.agent(workspace_id)
        Agent(agent_id).update(actions=[Agent.role.set("admin")])
        return self.world.agent_connection(agent_id)

    def endpoint(self, url: str, types=events.EVENT_TYPES, admin: Caller | None = None) -> dict:
        return endpoints.create_endpoint(admin or self.admin(), {"url": url, "events": list(types)})

    def chat(self, text: str = "Hello", session=None):
        visitor = self.world.visitor_connection(session)
        ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": text}),
                        self.world.sender)
        ack = self.world.api.of(visitor.connection_id, "ack")[-1]
        assert "conversation" in ack, ack
        return visitor, ack["conversation"]["id"]

    def frame(self, caller: Caller, **frame) -> dict:
        ws.handle_frame(caller.connection_id, json.dumps({"ref": "r", **frame}), self.world.sender)
        return self.world.api.of(caller.connection_id)[-1]

    def queued(self, queue_url: str) -> list[dict]:
        """Receive everything visible on a queue (and delete it)."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def until(self, check, timeout: float = 15.0, what: str = "condition"):
        """Drain the pipeline until `check()` is truthy (delayed retries become visible in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pipeline.drain()
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{what} not met within {timeout} s")


def documented(language: str, marker: str) -> str:
    """The code block of docs/protocol.md in `language` that contains `marker`, as printed."""
    for block in re.findall(r"```" + language + r"\n(.*?)```", DOCS.read_text(), flags=re.S):
        if marker in block:
            return block
    raise AssertionError(f"docs/protocol.md has no {language} block with {marker}")
