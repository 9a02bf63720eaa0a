"""moto in a process of its own, so the local stack uses both cores: moto's work on one, the gateway's and
the app's on the other.

bench/load.py --profile put the stack's one process at 100 % of one core at 50 conversations, with
moto's own work (DynamoDB's expressions and transactions, SQS, EventBridge, the ASL interpreter) about
half of the samples and the gateway, the app, pynamodb and botocore the other half. Python runs one
thread at a time per process, so the second core stayed idle. Here moto and everything that must share
its memory run in this child process:

- the backends, behind fidelity.py's lock: every write and every transaction is still applied by one
  process, atomically, exactly as the tests rely on;
- moto's HTTP server (tests and tools reach AWS_ENDPOINT_URL as before) and its ASL interpreter;
- the fresh Cognito signing key (keys.py).

The stack's process sends each of the app's AWS requests here over a Unix socket, as botocore prepared
it (signed, with its event hooks run, faults.py's included) and gets moto's answer back: a pickled
tuple each way, a few tens of microseconds, where HTTP cost milliseconds (inprocess.py). The flows'
Lambda task goes the other way: moto's Lambda asks the stack's process to run the app's handler, so
all of the app's code runs in one process, with its sender, its clients and its fault injector.

Both sockets live in a directory only this user can read, and each connection proves it knows a key
made fresh at every start (multiprocessing.connection's handshake). The child exits when its parent
does.
"""
import argparse
import json
import logging
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client, Listener
from pathlib import Path
from urllib.parse import urlsplit

from .faults import HEADER as FAULT_HEADER
from .inprocess import HOSTS

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
log = logging.getLogger("parley.motohost")


class Channel:
    """One side's requests to the other: a connection per calling thread, kept open, calls in turn."""

    def __init__(self, address: str, authkey: bytes):
        self._address, self._authkey = address, authkey
        self._local = threading.local()

    def call(self, *request):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = Client(self._address, family="AF_UNIX", authkey=self._authkey)
        try:
            connection.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            kind, value = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            self._local.connection = None  # the next call dials again; this one failed as a network error would
            connection.close()
            raise
        if kind == "error":
            raise RuntimeError(value)
        return value


def serve(address: str, authkey: bytes, handle) -> Listener:
    """Answer `handle(*request)` for each request on `address`, one thread per connection."""
    listener = Listener(address, family="AF_UNIX", authkey=authkey)

    def answer(connection):
        with connection:
            while True:
                try:
                    request = pickle.loads(connection.recv_bytes())
                except (EOFError, OSError):
                    return
                try:
                    reply = ("ok", handle(*request))
                except Exception as exc:  # the caller gets it as an error; this connection stays usable
                    log.exception("request %s failed", request[0])
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                connection.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))

    def accept():
        while True:
            try:
                connection = listener.accept()
            except OSError:
                return  # closed
            except Exception:  # a client that failed the handshake
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, name="rpc-accept", daemon=True).start()
    return listener


# --- the stack's side ---------------------------------------------------------------------------

class MotoProcess:
    """The child process, seen from the stack: start it, send it requests, stop it."""

    def __init__(self, run_task):
        """`run_task(name, body) -> (payload, failed)` runs a flow's Lambda task when moto asks for one."""
        self._dir = tempfile.mkdtemp(prefix="parley-moto-")  # mode 0700
        self._authkey = secrets.token_bytes(32)
        self._tasks = serve(os.path.join(self._dir, "tasks"), self._authkey, lambda op, *args: run_task(*args))
        env = {**os.environ, "PARLEY_MOTOHOST_KEY": self._authkey.hex()}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.motohost", "--dir", self._dir, "--parent", str(os.getpid())],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"moto's process did not start (exit code {self._proc.wait()})")
        ready = json.loads(line)
        self.url = ready["moto_url"]
        self.channel = Channel(ready["rpc"], self._authkey)

    def sent_emails(self) -> list:
        return self.channel.call("ses_sent")

    def stop(self) -> None:
        self._tasks.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        for name in ("tasks", "moto"):
            try:
                os.unlink(os.path.join(self._dir, name))
            except FileNotFoundError:
                pass
        os.rmdir(self._dir)


class RemoteMoto:
    """A `before-send` handler: a request for moto's URL is answered by moto's process over its socket."""

    def __init__(self, moto_url: str, region: str, channel: Channel):
        self._netloc = urlsplit(moto_url).netloc
        self._region = region
        self._channel = channel

    def __call__(self, request, event_name: str = "", **kwargs):
        parts = urlsplit(request.url)
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        host = HOSTS.get(service)
        if parts.netloc != self._netloc or host is None or FAULT_HEADER in request.headers:
            return None  # not moto, a service left on HTTP, or answered by faults.py already (inprocess.py)
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        url = parts._replace(scheme="https", netloc=host.format(region=self._region)).geturl()
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        answer = self._channel.call("aws", request.method, url, list(request.headers.items()), body)
        if answer is None:
            return None
        status, headers, payload = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(payload))


def install(moto_url: str, region: str, channel: Channel) -> None:
    """For every botocore client created from now on (boto3's and pynamodb's alike), like inprocess.py."""
    from botocore.handlers import BUILTIN_HANDLERS
    BUILTIN_HANDLERS.append(("before-send", RemoteMoto(moto_url, region, channel)))


# --- moto's side --------------------------------------------------------------------------------

def _answer_aws(method, url, headers, body):
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    prepared = HTTPHeaders()
    for key, value in headers:
        prepared[key] = value
    answer = _STUBBER.process_request(AWSPreparedRequest(method, url, prepared, body, stream_output=False))
    if answer is None:
        return None
    status, response_headers, payload = answer
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return status, dict(response_headers), payload


_STUBBER = None


def main(argv=None) -> int:
    global _STUBBER
    parser = argparse.ArgumentParser(description="moto for the local stack (started by infra.local.stack)")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    authkey = bytes.fromhex(os.environ.pop("PARLEY_MOTOHOST_KEY"))
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.server import ThreadedMotoServer

    from .fidelity import install as install_fidelity
    from .flows import install_task_runner
    from .keys import sign_cognito_with_fresh_key
    from .outbox import sent_in_this_process
    from .stack import SWITCH_INTERVAL, free_port
    sys.setswitchinterval(SWITCH_INTERVAL)  # its threads, too, mostly wait on sockets (stack.py)
    install_fidelity()
    sign_cognito_with_fresh_key()
    _STUBBER = BotocoreStubber()
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)  # the ASL interpreter calls Lambda at localhost:MOTO_PORT (this process)
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    tasks = Channel(os.path.join(args.dir, "tasks"), authkey)
    install_task_runner(lambda name, body: tasks.call("task", name, body))
    handlers = {"aws": _answer_aws, "ses_sent": sent_in_this_process, "ping": lambda: "pong"}
    address = os.path.join(args.dir, "moto")
    serve(address, authkey, lambda op, *rest: handlers[op](*rest))
    print(json.dumps({"moto_url": f"http://{HOST}:{port}", "rpc": address}), flush=True)
    while os.getppid() == args.parent:  # the stack went (even killed): so does moto
        time.sleep(0.5)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
