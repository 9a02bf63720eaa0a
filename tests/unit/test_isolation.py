"""The unit suite's guard (tests/unit/conftest.py) holds: a unit test cannot reach the network, AWS or moto."""
import socket

import boto3
import pytest

from tests.unit.conftest import NetworkBlockedError


def test_sockets_cannot_connect_or_resolve():
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)
    with socket.socket() as sock:
        with pytest.raises(NetworkBlockedError):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(("127.0.0.1", 9))


def test_no_aws_call_leaves_botocore_not_even_to_moto():
    from moto import mock_aws
    with pytest.raises(NetworkBlockedError, match="an AWS call"):
        boto3.client("sqs", region_name="us-east-1").list_queues()
    with mock_aws(), pytest.raises(NetworkBlockedError):
        boto3.client("sqs", region_name="us-east-1").list_queues()


def test_a_pynamodb_read_is_refused_before_it_reaches_a_table():
    from chalicelib.store.models import Agent
    with pytest.raises(NetworkBlockedError):
        Agent.get("a_1")


def test_the_credentials_are_dummies(monkeypatch):
    import os
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing" and os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_PROFILE" not in os.environ


def test_the_moto_and_stack_fixtures_refuse_unit_tests(request):
    for name in ("aws", "cognito", "stack"):
        with pytest.raises(pytest.fail.Exception, match="unit tests do not use"):
            request.getfixturevalue(name)
