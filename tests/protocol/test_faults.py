"""A small run of bench/faults.py's scenario in the suite: a stack of its own with faults injected into every
kind of AWS call (infra/local/faults.py), clients that retry like the widget, and the bench's checks.

Nothing lost, nothing doubled, seqs contiguous, every message received by the other side (live or by
`history`), every acked transcript sent once or parked in the dead-letter queue, one flow per trigger.
The long run and the figures are `bench/faults.py`'s (bench/results/faults.json).
"""
import pytest

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
