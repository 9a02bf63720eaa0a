"""Unit tests: pure rules only. No network, no AWS, no moto.

Every unit test runs with the socket calls that reach anything (connect, connect_ex, create_connection,
getaddrinfo) and botocore's one way out (BaseClient._make_api_call, which moto also answers through)
made to raise, so a test that strays into I/O fails loudly instead of passing slowly. The fixtures of
tests/conftest.py that start moto or the local stack are overridden here to fail the same way.

The environment below is what tests/conftest.py sets too (it loads first, and wins); it is repeated
with setdefault so the unit tests need nothing from it: `pytest --confcutdir=tests/unit tests/unit`
runs them without the top-level conftest. It must be set before anything imports chalicelib, whose
settings read the environment once.
"""
import os
import socket

import pytest

_ENVIRONMENT = {
    # Dummy credentials and no endpoint, profile or instance metadata: nothing could sign a real call.
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "PARLEY_TABLE_PREFIX": "parley-test-",
    "PARLEY_TOKEN_SECRET": "test-secret-do-not-use-anywhere-else-0123456789",
    "PARLEY_WEBHOOK_ALLOW_LOOPBACK": "true",  # as in tests/conftest.py: test_webhook_addresses relies on it
}
for _name, _value in _ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PARLEY_TOKEN_SECRET_PARAMETER"):
    os.environ.pop(_name, None)


class NetworkBlockedError(RuntimeError):
    """A unit test reached for the network (or AWS, or moto)."""


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise NetworkBlockedError(f"unit tests must not use the network: {what}{args[:2]!r}")
    return refuse


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Sockets that would reach anything, name resolution, and every botocore call raise."""
    import botocore.client

    monkeypatch.setattr(socket.socket, "connect", _refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", _refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", _refuse("socket.getaddrinfo"))
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _refuse("an AWS call"))
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _ENVIRONMENT.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)


@pytest.fixture
def aws():
    pytest.fail("unit tests do not use moto: move this test to tests/integration")


@pytest.fixture
def cognito():
    pytest.fail("unit tests do not use moto: move this test to tests/integration")


@pytest.fixture
def stack():
    pytest.fail("unit tests do not use the local stack: move this test to tests/protocol")
