"""A small run of bench/faults.py's scenario in the suite: a stack of its own with faults injected into every
kind of AWS call (infra/local/faults.py), clients that retry like the widget, and the bench's checks.

Nothing lost, nothing doubled, seqs contiguous, every message received by the other side (live or by
`history`), every acked transcript sent once or parked in the dead-letter queue, one flow per trigger.
The long run and the figures are `bench/faults.py`'s (bench/results/faults.json).
"""
import json

import pytest
from websockets.sync.client import connect

from bench import faults as bench
from tests.conftest import running_stack

# Higher than the bench's: a short run still meets every kind of fault.
RATES = {"dynamodb": 0.2, "post_to_connection_gone": 0.04, "post_to_connection_500": 0.1,
         "ses_throttle": 0.3, "ses_500": 0.2, "stepfunctions_throttle": 0.2, "stepfunctions_500": 0.2}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("faulty-stack"), PARLEY_FAULTS="", PARLEY_FAULTS_SEED="3") as local:
        yield bench.Stack(None, local.port, local.moto_url, local.access_key, local.secret_key)


@pytest.mark.timeout(240)
def test_nothing_is_lost_or_doubled_while_every_kind_of_call_fails_now_and_then(faulty):
    result = bench.scenario(faulty, "suite", RATES, conversations=3, messages=3, seed=3)
    assert bench.problems(result) == []
    messages = result["messages"]
    assert messages["acked"] == messages["stored"] == 3 * (1 + 2 * 3)
    assert messages["lost"] == messages["duplicated"] == messages["unacked"] == 0
    injected = result["faults"]["injected"]
    assert injected.get("dynamodb", 0) > 10 and injected.get("post_to_connection_500", 0) > 0, injected
    assert result["faults"]["surfaced"].get("dynamodb", 0) < injected["dynamodb"] / 2, "botocore absorbed most"
    assert result["emails"]["acked"] + result["emails"]["reply_lost"] == 3


def test_the_fault_switch_answers_bad_rates_with_bad_request(faulty):
    status, body = bench.rest(faulty.http, "POST", "/_local/faults", {"rates": {"dynamodb": 2}})
    assert status == 400 and body["error"]["field"] == "rates", body
    status, body = bench.rest(faulty.http, "POST", "/_local/faults", {"rates": {"nosuchservice": 0.1}})
    assert status == 400 and "nosuchservice" in body["error"]["message"], body
    status, body = bench.rest(faulty.http, "GET", "/_local/faults")
    assert status == 200 and body["armed"] is True and body["seed"] == 3


def test_an_injected_fault_has_no_effect_behind_it(faulty):
    """The stack answers the app's AWS calls from moto in-process (infra/local/inprocess.py), a before-send
    handler like the injector's: a request answered with a fault must not also be run there."""
    status, _ = bench.rest(faulty.http, "POST", "/_local/faults", {"rates": {"stepfunctions_throttle": 1.0}})
    assert status == 200
    try:
        session = bench.rest_retrying(faulty.http, "POST", "/v1/visitor/sessions", {"site_key": "demo"})
        with connect(f"ws://127.0.0.1:{faulty.port}/ws?token={session['token']}", open_timeout=10) as ws:
            ws.send(json.dumps({"action": "start", "ref": "s", "text": "hello", "client_msg_id": "first"}))
            while (frame := json.loads(ws.recv(timeout=30))).get("ref") != "s":
                pass
    finally:
        bench.rest(faulty.http, "POST", "/_local/faults", {"rates": {"stepfunctions_throttle": 0}})
    assert frame["type"] == "ack", frame  # the chat goes on without its handoff flow
    conversation_id = frame["conversation"]["id"]
    sfn = faulty.aws("stepfunctions")
    handoff = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"].endswith("-handoff"))
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=handoff)["executions"]]
    assert not [n for n in names if conversation_id in n], "a refused StartExecution started the flow"
