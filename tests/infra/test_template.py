"""cfn-lint on everything deploy sends to CloudFormation: the template, the packaged template, chalice's own."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from infra import deploy

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["us-east-1", "eu-west-1"]
ACCOUNT = "123456789012"


def lint(path: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Every finding, informational ones (I...) included, as readable lines."""
    matches = lint_file(path, config=ManualArgs(regions=REGIONS, include_checks=["I"], ignore_checks=list(ignore)))
    return [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches]


def test_template_lints_clean():
    # W3002 "may only work with 'package' cli command": the state machines' DefinitionS3Location names a
    # local ASL file on purpose (aws cloudformation package's convention); deploy.py inlines it, and the
    # packaged template below is linted with every rule.
    assert lint(deploy.TEMPLATE, ignore=("W3002",)) == []


def test_packaged_template_lints_clean_with_every_rule(tmp_path):
    """The template as deploy.py sends it: ASL inlined, so cfn-lint's state machine rules check the flows."""
    packaged = deploy.package_template(deploy.load_template())
    path = tmp_path / "packaged.json"
    path.write_text(json.dumps(packaged, indent=1))
    assert lint(path) == []
    body = deploy.template_body(packaged)  # raises if over CloudFormation's inline limit
    assert len(body) < deploy.TEMPLATE_BODY_LIMIT * 0.9, "close to the inline limit: plan for TemplateURL"


def test_packaging_inlines_each_asl_file_unchanged():
    packaged = deploy.package_template(deploy.load_template())
    machines = {r["Properties"]["StateMachineName"]["Fn::Sub"].rsplit("-", 1)[-1]: r["Properties"]
                for r in packaged["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"}
    asl = ROOT / "infra" / "statemachines"
    assert set(machines) == {p.name.split(".")[0] for p in asl.glob("*.asl.json")}
    for flow, props in machines.items():
        assert "DefinitionS3Location" not in props
        assert props["Definition"] == json.loads((asl / f"{flow}.asl.json").read_text())


def test_every_output_reaches_the_functions_or_deploy():
    """Outputs are the functions' environment (deploy.OUTPUT_ENV), what deploy.py reads, or DistributionId
    (for people: invalidations, the console)."""
    template = deploy.load_template()
    used_by_deploy = {"LambdaRoleArn", "WebBucketName", "DistributionId", "SiteUrl", "InboundRuleSetName",
                      "ApiRateLimit", "ApiBurstLimit"}
    assert set(template["Outputs"]) == set(deploy.OUTPUT_ENV) | used_by_deploy
    source = (ROOT / "infra" / "deploy.py").read_text()
    for key in used_by_deploy - {"DistributionId"}:
        assert f'"{key}"' in source, f"{key} is output but deploy.py never reads it"


# Settings other branches of issue 6 add to chalicelib/config.py (shared contract); deploy sets them already.
CONTRACT_SETTINGS = {"PARLEY_EVENT_BUS", "PARLEY_EVENTS_QUEUE_URL", "PARLEY_WEBHOOK_DLQ_URL",
                     "PARLEY_CONVERSATIONS_STREAM_ARN", "PARLEY_MESSAGES_STREAM_ARN", "PARLEY_TRACING"}


def test_every_variable_deploy_sets_is_a_setting():
    config = (ROOT / "chalicelib" / "config.py").read_text()
    unread = [name for name in ["PARLEY_STAGE", *deploy.OUTPUT_ENV.values()] if f'"{name}"' not in config]
    assert set(unread) <= CONTRACT_SETTINGS, f"deploy sets variables chalicelib/config.py never reads: {unread}"


def deployed_outputs(stage: str) -> dict:
    """What the stack's outputs look like once deployed (values in AWS's formats)."""
    region, arn = "us-east-1", f"{ACCOUNT}:"
    sqs = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/parley-{stage}"
    table = f"arn:aws:dynamodb:{region}:{arn}table/parley-{stage}"
    outputs = {
        "TablePrefix": f"parley-{stage}-",
        "LambdaRoleArn": f"arn:aws:iam::{ACCOUNT}:role/parley-{stage}-LambdaRole-ABC",
        "UserPoolId": f"{region}_AbCdEfGhI", "UserPoolClientId": "1example23456789abcdefghij",
        "TokenSecretParameter": f"/parley/{stage}/token-secret",
        "EmailQueueUrl": f"{sqs}-email", "EmailQueueName": f"parley-{stage}-email",
        "EmailFrom": "Parley <support@example.com>", "EmailConfigurationSet": f"parley-{stage}",
        "InboundDomain": "reply.example.com", "InboundBucketName": f"parley-{stage}-inboundbucket-1a2b3c4d5e6f",
        "InboundRuleSetName": f"parley-{stage}-inbound",
        "WebhookQueueUrl": f"{sqs}-webhooks", "WebhookDeadLetterQueueUrl": f"{sqs}-webhooks-dlq",
        "EventBusName": f"parley-{stage}", "EventsQueueUrl": f"{sqs}-events",
        "ConversationsStreamArn": f"{table}-conversations/stream/2026-11-22T10:00:00.000",
        "MessagesStreamArn": f"{table}-messages/stream/2026-11-22T10:00:00.000",
        "HandoffStateMachineArn": f"arn:aws:states:{region}:{arn}stateMachine:parley-{stage}-handoff",
        "InactivityStateMachineArn": f"arn:aws:states:{region}:{arn}stateMachine:parley-{stage}-inactivity",
        "CsatStateMachineArn": f"arn:aws:states:{region}:{arn}stateMachine:parley-{stage}-csat",
        "BotStateMachineArn": f"arn:aws:states:{region}:{arn}stateMachine:parley-{stage}-bot",
        "Tracing": "true", "WebBucketName": f"parley-{stage}-webbucket-1a2b3c4d5e6f",
        "DistributionId": "E1A2B3C4D5E6F7",
        "SiteUrl": "https://d1a2b3c4d5e6f7.cloudfront.net", "PublicApiUrl": "https://d1a2b3c4d5e6f7.cloudfront.net",
        "WebSocketCallbackUrl": f"https://a1b2c3d4e5.execute-api.{region}.amazonaws.com/api",
        "ApiRateLimit": "200", "ApiBurstLimit": "400",
    }
    assert set(outputs) == set(deploy.load_template()["Outputs"])  # keep this in step with the template
    return outputs


@pytest.mark.timeout(300)
def test_chalice_package_of_a_deployed_stage_lints_clean(tmp_path):
    """What `chalice package --stage dev` makes of the app with the settings deploy.py writes."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".chalice").mkdir()
    config = project / ".chalice" / "config.json"
    shutil.copy(ROOT / ".chalice" / "config.json", config)
    outputs = deployed_outputs("dev")
    deploy.write_chalice_config(config, "dev", deploy.environment("dev", outputs), outputs["LambdaRoleArn"],
                                tracing=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_"))}
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "tests.infra.chalice_package", "dev", str(tmp_path / "out")],
                            cwd=project, env=env, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
    sam = tmp_path / "out" / "sam.json"
    template = json.loads(sam.read_text())
    functions = {k: r["Properties"] for k, r in template["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert {p["Role"] for p in functions.values()} == {outputs["LambdaRoleArn"]}  # no role of chalice's own
    assert all(p["Environment"]["Variables"]["PARLEY_HANDOFF_ARN"] == outputs["HandoffStateMachineArn"]
               for p in functions.values())
    # chalice reads the queue names while importing the app with the stage's environment: each consumer
    # must be subscribed to one of the stack's queues (with the default config, send_email would not be).
    stack_queues = {outputs[k].rsplit("/", 1)[-1] for k in ("EmailQueueUrl", "WebhookQueueUrl", "EventsQueueUrl")}
    subscribed = {e["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[-1]
                  for p in functions.values() for e in p.get("Events", {}).values() if e["Type"] == "SQS"}
    assert subscribed and subscribed <= stack_queues
    assert lint(sam) == []
