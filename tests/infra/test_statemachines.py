"""Every ASL file is a sound state machine that calls only the stage's flow_task, with actions it knows.

cfn-lint validates each state's fields on the packaged template (test_template.py); these are the checks it
does not make: transitions that lead somewhere, nothing unreachable, and the one Lambda placeholder.
"""
import json
import re
from pathlib import Path

import pytest

from chalicelib.edges.flow_tasks import TASKS
from infra import deploy

ASL = sorted((Path(__file__).resolve().parents[2] / "infra" / "statemachines").glob("*.asl.json"))
PLACEHOLDER = "${FlowTaskFunction}"
LAMBDA_INVOKE = {"arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken"}
TERMINAL = {"Succeed", "Fail"}


def targets(state: dict) -> list[str]:
    found = [state.get("Next"), state.get("Default")]
    found += [c.get("Next") for c in state.get("Choices", [])]
    found += [c.get("Next") for c in state.get("Catch", [])]
    return [t for t in found if t]


@pytest.fixture(params=ASL, ids=lambda p: p.name)
def machine(request) -> dict:
    return json.loads(request.param.read_text())


def test_transitions_lead_to_states_and_every_state_is_reached(machine):
    states = machine["States"]
    assert machine["StartAt"] in states
    for name, state in states.items():
        for target in targets(state):
            assert target in states, f"{name} goes to {target}, which is not a state"
        ends = state.get("End") is True or state["Type"] in TERMINAL | {"Choice"}
        assert ends or state.get("Next"), f"{name} neither ends nor goes on"
        assert not (state.get("End") and state.get("Next")), f"{name} both ends and goes on"
        if state["Type"] == "Choice":
            assert state.get("Default") or not state.get("End"), f"{name}: a Choice needs a Default"
    reached, frontier = set(), [machine["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += targets(states[name])
    assert reached == set(states), f"unreachable: {set(states) - reached}"


def test_every_task_invokes_the_placeholder_with_a_known_action(machine):
    tasks = {n: s for n, s in machine["States"].items() if s["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        assert state["Resource"] in LAMBDA_INVOKE, f"{name} calls {state['Resource']}"
        assert state["Parameters"]["FunctionName"] == PLACEHOLDER, name
        assert state["Parameters"]["Payload"]["action"] in TASKS, f"{name}: flow_task has no such action"
        # A failed task is retried (a Lambda error is States.TaskFailed).
        assert any("States.TaskFailed" in r["ErrorEquals"] for r in state.get("Retry", [])), name


def test_the_only_placeholder_is_the_one_the_template_substitutes():
    template = deploy.load_template()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        props = resource["Properties"]
        text = (deploy.TEMPLATE.parent / props["DefinitionS3Location"]).read_text()
        assert set(re.findall(r"\$\{([^}]+)\}", text)) == set(props["DefinitionSubstitutions"])
        function = props["DefinitionSubstitutions"]["FlowTaskFunction"]["Fn::Sub"]
        assert function.endswith(":function:parley-${Stage}-flow_task")  # chalice's name for app.py's flow_task
