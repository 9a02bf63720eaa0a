"""Fixtures for the protocol suite: the session's local stack (tests/conftest.py) and agent logins."""
import pytest


@pytest.fixture(scope="session")
def logins(stack):
    """One Cognito sign-in per seeded agent for the whole session: agent@, admin@ (demo), agent-b@ (demo-b)."""
    return {"agent": stack.agent("agent@example.com"), "admin": stack.agent("admin@example.com"),
            "b": stack.agent("agent-b@example.com")}
