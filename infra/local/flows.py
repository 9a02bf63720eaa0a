"""The state machines of infra/statemachines/ on moto's ASL interpreter, their Lambda tasks run in-process.

Used by the local stack and by the tests. The ASL files name their Lambda as `${FlowTaskFunction}`;
a deploy substitutes the function's ARN, here its plain name, which `install_lambda_dispatch`
routes to the Chalice app's `@app.lambda_function` of that name.
"""
import json
import logging
from pathlib import Path

STATEMACHINES = Path(__file__).resolve().parents[1] / "statemachines"
FLOWS = ("handoff", "inactivity", "csat", "bot")
ROLE_ARN = "arn:aws:iam::123456789012:role/parley-flows"
# Settings for moto: run state machines for real, and Lambda without Docker (the dispatch below).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

log = logging.getLogger("parley.flows")


def definition(flow: str, functions: dict[str, str]) -> str:
    """The ASL of a flow with its `${Placeholder}`s replaced (e.g. FlowTaskFunction → a name or ARN)."""
    text = (STATEMACHINES / f"{flow}.asl.json").read_text()
    for placeholder, value in functions.items():
        text = text.replace("${" + placeholder + "}", value)
    if "${" in text:
        raise ValueError(f"{flow}.asl.json has a placeholder left: {text[text.index('${'):][:40]}")
    return text


def create_state_machines(client, prefix: str = "parley-local-") -> dict[str, str]:
    """Create the three flows; returns the environment variables that switch them on."""
    arns = {}
    for flow in FLOWS:
        arns[flow] = client.create_state_machine(
            name=f"{prefix}{flow}", roleArn=ROLE_ARN,
            definition=definition(flow, {"FlowTaskFunction": "flow_task"}))["stateMachineArn"]
    return {"PARLEY_HANDOFF_ARN": arns["handoff"], "PARLEY_INACTIVITY_ARN": arns["inactivity"],
            "PARLEY_CSAT_ARN": arns["csat"], "PARLEY_BOT_ARN": arns["bot"]}


def install_lambda_dispatch(resolve) -> None:
    """Make moto's Docker-less Lambda run the app's function of that name in this process.

    `resolve(name)` returns the handler (event, context) -> JSON-able result. A handler that raises
    answers like Lambda does (FunctionError: Unhandled), so the ASL's Retry and Catch apply.
    """
    install_task_runner(lambda name, body: run_task(resolve(name), name, body))


def run_task(handler, name: str, body) -> tuple[bytes, bool]:
    """Run a Lambda task's handler on the invocation's body: (its JSON payload, whether it failed)."""
    from .gateway import LambdaContext
    try:
        event = json.loads(body) if body else {}
        return json.dumps(handler(event, LambdaContext(name))).encode(), False
    except Exception as exc:
        log.exception("flow task %s failed", name)
        return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode(), True


def install_task_runner(run) -> None:
    """Make moto's Docker-less Lambda answer with `run(name, body) -> (payload, failed)`: in this process
    (install_lambda_dispatch) or in the local stack's, when moto runs in a process of its own (motohost.py)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.rsplit(":function:", 1)[-1].split(":")[0]
        try:
            payload, failed = run(name, body)
        except Exception as exc:  # the stack's process did not answer: a Lambda service error
            log.exception("flow task %s could not be run", name)
            payload, failed = json.dumps({"errorType": "ServiceException", "errorMessage": str(exc)}).encode(), True
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaSimpleBackend.invoke = invoke
