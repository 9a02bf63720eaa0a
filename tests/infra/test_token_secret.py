"""On AWS the visitor tokens' secret comes from the SSM SecureString deploy.py creates, once per container."""
import boto3
import pytest
from moto import mock_aws

from chalicelib.config import Settings
from infra.deploy import Deployment

NAME = "/parley/dev/token-secret"


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.delenv("PARLEY_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("PARLEY_TOKEN_SECRET_PARAMETER", NAME)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_deploy_creates_the_secret_once_and_the_app_reads_it_once(ssm):
    deployment = Deployment("dev", region="us-east-1")
    assert deployment.ensure_token_secret(NAME) is True
    assert deployment.ensure_token_secret(NAME) is False  # a second deploy keeps it: tokens stay valid
    stored = ssm.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString" and len(stored["Value"]) >= 32

    settings = Settings()
    assert settings.token_secret == stored["Value"]
    assert stored["Value"] not in repr(settings)  # never in a logged settings object
    ssm.delete_parameter(Name=NAME)
    assert settings.token_secret == stored["Value"]  # read once per container, not per request


def test_an_explicit_secret_wins_and_ssm_is_not_asked(ssm, monkeypatch):
    monkeypatch.setenv("PARLEY_TOKEN_SECRET", "x" * 40)
    assert Settings().token_secret == "x" * 40  # (the parameter does not even exist here)


def test_a_missing_parameter_says_which(ssm):
    with pytest.raises(RuntimeError, match=NAME):
        _ = Settings().token_secret
