"""The integration suite's fixtures: a seeded workspace on moto (a site, agents, visitors with live
connections), app.py wired to it, email (`outbox`), the events pipeline (`events_env`, tests/integration/
webhook_env.py) and the flows (`flows_env`, tests/integration/flows_env.py)."""
import itertools

import boto3
import pytest

import app as app_module
from chalicelib import bootstrap
from chalicelib.aws import clients
from chalicelib.chat import lifecycle, routing
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso
from chalicelib.identity import sessions, tokens
from chalicelib.store.models import Agent, Site, SiteSettings, Workspace
from infra.local.events import create_bus, stream_arns
from infra.local.flows import MOTO_CONFIG, create_state_machines, install_lambda_dispatch
from tests.fakes import ManagementApi, WebhookReceiver
from tests.integration.flows_env import Flows
from tests.integration.mail_env import DOMAIN, sent
from tests.integration.webhook_env import REGION, EventsEnv

_ids = itertools.count(1)


class World:
    def __init__(self):
        self.api = ManagementApi()
        self.sender = bootstrap.build_sender(client=self.api)
        stamp = iso()
        for ws, site_key in (("ws_a", "site-a"), ("ws_b", "site-b")):
            Workspace(ws, name=ws, created_at=stamp).save()
            Site(site_key, workspace_id=ws, name=site_key, identity_secret="secret-" + site_key,
                 settings=SiteSettings(), created_at=stamp).save()

    def agent(self, workspace_id: str = "ws_a", capacity: int = 3, name: str = "Agent",
              groups: list[str] | None = None) -> str:
        agent_id = f"agent-{next(_ids)}"
        Agent(agent_id, workspace_id=workspace_id, email=f"{agent_id}@example.com", name=name,
              capacity=capacity, groups=groups or [], created_at=iso()).save()
        return agent_id

    def online_agent(self, workspace_id: str = "ws_a", **kwargs) -> Caller:
        """An agent with a live connection who set presence online."""
        caller = self.agent_connection(self.agent(workspace_id, **kwargs))
        routing.set_presence(caller.id, "online", self.sender)
        return caller

    def agent_connection(self, agent_id: str) -> Caller:
        """An agent's live connection (what $connect records after verifying the Cognito token)."""
        from chalicelib.store.models import Connection
        agent = Agent.get(agent_id)
        cid = f"conn-{next(_ids)}"
        Connection(cid, kind="agent", workspace_id=agent.workspace_id, agent_id=agent.id,
                   agent_workspace_id=agent.workspace_id, name=agent.name, role=agent.role, connected_at=iso(),
                   expires_at=2**31).save()
        routing.connected(agent.id)
        self.api.connect(cid)
        return lifecycle.caller_for_connection(cid)

    def visitor_session(self, site_key: str = "site-a", **fields) -> dict:
        return sessions.create_visitor_session({"site_key": site_key, **fields})

    def visitor_connection(self, session: dict | None = None, site_key: str = "site-a") -> Caller:
        session = session or self.visitor_session(site_key)
        cid = f"conn-{next(_ids)}"
        lifecycle.connect(cid, session["token"])
        self.api.connect(cid)
        return lifecycle.caller_for_connection(cid)

    def token_for(self, caller: Caller) -> str:
        return tokens.issue_visitor_token(caller.id, caller.site_key, caller.workspace_id)[0]


@pytest.fixture
def world(aws):
    """Two workspaces on moto, a fake API Gateway management API and a sender posting to it. A test that
    swaps the app's parts (bootstrap.configure: this world's sender, its own clock) gets the defaults back."""
    yield World()
    bootstrap.configure()


@pytest.fixture
def app(world, monkeypatch):
    """app.py's module, sending through the world's gateway."""
    bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
    return app_module


@pytest.fixture
def outbox(world, monkeypatch):
    """Email on: a queue, a verified sender; returns a function that drains the queue and gives back
    every email SES sent so far, parsed."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="parley-email")["QueueUrl"]
    boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="parley.test")
    monkeypatch.setattr(settings, "email_queue_url", queue_url)
    monkeypatch.setattr(settings, "email_from", "Parley <support@parley.test>")
    monkeypatch.setattr(settings, "inbound_domain", DOMAIN)
    monkeypatch.setattr(settings, "public_api_url", "https://api.parley.test")
    monkeypatch.setattr(settings, "digest_delay", 0)
    monkeypatch.setattr(clients, "_clients", {})

    def drain() -> list:
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "eventSource": "aws:sqs"} for m in got]
            app_module.send_email({"Records": records}, None)
            for m in got:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        return sent()

    drain.queue_url = queue_url
    return drain


@pytest.fixture
def events_env(monkeypatch):
    """moto with every table (streams on conversations and messages), the bus, rule and queues."""
    from moto import mock_aws

    from chalicelib.store.tables import create_tables
    from infra.local.fidelity import install

    install()
    receivers: list[WebhookReceiver] = []
    with mock_aws():
        create_tables()
        sqs = boto3.client("sqs", region_name=REGION)
        bus = create_bus(boto3.client("events", region_name=REGION), sqs, prefix="parley-test-")
        arns = stream_arns(boto3.client("dynamodb", region_name=REGION), settings.table_prefix)
        dlq = sqs.create_queue(QueueName="parley-test-webhooks-dlq")["QueueUrl"]
        for name, value in {"event_bus_name": bus["PARLEY_EVENT_BUS"],
                            "events_queue_url": bus["PARLEY_EVENTS_QUEUE_URL"],
                            "webhook_queue_url": sqs.create_queue(QueueName="parley-test-webhooks", Attributes={
                                "VisibilityTimeout": "1"})["QueueUrl"],  # a failed alert comes back soon
                            "webhook_dlq_url": dlq,
                            "conversations_stream_arn": arns["PARLEY_CONVERSATIONS_STREAM_ARN"],
                            "messages_stream_arn": arns["PARLEY_MESSAGES_STREAM_ARN"],
                            "webhook_max_attempts": 3, "webhook_retry_base": 1, "webhook_cache_seconds": 0,
                            "webhook_allow_loopback": True}.items():
            monkeypatch.setattr(settings, name, value)
        world = World()
        bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
        yield EventsEnv(world, app_module, receivers)
    bootstrap.configure()
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def flows_env(monkeypatch):
    """moto with the ASL interpreter on, the three state machines, the webhook and email queues."""
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from chalicelib.store.tables import create_tables
    from infra.local.fidelity import install

    install()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", LambdaSimpleBackend.invoke)  # restored afterwards
    webhook = WebhookReceiver()
    with mock_aws(config=MOTO_CONFIG):
        create_tables()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        arns = create_state_machines(sfn, prefix="parley-test-")
        monkeypatch.setattr(settings, "handoff_arn", arns["PARLEY_HANDOFF_ARN"])
        monkeypatch.setattr(settings, "inactivity_arn", arns["PARLEY_INACTIVITY_ARN"])
        monkeypatch.setattr(settings, "csat_arn", arns["PARLEY_CSAT_ARN"])
        monkeypatch.setattr(settings, "webhook_queue_url", sqs.create_queue(QueueName="webhooks")["QueueUrl"])
        monkeypatch.setattr(settings, "email_queue_url", sqs.create_queue(QueueName="emails")["QueueUrl"])
        monkeypatch.setattr(settings, "email_from", "Support <support@example.com>")
        monkeypatch.setattr(settings, "inbound_domain", "inbound.example.com")
        clients.reset()
        world = World()
        bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
        install_lambda_dispatch(lambda name: app_module.app.handler_map[name])
        env = Flows(world, app_module, arns, webhook)
        env.site(queue_timeout=5, inactivity_wait=1, pending_wait=1, survey_window=1, close_after=2,
                 webhook_url=webhook.url)
        try:
            yield env
        finally:
            for flow in env.arns:  # no execution outlives its moto account
                for execution in env.sfn.list_executions(stateMachineArn=env.arns[flow],
                                                         statusFilter="RUNNING")["executions"]:
                    try:
                        env.sfn.stop_execution(executionArn=execution["executionArn"])
                    except Exception:  # moto: an execution still starting has no worker to stop yet
                        pass
            clients.reset()
            bootstrap.configure()
    webhook.close()
