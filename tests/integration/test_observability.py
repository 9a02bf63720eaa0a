"""Observability through app.py's one middleware: JSON logs with the invocation's ids, EMF metrics of real
chats and flows, tracing that loads nothing when off; the SQS consumers' partial batch responses and
idempotent jobs, and the local stack's poller deleting only what the consumer did."""
import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from chalice.test import Client

import app as app_module
from chalicelib import bootstrap, observability
from chalicelib.aws import clients
from chalicelib.config import settings
from chalicelib.core.clock import now
from chalicelib.edges import consumers
from chalicelib.store.models import Conversation, IdempotencyRecord
from chalicelib.webhooks import delivery
from infra.local import sqs as event_source
from tests.fakes import WebhookReceiver
from tests.integration.flows_env import handoff_name

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"


class Context:
    """The ids of a Lambda context, as Lambda passes them to every handler."""

    def __init__(self, request_id: str = "req-1"):
        self.aws_request_id = request_id
        self.function_name = "parley-test-fn"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def ws_event(name: str, connection_id: str, body=None, **changes) -> dict:
    data = copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    data["requestContext"]["connectionId"] = connection_id
    if body is not None:
        data["body"] = body if isinstance(body, str) else json.dumps(body)
    data.update(changes)
    return data


def sqs_record(message_id: str, body) -> dict:
    (template,) = json.loads((EVENTS / "sqs_batch.json").read_text())["Records"]
    return {**template, "messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body)}


def json_lines(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return [f for f in found if isinstance(f, dict)]


def emf(out: str) -> dict[tuple, list[float]]:
    """Every EMF line printed, checked, summed up: {(name, unit, its own dimensions): all its values}."""
    metrics: dict[tuple, list[float]] = {}
    for line in json_lines(out):
        if "_aws" not in line:
            continue
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Parley" and isinstance(line["_aws"]["Timestamp"], int)
        (names,) = directive["Dimensions"]
        assert names[:2] == ["service", "stage"] and line["service"] == "parley" and line["stage"] == settings.stage
        own = tuple((name, line[name]) for name in names[2:])
        for definition in directive["Metrics"]:
            values = line[definition["Name"]]
            metrics.setdefault((definition["Name"], definition["Unit"], own), []).extend(
                values if isinstance(values, list) else [values])
    return metrics


def logs(out: str, message: str) -> list[dict]:
    return [line for line in json_lines(out) if line.get("message") == message]


@pytest.fixture
def app(world, monkeypatch, capsys):
    bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
    observability.clear_metrics()
    capsys.readouterr()
    return app_module


def connect(app, world, connection_id: str, token: str) -> None:
    result = app.ws_connect(ws_event("ws_connect", connection_id, queryStringParameters={"token": token}),
                            Context(f"req-connect-{connection_id}"))
    assert result["statusCode"] == 200
    world.api.connect(connection_id)


def frame(app, connection_id: str, request_id: str = "req-1", **body) -> None:
    """One websocket frame through app.py's handler (and so its middleware); its answer is in world.api."""
    app.ws_message(ws_event("ws_message", connection_id, {"ref": "r", **body}), Context(request_id))


# --- logs -----------------------------------------------------------------------------------

def test_logs_carry_the_connection_and_conversation_of_their_invocation_only(app, world, capsys):
    connect(app, world, "conn-v", world.visitor_session()["token"])
    frame(app, "conn-v", action="start", text="Where is my order?")
    cid = world.api.of("conn-v", "ack")[-1]["conversation"]["id"]
    capsys.readouterr()

    frame(app, "conn-v", "req-bad-send", action="send", conversation_id=cid, text="   ")
    with Client(app.app) as client:
        assert client.http.get(f"/v1/conversations/{cid}", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    logging.getLogger("chalicelib.edges.ws").warning("said outside any invocation")

    out = capsys.readouterr().out
    ws_error, rest_error = logs(out, "error answered")
    assert ws_error["code"] == "bad_request" and ws_error["level"] == "INFO" and ws_error["service"] == "parley"
    assert ws_error["connection_id"] == "conn-v" and ws_error["conversation_id"] == cid
    assert ws_error["action"] == "send" and ws_error["function_request_id"] == "req-bad-send"
    assert ws_error["request_id"] == "Ab1cEFGHiJKLmn=" and ws_error["cold_start"] is False
    assert rest_error["code"] == "unauthorized" and rest_error["conversation_id"] == cid
    assert "connection_id" not in rest_error  # nothing left over from the websocket invocation
    (outside,) = logs(out, "said outside any invocation")
    assert outside["level"] == "WARNING" and not {"connection_id", "conversation_id"} & set(outside)


def test_an_invocation_that_raises_still_flushes_its_metrics_and_leaves_no_keys(capsys):
    from chalice.app import LambdaFunctionEvent
    seen = {}

    def step(event):
        seen.update(observability.logger.thread_safe_get_current_keys())
        observability.metric("Probe")
        raise RuntimeError("the step failed")

    observability.clear_metrics()
    capsys.readouterr()
    event = LambdaFunctionEvent({"action": "handoff_timeout", "conversation_id": "c_123"}, Context("req-flow"))
    with pytest.raises(RuntimeError):
        observability.handle(event, step)
    assert seen["conversation_id"] == "c_123" and seen["action"] == "handoff_timeout"
    assert seen["function_request_id"] == "req-flow"
    assert emf(capsys.readouterr().out) == {("Probe", "Count", ()): [1.0]}
    assert observability.logger.thread_safe_get_current_keys() == {}


# --- metrics --------------------------------------------------------------------------------

def test_a_chat_from_the_queue_to_its_rating_emits_each_metric_once(app, world, capsys):
    connect(app, world, "conn-v", world.visitor_session(name="Vera")["token"])
    frame(app, "conn-v", action="start", text="Where is my order?")
    cid = world.api.of("conn-v", "ack")[-1]["conversation"]["id"]
    queued_at = Conversation.get(cid).queued_at
    assert queued_at, "nobody is online: the chat waits in the queue"

    agent = world.agent_connection(world.agent(name="Alex"))
    waited_at_least = observability.seconds_between(queued_at)
    frame(app, agent.connection_id, action="presence", status="online")  # routing assigns it now
    waited_at_most = observability.seconds_between(queued_at)
    assert Conversation.get(cid).assignee_id == agent.id
    frame(app, agent.connection_id, action="send", conversation_id=cid, text="It shipped yesterday.")
    frame(app, agent.connection_id, action="send", conversation_id=cid, text="Anything else?")
    frame(app, "conn-v", action="rate", conversation_id=cid, rating=4)
    frame(app, "conn-v", action="send", conversation_id="c_nope", text="hi")
    frame(app, "conn-v", action="send", conversation_id=cid, text="   ")
    with Client(app.app) as client:
        assert client.http.get("/v1/conversations").status_code == 401

    conversation = Conversation.get(cid)
    metrics = emf(capsys.readouterr().out)
    assert metrics.pop(("MessagesStored", "Count", (("author", "visitor"),))) == [1.0]
    assert metrics.pop(("MessagesStored", "Count", (("author", "agent"),))) == [1.0, 1.0]
    assert metrics.pop(("MessagesStored", "Count", (("author", "system"),))) == [1.0]  # "… joined the conversation"
    assert metrics.pop(("FirstResponseTime", "Seconds", ())) == [
        observability.seconds_between(conversation.created_at, conversation.first_response_at)]
    (waited,) = metrics.pop(("QueueWait", "Seconds", ()))
    assert waited_at_least - 0.002 <= waited <= waited_at_most + 0.002
    assert metrics.pop(("CSAT", "None", ())) == [4.0]
    assert metrics.pop(("CSATResponses", "Count", ())) == [1.0]
    assert metrics.pop(("Errors", "Count", (("code", "not_found"),))) == [1.0]
    assert metrics.pop(("Errors", "Count", (("code", "bad_request"),))) == [1.0]
    assert metrics.pop(("Errors", "Count", (("code", "unauthorized"),))) == [1.0]
    assert metrics == {}


def test_a_chat_nobody_takes_in_time_is_a_missed_chat(flows_env, capsys):
    env = flows_env
    env.site(queue_timeout=1, webhook_url=None)
    observability.clear_metrics()
    capsys.readouterr()
    visitor, cid = env.chat(text="Anyone there?")
    done = env.finished("handoff", handoff_name(cid))  # the real state machine; its task runs flow_task
    assert done["output"]["missed"] == {"missed": True}
    out = capsys.readouterr().out
    metrics = emf(out)
    assert metrics[("MissedChats", "Count", ())] == [1.0]
    assert metrics[("MessagesStored", "Count", (("author", "system"),))] == [1.0]  # "Sorry, nobody is available"


def test_rate_limited_frames_are_counted_by_their_code(app, world, capsys):
    from chalicelib.store.models import Site
    site = Site.get("site-a")
    site.settings.rate_limit_count = 2
    site.update(actions=[Site.settings.set(site.settings)])
    connect(app, world, "conn-v", world.visitor_session()["token"])
    frame(app, "conn-v", action="start", text="one")
    cid = world.api.of("conn-v", "ack")[-1]["conversation"]["id"]
    for text in ("two", "three", "four"):
        frame(app, "conn-v", action="send", conversation_id=cid, text=text)
    assert [f["code"] for f in world.api.of("conn-v", "error")] == ["rate_limited", "rate_limited"]
    metrics = emf(capsys.readouterr().out)
    assert metrics[("Errors", "Count", (("code", "rate_limited"),))] == [1.0, 1.0]
    assert metrics[("MessagesStored", "Count", (("author", "visitor"),))] == [1.0, 1.0]


def test_metrics_outside_an_invocation_wait_for_a_flush_but_never_pile_up(capsys):
    observability.clear_metrics()
    capsys.readouterr()
    for _ in range(250):
        observability.metric("Probe")
    printed = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    assert [len(line["Probe"]) for line in printed] == [100, 100]  # powertools prints a set at 100 values
    observability.flush_metrics()
    observability.flush_metrics()  # nothing left: prints nothing, warns nothing
    assert emf(capsys.readouterr().out) == {("Probe", "Count", ()): [1.0] * 50}
    observability.metric("Probe", "many")  # a bug in a caller: logged, never raised into the request
    assert logs(capsys.readouterr().out, "metric dropped")


# --- tracing --------------------------------------------------------------------------------

PROBE = """
import json, sys
import app
from chalice.test import Client
with Client(app.app) as client:
    status = client.http.get("/v1/health").status_code
heavy = ("aws_xray_sdk", "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.idempotency")
print(json.dumps({"status": status, "loaded": [m for m in heavy if m in sys.modules]}))
"""


@pytest.mark.parametrize("tracing, loaded", [("false", []), ("true", ["aws_xray_sdk"])])
def test_tracing_off_never_loads_the_xray_sdk(tracing, loaded):
    """A fresh process: `import app` and one REST invocation through the middleware. Off, neither the
    X-Ray SDK nor the SQS consumers' utilities are loaded; on, the SDK is, and the request still works
    (outside Lambda powertools' Tracer records nothing)."""
    env = {**os.environ, "PARLEY_TRACING": tracing}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": 200, "loaded": loaded}


# --- SQS consumers --------------------------------------------------------------------------

def test_a_batch_reports_only_its_failed_records_and_runs_each_job_once(aws):
    runs = []

    def job(body: dict) -> str:
        runs.append(body["n"])
        if body.get("fail"):
            raise RuntimeError("the job failed")
        return f"done {body['n']}"

    event = {"Records": [sqs_record("m-1", {"n": 1}), sqs_record("m-2", {"n": 2, "fail": True}),
                         sqs_record("m-3", "not json: dropped, never retried"), sqs_record("m-4", {"n": 4})]}
    assert consumers.consume(event, job, name="test") == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert runs == [1, 2, 4]
    # The whole batch again (its Lambda timed out, say): only the failed job runs again.
    assert consumers.consume(event, job, name="test") == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert runs == [1, 2, 4, 2]
    records = list(IdempotencyRecord.scan())
    assert sorted(r.status for r in records) == ["COMPLETED", "COMPLETED"]
    assert all(r.id.startswith("parley-test#") for r in records)
    assert all(now() + 13 * 86400 < r.expiration <= now() + 14 * 86400 + 1 for r in records)  # DynamoDB TTL
    with pytest.raises(BatchProcessingError):  # every record failed: the batch fails as a whole
        consumers.consume({"Records": [sqs_record("m-2", {"n": 2, "fail": True})]}, job, name="test")


def test_the_same_message_id_on_two_queues_is_two_jobs(aws):
    runs = []
    event = {"Records": [sqs_record("m-1", {"id": "job_1"})]}
    for name in ("email", "webhook", "email", "webhook"):
        consumers.consume(event, lambda body, name=name: runs.append(name), name=name)
    assert runs == ["email", "webhook"]


def test_a_failed_queue_message_is_logged_with_its_conversation(aws, capsys):
    def job(body: dict):
        raise RuntimeError("SES said no")

    capsys.readouterr()
    event = {"Records": [sqs_record("m-1", {"id": "job_1", "conversation_id": "c_42"}), sqs_record("m-2", {"n": 2})]}
    with pytest.raises(BatchProcessingError):
        consumers.consume(event, job, name="test")
    failed = logs(capsys.readouterr().out, "queue message failed; SQS will deliver it again")
    assert [(f.get("conversation_id"), f["message_key"]) for f in failed] == [("c_42", "job_1"), (None, "m-2")]
    assert "SES said no" in failed[0]["exception"]


def test_a_redelivered_webhook_is_posted_once(aws):
    server = WebhookReceiver()
    try:
        event = {"Records": [sqs_record("w-1", {"url": server.url, "payload": {"text": "Missed chat"}})]}
        assert app_module.deliver_webhook(event, Context()) == {"batchItemFailures": []}
        assert app_module.deliver_webhook(event, Context()) == {"batchItemFailures": []}
        assert server.delivered() == [{"text": "Missed chat"}]
    finally:
        server.close()


def test_the_local_poller_deletes_only_what_the_consumer_did(aws, monkeypatch):
    server = WebhookReceiver(statuses=[200, 500])  # the second post fails; every later one succeeds
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="parley-test-webhooks", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    monkeypatch.setattr(settings, "webhook_queue_url", url)
    monkeypatch.setattr(clients, "_clients", {})
    handler = app_module.app.handler_map["deliver_webhook"]
    try:
        for text in ("one", "two", "three"):
            assert delivery.enqueue(server.url, {"text": text})
        assert event_source.poll_once(sqs, url, handler, "deliver_webhook") == 3
        assert len(server.delivered()) == 2
        (left,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert json.loads(left["Body"])["payload"] not in server.delivered()
        assert event_source.poll_once(sqs, url, handler, "deliver_webhook") == 1  # delivered again: posted
        assert sorted(p["text"] for p in server.delivered()) == ["one", "three", "two"]
        assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []

        server.statuses = [500]
        delivery.enqueue(server.url, {"text": "four"})
        assert event_source.poll_once(sqs, url, handler, "deliver_webhook") == 1  # the whole batch failed
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1  # kept
    finally:
        server.close()


def test_a_partial_batch_response_names_what_to_keep():
    both = {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    assert event_source.failures(both) == {"a", "b"}
    assert event_source.failures({"batchItemFailures": []}) == set()
    assert event_source.failures(None) == set()  # a consumer that returns nothing did everything
