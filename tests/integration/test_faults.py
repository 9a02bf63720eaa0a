"""Faults at precise calls, on moto with the real schemas: whichever AWS call of an action fails, past
botocore's retries, the client's retry of the same frame (same client_msg_id, as the widget does) leaves
exactly what one clean run leaves: one message per client_msg_id, seqs without a gap, one conversation per
visitor, agents' slots counted once, the flows started.

The faults are infra/local/faults.py's, injected at botocore's `before-send` into the app's own clients
(pynamodb's and boto3's), as the local stack does under PARLEY_FAULTS.
"""
import contextlib
import itertools
import json
from types import SimpleNamespace

import boto3
import pytest
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.aws import clients
from chalicelib.chat import intake, lifecycle, routing, subscriptions
from chalicelib.config import settings
from chalicelib.core.clock import iso, now
from chalicelib.edges import ws
from chalicelib.store import dynamo as store_dynamo
from chalicelib.store.models import Agent, Connection, Conversation, Message, Visitor
from infra.local import faults
from infra.local.flows import create_state_machines

_refs = itertools.count(1)
THROTTLED = "ProvisionedThroughputExceededException"  # retried by botocore, then the app sees it
RETRIES = 3  # a client gives up after this many `internal` answers in a row (none should need more than one)


def _models(cls=Model):
    for sub in cls.__subclasses__():
        yield sub
        yield from _models(sub)


@pytest.fixture
def injector(world, monkeypatch):
    """Faults armed on every client the app makes from now on (the clients made before are forgotten),
    and the handoff and csat flows on (moto records their executions; none runs)."""
    from moto.core.botocore_stubber import BotocoreStubber
    answer = BotocoreStubber.__call__

    def leave_injected(stub, event_name, request, **kwargs):
        # moto's stub is a before-send handler too, called after ours: it must not run a request whose
        # answer is a fault (the local stack's moto is a server the request never reaches).
        return None if faults.HEADER in request.headers else answer(stub, event_name, request, **kwargs)
    monkeypatch.setattr(BotocoreStubber, "__call__", leave_injected)
    # botocore's backoff between attempts (seconds for a call that fails past its retries) is no part of
    # what is checked here.
    monkeypatch.setattr("botocore.endpoint.time", SimpleNamespace(sleep=lambda seconds: None))
    injector = faults.Injector({}, seed=11).install()
    monkeypatch.setattr(clients, "_clients", {})
    monkeypatch.setattr(store_dynamo, "_dynamo", None)
    for model in _models():
        monkeypatch.setattr(model, "_connection", None)
    arns = create_state_machines(boto3.client("stepfunctions", region_name="us-east-1"), prefix="parley-test-")
    monkeypatch.setattr(settings, "handoff_arn", arns["PARLEY_HANDOFF_ARN"])
    monkeypatch.setattr(settings, "csat_arn", arns["PARLEY_CSAT_ARN"])
    injector.arm()
    yield injector
    injector.uninstall()


def frame(world, caller, action: str, ref: str, **fields) -> dict:
    """Handle one frame as the gateway would; its one reply."""
    ws.handle_frame(caller.connection_id, json.dumps({"action": action, "ref": ref, **fields}), world.sender)
    replies = [f for f in world.api.of(caller.connection_id) if f.get("ref") == ref]
    assert len(replies) == 1, f"{action}: {len(replies)} replies to one frame: {replies}"
    return replies[0]


def until_acked(world, caller, action: str, **fields) -> tuple[dict, int]:
    """Send the frame, and again (same fields: same client_msg_id) while it is answered `internal`, as the
    widget does. Returns the ack and how many `internal` answers came first."""
    for attempt in range(RETRIES + 1):
        reply = frame(world, caller, action, f"{action}-{next(_refs)}", **fields)
        if reply["type"] == "ack":
            return reply, attempt
        assert reply.get("code") == "internal", f"{action}: {reply}"
    raise AssertionError(f"{action}: still `internal` after {RETRIES} retries")


def dynamodb_calls(injector, run) -> int:
    """How many DynamoDB calls `run()` makes with no fault."""
    before = injector.snapshot()["attempts"].get("dynamodb", 0)
    run()
    return injector.snapshot()["attempts"].get("dynamodb", 0) - before


@contextlib.contextmanager
def unfaulted(injector):
    """A check of the test's own, neither faulted nor counted among the action's calls."""
    injector.armed = False
    try:
        yield
    finally:
        injector.armed = True


def messages(conversation_id: str) -> list[Message]:
    return list(Message.query(conversation_id, consistent_read=True))


def assert_stored_once(conversation_id: str, client_msg_ids: list[str]) -> None:
    stored = messages(conversation_id)
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1)), "seqs with a gap"
    mine = [m.client_msg_id for m in stored if m.client_msg_id]
    assert sorted(mine) == sorted(client_msg_ids), f"stored {mine}, sent {client_msg_ids}"
    assert int(Conversation.get(conversation_id, consistent_read=True).last_seq) == len(stored)


def executions(arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]


# --- the faults themselves ------------------------------------------------------------------

def test_a_throttle_goes_through_botocores_retries_and_a_long_one_reaches_the_app(world, injector):
    visitor = world.visitor_connection()
    injector.fail("dynamodb", attempts=2)  # two throttled attempts: the third goes through
    Visitor.get(visitor.id)
    injector.fail("dynamodb", operation="GetItem")  # every attempt: pynamodb gives up after its 4
    with pytest.raises(Exception, match="ProvisionedThroughputExceeded|Throttling"):
        Visitor.get(visitor.id)
    seen = injector.snapshot()
    assert seen["injected"]["dynamodb"] == 2 + 4 and seen["surfaced"] == {"dynamodb": 1}
    assert seen["retries"]["dynamodb"] == 2 + 3  # attempts 2 and 3 of the first call, 2 to 4 of the second


def test_each_kind_answers_in_its_services_protocol(world, injector):
    """What the app's clients make of each injected answer: the error code AWS would send."""
    sfn, ses = clients.client("stepfunctions"), clients.client("ses")
    for kind, call, code in [
            ("stepfunctions_throttle", lambda: sfn.start_execution(stateMachineArn=settings.csat_arn, name="x"),
             "ThrottlingException"),
            ("stepfunctions_500", lambda: sfn.send_task_success(taskToken="t", output="{}"), "InternalFailure"),
            ("ses_throttle", lambda: ses.send_raw_email(RawMessage={"Data": b"x"}), "Throttling"),
            ("ses_500", lambda: ses.send_email(Source="a@b.example", Destination={}, Message={
                "Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}), "InternalFailure")]:
        injector.fail(kind)
        with pytest.raises(Exception) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code, kind
    seen = injector.snapshot()
    assert seen["surfaced"] == {"stepfunctions_throttle": 1, "stepfunctions_500": 1, "ses_throttle": 1, "ses_500": 1}
    assert executions(settings.csat_arn) == []  # nothing reached moto


# --- a fault at every DynamoDB call of an action --------------------------------------------

def test_a_visitor_send_is_stored_once_whichever_call_fails(world, injector):
    agent = world.agent_connection(world.agent())
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)
    sent = ["clean"]
    calls = dynamodb_calls(injector, lambda: until_acked(world, visitor, "send", conversation_id=conversation.id,
                                                         client_msg_id="clean", text="clean run"))
    assert calls >= 3
    for call in range(calls):
        cmid = f"fault-at-{call}"
        injector.fail("dynamodb", skip=call, error=THROTTLED)
        ack, internal = until_acked(world, visitor, "send", conversation_id=conversation.id, client_msg_id=cmid,
                                    text=f"call {call} fails")
        sent.append(cmid)
        assert internal == 1, f"the fault at call {call} was not seen"
        assert ack["message"]["client_msg_id"] == cmid
    assert_stored_once(conversation.id, sent)
    live = [f["message"]["client_msg_id"] for f in world.api.of(agent.connection_id, "message")]
    assert sorted(live) == sorted(sent)  # the agent heard each once


def test_an_agent_reply_is_stored_once_whichever_call_fails(world, injector):
    agent = world.agent_connection(world.agent())
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    frame(world, agent, "join", "j", conversation_id=conversation.id)
    sent = ["clean"]
    calls = dynamodb_calls(injector, lambda: until_acked(world, agent, "send", conversation_id=conversation.id,
                                                         client_msg_id="clean", text="clean run"))
    for call in range(calls):
        injector.fail("dynamodb", skip=call, error=THROTTLED)
        until_acked(world, agent, "send", conversation_id=conversation.id, client_msg_id=f"fault-at-{call}",
                    text=f"call {call} fails")
        sent.append(f"fault-at-{call}")
    assert_stored_once(conversation.id, sent)
    live = [f["message"]["client_msg_id"] for f in world.api.of(visitor.connection_id, "message")]
    assert sorted(live) == sorted(sent)


def test_a_start_makes_one_conversation_and_one_handoff_whichever_call_fails(world, injector):
    clean = world.visitor_connection()
    calls = dynamodb_calls(injector, lambda: until_acked(world, clean, "start", text="hello", client_msg_id="first"))
    assert calls > 5
    for call in range(calls):
        visitor = world.visitor_connection()
        injector.fail("dynamodb", skip=call, error=THROTTLED)
        ack, internal = until_acked(world, visitor, "start", text="hello", client_msg_id="first")
        cid = ack["conversation"]["id"]
        mine = list(Conversation.by_visitor.query(visitor.id))
        assert [c.id for c in mine] == [cid], f"fault at call {call}: conversations {[c.id for c in mine]}"
        assert Visitor.get(visitor.id, consistent_read=True).active_conversation_id == cid
        assert_stored_once(cid, ["first"])
        conversation = Conversation.get(cid, consistent_read=True)
        assert conversation.status == "queued"  # nobody online
        name = f"handoff-{cid}-"
        assert len([n for n in executions(settings.handoff_arn) if n.startswith(name)]) == 1, \
            f"fault at call {call}: no handoff for the queued conversation"


def test_accept_and_solve_count_the_slot_once_and_start_the_survey_whichever_call_fails(world, injector):
    agent_id = world.agent(capacity=3)
    agent = world.agent_connection(agent_id)

    def one_conversation():
        visitor = world.visitor_connection()
        cid = until_acked(world, visitor, "start", text="hello", client_msg_id="first")[0]["conversation"]["id"]
        # as the handoff flow's wait leaves it (flows.handoff_wait): the accept must resume the flow
        Conversation(cid).update(actions=[Conversation.task_token.set(f"token-{cid}")])
        return cid

    def accept_and_solve(cid):
        until_acked(world, agent, "accept", conversation_id=cid)
        with unfaulted(injector):  # the accept itself resumed the handoff flow, before any solve
            assert Conversation.get(cid, consistent_read=True).task_token is None, "the handoff was not resumed"
        until_acked(world, agent, "set_status", conversation_id=cid, status="solved")

    clean = one_conversation()
    calls = dynamodb_calls(injector, lambda: accept_and_solve(clean))
    for call in range(calls):
        cid = one_conversation()
        injector.fail("dynamodb", skip=call, error=THROTTLED)
        accept_and_solve(cid)
        conversation = Conversation.get(cid, consistent_read=True)
        assert (conversation.status, conversation.assignee_id) == ("solved", agent_id), f"fault at call {call}"
        assert int(Agent.get(agent_id, consistent_read=True).active_chats) == 0, f"fault at call {call}: slots"
        surveys = [n for n in executions(settings.csat_arn) if n.startswith(f"csat-{cid}-")]
        assert len(surveys) == 1, f"fault at call {call}: {len(surveys)} csat flows for the solve"


def test_an_agent_whose_last_socket_closes_goes_offline_whichever_call_fails(world, injector, monkeypatch):
    """$disconnect runs once (API Gateway does not retry it): when it fails half-way, the sweep must still
    find the agent, or they stay online with no socket and routing hands them chats nobody answers."""
    monkeypatch.setattr(settings, "presence_grace", 0)
    monkeypatch.setattr(routing, "SETTLING_SECONDS", 0)

    def online_agent_leaves():
        agent = world.online_agent()
        # connected a while ago: a socket younger than lifecycle.OPENING_SECONDS may still be opening
        Connection(agent.connection_id).update(actions=[Connection.connected_at.set(iso(now() - 60))])
        world.api.drop(agent.connection_id)
        return agent

    def leave(agent):
        try:
            lifecycle.disconnect(agent.connection_id)
        except Exception:  # the fault's: the gateway logs it and the event is gone
            pass

    first = online_agent_leaves()
    calls = dynamodb_calls(injector, lambda: leave(first))
    assert calls >= 3
    for call in range(calls):
        agent = online_agent_leaves()
        injector.fail("dynamodb", skip=call, error=THROTTLED)
        leave(agent)
        routing.sweep(world.sender)  # finds what the failed $disconnect left, if anything
        routing.sweep(world.sender)  # the grace (0 s here) is over
        assert Agent.get(agent.id, consistent_read=True).status == "offline", f"fault at call {call}"


def test_a_throttled_sweep_fails_where_it_once_passed_for_an_agent_back(world, injector, monkeypatch):
    """What the store boundary (chalicelib/store/dynamo.py) proves at routing.sweep, which once caught every
    UpdateError as "the agent came back meanwhile": a throttle on the update that takes a gone agent offline
    then ended the sweep cleanly, `offline: 0`, the agent left online with no socket and nothing reported.
    Now the throttle fails the sweep (the scheduled run errs, visibly) and the next sweep, finding the agent
    still pending, takes them offline. A failed condition is still what it was: an agent who really came back
    between the sweep's read and its write is left alone, and the sweep goes on."""
    monkeypatch.setattr(settings, "presence_grace", 0)
    gone = world.online_agent()
    lifecycle.disconnect(gone.connection_id)  # no socket left: pending, still online until the sweep
    injector.fail("dynamodb", operation="UpdateItem", error=THROTTLED)  # past botocore's retries
    with pytest.raises(UpdateError) as raised:
        routing.sweep(world.sender)
    assert raised.value.cause_response_code == THROTTLED
    with unfaulted(injector):
        left = Agent.get(gone.id, consistent_read=True)
    assert (left.status, left.presence_pending) == ("online", "pending")  # nothing written, nothing lost
    assert routing.sweep(world.sender)["offline"] == 1
    assert Agent.get(gone.id, consistent_read=True).status == "offline"

    back = world.online_agent()
    lifecycle.disconnect(back.connection_id)
    stale = [a for a in Agent.by_presence.query("pending") if a.id == back.id]  # the sweep's read ...
    assert len(stale) == 1
    world.agent_connection(back.id)  # ... then the agent reloads the console: no longer pending
    reads = []
    monkeypatch.setattr(Agent.by_presence, "query", lambda *args, **kwargs: reads.append(args) or iter(stale))
    assert routing.sweep(world.sender) == {"offline": 0, "requeued": 0, "stale_connections": 0}
    assert reads  # the sweep read the stale agent, and its condition failed
    assert Agent.get(back.id, consistent_read=True).status == "online"


def test_a_send_whose_transaction_is_cancelled_by_a_throttled_item_is_retried_by_the_server(world, injector):
    """DynamoDB cancels a transaction with a ThrottlingError reason when one item's partition is hot; botocore
    does not retry that, so the send does, as it does when another writer took the seq."""
    agent = world.agent_connection(world.agent())
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)
    injector.fail("dynamodb", operation="TransactWriteItems", error="TransactionCanceledException", calls=2)
    reply = frame(world, visitor, "send", "s1", conversation_id=conversation.id, client_msg_id="hot", text="hello")
    assert reply["type"] == "ack", reply  # not `internal`: nothing for the widget to retry
    assert injector.snapshot()["surfaced"] == {"dynamodb": 2}
    assert_stored_once(conversation.id, ["hot"])
    assert [f["message"]["seq"] for f in world.api.of(agent.connection_id, "message")] == [1]


def test_the_local_stacks_in_process_transport_leaves_a_faulted_request_alone():
    """The local stack answers the app's AWS calls from moto in-process (infra/local/inprocess.py), with a
    before-send handler too, and botocore calls every one: a request answered with a fault must not also
    be run there (a throttled write would be written)."""
    import botocore.session

    from infra.local.inprocess import InProcessMoto
    moto_url = "http://127.0.0.1:4599"  # never dialled: the transport answers in-process
    session = botocore.session.get_session()
    injector = faults.Injector({})
    injector.register(session)
    session.register("before-send", InProcessMoto(moto_url, "us-east-1"))
    dynamodb = session.create_client("dynamodb", region_name="us-east-1", endpoint_url=moto_url,
                                     aws_access_key_id="testing", aws_secret_access_key="testing")
    table = f"parley-faults-{next(_refs)}"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    injector.arm()
    injector.fail("dynamodb", operation="PutItem")
    with pytest.raises(Exception, match="ProvisionedThroughputExceeded|Throttling"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "refused"}})
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "refused"}}, ConsistentRead=True)
    dynamodb.delete_table(TableName=table)
