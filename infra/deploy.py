"""Deploys one stage of Parley to an AWS account (`make deploy STAGE=dev`), and takes it down again.

Deploy, in order: the CloudFormation stack of infra/template.yaml (tables, queues, event bus, flows,
user pool, email plumbing, web bucket and CDN, the functions' role); its outputs into the stage's
environment in .chalice/config.json; the token secret in SSM; `chalice deploy`; then what needs
chalice's APIs to exist (the CDN's /v1 and /ws routes, the role's right to post to sockets, the URLs
in the environment: a stack update and a second chalice deploy, on the first deploy only); partial
batch responses on the SQS consumers; log retention; the console and widget on the bucket (the widget
built first, `make widget`, so what is uploaded is built from the source being deployed). Every
step is idempotent: running it again applies what changed and keeps the data. docs/deploy.md says why.

    python -m infra.deploy deploy --stage dev [--email-from ... --admin-email ...]
    python -m infra.deploy destroy --stage dev --confirm
"""
import argparse
import json
import mimetypes
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra import widget

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
WEB = ROOT / "web"
TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's limit for a template passed inline (no S3 bucket)

# Stack output -> the functions' environment variable (chalicelib/config.py reads them).
OUTPUT_ENV = {
    "TablePrefix": "PARLEY_TABLE_PREFIX",
    "UserPoolId": "PARLEY_COGNITO_POOL_ID",
    "UserPoolClientId": "PARLEY_COGNITO_CLIENT_ID",
    "TokenSecretParameter": "PARLEY_TOKEN_SECRET_PARAMETER",
    "EmailQueueUrl": "PARLEY_EMAIL_QUEUE_URL",
    "EmailQueueName": "PARLEY_EMAIL_QUEUE",
    "EmailFrom": "PARLEY_EMAIL_FROM",
    "EmailConfigurationSet": "PARLEY_SES_CONFIGURATION_SET",
    "InboundDomain": "PARLEY_INBOUND_DOMAIN",
    "InboundBucketName": "PARLEY_INBOUND_BUCKET",
    "WebhookQueueUrl": "PARLEY_WEBHOOK_QUEUE_URL",
    "WebhookDeadLetterQueueUrl": "PARLEY_WEBHOOK_DLQ_URL",
    "EventBusName": "PARLEY_EVENT_BUS",
    "EventsQueueUrl": "PARLEY_EVENTS_QUEUE_URL",
    "ConversationsStreamArn": "PARLEY_CONVERSATIONS_STREAM_ARN",
    "MessagesStreamArn": "PARLEY_MESSAGES_STREAM_ARN",
    "HandoffStateMachineArn": "PARLEY_HANDOFF_ARN",
    "InactivityStateMachineArn": "PARLEY_INACTIVITY_ARN",
    "BotStateMachineArn": "PARLEY_BOT_ARN",
    "CsatStateMachineArn": "PARLEY_CSAT_ARN",
    "Tracing": "PARLEY_TRACING",
    "PublicApiUrl": "PARLEY_PUBLIC_API_URL",
    "WebSocketCallbackUrl": "PARLEY_WS_CALLBACK_URL",
    "SiteUrl": "PARLEY_CONSOLE_ORIGIN",  # the console's page: agents' sockets come from there only
}
# Command-line settings -> stack parameters. A setting not given keeps the stack's previous value.
SETTING_PARAMETERS = {
    "email_from": "EmailFrom", "ses_identity": "SesIdentity", "inbound_domain": "InboundDomain",
    "inbound_retention_days": "InboundRetentionDays", "tracing": "Tracing",
    "deletion_protection": "DeletionProtection", "price_class": "PriceClass",
    "api_rate_limit": "ApiRateLimit", "api_burst_limit": "ApiBurstLimit",
}


# A stream record that keeps failing is retried this much, split from its batch, then skipped (its
# events are lost, and the error logs say which); without it, it would block its shard for 24 hours.
STREAM_RETRIES = {"MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True, "MaximumRecordAgeInSeconds": 6 * 3600}

class DeployError(Exception):
    """A step failed in a way the person deploying can act on; the message says how."""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def detail(message: str) -> None:
    print(f"    {message}", flush=True)


# --- the template ---------------------------------------------------------------------------------

def load_template(path: Path = TEMPLATE) -> dict:
    """The template as plain data: YAML's short forms (!Ref, !Sub, !GetAtt...) become their long forms."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    return yaml.load(path.read_text(), Loader=Loader)


def package_template(template: dict, base: Path = TEMPLATE.parent) -> dict:
    """Inline every state machine's local ASL file (DefinitionS3Location: a path) as its Definition,
    the way `aws cloudformation package` would upload it, minus the bucket."""
    packaged = json.loads(json.dumps(template))
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        local_file = props.get("DefinitionS3Location")
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and isinstance(local_file, str):
            props["Definition"] = json.loads((base / local_file).read_text())
            del props["DefinitionS3Location"]
    return packaged


def template_body(template: dict) -> str:
    body = json.dumps(template, separators=(",", ":"))
    if len(body) > TEMPLATE_BODY_LIMIT:
        raise DeployError(f"the packaged template is {len(body)} bytes, over CloudFormation's inline limit of "
                          f"{TEMPLATE_BODY_LIMIT}: shorten it, or upload it to S3 and pass TemplateURL")
    return body


def environment(stage: str, outputs: dict) -> dict:
    """The functions' environment variables from the stack's outputs."""
    missing = sorted(set(OUTPUT_ENV) - set(outputs))
    if missing:
        raise DeployError(f"the stack has no output {', '.join(missing)}: was it created from an older template?")
    return {"PARLEY_STAGE": stage, **{env: str(outputs[key]) for key, env in OUTPUT_ENV.items()}}


# --- .chalice/config.json and chalice's record of what it deployed -----------------------------------

def write_chalice_config(path: Path, stage: str, env: dict, role_arn: str, tracing: bool) -> bool:
    """Point the stage at the stack's role and resources, keeping every other key; True if it changed."""
    config = json.loads(path.read_text())
    stage_config = config.setdefault("stages", {}).setdefault(stage, {"api_gateway_stage": "api"})
    before = json.dumps(stage_config, sort_keys=True)
    stage_config["manage_iam_role"] = False
    stage_config["iam_role_arn"] = role_arn
    stage_config["xray"] = tracing
    stage_config.setdefault("environment_variables", {}).update(env)
    if json.dumps(stage_config, sort_keys=True) == before:
        return False
    path.write_text(json.dumps(config, indent=2) + "\n")
    return True


def api_stage(path: Path, stage: str) -> str:
    config = json.loads(path.read_text())
    return config.get("stages", {}).get(stage, {}).get("api_gateway_stage") or config.get("api_gateway_stage", "api")


def chalice_deployed(chalice_dir: Path, stage: str) -> dict | None:
    """What chalice recorded of its last deploy of the stage (.chalice/deployed/STAGE.json), by type."""
    path = chalice_dir / "deployed" / f"{stage}.json"
    if not path.exists():
        return None
    found: dict = {}
    for resource in json.loads(path.read_text()).get("resources", []):
        found.setdefault(resource["resource_type"], []).append(resource)
    return found


def api_ids(deployed: dict | None) -> tuple[str, str]:
    if not deployed:
        return "", ""
    rest = (deployed.get("rest_api") or [{}])[0].get("rest_api_id", "")
    websocket = (deployed.get("websocket_api") or [{}])[0].get("websocket_api_id", "")
    return rest, websocket


# --- the deployment -------------------------------------------------------------------------------

@dataclass
class Deployment:
    stage: str
    # The chalice project is the directory above .chalice/, where chalice also records what it deployed.
    chalice_config: Path = ROOT / ".chalice" / "config.json"
    region: str = ""
    poll_seconds: float = 5.0
    created: bool = False  # this run created the stack
    _session: object = None
    _clients: dict = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return f"parley-{self.stage}"

    @property
    def project(self) -> Path:
        return self.chalice_config.parent.parent

    def chalice_deployed(self) -> dict | None:
        return chalice_deployed(self.chalice_config.parent, self.stage)

    def client(self, service: str):
        if service not in self._clients:
            import boto3
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region or os.environ.get("AWS_REGION"))
                if not self._session.region_name:
                    raise DeployError("no AWS region: set AWS_REGION (or pass --region)")
                self.region = self._session.region_name
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    # --- the stack ---

    def describe_stack(self, stack: str = "") -> dict | None:
        """The stack (by name, or by id, which also finds a deleted one); None once it does not exist."""
        from botocore.exceptions import ClientError
        try:
            return self.client("cloudformation").describe_stacks(StackName=stack or self.stack_name)["Stacks"][0]
        except ClientError as exc:
            if _missing_stack(exc):
                return None
            raise

    def deploy_stack(self, body: str, settings: dict) -> dict:
        """Create or update the stack; returns its outputs. Settings left None keep their previous values."""
        from botocore.exceptions import ClientError
        cfn = self.client("cloudformation")
        cfn.validate_template(TemplateBody=body)
        declared = json.loads(body).get("Parameters", {})
        stack = self.describe_stack()
        if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            say(f"Stack {self.stack_name} never got created (ROLLBACK_COMPLETE); deleting it to start over")
            self.delete_stack()
            stack = None
        # A setting not given keeps the stack's current value (passed as is: no parameter is NoEcho).
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in (stack or {}).get("Parameters", [])}
        parameters = []
        for key in sorted(declared):
            value = settings[key] if settings.get(key) is not None else previous.get(key)
            if value is not None:
                parameters.append({"ParameterKey": key, "ParameterValue": str(value)})
        request = dict(StackName=self.stack_name, TemplateBody=body, Parameters=parameters,
                       Capabilities=["CAPABILITY_IAM"], Tags=[{"Key": "parley:stage", "Value": self.stage}])
        started = time.time()
        if stack is None:
            say(f"Creating stack {self.stack_name} (the first time takes a few minutes: CloudFront)")
            stack_id = cfn.create_stack(**request)["StackId"]
            self.created = True
        else:
            say(f"Updating stack {self.stack_name}")
            try:
                stack_id = cfn.update_stack(**request)["StackId"]
            except ClientError as exc:
                # The API says so only in the message: an unchanged template is not an error here.
                if "No updates are to be performed" in exc.response["Error"].get("Message", ""):
                    detail("no changes")
                    return self.outputs()
                raise
        status = self.wait_for_stack(stack_id, started)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise DeployError(f"stack {self.stack_name} ended in {status}; the failed events are above")
        say(f"Stack {self.stack_name}: {status} ({_duration(time.time() - started)})")
        return self.outputs()

    def wait_for_stack(self, stack_id: str, since: float) -> str:
        """Print the stack's events as they come until it settles; returns its final status."""
        from botocore.exceptions import ClientError
        cfn = self.client("cloudformation")
        seen: set = set()
        failures: list = []
        while True:
            try:
                events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            except ClientError as exc:
                if not _missing_stack(exc):
                    raise
                events = []  # deleted, and gone from the API along with its events
            for event in reversed(events):
                if event["EventId"] in seen or event["Timestamp"].timestamp() < since - 5:
                    continue
                seen.add(event["EventId"])
                status = event["ResourceStatus"]
                line = f"{status:<28} {event['ResourceType']:<38} {event['LogicalResourceId']}"
                reason = event.get("ResourceStatusReason")
                if status.endswith("FAILED"):
                    failures.append(f"{event['LogicalResourceId']}: {reason}")
                    line += f"  <- {reason}"
                detail(line)
            stack = self.describe_stack(stack_id)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if not status.endswith("_IN_PROGRESS"):
                if failures:
                    say("What failed:")
                    for failure in failures:
                        detail(failure)
                return status
            time.sleep(self.poll_seconds)

    def outputs(self) -> dict:
        stack = self.describe_stack() or {}
        return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}

    def parameters(self) -> dict:
        stack = self.describe_stack() or {}
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}

    def delete_stack(self) -> None:
        started = time.time()
        stack_id = self.describe_stack()["StackId"]
        self.client("cloudformation").delete_stack(StackName=stack_id)
        status = self.wait_for_stack(stack_id, started)
        if status != "DELETE_COMPLETE":
            raise DeployError(f"stack {self.stack_name} ended in {status}; the failed events are above")

    # --- around chalice ---

    def ensure_token_secret(self, name: str) -> bool:
        """Create the visitor tokens' signing secret once, as an SSM SecureString; True if created now.
        It never leaves AWS: not in config.json, not in the functions' environment, not on screen."""
        from botocore.exceptions import ClientError
        try:
            self.client("ssm").put_parameter(
                Name=name, Type="SecureString", Value=secrets.token_urlsafe(48), Overwrite=False,
                Description=f"Parley {self.stage}: signs visitor tokens (HS256). Rotating it signs every visitor out.")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterAlreadyExists":
                return False
            raise
        return True

    def run_chalice(self, *args: str) -> None:
        chalice = Path(sys.executable).with_name("chalice")
        command = [str(chalice) if chalice.exists() else "chalice", *args]
        say(" ".join(["chalice", *args]))
        env = {**os.environ, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        if subprocess.run(command, cwd=self.project, env=env).returncode != 0:
            raise DeployError(f"chalice {args[0]} failed (its output is above)")

    def function_arns(self, deployed: dict | None) -> list[str]:
        return [f["lambda_arn"] for f in (deployed or {}).get("lambda_function", [])]

    def enable_partial_batch_responses(self, function_arns: list[str]) -> list[str]:
        """SQS and DynamoDB stream consumers report which records failed ({"batchItemFailures": [...]}), so
        only those come back; chalice 1.34 cannot say so on the event source mapping, hence this. A stream
        mapping also gets a bounded retry, so one bad record cannot hold its shard for the stream's 24 h.
        Returns what changed."""
        lam = self.client("lambda")
        changed = []
        for arn in function_arns:
            for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=arn):
                for mapping in page["EventSourceMappings"]:
                    source = mapping.get("EventSourceArn", "")
                    if ":sqs:" not in source and ":dynamodb:" not in source:
                        continue
                    if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
                        self._settled_mapping(mapping["UUID"])
                        extra = {} if ":sqs:" in source else STREAM_RETRIES
                        lam.update_event_source_mapping(UUID=mapping["UUID"],
                                                        FunctionResponseTypes=["ReportBatchItemFailures"], **extra)
                        changed.append(arn.rsplit(":", 1)[-1])
        return changed

    def _settled_mapping(self, uuid: str, timeout: float = 120) -> None:
        """A mapping chalice has just created is "Creating" for a while, and refuses updates until it is not."""
        deadline = time.time() + timeout
        while self.client("lambda").get_event_source_mapping(UUID=uuid)["State"] in ("Creating", "Updating",
                                                                                       "Enabling"):
            if time.time() > deadline:
                raise DeployError(f"the event source mapping {uuid} is still busy after {timeout:.0f} s; deploy again")
            time.sleep(self.poll_seconds)

    def throttle_stages(self, rest_id: str, websocket_id: str, stage: str, rate: float, burst: int) -> None:
        """API Gateway throttling on the stages chalice created (the template holds the figures): a flood
        from anywhere is cut at the edge, before a single Lambda runs. Returns nothing; raises on error."""
        value = lambda x: str(int(x)) if float(x).is_integer() else str(x)
        self.client("apigateway").update_stage(restApiId=rest_id, stageName=stage, patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": value(rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": value(burst)}])
        self.client("apigatewayv2").update_stage(ApiId=websocket_id, StageName=stage, DefaultRouteSettings={
            "ThrottlingRateLimit": float(rate), "ThrottlingBurstLimit": int(burst)})

    def set_log_retention(self, function_arns: list[str], days: int) -> None:
        """Lambda's log groups keep everything forever unless told otherwise."""
        logs = self.client("logs")
        for arn in function_arns:
            group = f"/aws/lambda/{arn.rsplit(':', 1)[-1]}"
            try:
                logs.create_log_group(logGroupName=group)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)

    def activate_receipt_rules(self, rule_set: str) -> None:
        """SES applies one receipt rule set per region: make ours the active one, unless another is."""
        ses = self.client("ses")
        active = (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
        if active == rule_set:
            return
        if active:
            detail(f"WARNING: SES's active receipt rule set is {active!r}, not {rule_set!r}; replies by email "
                   f"stay off until you merge the rule into it or run: "
                   f"aws ses set-active-receipt-rule-set --rule-set-name {rule_set}")
            return
        ses.set_active_receipt_rule_set(RuleSetName=rule_set)
        detail(f"activated SES receipt rule set {rule_set}")

    def check_ses_identity(self, identity: str) -> None:
        result = self.client("ses").get_identity_verification_attributes(Identities=[identity])
        status = result["VerificationAttributes"].get(identity, {}).get("VerificationStatus", "NotStarted")
        if status != "Success":
            detail(f"WARNING: the SES identity {identity} is {status}, not verified: emails will fail until it is "
                   f"(SES console > Verified identities)")

    # --- the web files ---

    def upload_web(self, bucket: str, site_url: str) -> int:
        """Upload web/console and the built widget (widget.js, widget.css, widget-kb.js: infra/widget.py), with a
        config.js that points the console at this stage; remove what is no longer there. The console's
        files are `no-cache` (revalidated on each load,
        cheap 304s): its page and its ES modules (js/**) are fetched one by one, and a browser must never
        run modules of two versions together. The widget's get a short lifetime: a redeploy reaches
        browsers in minutes."""
        s3 = self.client("s3")
        host = site_url.split("://", 1)[-1].rstrip("/")
        config_js = (f"// Written by infra/deploy.py for stage {self.stage}: where this console finds Parley.\n"
                     f"window.PARLEY_CONFIG = {json.dumps({'api': f'https://{host}', 'ws': f'wss://{host}/ws'})};\n")
        files = {"console/config.js": (config_js.encode(), "no-cache")}
        cache = {"console": "no-cache", "widget": "public, max-age=300"}
        for path in sorted((WEB / "console").rglob("*")):
            relative = path.relative_to(WEB / "console").as_posix()
            key = f"console/{relative}"
            if path.is_file() and key not in files and not _console_dev_only(relative):
                files[key] = (path.read_bytes(), cache["console"])
        for path in widget.shipped_paths():  # not its source, build script or node_modules
            files[f"widget/{path.name}"] = (path.read_bytes(), cache["widget"])
        for key, (body, cache_control) in files.items():
            kind = _content_type(key)
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=kind, CacheControl=cache_control)
        stale = [o["Key"] for prefix in ("console/", "widget/")
                 for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                 for o in page.get("Contents", []) if o["Key"] not in files]
        if stale:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale]})
        return len(files)

    def empty_bucket(self, bucket: str) -> int:
        s3 = self.client("s3")
        removed = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
                removed += len(keys)
        return removed

    # --- the first workspace ---

    def bootstrap(self, outputs: dict, admin_email: str, site_key: str, workspace_name: str) -> str:
        """The first workspace, its site and its admin (whom Cognito emails a temporary password), so the
        team can sign in; the rest of the team is added from the console. Does nothing twice."""
        os.environ.update({"PARLEY_STAGE": self.stage, "PARLEY_TABLE_PREFIX": outputs["TablePrefix"],
                           "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region})
        sys.path.insert(0, str(ROOT))
        from botocore.exceptions import ClientError
        from pynamodb.exceptions import DoesNotExist

        from chalicelib.core.clock import iso, new_id
        from chalicelib.store.dynamo import save_if
        from chalicelib.store.models import Agent, Site, SiteSettings, Workspace
        stamp = iso()
        try:
            workspace_id = Site.get(site_key).workspace_id
            detail(f"site {site_key} exists (workspace {workspace_id})")
        except DoesNotExist:
            workspace_id = new_id("ws")
            Workspace(workspace_id, name=workspace_name, created_at=stamp).save(
                condition=Workspace.id.does_not_exist())
            Site(site_key, workspace_id=workspace_id, name=workspace_name, identity_secret=secrets.token_hex(32),
                 settings=SiteSettings(), created_at=stamp).save(condition=Site.site_key.does_not_exist())
            detail(f"created workspace {workspace_name!r} and its site {site_key}")
        idp = self.client("cognito-idp")
        pool = outputs["UserPoolId"]
        name = admin_email.split("@", 1)[0]
        try:
            user = idp.admin_create_user(
                UserPoolId=pool, Username=admin_email, DesiredDeliveryMediums=["EMAIL"],
                UserAttributes=[{"Name": "email", "Value": admin_email}, {"Name": "email_verified", "Value": "true"},
                                {"Name": "name", "Value": name}])["User"]
            detail(f"invited {admin_email}: Cognito emails them a temporary password")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UsernameExistsException":
                raise
            user = idp.admin_get_user(UserPoolId=pool, Username=admin_email)
            user["Attributes"] = user.pop("UserAttributes")
            detail(f"{admin_email} already has a sign-in")
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        # An existing profile stays as the team has shaped it; a throttle fails the deploy step.
        save_if(Agent(sub, workspace_id=workspace_id, email=admin_email, name=name, role="admin", capacity=3,
                      created_at=stamp), Agent.id.does_not_exist())
        return workspace_id


def _missing_stack(exc) -> bool:
    """CloudFormation says a stack does not exist only in the message (its code is ValidationError)."""
    return "does not exist" in exc.response["Error"].get("Message", "")


def _duration(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{seconds:.0f} s"


def _console_dev_only(relative: str) -> bool:
    """web/console files browsers never load: the Node specs of its modules and the package.json that
    tells Node they are ES modules."""
    return relative == "package.json" or relative.startswith("test/")


def _content_type(key: str) -> str:
    """JavaScript as text/javascript whatever this machine's MIME table says (Python 3.11's own says
    application/javascript, and .mjs it does not know): browsers refuse module scripts of other types."""
    if key.endswith((".js", ".mjs")):
        return "text/javascript"
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


# --- the commands ---------------------------------------------------------------------------------

def deploy(args: argparse.Namespace) -> int:
    d = Deployment(args.stage, chalice_config=Path(args.chalice_config), region=args.region or "",
                   poll_seconds=1.0 if os.environ.get("AWS_ENDPOINT_URL") else 5.0)
    account = d.client("sts").get_caller_identity()["Account"]
    say(f"Deploying stage {args.stage} to account {account}, region {d.region}")

    try:  # the widget ships minified: built here from web/widget/src/, never uploaded as left on disk
        widget.build()
    except widget.BuildError as exc:
        raise DeployError(f"the widget could not be built: {exc}") from exc
    detail("widget: " + ", ".join(f"{p.name} {p.stat().st_size:,} B" for p in widget.shipped_paths())
           + " (make widget)")

    template = package_template(load_template())
    body = template_body(template)
    machines = sum(r["Type"] == "AWS::StepFunctions::StateMachine" for r in template["Resources"].values())
    detail(f"infra/template.yaml: {len(template['Resources'])} resources, {machines} state machines inlined, "
           f"{len(body) / 1024:.1f} KB")

    settings = {param: getattr(args, name) for name, param in SETTING_PARAMETERS.items()}
    if args.email_from and args.ses_identity is None:
        settings["SesIdentity"] = args.email_from.rsplit("@", 1)[-1].strip(" >")
    settings["Stage"] = args.stage
    settings["ApiStage"] = api_stage(d.chalice_config, args.stage)
    deployed = d.chalice_deployed()
    rest_id, websocket_id = api_ids(deployed)
    if rest_id and websocket_id:
        settings.update(RestApiId=rest_id, WebSocketApiId=websocket_id)
    elif d.parameters().get("WebSocketApiId") and not args.skip_chalice:
        raise DeployError(
            f"stage {args.stage} was deployed from another checkout: chalice's record of it "
            f".chalice/deployed/{args.stage}.json is missing here, and chalice would create a second set of APIs "
            f"and functions. Copy that file from where the stage was deployed, then run this again.")

    outputs = d.deploy_stack(body, settings)
    if d.ensure_token_secret(outputs["TokenSecretParameter"]):
        say(f"Token secret: created the SSM SecureString {outputs['TokenSecretParameter']}")
    tracing = outputs["Tracing"] == "true"
    env = environment(args.stage, outputs)
    if write_chalice_config(d.chalice_config, args.stage, env, outputs["LambdaRoleArn"], tracing):
        say(f"{d.chalice_config}: stage {args.stage} runs as the stack's role, with {len(env)} settings "
            f"from its outputs")

    if not args.skip_chalice:
        d.run_chalice("deploy", "--stage", args.stage)
        deployed = d.chalice_deployed()
        if api_ids(deployed) != (settings.get("RestApiId"), settings.get("WebSocketApiId")):
            say("chalice created the APIs: routing /v1 and /ws through the CDN, letting the functions post to sockets")
            rest_id, websocket_id = api_ids(deployed)
            outputs = d.deploy_stack(body, {"RestApiId": rest_id, "WebSocketApiId": websocket_id})
            env = environment(args.stage, outputs)
            if write_chalice_config(d.chalice_config, args.stage, env, outputs["LambdaRoleArn"], tracing):
                d.run_chalice("deploy", "--stage", args.stage)
    rest_id, websocket_id = api_ids(d.chalice_deployed())
    if rest_id and websocket_id:
        rate, burst = float(outputs["ApiRateLimit"]), int(float(outputs["ApiBurstLimit"]))
        d.throttle_stages(rest_id, websocket_id, settings["ApiStage"], rate, burst)
        detail(f"API Gateway throttling on both stages: {rate:g} requests/s, bursts of {burst}")
    functions = d.function_arns(d.chalice_deployed())
    if functions:
        changed = d.enable_partial_batch_responses(functions)
        if changed:
            say(f"Partial batch responses on: {', '.join(changed)}")
        d.set_log_retention(functions, args.log_retention_days)
        detail(f"logs of {len(functions)} functions kept {args.log_retention_days} days")

    if outputs.get("InboundRuleSetName"):
        d.activate_receipt_rules(outputs["InboundRuleSetName"])
    identity = d.parameters().get("SesIdentity")
    if identity:
        d.check_ses_identity(identity)

    count = d.upload_web(outputs["WebBucketName"], outputs["SiteUrl"])
    say(f"Uploaded the console and the widget ({count} files) to {outputs['WebBucketName']}")

    if args.admin_email:
        say(f"First workspace and admin ({args.admin_email})")
        d.bootstrap(outputs, args.admin_email, args.site_key, args.workspace_name)

    site = outputs["SiteUrl"].rstrip("/")
    site_key = args.site_key if args.admin_email else "SITE_KEY"
    say(f"Stage {args.stage} is deployed.")
    detail(f"Console:  {site}/console/")
    detail("Widget:   paste this before </body> on your site (SITE_KEY: your site's key"
           + (f", e.g. {args.site_key}" if args.admin_email else "") + "):")
    detail(f'  <script src="{site}/widget/widget.js" data-site-key="{site_key}" async></script>')
    if not outputs.get("PublicApiUrl"):
        detail("The APIs are not routed yet (chalice has not run): run this again without --skip-chalice.")
    elif d.created and not args.admin_email:
        detail("No workspace yet: run again with ADMIN_EMAIL=you@example.com (make) or --admin-email.")
    return 0


def destroy(args: argparse.Namespace) -> int:
    d = Deployment(args.stage, chalice_config=Path(args.chalice_config), region=args.region or "",
                   poll_seconds=1.0 if os.environ.get("AWS_ENDPOINT_URL") else 5.0)
    stack = d.describe_stack()
    if not args.confirm:
        print(f"This deletes stage {args.stage} for good: its functions and APIs, and the stack {d.stack_name} with "
              f"every table (conversations, messages, agents, sites: ALL THE DATA), the agents' sign-ins, the "
              f"queues, the inbound emails and the web files. Nothing can be recovered afterwards.\n"
              f"Run again with CONFIRM=yes (make) or --confirm to go ahead.", file=sys.stderr)
        return 2
    if stack and d.parameters().get("DeletionProtection") == "true":
        raise DeployError(f"stage {args.stage} is protected from deletion; turn it off first: "
                          f"make deploy STAGE={args.stage} DELETION_PROTECTION=false")
    say(f"Destroying stage {args.stage}")
    if d.chalice_deployed() is not None and not args.skip_chalice:
        d.run_chalice("delete", "--stage", args.stage)
    if stack is None:
        say(f"No stack {d.stack_name}: nothing else to delete")
        return 0
    outputs = d.outputs()
    for key in ("WebBucketName", "InboundBucketName"):
        if outputs.get(key):
            detail(f"emptied {outputs[key]} ({d.empty_bucket(outputs[key])} objects)")
    if outputs.get("InboundRuleSetName"):
        ses = d.client("ses")
        if (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name") == outputs["InboundRuleSetName"]:
            ses.set_active_receipt_rule_set()  # CloudFormation cannot delete the active rule set
    say(f"Deleting stack {d.stack_name} (CloudFront takes a few minutes)")
    d.delete_stack()
    from botocore.exceptions import ClientError
    try:
        d.client("ssm").delete_parameter(Name=outputs.get("TokenSecretParameter", f"/parley/{args.stage}/token-secret"))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
    logs = d.client("logs")
    prefix = f"/aws/lambda/parley-{args.stage}-"
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
        for group in page["logGroups"]:
            logs.delete_log_group(logGroupName=group["logGroupName"])
    say(f"Stage {args.stage} is gone (.chalice/config.json still names its role; the next deploy rewrites it).")
    return 0


def _stage_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", value):
        raise argparse.ArgumentTypeError(f"{value!r}: lower-case letters and digits, starting with a letter, at "
                                         f"most 16 (so parley-STAGE- prefixes never match another stage's)")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("deploy", "create or update a stage"), ("destroy", "delete a stage and ALL its data")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--stage", required=True, type=_stage_name,
                         help="the stage, e.g. dev or prod (lower-case letters and digits)")
        sub.add_argument("--region", help="AWS region (default: AWS_REGION / your AWS config)")
        sub.add_argument("--endpoint-url", help="another AWS endpoint, e.g. a moto server (sets AWS_ENDPOINT_URL)")
        sub.add_argument("--chalice-config", default=str(ROOT / ".chalice" / "config.json"),
                         help="the chalice config to write the stage's settings into")
        sub.add_argument("--skip-chalice", action="store_true",
                         help="do not run chalice (e.g. against moto, which cannot run the functions)")
    d = commands.choices["deploy"]
    d.add_argument("--email-from",
                   help='sender of every email, e.g. "Parley <support@example.com>"; "" turns email off')
    d.add_argument("--ses-identity", help="the verified SES identity the sender is under (default: its domain)")
    d.add_argument("--inbound-domain", help="domain that receives replies by email (MX to SES); \"\" turns it off")
    d.add_argument("--inbound-retention-days", type=int, help="how long raw inbound emails are kept (default 30)")
    d.add_argument("--tracing", choices=["true", "false"], help="X-Ray tracing (default false)")
    d.add_argument("--deletion-protection", choices=["true", "false"],
                   help="protect the tables and user pool from deletion (default false; true for production)")
    d.add_argument("--price-class", choices=["PriceClass_100", "PriceClass_200", "PriceClass_All"])
    d.add_argument("--api-rate-limit", type=int, help="API Gateway throttling of both stages, requests/s (default 200)")
    d.add_argument("--api-burst-limit", type=int, help="API Gateway throttling of both stages, burst (default 400)")
    d.add_argument("--log-retention-days", type=int, default=30, help="the functions' logs (default 30)")
    d.add_argument("--admin-email", help="create the first workspace, its site and this admin (invited by email)")
    d.add_argument("--site-key", default="main", help="the first site's key, used in the widget snippet")
    d.add_argument("--workspace-name", default="My team", help="the first workspace's name")
    commands.choices["destroy"].add_argument("--confirm", action="store_true", help="yes, delete the data too")
    args = parser.parse_args(argv)
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    return args


def main(argv=None) -> int:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
    args = parse_args(argv)
    try:
        return deploy(args) if args.command == "deploy" else destroy(args)
    except DeployError as exc:
        print(f"\nDeploy stopped: {exc}", file=sys.stderr)
        return 1
    except (NoCredentialsError, NoRegionError) as exc:
        print(f"\nDeploy stopped: {exc}. Configure AWS access first (aws configure, or AWS_PROFILE and "
              f"AWS_REGION); docs/deploy.md lists what the account needs.", file=sys.stderr)
        return 1
    except ClientError as exc:
        error = exc.response["Error"]
        print(f"\nDeploy stopped: AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted. CloudFormation goes on by itself; run the same command again to pick up.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
