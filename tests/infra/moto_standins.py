"""REHEARSAL ONLY: stand-ins for what moto's CloudFormation cannot create, so infra/deploy.py runs unchanged.

moto's CloudFormation skips resource types it does not implement (it logs "Tried to parse X but it's
not supported"), hands out nothing for a !Ref to them and refuses any template that reads one of their
attributes (our Outputs do). For the deploy rehearsal, `install` gives each such type a stand-in that
creates the resource through moto's own service API from the template's properties (so botocore checks
their shapes against the real API), or, where moto has no API for it (CloudFront), only records it and
hands out identifiers of the real form. Three types moto does create get a *completion* of what it
ignores or garbles. Nothing here is ever used against AWS; docs/deploy.md lists what the rehearsal cannot prove.
"""
import json
import secrets

import boto3

ACCOUNT = "123456789012"
_endpoint = {"url": ""}


def _client(service: str, region: str):
    return boto3.client(service, region_name=region, endpoint_url=_endpoint["url"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _pick(props: dict, *names: str) -> dict:
    return {n: props[n] for n in names if n in props}


def _no_value(value):
    """moto resolves `!If [cond, x, !Ref AWS::NoValue]` in a list to None; CloudFormation drops the item."""
    if isinstance(value, dict):
        return {k: _no_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_value(v) for v in value if v is not None]
    return value


class StandIn:
    """What moto's CloudFormation expects of a resource model (see moto.core.common_models)."""
    cf_type = ""
    by_api = True  # False: recorded only, with identifiers of the real form

    def __init__(self, physical_id: str, attributes: dict | None = None, props: dict | None = None):
        self.physical_resource_id = physical_id
        self.attributes = attributes or {}
        self.props = props or {}

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, name: str):
        return self.attributes[name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls.create(_no_value(cloudformation_json.get("Properties", {})), region_name, resource_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return cls.update(original_resource, _no_value(cloudformation_json.get("Properties", {})), region_name)

    @classmethod
    def update(cls, original, props: dict, region: str):
        original.props = props
        return original

    def delete(self, account_id, region_name) -> None:
        pass


class UserPool(StandIn):
    cf_type = "AWS::Cognito::UserPool"
    _settings = ("Policies", "AutoVerifiedAttributes", "AdminCreateUserConfig", "AccountRecoverySetting",
                 "DeletionProtection")

    @classmethod
    def create(cls, props, region, name):
        pool = _client("cognito-idp", region).create_user_pool(
            PoolName=props["UserPoolName"], **_pick(props, "UsernameAttributes", *cls._settings))["UserPool"]
        return cls(pool["Id"], {"Arn": pool["Arn"], "UserPoolId": pool["Id"],
                                "ProviderName": f"cognito-idp.{region}.amazonaws.com/{pool['Id']}",
                                "ProviderURL": f"https://cognito-idp.{region}.amazonaws.com/{pool['Id']}"}, props)

    @classmethod
    def update(cls, original, props, region):
        # Only when something changed: moto's update_user_pool also forgets the pool's UsernameAttributes.
        if _pick(props, *cls._settings) != _pick(original.props, *cls._settings):
            _client("cognito-idp", region).update_user_pool(UserPoolId=original.physical_resource_id,
                                                            **_pick(props, *cls._settings))
        original.props = props
        return original

    def delete(self, account_id, region_name):
        _client("cognito-idp", region_name).delete_user_pool(UserPoolId=self.physical_resource_id)


class UserPoolClient(StandIn):
    cf_type = "AWS::Cognito::UserPoolClient"
    _settings = ("ExplicitAuthFlows", "PreventUserExistenceErrors", "EnableTokenRevocation",
                 "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits")

    @classmethod
    def create(cls, props, region, name):
        client = _client("cognito-idp", region).create_user_pool_client(
            **_pick(props, "UserPoolId", "ClientName", "GenerateSecret", *cls._settings))["UserPoolClient"]
        return cls(client["ClientId"], {"ClientId": client["ClientId"], "Name": client["ClientName"]}, props)

    @classmethod
    def update(cls, original, props, region):
        if props != original.props:
            _client("cognito-idp", region).update_user_pool_client(
                ClientId=original.physical_resource_id, **_pick(props, "UserPoolId", "ClientName", *cls._settings))
        original.props = props
        return original

    def delete(self, account_id, region_name):
        idp = _client("cognito-idp", region_name)
        try:
            idp.delete_user_pool_client(UserPoolId=self.props["UserPoolId"], ClientId=self.physical_resource_id)
        except idp.exceptions.ResourceNotFoundException:
            pass  # the pool went first, and its clients with it


class ConfigurationSet(StandIn):
    cf_type = "AWS::SES::ConfigurationSet"

    @classmethod
    def create(cls, props, region, name):
        _client("ses", region).create_configuration_set(ConfigurationSet={"Name": props["Name"]})
        return cls(props["Name"], {}, props)

    def delete(self, account_id, region_name):
        _client("ses", region_name).delete_configuration_set(ConfigurationSetName=self.physical_resource_id)


class ReceiptRuleSet(StandIn):
    cf_type = "AWS::SES::ReceiptRuleSet"

    @classmethod
    def create(cls, props, region, name):
        _client("ses", region).create_receipt_rule_set(RuleSetName=props["RuleSetName"])
        return cls(props["RuleSetName"], {}, props)

    def delete(self, account_id, region_name):
        _client("ses", region_name).delete_receipt_rule_set(RuleSetName=self.physical_resource_id)


class ReceiptRule(StandIn):
    cf_type = "AWS::SES::ReceiptRule"

    @classmethod
    def create(cls, props, region, name):
        _client("ses", region).create_receipt_rule(RuleSetName=props["RuleSetName"], Rule=props["Rule"])
        return cls(props["Rule"]["Name"], {}, props)


class BucketPolicy(StandIn):
    cf_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, props, region, name):
        # moto enforces bucket policies, and the rehearsal reaches moto over plain http, which the template's
        # TLS-only Deny refuses (as it should on AWS): that one statement is left out here.
        document = dict(props["PolicyDocument"])
        document["Statement"] = [s for s in document["Statement"]
                                 if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))]
        _client("s3", region).put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
        return cls(f"{props['Bucket']}-policy", {}, props)

    @classmethod
    def update(cls, original, props, region):
        return cls.create(props, region, "")


class QueuePolicy(StandIn):
    cf_type = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, props, region, name):
        sqs = _client("sqs", region)
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return cls(name, {}, props)

    @classmethod
    def update(cls, original, props, region):
        return cls.create(props, region, original.physical_resource_id)


class OriginAccessControl(StandIn):
    cf_type = "AWS::CloudFront::OriginAccessControl"
    by_api = False

    @classmethod
    def create(cls, props, region, name):
        oac = "E" + secrets.token_hex(6).upper()
        return cls(oac, {"Id": oac}, props)


class CloudFrontFunction(StandIn):
    cf_type = "AWS::CloudFront::Function"
    by_api = False

    @classmethod
    def create(cls, props, region, name):
        arn = f"arn:aws:cloudfront::{ACCOUNT}:function/{props['Name']}"
        return cls(arn, {"FunctionARN": arn, "FunctionMetadata.FunctionARN": arn, "Stage": "LIVE"}, props)


class Distribution(StandIn):
    cf_type = "AWS::CloudFront::Distribution"
    by_api = False

    @classmethod
    def create(cls, props, region, name):
        distribution = "E" + secrets.token_hex(6).upper()
        return cls(distribution, {"Id": distribution, "DomainName": f"d{secrets.token_hex(6)}.cloudfront.net"},
                   props)


STAND_INS = {c.cf_type: c for c in (UserPool, UserPoolClient, ConfigurationSet, ReceiptRuleSet, ReceiptRule,
                                    BucketPolicy, QueuePolicy, OriginAccessControl, CloudFrontFunction,
                                    Distribution)}


def _completions() -> dict:
    """moto creates these types but ignores a property of them; apply it the way CloudFormation does."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table
    from moto.iam.models import Role, iam_backends
    from moto.stepfunctions.models import StateMachine
    from moto.utilities.utils import get_partition

    def definition_string(props: dict) -> None:
        # moto reads only DefinitionString; CloudFormation also takes Definition + DefinitionSubstitutions.
        if "Definition" in props:
            text = json.dumps(props.pop("Definition"))
            for key, value in props.pop("DefinitionSubstitutions", {}).items():
                text = text.replace("${" + key + "}", str(value))
            props["DefinitionString"] = text

    class StateMachineWithDefinition(StateMachine):
        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            definition_string(cloudformation_json["Properties"])
            return super().create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                            region_name, **kwargs)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            definition_string(cloudformation_json["Properties"])
            return super().update_from_cloudformation_json(original_resource, new_resource_name,
                                                           cloudformation_json, account_id, region_name)

    class TableWithTtl(Table):
        # moto ignores TimeToLiveSpecification and PointInTimeRecoverySpecification, and cannot update a
        # table at all (the stack then forgets it); apply them on create, and on update keep the table.
        @classmethod
        def apply(cls, table, props: dict, account_id: str, region_name: str):
            backend = dynamodb_backends[account_id][region_name]
            if "TimeToLiveSpecification" in props:
                backend.update_time_to_live(table.name, props["TimeToLiveSpecification"])
            if "PointInTimeRecoverySpecification" in props:
                backend.update_continuous_backups(table.name, props["PointInTimeRecoverySpecification"])
            table.deletion_protection_enabled = props.get("DeletionProtectionEnabled", False)
            return table

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            table = super().create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                            region_name, **kwargs)
            return cls.apply(table, cloudformation_json["Properties"], account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            return cls.apply(original_resource, cloudformation_json["Properties"], account_id, region_name)

    class RoleWithPolicies(Role):
        # moto stores a role's inline Policies as Python reprs (with None for AWS::NoValue), and an update
        # ignores them; put them as CloudFormation does, on create and on every update.
        @classmethod
        def put_policies(cls, role, props: dict, account_id: str, region_name: str) -> None:
            backend = iam_backends[account_id][get_partition(region_name)]
            for policy in _no_value(props.get("Policies", [])):
                backend.put_role_policy(role.name, policy["PolicyName"], json.dumps(policy["PolicyDocument"]))

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            policies = cloudformation_json["Properties"].pop("Policies", [])
            role = super().create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                           region_name, **kwargs)
            cls.put_policies(role, {"Policies": policies}, account_id, region_name)
            return role

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            role = super().update_from_cloudformation_json(original_resource, new_resource_name,
                                                           cloudformation_json, account_id, region_name)
            cls.put_policies(role, cloudformation_json["Properties"], account_id, region_name)
            return role

    return {"AWS::StepFunctions::StateMachine": StateMachineWithDefinition, "AWS::DynamoDB::Table": TableWithTtl,
            "AWS::IAM::Role": RoleWithPolicies}


def native_types() -> set[str]:
    from moto.cloudformation import parsing
    return set(parsing.get_model_map())


def _parameters_used(template: dict):
    """A stack update with new parameter values must revisit every resource that uses one. moto looks for
    plain Refs only; CloudFormation also sees ${Param} in Fn::Sub and the parameters behind Fn::If's
    conditions. Returns moto's get_references_from_template, completed."""
    import re

    from moto.cloudformation import parsing
    plain = parsing.get_references_from_template

    def refs(node) -> set:
        found = set(plain(node))
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::Sub":
                    found |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", value[0] if isinstance(value, list) else value))
                if key == "Fn::If":
                    found |= by_condition.get(value[0], set())
                found |= refs(value)
        elif isinstance(node, list):
            for value in node:
                found |= refs(value)
        return found

    by_condition: dict = {}
    for _ in range(len(template.get("Conditions", {}))):  # conditions may use conditions
        for name, condition in template.get("Conditions", {}).items():
            used = refs(condition)
            for other in re.findall(r'"Condition": "([A-Za-z0-9]+)"', json.dumps(condition)):
                used |= by_condition.get(other, set())
            by_condition[name] = used
    return lambda node: sorted(refs(node))


from moto.apigatewayv2.responses import ApiGatewayV2Response  # noqa: E402 (after the stand-ins above)


def _update_websocket_stage(self):
    """moto 5.2 has no apigatewayv2 UpdateStage (deploy.py throttles the WebSocket stage with it): the
    stage's default route settings, as API Gateway keeps them."""
    from urllib.parse import unquote
    api_id, stage_name = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    config = json.loads(self.body or "{}")
    if "defaultRouteSettings" in config:
        stage.default_route_settings = {**(stage.default_route_settings or {}), **config["defaultRouteSettings"]}
    return 200, {}, json.dumps(stage.to_json())


def install(monkeypatch, endpoint_url: str, template: dict) -> dict:
    """Register the stand-ins and completions with moto's CloudFormation for this test; returns them by type."""
    from moto.cloudformation import parsing
    _endpoint["url"] = endpoint_url
    native = parsing.get_model_map()
    completions = _completions()
    models = {**native, **completions, **STAND_INS}
    monkeypatch.setattr(parsing, "get_model_map", lambda: models)
    monkeypatch.setattr(parsing, "get_references_from_template", _parameters_used(template))
    monkeypatch.setattr(ApiGatewayV2Response, "update_stage", _update_websocket_stage, raising=False)
    return {"stand_ins": STAND_INS,
            "completions": {**completions, "stack updates": "parameters used in Fn::Sub and conditions"}}
