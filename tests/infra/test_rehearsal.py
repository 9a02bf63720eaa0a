"""Deploy rehearsal: infra/deploy.py creates the stack on moto's CloudFormation, and the app runs on what it made.

The same command a team runs (`python -m infra.deploy deploy`), in a subprocess, with --endpoint-url at a
moto server and --skip-chalice (moto cannot run Lambda functions), against a copy of .chalice/config.json.
What moto's CloudFormation skips gets a labelled stand-in (tests/infra/moto_standins.py); the test prints
which. In order, as on a first deploy: create the stack; play chalice's part (create the two APIs and two
functions, one fed by the email queue, and write its record of them); deploy again, which routes the APIs,
lets the functions post to sockets and turns on partial batch responses; deploy a third time, which
changes nothing. Then the app, configured only by the config.json deploy wrote, serves
a visitor and the invited admin (tests/infra/smoke.py), and `destroy` takes it all down.
"""
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

from infra import deploy
from tests.infra import moto_standins

ROOT = Path(__file__).resolve().parents[2]
STAGE = "rehearsal"
REGION = "us-east-1"
ADMIN = "admin@example.com"
TEMPORARY_PASSWORD = "Rehearsal-temp0"
pytestmark = pytest.mark.timeout(300)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rehearsal:
    def __init__(self, moto_url: str, project: Path):
        self.moto_url = moto_url
        self.project = project
        self.config_path = project / ".chalice" / "config.json"
        self.runs: list[subprocess.CompletedProcess] = []

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_"))}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION,
                   AWS_DEFAULT_REGION=REGION, PYTHONWARNINGS="ignore")
        return env

    def run(self, command: str, *extra: str, chalice: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "infra.deploy", command, "--stage", STAGE, "--endpoint-url", self.moto_url,
             *([] if chalice else ["--skip-chalice"]), "--chalice-config", str(self.config_path), *extra],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=240)
        print(f"$ python -m infra.deploy {command} ... {' '.join(extra)}\n{result.stdout}{result.stderr}")
        self.runs.append(result)
        return result

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.moto_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def outputs(self) -> dict:
        stack = self.client("cloudformation").describe_stacks(StackName=f"parley-{STAGE}")["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    def stage_config(self) -> dict:
        return json.loads(self.config_path.read_text())["stages"][STAGE]

    def play_chalice(self) -> tuple[str, str]:
        """Stands in for `chalice deploy`: the two APIs it would create, two of its functions (one fed by
        the email queue, as chalice sets it up: no partial batch responses), and its record of them."""
        rest = self.client("apigateway").create_rest_api(name="parley", endpointConfiguration={"types": ["REGIONAL"]})
        websocket = self.client("apigatewayv2").create_api(Name="parley-websocket-api", ProtocolType="WEBSOCKET",
                                                          RouteSelectionExpression="$request.body.action")
        # chalice deploys each API to its stage
        apigateway = self.client("apigateway")
        root = apigateway.get_resources(restApiId=rest["id"])["items"][0]["id"]
        apigateway.put_method(restApiId=rest["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigateway.put_integration(restApiId=rest["id"], resourceId=root, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=rest["id"], stageName="api")
        self.client("apigatewayv2").create_stage(ApiId=websocket["ApiId"], StageName="api")
        env = self.stage_config()
        lam, code = self.client("lambda"), io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return event\n")
        functions = []
        for name in ("send_email", "flow_task"):
            functions.append(lam.create_function(
                FunctionName=f"parley-{STAGE}-{name}", Runtime="python3.11", Role=env["iam_role_arn"],
                Handler="app.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"])
        sqs = self.client("sqs")
        queue = sqs.get_queue_attributes(QueueUrl=env["environment_variables"]["PARLEY_EMAIL_QUEUE_URL"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.mapping = lam.create_event_source_mapping(EventSourceArn=queue, FunctionName=functions[0],
                                                       BatchSize=10)["UUID"]
        record = {"resources": [
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": rest["id"],
             "rest_api_url": f"https://{rest['id']}.execute-api.{REGION}.amazonaws.com/api/"},
            {"name": "websocket_api", "resource_type": "websocket_api", "websocket_api_id": websocket["ApiId"],
             "websocket_api_url": f"wss://{websocket['ApiId']}.execute-api.{REGION}.amazonaws.com/api/"},
            *({"name": arn.rsplit("-", 1)[-1], "resource_type": "lambda_function", "lambda_arn": arn}
              for arn in functions)],
            "schema_version": "2.0", "backend": "api"}
        deployed = self.project / ".chalice" / "deployed"
        deployed.mkdir(parents=True, exist_ok=True)
        (deployed / f"{STAGE}.json").write_text(json.dumps(record))
        return rest["id"], websocket["ApiId"]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    from moto.server import ThreadedMotoServer
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    project = tmp_path_factory.mktemp("project")
    (project / ".chalice").mkdir()
    shutil.copy(ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    skipped = sorted({res["Type"] for res in deploy.load_template()["Resources"].values()}
                     - moto_standins.native_types())
    # Functions are created (chalice's part) but never run here: no Docker.
    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config", data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"}, method="POST"), timeout=10).read()
    with pytest.MonkeyPatch.context() as monkeypatch:
        installed = moto_standins.install(monkeypatch, f"http://127.0.0.1:{port}", deploy.load_template())
        r = Rehearsal(f"http://127.0.0.1:{port}", project)
        r.skipped = skipped
        r.installed = installed
        # A team verifies its sending domain in SES before deploying with email (docs/deploy.md).
        r.client("ses").verify_domain_identity(Domain="example.com")
        r.first = r.run("deploy", "--email-from", "Parley <support@example.com>", "--inbound-domain",
                        "reply.example.com", "--admin-email", ADMIN)
        r.first_outputs = r.outputs() if r.first.returncode == 0 else {}
        r.api_ids = r.play_chalice()
        r.second = r.run("deploy")
        r.before_third = (r.config_path.read_text(), r.outputs())
        r.third = r.run("deploy")
        yield r
    server.stop()


def test_moto_skips_are_reported_and_stood_in(rehearsal):
    print("moto's CloudFormation skips these types; the rehearsal stands in for them:")
    for kind in rehearsal.skipped:
        standin = rehearsal.installed["stand_ins"].get(kind)
        print(f"  {kind:<40} {'created through moto API' if standin and standin.by_api else 'recorded only'}")
    print("moto creates these but ignores a property; the rehearsal completes them:",
          ", ".join(rehearsal.installed["completions"]))
    assert set(rehearsal.skipped) <= set(rehearsal.installed["stand_ins"]), "a skipped type has no stand-in"
    assert "AWS::Cognito::UserPool" in rehearsal.skipped  # if moto learns it, drop the stand-in


def test_first_deploy_creates_the_stack_and_the_stage_config(rehearsal):
    assert rehearsal.first.returncode == 0, rehearsal.first.stderr
    assert "CREATE_COMPLETE" in rehearsal.first.stdout
    stage = rehearsal.stage_config()
    assert stage["manage_iam_role"] is False
    outputs = rehearsal.first_outputs
    assert stage["iam_role_arn"] == outputs["LambdaRoleArn"]
    env = stage["environment_variables"]
    for key in deploy.OUTPUT_ENV:
        assert key in outputs, key
    assert env["PARLEY_TABLE_PREFIX"] == f"parley-{STAGE}-"
    assert env["PARLEY_EMAIL_QUEUE"] == f"parley-{STAGE}-email"
    assert env["PARLEY_HANDOFF_ARN"].endswith(f":stateMachine:parley-{STAGE}-handoff")
    # Before chalice has run there are no APIs to route or post to.
    assert outputs["PublicApiUrl"] == "" and outputs["WebSocketCallbackUrl"] == ""
    # The other stages' settings are kept as they were.
    original = json.loads((ROOT / ".chalice" / "config.json").read_text())
    written = json.loads(rehearsal.config_path.read_text())
    assert written["stages"]["dev"] == original["stages"]["dev"]
    assert written["environment_variables"] == original["environment_variables"]


def test_every_resource_the_template_declares_exists(rehearsal):
    resources = rehearsal.client("cloudformation").list_stack_resources(StackName=f"parley-{STAGE}")
    created = {r["LogicalResourceId"] for r in resources["StackResourceSummaries"]}
    template = deploy.load_template()
    declared = {name for name, r in template["Resources"].items() if "Condition" not in r or name.startswith("Inbound")}
    assert declared - created == set(), "declared but not in the stack (after two updates)"
    dynamodb = rehearsal.client("dynamodb")
    conversations = dynamodb.describe_table(TableName=f"parley-{STAGE}-conversations")["Table"]
    assert conversations["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert conversations["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=f"parley-{STAGE}-connections")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_the_flows_call_the_stages_flow_task_function(rehearsal):
    sfn = rehearsal.client("stepfunctions")
    for flow in ("handoff", "inactivity", "csat"):
        arn = rehearsal.first_outputs[f"{flow.capitalize()}StateMachineArn"]
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        names = {s["Parameters"]["FunctionName"] for s in definition["States"].values() if s["Type"] == "Task"}
        assert names == {f"arn:aws:lambda:{REGION}:123456789012:function:parley-{STAGE}-flow_task"}


def test_only_the_stage_rule_may_send_to_the_events_queue(rehearsal):
    sqs = rehearsal.client("sqs")
    url = rehearsal.first_outputs["EventsQueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    [statement] = policy["Statement"]
    rule = rehearsal.client("events").describe_rule(Name=f"parley-{STAGE}-events-to-queue",
                                                    EventBusName=f"parley-{STAGE}")
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]
    targets = rehearsal.client("events").list_targets_by_rule(Rule=rule["Name"], EventBusName=f"parley-{STAGE}")
    assert [t["Arn"] for t in targets["Targets"]] == [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]]


def test_the_token_secret_lives_in_ssm_only(rehearsal):
    name = rehearsal.first_outputs["TokenSecretParameter"]
    parameter = rehearsal.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString" and len(parameter["Value"]) >= 32
    assert parameter["Value"] not in rehearsal.config_path.read_text()
    assert all(parameter["Value"] not in run.stdout for run in rehearsal.runs)


def test_console_and_widget_are_uploaded_with_their_config(rehearsal):
    s3 = rehearsal.client("s3")
    bucket = rehearsal.first_outputs["WebBucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"console/index.html", "console/js/main.js", "console/js/thread/thread.js", "console/config.js",
            "console/bot-preview.html", "console/bot-preview.js", "widget/widget.js"} <= keys  # the bot's preview
    # page beside the console, the widget at ../widget/widget.js from it (js/bot/embed.js)
    assert not [k for k in keys if k.startswith("console/test/") or k == "console/package.json"]  # Node's, not the browser's
    for key in ("console/index.html", "console/js/main.js", "console/js/admin/webhooks.js"):
        # Fetched one by one: a browser revalidates each, so it never runs modules of two versions together.
        assert s3.get_object(Bucket=bucket, Key=key)["CacheControl"] == "no-cache", key
    module = s3.get_object(Bucket=bucket, Key="console/js/live.js")
    assert module["ContentType"] == "text/javascript; charset=utf-8"  # module scripts need a JavaScript type
    config = s3.get_object(Bucket=bucket, Key="console/config.js")
    host = rehearsal.outputs()["SiteUrl"].split("://")[1]
    assert f'"api": "https://{host}"' in config["Body"].read().decode()
    assert config["CacheControl"] == "no-cache"
    widget = s3.get_object(Bucket=bucket, Key="widget/widget.js")
    assert widget["ContentType"].startswith(("application/javascript", "text/javascript"))
    # the build (`make widget`, run by the deploy), not its readable source, build script or node_modules
    assert {k for k in keys if k.startswith("widget/")} == {"widget/widget.js", "widget/widget.css",
                                                            "widget/widget-kb.js"}
    assert widget["Body"].read() == (ROOT / "web" / "widget" / "widget.js").read_bytes()
    assert f"{host}/widget/widget.js" in rehearsal.first.stdout  # the snippet printed for the team


def test_once_chalice_has_run_the_apis_are_routed_and_posting_is_allowed(rehearsal):
    assert rehearsal.second.returncode == 0, rehearsal.second.stderr
    rest_id, websocket_id = rehearsal.api_ids
    outputs = rehearsal.outputs()
    assert outputs["WebSocketCallbackUrl"] == f"https://{websocket_id}.execute-api.{REGION}.amazonaws.com/api"
    assert outputs["PublicApiUrl"] == outputs["SiteUrl"]
    env = rehearsal.stage_config()["environment_variables"]
    assert env["PARLEY_WS_CALLBACK_URL"] == outputs["WebSocketCallbackUrl"]
    iam = rehearsal.client("iam")
    role = outputs["LambdaRoleArn"].rsplit("/", 1)[-1]
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    statements = (json.loads(document) if isinstance(document, str) else document)["Statement"]  # moto: a string
    post = next(s for s in statements if s.get("Sid") == "PostToSockets")
    assert post["Resource"] == f"arn:aws:execute-api:{REGION}:123456789012:{websocket_id}/api/*/@connections/*"


def test_both_stages_are_throttled_as_the_template_says(rehearsal):
    rest_id, websocket_id = rehearsal.api_ids
    stage = rehearsal.client("apigateway").get_stage(restApiId=rest_id, stageName="api")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 200.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 400
    routes = rehearsal.client("apigatewayv2").get_stage(ApiId=websocket_id, StageName="api")["DefaultRouteSettings"]
    assert (routes["ThrottlingRateLimit"], routes["ThrottlingBurstLimit"]) == (200.0, 400)
    assert "API Gateway throttling on both stages: 200 requests/s, bursts of 400" in rehearsal.second.stdout


def test_sqs_consumers_report_partial_batch_failures_and_logs_expire(rehearsal):
    mapping = rehearsal.client("lambda").get_event_source_mapping(UUID=rehearsal.mapping)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert f"Partial batch responses on: parley-{STAGE}-send_email" in rehearsal.second.stdout
    groups = rehearsal.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/parley-{STAGE}-")
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups["logGroups"]} == {
        f"/aws/lambda/parley-{STAGE}-send_email": 30, f"/aws/lambda/parley-{STAGE}-flow_task": 30}


def test_deploying_again_changes_nothing(rehearsal):
    # (moto holds Number parameters as numbers, so it never answers "No updates are to be performed" for
    # this template: the update runs, and must leave everything as it was.)
    assert rehearsal.third.returncode == 0, rehearsal.third.stderr
    assert (rehearsal.config_path.read_text(), rehearsal.outputs()) == rehearsal.before_third
    assert "Token secret: created" not in rehearsal.third.stdout
    assert "site main exists" not in rehearsal.third.stdout  # no --admin-email: no bootstrap


def test_the_app_runs_on_the_stack(rehearsal):
    """A visitor chats and the invited admin signs in, with the settings deploy wrote and nothing else."""
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    config = json.loads(rehearsal.config_path.read_text())
    env = rehearsal.env()
    env.update(config["environment_variables"])
    env.update(rehearsal.stage_config()["environment_variables"])
    pool = env["PARLEY_COGNITO_POOL_ID"]
    env.update({
        "AWS_ENDPOINT_URL": rehearsal.moto_url,
        # Endpoints that are AWS's own hosts in the deployed config; here, moto serves them.
        "PARLEY_COGNITO_JWKS_URL": f"{rehearsal.moto_url}/{pool}/.well-known/jwks.json",
        "PARLEY_WS_CALLBACK_URL": rehearsal.moto_url,  # moto serves /@connections at its root
        "SMOKE_AGENT_EMAIL": ADMIN, "SMOKE_AGENT_TEMPORARY_PASSWORD": TEMPORARY_PASSWORD,
    })
    assert "PARLEY_TOKEN_SECRET_PARAMETER" in env and not env.get("PARLEY_TOKEN_SECRET")
    # Cognito would email the invited admin a temporary password; the rehearsal sets a known one.
    rehearsal.client("cognito-idp").admin_set_user_password(UserPoolId=pool, Username=ADMIN,
                                                            Password=TEMPORARY_PASSWORD, Permanent=False)
    result = subprocess.run([sys.executable, "-m", "tests.infra.smoke", str(rehearsal.project), STAGE],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))
    assert report["table_prefix"] == f"parley-{STAGE}-"
    assert report["health"] == 200
    assert report["visitor_session"] == 201  # signed with the secret read from SSM
    assert report["widget_settings"] == 200
    assert report["visitor_connect"] == 200
    assert report["conversations"] == 1
    assert report["messages"] == ["Hello from the deploy rehearsal"]
    assert report["conversation_status"] == "queued"  # nobody online yet
    assert len(report["handoff_executions"]) == 1  # the handoff flow started on the stack's state machine
    assert report["agent_first_login"] == [401, "password_change_required"]
    assert report["agent_new_password"] == 200
    assert report["agent_me"] == [200, "admin"]
    assert report["agent_connect"] == 200
    assert report["conversation_id"] in report["agent_sees"]
    posted = apigatewaymanagementapi_backends["123456789012"][REGION].connections["rehearsal-visitor"].data
    assert b'"type":"ack"' in posted.replace(b" ", b"")  # the visitor's start was answered on its socket


def test_a_checkout_without_chalices_record_refuses_to_deploy(rehearsal):
    """Without .chalice/deployed/STAGE.json chalice would create a second set of APIs and functions."""
    record = rehearsal.project / ".chalice" / "deployed" / f"{STAGE}.json"
    kept = record.read_text()
    record.unlink()
    try:
        before = rehearsal.config_path.read_text()
        refused = rehearsal.run("deploy", chalice=True)
        assert refused.returncode == 1
        assert f".chalice/deployed/{STAGE}.json is missing" in refused.stderr
        assert rehearsal.config_path.read_text() == before
    finally:
        record.write_text(kept)


def test_destroy_asks_first_then_deletes_everything(rehearsal):
    refused = rehearsal.run("destroy")
    assert refused.returncode == 2 and "ALL THE DATA" in refused.stderr
    assert rehearsal.client("dynamodb").describe_table(TableName=f"parley-{STAGE}-messages")
    bucket = rehearsal.outputs()["WebBucketName"]

    done = rehearsal.run("destroy", "--confirm")
    assert done.returncode == 0, done.stderr
    tables = rehearsal.client("dynamodb").list_tables()["TableNames"]
    assert not [t for t in tables if t.startswith(f"parley-{STAGE}-")]
    assert not rehearsal.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])[
        "StackSummaries"]
    assert bucket not in [b["Name"] for b in rehearsal.client("s3").list_buckets()["Buckets"]]
    with pytest.raises(rehearsal.client("ssm").exceptions.ParameterNotFound):
        rehearsal.client("ssm").get_parameter(Name=f"/parley/{STAGE}/token-secret")
    logs = rehearsal.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/parley-{STAGE}-")
    assert logs["logGroups"] == []
