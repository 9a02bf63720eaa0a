"""The functions' hand-written role allows every AWS call chalicelib makes, and little else.

A call the policy forgets fails only on AWS (moto checks no IAM), so this reads the calls from the source:
every `client.some_operation(...)` of a service chalicelib creates a client for must map to a granted action.
"""
import ast
import json
import re
from pathlib import Path

import botocore.session
import cfnlint.data.AdditionalSpecs
from botocore import xform_name

from infra import deploy

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "chalicelib").rglob("*.py"))  # recursively: every package
# boto3 service -> IAM prefix; the management API's every call is execute-api:ManageConnections.
PREFIX = {"sqs": "sqs", "ses": "ses", "s3": "s3", "stepfunctions": "states", "cognito-idp": "cognito-idp",
          "events": "events", "ssm": "ssm", "apigatewaymanagementapi": "execute-api"}
# Cognito's sign-in calls are authorized by the app client, not by IAM.
PUBLIC = {"cognito-idp:InitiateAuth", "cognito-idp:RespondToAuthChallenge"}
# IAM authorizes SQS's batch calls with the single action's permission.
BATCH = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
         "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
# Method names that are an operation of one service but called on another's client (the match is by name).
NOT_THIS_SERVICE = {"events:DeleteConnection": "sender.py calls the management API's delete_connection",
                    "events:CreateConnection": "webhooks.py calls socket.create_connection"}
# Granted, though no `client.x()` in chalicelib names them: who uses each.
USED_ELSEWHERE = {
    "logs:CreateLogGroup": "Lambda, the functions' logs", "logs:CreateLogStream": "Lambda",
    "logs:PutLogEvents": "Lambda",
    "sqs:ReceiveMessage": "Lambda's SQS event source", "sqs:ChangeMessageVisibility": "Lambda's SQS event source",
    "sqs:GetQueueAttributes": "Lambda's SQS event source",
    "sqs:DeleteMessage": "Lambda's SQS event source (deletes what a batch did not report as failed)",
    "dynamodb:DescribeStream": "Lambda's stream event source", "dynamodb:GetRecords": "Lambda's stream event source",
    "dynamodb:GetShardIterator": "Lambda's stream event source", "dynamodb:ListStreams": "Lambda's stream event source",
    "xray:PutTraceSegments": "the X-Ray SDK (PARLEY_TRACING)", "xray:PutTelemetryRecords": "the X-Ray SDK",
    "events:PutEvents": "publish_conversation_events and publish_message_events (domain events on the bus)",
    **{f"dynamodb:{a}": "pynamodb and powertools idempotency" for a in (
        "GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
        "ConditionCheckItem", "DescribeTable")},
}


def role_statements(logical_id: str) -> list[dict]:
    """The role's statements, conditional ones (Fn::If [cond, statement, NoValue]) included."""
    role = deploy.load_template()["Resources"][logical_id]["Properties"]
    statements = []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            statements.append(statement["Fn::If"][1] if "Fn::If" in statement else statement)
    return statements


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def granted() -> set[str]:
    return {a for s in role_statements("LambdaRole") if s["Effect"] == "Allow" for a in actions(s)}


def required() -> dict[str, str]:
    """IAM action -> where chalicelib calls it."""
    session = botocore.session.get_session()
    services = set()
    calls: dict[str, list] = {}
    for path in SOURCES:
        text = path.read_text()
        services |= set(re.findall(r'client\(\s*"([a-z0-9-]+)"', text))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                calls.setdefault(node.func.attr, []).append(f"{path.name}:{node.lineno}")
    needed = {}
    for service in services - {"dynamodb"}:  # tables go through pynamodb: the Tables statement covers them
        assert service in PREFIX, f"chalicelib creates a {service} client: add its IAM prefix and grants"
        operations = {xform_name(op): op for op in session.get_service_model(service).operation_names}
        for method, where in calls.items():
            if method in operations:
                action = ("execute-api:ManageConnections" if service == "apigatewaymanagementapi"
                          else f"{PREFIX[service]}:{operations[method]}")
                needed.setdefault(action, where[0])
    return {BATCH.get(a, a): w for a, w in needed.items() if a not in PUBLIC and a not in NOT_THIS_SERVICE}


def test_every_aws_call_in_chalicelib_is_allowed():
    missing = {a: w for a, w in required().items() if a not in granted()}
    assert not missing, f"add to LambdaRole in infra/template.yaml: {missing}"


def test_nothing_is_allowed_that_nobody_uses():
    unused = granted() - set(required()) - set(USED_ELSEWHERE)
    assert not unused, f"granted but never called: {unused}"


def test_resource_wildcards_only_where_the_action_takes_no_resource():
    specs = json.loads((Path(cfnlint.data.AdditionalSpecs.__file__).parent / "Policies.json").read_text())
    for statement in role_statements("LambdaRole") + role_statements("StatesRole"):
        assert all("*" not in a for a in actions(statement)), f"wildcard action in {statement}"
        if statement["Resource"] == "*":
            for action in actions(statement):
                prefix, name = action.split(":")
                resources = specs[prefix]["Actions"][name.lower()].get("Resources")
                assert not resources, f"{action} can be limited to {resources}: do not grant it on *"


def test_resources_belong_to_this_stage():
    resources = set(deploy.load_template()["Resources"])
    for statement in role_statements("LambdaRole") + role_statements("StatesRole"):
        items = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for item in items:
            if item == "*":
                continue
            if "Fn::GetAtt" in item or "Ref" in item:
                assert (item.get("Fn::GetAtt") or [item.get("Ref")])[0] in resources, item
                continue
            names = re.findall(r"\$\{([A-Za-z]+)", item["Fn::Sub"])
            assert {"Stage", "WebSocketApiId", "SesIdentity"} & set(names) or set(names) & resources, \
                f"{item} is not scoped to this stage"


def test_the_state_machines_may_invoke_exactly_the_flow_task_they_name():
    [invoke] = [s for s in role_statements("StatesRole") if "lambda:InvokeFunction" in actions(s)]
    function = deploy.load_template()["Resources"]["HandoffStateMachine"]["Properties"][
        "DefinitionSubstitutions"]["FlowTaskFunction"]["Fn::Sub"]
    assert [r["Fn::Sub"] for r in invoke["Resource"]] == [function, f"{function}:*"]
