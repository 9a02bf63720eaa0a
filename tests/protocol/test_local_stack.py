"""What the local stack guards on a developer's laptop (README: "What the local stack does not protect").

It listens on loopback only; its management endpoint takes only the app's SigV4-signed requests; its
Cognito pool signs with a key made at start, not moto's published one; long tokens get the documented
401; a backlog of domain events drains while requests are still served; moto's own process answers
the stack only and goes when the stack goes.
"""
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import AuthenticationError, Client
from pathlib import Path
from unittest import mock

import boto3
import jwt
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from client import Clients, open_socket, scenario_timeout
from websockets.exceptions import InvalidStatus

from tests.conftest import moto_published_key, running_stack

REGION = "us-east-1"
LISTEN = "0A"  # the TCP state /proc/net/tcp gives a listening socket


# --- 1. loopback only ---------------------------------------------------------------------------

def _address(hex_address: str) -> str:
    """The IP of a /proc/net/tcp{,6} local_address (host byte order, 32-bit words)."""
    raw = bytes.fromhex(hex_address.split(":")[0])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(words) == 4 else socket.AF_INET6, words)


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket the process holds (its fds, matched by inode)."""
    fds = Path(f"/proc/{pid}/fd")
    inodes = {link[len("socket:["):-1] for link in (str(fd.readlink()) for fd in fds.iterdir() if fd.is_symlink())
              if link.startswith("socket:[")}
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.append((_address(fields[1]), int(fields[1].split(":")[1], 16)))
    return found


def _with_children(pid: int) -> list[int]:
    """The process and every process it started (moto runs in one of its own: infra/local/motohost.py)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return [pid] + [p for child in children for p in _with_children(child)]


def test_the_stack_listens_on_loopback_only(stack):
    listening = [found for pid in _with_children(stack.pid) for found in _listening(pid)]
    ports = {port for _, port in listening}
    assert {stack.port, int(stack.moto_url.rsplit(":", 1)[1])} <= ports, listening
    assert {address for address, _ in listening} <= {"127.0.0.1", "::1"}, listening


# --- 2. the management endpoint requires the app's SigV4 ----------------------------------------

def _connection_id(stack, visitor_id: str) -> str:
    """The gateway's id for the visitor's socket, from the connections table (a test may Scan)."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=REGION)
    items = dynamodb.scan(TableName="parley-local-connections", FilterExpression="visitor_id = :v",
                          ExpressionAttributeValues={":v": {"S": visitor_id}})["Items"]
    assert len(items) == 1, items
    return items[0]["id"]["S"]


def _management(stack, method: str, connection_id: str, body: bytes = b"", *, sign_with: Credentials | None = None,
                signed_at: datetime | None = None) -> tuple[int, dict, dict]:
    """A management request as a stranger would make it: unsigned, or signed with these credentials."""
    url = f"{stack.http}/_gateway/@connections/{urllib.parse.quote(connection_id, safe='')}"
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    if sign_with is not None:
        with mock.patch("botocore.auth.get_current_datetime",
                        return_value=signed_at or datetime.now(UTC).replace(tzinfo=None)):
            SigV4Auth(sign_with, "execute-api", REGION).add_auth(request)
    prepared = request.prepare()
    status, headers, answer = stack.raw(method, prepared.url.removeprefix(stack.http), body or None,
                                        dict(prepared.headers), 10)
    return status, headers, json.loads(answer or b"{}")


async def test_the_management_endpoint_refuses_what_the_app_did_not_sign(stack):
    real = Credentials(stack.access_key, stack.secret_key)
    refused = {
        "unsigned": (None, None, "MissingAuthenticationTokenException"),
        "wrong secret": (Credentials(stack.access_key, "not-the-secret"), None, "InvalidSignatureException"),
        "moto's usual key": (Credentials("testing", "testing"), None, "UnrecognizedClientException"),
        "signed 10 minutes ago": (real, datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10),
                                  "InvalidSignatureException"),
    }

    async with scenario_timeout(60), Clients(stack) as clients:
        session = stack.visitor("demo")
        visitor = await clients.visitor(session=session)
        connection_id = _connection_id(stack, session["visitor_id"])
        for what, (credentials, signed_at, error_type) in refused.items():
            injected = json.dumps({"type": "message", "text": f"injected ({what})"}).encode()
            for method, body in (("POST", injected), ("GET", b""), ("DELETE", b"")):
                status, headers, answer = _management(stack, method, connection_id, body,
                                                      sign_with=credentials, signed_at=signed_at)
                assert (status, headers.get("x-amzn-ErrorType")) == (403, error_type), (what, method, answer)
                assert answer.get("message"), answer
        # The app's own client, signing with the app's credentials, still reaches the socket.
        gateway = boto3.client("apigatewaymanagementapi", endpoint_url=f"{stack.http}/_gateway",
                               region_name=REGION, aws_access_key_id=real.access_key,
                               aws_secret_access_key=real.secret_key, aws_session_token=None,
                               config=Config(retries={"max_attempts": 1}))
        gateway.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "signed"}')
        await visitor.next_event("signed")
        assert not [f for f in visitor.frames if "injected" in json.dumps(f)], visitor.frames
        assert not visitor.closed


# --- 3. Cognito tokens: the stack's own key, not moto's published one ----------------------------

async def _refused_at_connect(stack, token: str) -> tuple[int, dict]:
    """The status and body with which the websocket upgrade is refused."""
    async with scenario_timeout(15):
        with pytest.raises(InvalidStatus) as refused:
            ws = await open_socket(stack.ws, token)
            await ws.close()  # pragma: no cover - only reached when the upgrade was wrongly accepted
    return refused.value.response.status_code, json.loads(refused.value.response.body or b"{}")


async def test_a_token_signed_with_motos_published_key_is_refused(stack, logins):
    real = logins["admin"]["token"]
    claims = jwt.decode(real, options={"verify_signature": False})  # the seeded admin's: iss, client_id, sub
    assert claims["token_use"] == "access" and claims["iss"].endswith(stack.pool_id), claims
    forged = jwt.encode(claims, moto_published_key(), algorithm="RS256", headers={"kid": "dummy"})

    assert stack.request("GET", "/v1/agents/me", token=real)[0] == 200
    status, body = stack.request("GET", "/v1/agents/me", token=forged)
    assert (status, body["error"]["code"]) == (401, "unauthorized"), body
    status, body = await _refused_at_connect(stack, forged)
    assert (status, body["error"]["code"]) == (401, "unauthorized"), body


# --- 5. long tokens reach the app ---------------------------------------------------------------

async def test_a_10_kb_token_is_answered_401_with_the_error_body(stack):
    long_token = "e" * 10 * 1024
    status, body = await _refused_at_connect(stack, long_token)
    assert (status, body["error"]["code"]) == (401, "unauthorized"), body
    status, body = stack.request("GET", "/v1/agents/me", token=long_token)
    assert (status, body["error"]["code"]) == (401, "unauthorized"), body


def test_a_token_past_the_documented_bound_is_refused_by_the_http_server(stack):
    request = urllib.request.Request(f"{stack.http}/v1/agents/me", headers={"Authorization": "Bearer " + "e" * 65 * 1024})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def test_a_path_with_an_encoded_line_break_reaches_the_app(stack):
    """Found by tests/fuzz: the REST route's pattern stopped at a decoded newline, so aiohttp answered its
    own text 404 instead of the app's JSON error."""
    for path in ("/v1/sites/%0A/availability", "/v1/sites/a%0D%0Ab/settings", "/v1/conversations/%0A%0A"):
        status, body = stack.request("GET", path)
        assert status == 401 and body["error"]["code"] == "unauthorized", (path, status, body)


# --- 4. a backlog drains while requests are served ------------------------------------------------

async def test_a_backlog_of_domain_events_drains_while_requests_are_served(stack, logins):
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=REGION)
    queue = sqs.get_queue_url(QueueName="parley-local-events")["QueueUrl"]
    for start in range(0, 300, 10):
        sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": json.dumps({
            "source": "parley", "detail-type": "backlog.test",
            "detail": {"id": f"evt_{uuid.uuid4().hex}", "type": "backlog.test", "workspace_id": "ws_demo_offline"}})}
            for i in range(start, start + 10)])

    async with scenario_timeout(30), Clients(stack) as clients:
        visitor = await clients.visitor()
        await visitor.ping()
    assert stack.request("GET", "/v1/agents/me", token=logins["agent"]["token"])[0] == 200

    def left() -> int:
        counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return sum(int(v) for v in counts.values())
    for _ in range(600):  # a bound on the wait, not a timing assertion: each round is one receive away
        if not left():
            break
        time.sleep(0.1)
    assert left() == 0


# --- 6. moto's own process: only the stack talks to it, and it goes when the stack goes -----------

def _moto_process(stack_pid: int) -> tuple[int, Path]:
    """The pid and socket folder of the moto process the stack started (infra/local/motohost.py)."""
    for pid in _with_children(stack_pid)[1:]:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"infra.local.motohost" in args:
            return pid, Path(args[args.index(b"--dir") + 1].decode())
    raise AssertionError(f"no moto process under the stack ({stack_pid})")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; whoever adopted it may not have reaped it yet


def test_moto_answers_the_stack_only(stack):
    _, folder = _moto_process(stack.pid)
    assert folder.stat().st_mode & 0o777 == 0o700
    with pytest.raises(AuthenticationError):
        Client(str(folder / "moto"), family="AF_UNIX", authkey=b"not the key made at start" * 2)
    assert stack.request("GET", "/v1/health")[0] == 200  # the refused client left the stack serving


def test_moto_goes_when_the_stack_is_killed(tmp_path):
    with running_stack(tmp_path) as local:
        moto_pid, _ = _moto_process(local.pid)
        os.kill(local.pid, signal.SIGKILL)  # no cleanup at all: the stack cannot stop its child itself
        for _ in range(100):  # a bound on the wait: the child looks for its parent twice a second
            if not _running(moto_pid):
                break
            time.sleep(0.1)
        assert not _running(moto_pid)
