"""Shared fixtures: moto in-process with the real table schemas, and the local stack as a subprocess.

The environment is set before anything imports chalicelib, which reads it once.
"""
import contextlib
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEST_SECRET = "test-secret-do-not-use-anywhere-else-0123456789"
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "PARLEY_TABLE_PREFIX": "parley-test-", "PARLEY_TOKEN_SECRET": TEST_SECRET,
    "PARLEY_WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/test",
    "PARLEY_SITE_CACHE_SECONDS": "0",  # tests change site settings between steps
    "PARLEY_WEBHOOK_ALLOW_LOOPBACK": "true",  # tests' webhook receivers listen on 127.0.0.1
    # Every test's sessions come from 127.0.0.1: the shared stack must not take the suite for a flood.
    # tests/integration/test_limits.py and the strict stack of tests/protocol/test_limits.py set it to 1.
    "PARLEY_RATE_LIMIT_SCALE": "1000",
    # The demo site's bot (make dev has it): the test stacks' `demo` starts conversations `queued`, as the
    # tests of the human tier expect; the bot's tests install flows on sites of their own.
    "PARLEY_DEMO_BOT": "off",
})
os.environ.pop("AWS_ENDPOINT_URL", None)


def _serve_moto_jwks() -> str:
    """moto signs Cognito tokens with a fixed key; serve its public half the way Cognito does, over HTTP."""
    import http.server
    import threading

    import moto.cognitoidp
    packed = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"
    body = gzip.decompress(packed.read_bytes())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"


os.environ["PARLEY_COGNITO_JWKS_URL"] = _serve_moto_jwks()


def moto_published_key():
    """The private key every moto install ships and signs Cognito tokens with by default: anyone has it,
    so the local stack signs with a key of its own."""
    import jwt
    import moto.cognitoidp
    packed = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    return jwt.PyJWK(json.loads(gzip.decompress(packed.read_bytes()))).key


@pytest.fixture
def aws():
    """A fresh moto account with every table created from the models' real schemas."""
    from moto import mock_aws

    from chalicelib.store.tables import create_tables
    from infra.local.fidelity import install
    install()
    with mock_aws():
        create_tables()
        yield


@pytest.fixture
def cognito(aws, monkeypatch):
    """A moto user pool and app client, wired into the app's settings."""
    import boto3

    from chalicelib.aws import clients
    from chalicelib.config import settings
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    policy = {"MinimumLength": 8, "RequireUppercase": False, "RequireLowercase": False,
              "RequireNumbers": False, "RequireSymbols": False}
    pool = idp.create_user_pool(PoolName="test", UsernameAttributes=["email"],
                                Policies={"PasswordPolicy": policy})["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="console",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                            "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    monkeypatch.setattr(settings, "cognito_pool_id", pool["Id"])
    monkeypatch.setattr(settings, "cognito_client_id", client["ClientId"])
    monkeypatch.setattr(clients, "_clients", {})
    return {"idp": idp, "pool_id": pool["Id"], "client_id": client["ClientId"]}


class LocalStack:
    def __init__(self, port: int, moto_url: str, pool_id: str, access_key: str = "", secret_key: str = "",
                 pid: int | None = None):
        self.port, self.moto_url, self.pool_id = port, moto_url, pool_id
        self.access_key, self.secret_key = access_key, secret_key  # the app's: the gateway checks them
        self.pid = pid
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/ws"

    def raw(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None,
            timeout: float = 15) -> tuple[int, dict, bytes]:
        """One HTTP request sent as given: the answer's status, headers and body, whatever the status."""
        import urllib.error
        import urllib.request
        req = urllib.request.Request(self.http + path, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def request(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, _, answer = self.raw(method, path, data, headers)
        return status, json.loads(answer or b"{}")

    def visitor(self, site_key: str = "demo", **fields) -> dict:
        status, body = self.request("POST", "/v1/visitor/sessions", {"site_key": site_key, **fields})
        assert status == 201, body
        return body

    def agent(self, email: str = "agent@example.com", password: str = "demo-password") -> dict:
        status, body = self.request("POST", "/v1/agents/login", {"email": email, "password": password})
        assert status == 200, body
        return body


@contextlib.contextmanager
def running_stack(workdir: Path, **env_overrides: str):
    """The real local stack (`python -m infra.local`) on a free port, until the block ends."""
    from infra.local.stack import free_port
    port = free_port()
    ready = workdir / "ready"
    log_path = workdir / "stack.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", **env_overrides}
    for key in ("PARLEY_TABLE_PREFIX", "PARLEY_WS_CALLBACK_URL", "PARLEY_COGNITO_JWKS_URL"):
        env.pop(key, None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "infra.local", "--port", str(port),
                                 "--ready-file", str(ready)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"local stack did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    port_line, moto_url, pool_id, *credentials = ready.read_text().split()
    try:
        yield LocalStack(int(port_line), moto_url, pool_id, *credentials[:2], pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The local stack every protocol and browser test shares, for the whole session."""
    with running_stack(tmp_path_factory.mktemp("stack")) as local:
        yield local
