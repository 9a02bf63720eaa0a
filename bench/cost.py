"""What a month of Parley costs on AWS at 1,000 and at 100,000 conversations: measured requests x list prices.

Run from the repository root:  .venv/bin/python bench/cost.py   (about a minute on 2 cores)

How the figures are made
------------------------
1. Measured, not guessed: a typical conversation runs for real, in-process on moto with the real table
   schemas and the real state machines on moto's ASL interpreter (their Lambda task dispatched to
   app.py's `flow_task`), through the functions app.py's handlers call: page views of the widget
   (`GET /v1/sites/{key}/settings`), a visitor session, `$connect`, `start` with a first message,
   routing to an online agent, MESSAGES_EACH_WAY messages each way with a typing frame before each and
   a read receipt after, the agent solving it, the visitor rating it, `$disconnect`, and every flow
   execution run to its end (with waits of a second). Every AWS request any client makes is counted
   (a botocore hook on `BaseClient._make_api_call`), by service and operation; DynamoDB requests are
   turned into read and write request units from the sizes of the items involved (DynamoDB's rules:
   writes per started KB, twice for transactions, plus each global secondary index holding the item;
   reads per started 4 KB, half for eventually consistent reads); Step Functions state transitions are
   read from each execution's history; websocket frames in and out are counted at the gateway's two
   doors (the frames handled and the `post_to_connection` calls).
2. Assumed, and printed with the result: how long a visitor stays connected, how many page views with
   the widget loaded come per conversation, how many agents a volume needs and how long their console is
   open, the average Lambda duration and memory, log bytes per invocation, and the number of custom
   metrics. Change them at the top of this file; `ASSUMPTIONS` in the JSON records what was used.
3. Prices: AWS list prices for us-east-1 (on-demand DynamoDB after its November 2024 price cut), without
   free tiers, so the figures are an upper bound for a small account. `PRICES` in the JSON records them.

Results go to bench/results/cost.json and bench/results/cost.md (the table docs/deploy.md shows).
"""
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "PARLEY_TABLE_PREFIX": "parley-cost-", "PARLEY_TOKEN_SECRET": "cost-secret-do-not-use-anywhere-else-0123456789",
    "PARLEY_WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/api",
    "PARLEY_SITE_CACHE_SECONDS": "0", "POWERTOOLS_METRICS_DISABLED": "true",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
import botocore.client

RESULTS_JSON = ROOT / "bench" / "results" / "cost.json"
RESULTS_MD = ROOT / "bench" / "results" / "cost.md"
CONVERSATIONS_MEASURED = 4
MESSAGES_EACH_WAY = 6

VOLUMES = (1_000, 100_000)
ASSUMPTIONS = {
    "page_views_per_conversation": 20,    # page loads with the widget per conversation started
    "visitor_minutes_per_conversation": 12,
    "agents": {1_000: 2, 100_000: 40},    # people answering chats
    "agent_console_hours_per_month": 8 * 22,
    "lambda_memory_gb": 0.5,              # .chalice/config.json lambda_memory_size
    "lambda_ms_per_invocation": 60,       # average billed duration on AWS (not moto's)
    "log_bytes_per_invocation": 700,      # one structured line per invocation, more on errors
    "custom_metrics": 20,                 # EMF metric x dimension combinations (docs/observability.md)
    "stored_kb_per_conversation": 12,     # conversation + messages + visitor, for storage and backups
    "presence_sweeps_per_month": 60 * 24 * 30,  # the one-minute schedule in app.py
    # The measured chat has its visitor online to the end, so it emails nothing; in real traffic some
    # visitors leave (a digest of replies), ask for a transcript or rate by email. Each email is one SQS
    # send, receive and delete, and one SES send.
    "emails_per_conversation": 0.3,
    # Every conversation starts with the bot (issue 15); this share it solves itself (the visitor says an
    # article answered), the rest it hands to a person, who then chats as above. Self-service takes 20-40 %
    # of requests in the products people compare us with.
    "bot_resolved_share": 0.3,
}
# us-east-1 list prices in USD, no free tier.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    "ws_message": 1.00 / 1e6,             # per message of up to 32 KB, in or out
    "ws_connection_minute": 0.25 / 1e6,
    "rest_request": 3.50 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "dynamodb_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    "sfn_transition": 0.025 / 1000,
    "sqs_request": 0.40 / 1e6,
    "ses_email": 0.10 / 1000,
    "eventbridge_event": 1.00 / 1e6,
    "logs_gb_ingested": 0.50,
    "custom_metric_month": 0.30,
    "cloudfront_gb": 0.085,
    "cloudfront_request": 0.0100 / 10_000,
}
WIDGET_KB_GZIPPED = 10


# --- counting every AWS request ---------------------------------------------------------------

class Meter:
    """Every AWS request made in this process, by (service, operation), and DynamoDB request units."""

    def __init__(self):
        self.lock = threading.Lock()
        self.on = False
        self.calls = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self.item_sizes: dict[tuple, int] = {}  # (table, key) -> bytes, the newest size seen
        self.gsis: dict[str, list[tuple]] = {}
        self.events = 0  # EventBridge entries published

    def record(self, service: str, operation: str, params: dict, result: dict) -> None:
        if not self.on:
            return
        with self.lock:
            self.calls[(service, operation)] += 1
            if (service, operation) == ("events", "PutEvents"):
                self.events += len(params.get("Entries", []))
            if service == "dynamodb":
                w, r = self.units(operation, params, result)
                self.wru += w
                self.rru += r

    # DynamoDB's request units, from item sizes ------------------------------------------------
    def _gsi_count(self, table: str, item: dict) -> int:
        """Indexes holding this item: those whose key attributes it has (every index here projects ALL or
        keys; keys-only and include projections are charged at their smaller size, counted as 1 KB)."""
        return sum(1 for keys in self.gsis.get(table, []) if all(k in item for k in keys))

    def _write(self, table: str, key: tuple, item: dict | None, factor: int) -> float:
        size = _size(item) if item else self.item_sizes.get((table, key), 1024)
        units = factor * math.ceil(max(size, 1) / 1024)
        if item:
            units += self._gsi_count(table, item) * math.ceil(max(size, 1) / 1024)
        return units

    def units(self, operation: str, params: dict, result: dict) -> tuple[float, float]:
        if operation == "GetItem":
            item = result.get("Item") or {}
            return 0, math.ceil(max(_size(item), 1) / 4096) * (1 if params.get("ConsistentRead") else 0.5)
        if operation in ("Query", "Scan"):
            size = sum(_size(i) for i in result.get("Items", []))
            return 0, math.ceil(max(size, 1) / 4096) * (1 if params.get("ConsistentRead") else 0.5)
        if operation == "BatchGetItem":
            items = [i for rows in result.get("Responses", {}).values() for i in rows]
            return 0, sum(math.ceil(max(_size(i), 1) / 4096) * 0.5 for i in items)
        if operation == "PutItem":
            return self._write(params["TableName"], _key(params["Item"]), params["Item"], 1), 0
        if operation in ("UpdateItem", "DeleteItem"):
            table = params["TableName"]
            return self._write(table, _key(params["Key"]), _current(table, params["Key"]), 1), 0
        if operation == "TransactWriteItems":
            total = 0.0
            for entry in params["TransactItems"]:
                (kind, body), = entry.items()
                table = body["TableName"]
                if kind == "Put":
                    total += self._write(table, _key(body["Item"]), body["Item"], 2)
                elif kind in ("Update", "Delete"):
                    total += self._write(table, _key(body["Key"]), _current(table, body["Key"]), 2)
                else:  # ConditionCheck: a read
                    total += 2
            return total, 0
        if operation == "TransactGetItems":
            return 0, 2 * len(params["TransactItems"])
        if operation == "BatchWriteItem":
            total = 0.0
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        total += self._write(table, _key(item), item, 1)
                    else:
                        total += 1
            return total, 0
        return 0, 0


def _size(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (close enough for numbers, sets and maps)."""
    return len(json.dumps(item, separators=(",", ":"), default=str))


def _key(key: dict) -> tuple:
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in key.items()))[:2]


_raw_ddb = None


def _current(table: str, key: dict) -> dict | None:
    """The item as it is after the write (a read the meter does not count): its size prices the write."""
    item = _raw_ddb.get_item(TableName=table, Key=key).get("Item")
    return item


METER = Meter()
UNMETERED: set[int] = set()  # the bench's own clients (and moto's interpreter calling Lambda)
_original_call = botocore.client.BaseClient._make_api_call


def _metered_call(self, operation_name, api_params):
    result = _original_call(self, operation_name, api_params)
    if METER.on and id(self) not in UNMETERED:
        service = self.meta.service_model.service_name
        if service == "lambda":  # moto's interpreter invoking the flow task: counted as invocations
            return result
        METER.record(service, operation_name, api_params, result)
    return result


# --- the scenario ---------------------------------------------------------------------------------

def run() -> dict:
    global _raw_ddb
    from moto import mock_aws

    from infra.local.fidelity import install
    from infra.local.flows import MOTO_CONFIG, create_state_machines, install_lambda_dispatch

    install()
    botocore.client.BaseClient._make_api_call = _metered_call
    with mock_aws(config=MOTO_CONFIG):
        import app as app_module
        from chalicelib import bootstrap
        from chalicelib.aws import clients
        from chalicelib.chat import lifecycle, routing, sites
        from chalicelib.config import settings
        from chalicelib.core.clock import iso
        from chalicelib.edges import ws
        from chalicelib.identity import sessions
        from chalicelib.store import tables
        from chalicelib.store.models import Agent, Connection, Site, SiteSettings, Workspace
        from tests.fakes import ManagementApi

        tables.create_tables()
        _raw_ddb = boto3.client("dynamodb", region_name="us-east-1")
        UNMETERED.add(id(_raw_ddb))
        for table in _raw_ddb.list_tables()["TableNames"]:
            described = _raw_ddb.describe_table(TableName=table)["Table"]
            METER.gsis[table] = [tuple(k["AttributeName"] for k in g["KeySchema"])
                                 for g in described.get("GlobalSecondaryIndexes", [])]
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        UNMETERED.add(id(sfn))
        arns = create_state_machines(sfn, prefix="parley-cost-")
        settings.handoff_arn, settings.inactivity_arn, settings.csat_arn, settings.bot_arn = (
            arns["PARLEY_HANDOFF_ARN"], arns["PARLEY_INACTIVITY_ARN"], arns["PARLEY_CSAT_ARN"], arns["PARLEY_BOT_ARN"])
        settings.bot_idle_wait = settings.bot_final_wait = 1
        clients.reset()
        # Domain events: the two table streams, the bus, its rule and the events queue, as deployed;
        # the stream and queue pollers are Lambda's (not billed per request), the handlers' calls are.
        from infra.local.events import Pipeline, create_bus, stream_arns
        sqs = boto3.client("sqs", region_name="us-east-1")
        UNMETERED.add(id(sqs))
        env = {**create_bus(boto3.client("events", region_name="us-east-1"), sqs, prefix="parley-cost-"),
               **stream_arns(_raw_ddb, settings.table_prefix)}
        settings.event_bus_name, settings.events_queue_url = env["PARLEY_EVENT_BUS"], env["PARLEY_EVENTS_QUEUE_URL"]
        settings.conversations_stream_arn = env["PARLEY_CONVERSATIONS_STREAM_ARN"]
        settings.messages_stream_arn = env["PARLEY_MESSAGES_STREAM_ARN"]
        settings.webhook_queue_url = sqs.create_queue(QueueName="parley-cost-webhooks")["QueueUrl"]
        api = ManagementApi()
        sender = bootstrap.build_sender(client=api)
        bootstrap.configure(sender=sender)
        install_lambda_dispatch(lambda name: app_module.app.handler_map[name])

        stamp = iso()
        Workspace("w_cost", name="Cost Co", created_at=stamp).save()
        Site("site-cost", workspace_id="w_cost", name="Cost Co",
             settings=SiteSettings(queue_timeout=30, inactivity_wait=1, pending_wait=1, survey_window=1,
                                   close_after=2), created_at=stamp).save()
        Agent("a_cost", workspace_id="w_cost", email="a@example.com", name="Alex", capacity=10,
              created_at=stamp).save()
        Connection("agent-conn", kind="agent", workspace_id="w_cost", agent_id="a_cost",
                   agent_workspace_id="w_cost", name="Alex", role="agent", connected_at=stamp,
                   expires_at=2**31).save()
        api.connect("agent-conn")
        routing.connected("a_cost")
        routing.set_presence("a_cost", "online", sender)
        agent = lifecycle.caller_for_connection("agent-conn")
        from chalicelib.bot import flows
        from chalicelib.core.caller import Caller
        from chalicelib.kb import articles
        admin = Caller.for_agent("a_cost", "w_cost", name="Alex", role="admin")
        articles.create(admin, {"title": "Where is my order?", "body": "Orders ship within 2 days; the email has "
                                "a tracking link.", "locale": "en", "status": "published",
                                "questions": ["where is my order", "order tracking"]})
        flows.save(admin, "site-cost", BOT_FLOW)

        frames_in = Counter()
        posts_before = lambda: sum(len(v) for v in api.frames.values())
        lambda_invocations = Counter()

        def frame(caller, **body):
            frames_in[body["action"]] += 1
            lambda_invocations["websocket $default"] += 1
            ws.handle_frame(caller.connection_id, json.dumps({"ref": "r", **body}), sender)

        flow_invocations = Counter()
        dispatch = LambdaSimpleBackend_invoke_counter(flow_invocations)
        pipeline = Pipeline(CountingApp(app_module.app, lambda_invocations), settings)
        UNMETERED.update(id(reader.client) for reader in pipeline.readers)
        UNMETERED.add(id(pipeline.sqs))

        started = time.monotonic()

        def opened(cid: str, n: int):
            """A visitor's session, socket and `start`: the bot opens. Their caller and the conversation id."""
            session = sessions.create_visitor_session({"site_key": "site-cost", "name": f"Visitor {n}"})
            lambda_invocations["rest"] += 1
            lifecycle.connect(cid, session["token"])
            api.connect(cid)
            lambda_invocations["websocket $connect"] += 1
            visitor = lifecycle.caller_for_connection(cid)
            frame(visitor, action="start")
            return visitor, api.of(cid, "ack")[-1]["conversation"]["id"]

        def closed(cid: str) -> None:
            lifecycle.disconnect(cid)
            api.drop(cid)
            lambda_invocations["websocket $disconnect"] += 1
            pipeline.drain()

        def bot_resolved(n: int) -> None:
            """The bot answers: the visitor opens the chat, picks the order question, says the article helped."""
            cid = f"visitor-bot-{n}"
            visitor, conversation_id = opened(cid, n)
            frame(visitor, action="choose", conversation_id=conversation_id, option_id="order")
            frame(visitor, action="choose", conversation_id=conversation_id, option_id="yes")
            assert api.of(cid, "ack")[-1]["conversation"]["status"] == "solved", api.of(cid, "ack")[-1]
            closed(cid)

        def handed_off(n: int) -> None:
            """The bot opens, the visitor asks for a person, and the human chat goes as it always did."""
            cid = f"visitor-conn-{n}"
            visitor, conversation_id = opened(cid, n)
            frame(visitor, action="choose", conversation_id=conversation_id, option_id="human")
            assert api.of(cid, "ack")[-1]["conversation"]["status"] == "open", api.of(cid, "ack")[-1]
            frame(visitor, action="send", conversation_id=conversation_id, text="Hi, where is my order?",
                  client_msg_id=f"v-{n}-first")
            for i in range(MESSAGES_EACH_WAY):
                frame(agent, action="typing", conversation_id=conversation_id, state="on")
                frame(agent, action="send", conversation_id=conversation_id, text=f"Let me check that for you ({i}).",
                      client_msg_id=f"a-{n}-{i}")
                seq = api.of(cid, "message")[-1]["message"]["seq"]
                frame(visitor, action="read", conversation_id=conversation_id, seq=seq)
                if i < MESSAGES_EACH_WAY - 1:
                    frame(visitor, action="typing", conversation_id=conversation_id, state="on")
                    frame(visitor, action="send", conversation_id=conversation_id, text=f"Thanks! ({i})",
                          client_msg_id=f"v-{n}-{i}")
                    seq = api.of("agent-conn", "message")[-1]["message"]["seq"]
                    frame(agent, action="read", conversation_id=conversation_id, seq=seq)
            frame(agent, action="set_status", conversation_id=conversation_id, status="solved")
            frame(visitor, action="rate", conversation_id=conversation_id, rating=5)
            closed(cid)

        phases = {}
        for kind, play in (("bot_resolved", bot_resolved), ("handed_off", handed_off)):
            METER.calls.clear()
            METER.wru = METER.rru = METER.events = 0
            frames_in.clear()
            lambda_invocations.clear()
            flow_invocations.clear()
            transitions_before = _transitions(sfn, arns)
            posts_at_start = posts_before()
            METER.on = True
            for n in range(CONVERSATIONS_MEASURED):
                play(n)
            _wait_for_executions(sfn, arns)
            pipeline.drain()
            METER.on = False
            lambda_invocations["flow_task"] = sum(flow_invocations.values())
            phases[kind] = _per_conversation(frames_in, posts_before() - posts_at_start, lambda_invocations,
                                             _transitions(sfn, arns) - transitions_before)
        dispatch.restore()
        per_conversation = _mix(phases)

        # One presence sweep, measured on its own: it runs every minute whatever the volume.
        METER.calls.clear()
        METER.wru = METER.rru = 0
        METER.on = True
        routing.sweep(sender)
        METER.on = False
        sweep = {"calls": sum(METER.calls.values()), "rru": METER.rru, "wru": METER.wru}
        # One widget page view (GET /v1/sites/{key}/settings), also on its own: scaled by page views.
        METER.calls.clear()
        METER.wru = METER.rru = 0
        METER.on = True
        sites.widget_settings("site-cost")
        METER.on = False
        page_view = {"calls": sum(METER.calls.values()), "rru": METER.rru, "wru": METER.wru}
        return {"per_conversation": per_conversation, "by_kind": phases,
                "sweep": sweep, "page_view": page_view, "seconds": round(time.monotonic() - started, 1)}


class CountingApp:
    """The app as the event pipeline sees it, counting each invocation of its stream and queue consumers."""

    def __init__(self, app, counter: Counter):
        def counted(name, handler):
            def run(event, context):
                counter[name] += 1
                return handler(event, context)
            return run
        self.handler_map = {name: counted(name, handler) for name, handler in app.handler_map.items()}


class LambdaSimpleBackend_invoke_counter:
    """Counts the flow task invocations moto's interpreter makes (each is one Lambda invocation on AWS)."""

    def __init__(self, counter: Counter):
        from moto.awslambda_simple.models import LambdaSimpleBackend
        self.cls, self.original = LambdaSimpleBackend, LambdaSimpleBackend.invoke
        original = self.original

        def invoke(backend, function_name, *args, **kwargs):
            counter[function_name] += 1
            return original(backend, function_name, *args, **kwargs)
        LambdaSimpleBackend.invoke = invoke

    def restore(self):
        self.cls.invoke = self.original


_totals: dict = {}

BOT_FLOW = {"enabled": True, "start": "menu", "nodes": {
    "menu": {"kind": "options", "text": {"en": "Hi! What can I do for you?"},
             "options": [{"id": "order", "label": {"en": "Where is my order?"}, "next": "faq"}]},
    "faq": {"kind": "articles", "text": {"en": "This may help:"}, "solved": "bye", "unsolved": "people"},
    "bye": {"kind": "message", "text": {"en": "Glad I could help!"}, "end": True},
    "people": {"kind": "handoff", "text": {"en": "Let me find you a person."}}}}


def _mix(phases: dict) -> dict:
    """One conversation of the traffic: the kinds measured, weighted by ASSUMPTIONS' bot_resolved_share."""
    share = ASSUMPTIONS["bot_resolved_share"]
    weights = {"bot_resolved": share, "handed_off": 1 - share}

    def blend(values: list):
        if isinstance(values[0][1], dict):
            keys = set().union(*(v.keys() for _, v in values))
            return {k: blend([(w, v.get(k, 0)) for w, v in values]) for k in sorted(keys)}
        return round(sum(w * v for w, v in values), 2)
    return blend([(weights[kind], phase) for kind, phase in phases.items()])


def _per_conversation(frames_in, posts, lambdas, transitions) -> dict:
    n = CONVERSATIONS_MEASURED
    calls = {f"{s}:{o}": round(c / n, 2) for (s, o), c in sorted(METER.calls.items())}
    _totals.update(calls=dict(METER.calls), wru=METER.wru, rru=METER.rru)
    return {
        "aws_requests": calls,
        "dynamodb_wru": round(METER.wru / n, 1),
        "dynamodb_rru": round(METER.rru / n, 1),
        "scans": sum(c for (s, o), c in METER.calls.items() if o == "Scan"),
        "websocket_frames_in": round(sum(frames_in.values()) / n, 1),
        "websocket_frames_out": round(posts / n, 1),
        "lambda_invocations": {k: round(v / n, 1) for k, v in lambdas.items()},
        "state_transitions": round(transitions / n, 1),
        "eventbridge_events": round(METER.events / n, 1),
    }


def _wait_for_executions(sfn, arns, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = sum(len(sfn.list_executions(stateMachineArn=a, statusFilter="RUNNING")["executions"])
                      for a in arns.values())
        if not running:
            return
        time.sleep(0.2)
    raise SystemExit("flow executions still running after 60 s")


def _transitions(sfn, arns) -> int:
    """State transitions as Step Functions bills them: one per state entered."""
    total = 0
    for arn in arns.values():
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            total += sum(1 for e in events if e["type"].endswith("StateEntered"))
    return total


# --- the month ------------------------------------------------------------------------------------

def month(volume: int, measured: dict) -> dict:
    a, p, per = ASSUMPTIONS, PRICES, measured["per_conversation"]
    page_views = volume * a["page_views_per_conversation"]
    view = measured["page_view"]
    requests = per["aws_requests"]
    lambdas = sum(per["lambda_invocations"].values()) * volume + page_views + a["presence_sweeps_per_month"]
    emails = a["emails_per_conversation"] * volume
    sqs = sum(v for k, v in requests.items() if k.startswith("sqs:")) * volume + 3 * emails
    ses = sum(v for k, v in requests.items() if k.startswith("ses:")) * volume + emails
    agent_minutes = a["agents"][volume] * a["agent_console_hours_per_month"] * 60
    stored_gb = volume * a["stored_kb_per_conversation"] / 1024 / 1024
    sweep = measured["sweep"]
    lines = {
        "API Gateway websocket messages": (per["websocket_frames_in"] + per["websocket_frames_out"]) * volume
        * p["ws_message"],
        "API Gateway websocket connection minutes": (volume * a["visitor_minutes_per_conversation"] + agent_minutes)
        * p["ws_connection_minute"],
        "API Gateway REST requests": (volume + page_views) * p["rest_request"],
        "Lambda requests and duration": lambdas * (p["lambda_request"] + a["lambda_ms_per_invocation"] / 1000
                                                   * a["lambda_memory_gb"] * p["lambda_gb_second"]),
        "DynamoDB reads and writes": (per["dynamodb_wru"] * volume + view["wru"] * page_views + sweep["wru"] * a["presence_sweeps_per_month"])
        * p["dynamodb_wru"] + (per["dynamodb_rru"] * volume + view["rru"] * page_views
                               + sweep["rru"] * a["presence_sweeps_per_month"]) * p["dynamodb_rru"],
        "DynamoDB storage and backups": stored_gb * (p["dynamodb_gb_month"] + p["dynamodb_pitr_gb_month"]),
        "Step Functions transitions": per["state_transitions"] * volume * p["sfn_transition"],
        "SQS and SES (email)": sqs * p["sqs_request"] + ses * p["ses_email"],
        "EventBridge domain events": per["eventbridge_events"] * volume * p["eventbridge_event"],
        "CloudWatch logs and metrics": lambdas * a["log_bytes_per_invocation"] / 1e9 * p["logs_gb_ingested"]
        + a["custom_metrics"] * p["custom_metric_month"],
        "CloudFront (widget and console)": page_views * (WIDGET_KB_GZIPPED / 1024 / 1024 * p["cloudfront_gb"]
                                                         + p["cloudfront_request"]),
    }
    lines = {k: round(v, 2) for k, v in lines.items()}
    total = round(sum(lines.values()), 2)
    return {"conversations": volume, "lines": lines, "total_usd": total,
            "per_conversation_usd": round(total / volume, 5)}


def main() -> int:
    measured = run()
    months = [month(v, measured) for v in VOLUMES]
    result = {"measured": measured, "assumptions": {**ASSUMPTIONS, "agents": {str(k): v for k, v in
                                                                               ASSUMPTIONS["agents"].items()}},
              "prices_usd": PRICES, "months": months,
              "ratio_cost_per_conversation_100k_vs_1k": round(months[1]["per_conversation_usd"]
                                                            / months[0]["per_conversation_usd"], 3)}
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n")
    RESULTS_MD.write_text(table(months, measured) + "\n")
    print(table(months, measured))
    print(f"\nwritten to {RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)}")
    return 0


def table(months: list[dict], measured: dict) -> str:
    per = measured["per_conversation"]
    head = "| Monthly cost, USD (us-east-1 list prices, no free tier) | " + " | ".join(
        f"{m['conversations']:,} conversations" for m in months) + " |"
    rows = [head, "|---|" + "---:|" * len(months)]
    for name in months[0]["lines"]:
        rows.append(f"| {name} | " + " | ".join(f"{m['lines'][name]:,.2f}" for m in months) + " |")
    rows.append("| **Total** | " + " | ".join(f"**{m['total_usd']:,.2f}**" for m in months) + " |")
    rows.append("| Per conversation | " + " | ".join(f"{m['per_conversation_usd']:.4f}" for m in months) + " |")
    rows.append("")
    share = ASSUMPTIONS["bot_resolved_share"]
    rows.append(f"Measured per conversation, {share:.0%} solved by the bot (opening, a choice, an article that "
                f"helped) and {1 - share:.0%} handed by the bot to a person ({MESSAGES_EACH_WAY} messages each way, "
                f"typing and read receipts, solve, CSAT): {per['websocket_frames_in']} frames in, {per['websocket_frames_out']} frames out, "
                f"{per['dynamodb_wru']} DynamoDB write units, {per['dynamodb_rru']} read units, "
                f"{per['state_transitions']} state transitions, {per['eventbridge_events']} domain events, "
                f"{round(sum(per['lambda_invocations'].values()), 1)} Lambda invocations, {per['scans']} Scans.")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
