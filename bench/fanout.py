"""Fan-out: one `inbox` event to 1,000 agent connections, serially and with the app's real fan-out.

The local WebSocket gateway (infra/local/gateway.py) serves 1,000 real websocket clients, in a
process of its own (as API Gateway is elsewhere); every `@connections` POST to it waits 20 ms first,
standing in for API Gateway's round trip. DynamoDB is moto in server mode, holding 1,000 agent
connection records of one workspace.

- serial: the agents' connection ids from the app's own query, then one post_to_connection after
  another on one client (what Chalice's websocket tutorial does);
- fan-out: `subscriptions.notify_inbox`, the app's real path (the same query, then Sender.broadcast:
  one shared client, a thread pool).

Both must deliver the frame to all 1,000 clients (checked). Writes bench/results/fanout.json and
prints a table; the figure that matters is the ratio of the two times, measured in the same run.
Run: .venv/bin/python bench/fanout.py [--connections 1000] [--latency-ms 20]
"""
import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "fanout.json"
WORKSPACE = "ws_bench"


def start_moto() -> None:
    from moto.server import ThreadedMotoServer

    from infra.local import fidelity
    from infra.local.stack import free_port
    fidelity.install()
    port = free_port()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    os.environ.update({"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1", "PARLEY_TABLE_PREFIX": "parley-bench-",
                       "PARLEY_TOKEN_SECRET": "bench-secret-" + "x" * 32})


class Gateway:
    """The local gateway on its own event loop thread, every management POST delayed by `latency`."""

    def __init__(self, latency: float):
        from aiohttp import web
        from botocore.credentials import Credentials

        from infra.local.gateway import WebSocketGateway
        from infra.local.stack import free_port
        stub = SimpleNamespace(websocket_handlers={"$connect": SimpleNamespace(name="connect")},
                               handler_map={"connect": lambda event, context: {"statusCode": 200}})
        # The management endpoint checks SigV4: the bench's clients sign with start_moto's credentials.
        self.gateway = WebSocketGateway(stub, ThreadPoolExecutor(max_workers=4), Credentials("testing", "testing"))
        self.port = free_port()
        self.posts = 0

        @web.middleware
        async def round_trip(request, handler):
            if request.path.startswith("/_gateway/"):
                await asyncio.sleep(latency)
                self.posts += 1
            return await handler(request)

        app = web.Application(middlewares=[round_trip])
        app.router.add_routes(self.gateway.routes("/ws", "/_gateway"))
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            runner = web.AppRunner(app, access_log=None)
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port, backlog=2048).start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/_gateway"


class Clients:
    """`count` websocket clients on one loop thread, counting the frames each receives."""

    def __init__(self, url: str, count: int):
        self.url, self.count = url, count
        self.received: list[int] = [0] * count
        self.loop = asyncio.new_event_loop()
        self._sockets = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(120)

    async def _open(self) -> None:
        from websockets.asyncio.client import connect
        for start in range(0, self.count, 100):
            batch = await asyncio.gather(*(connect(self.url, open_timeout=30, ping_interval=None)
                                           for _ in range(start, min(start + 100, self.count))))
            self._sockets += batch
        for i, ws in enumerate(self._sockets):
            asyncio.ensure_future(self._read(i, ws))

    async def _read(self, i: int, ws) -> None:
        async for _ in ws:
            self.received[i] += 1


def serve_gateway(latency: float, count: int, out, commands) -> None:
    """The child process: the gateway and its clients; answers "counts" with what each received."""
    gateway = Gateway(latency)
    clients = Clients(f"ws://127.0.0.1:{gateway.port}/ws", count)
    out.put((gateway.endpoint, list(gateway.gateway.connections)))
    while True:
        command = commands.get()
        if command == "stop":
            return
        out.put((list(clients.received), gateway.posts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    out, commands = context.Queue(), context.Queue()
    child = context.Process(target=serve_gateway, args=(args.latency_ms / 1000, args.connections, out, commands),
                            daemon=True)
    child.start()
    print(f"gateway: {args.latency_ms:.0f} ms per post; opening {args.connections} sockets", flush=True)
    endpoint, ids = out.get(timeout=180)
    assert len(ids) == args.connections, f"{len(ids)} connections open"
    start_moto()

    import boto3

    from chalicelib import bootstrap
    from chalicelib.chat import conversations, subscriptions
    from chalicelib.config import settings
    from chalicelib.core.clock import iso
    from chalicelib.store.models import Connection, Conversation
    from chalicelib.store.tables import create_tables

    def wait_for(each: int, timeout: float = 30) -> tuple[bool, int]:
        deadline = time.time() + timeout
        while True:
            commands.put("counts")
            received, posts = out.get(timeout=30)
            if min(received) >= each or time.time() > deadline:
                return min(received) >= each, posts
            time.sleep(0.1)

    create_tables()
    stamp = iso()
    with Connection.batch_write() as batch:
        for cid in ids:
            batch.save(Connection(cid, kind="agent", workspace_id=WORKSPACE, agent_id=f"agent-{cid}",
                                  agent_workspace_id=WORKSPACE, connected_at=stamp, expires_at=2**31))
    conversation = Conversation("c_bench", workspace_id=WORKSPACE, site_key="bench", visitor_id="v_bench",
                                status="queued", created_at=stamp, updated_at=stamp, activity_at=stamp,
                                subscribers={}, ws_status=f"{WORKSPACE}#queued")
    frame = {"type": "inbox", "conversation": conversations.serialize(conversation)}
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1")
    print(f"[{time.perf_counter() - started:5.1f} s] measuring", flush=True)

    t0 = time.perf_counter()
    data = json.dumps(frame).encode()
    for cid in subscriptions.agent_connections(WORKSPACE):
        client.post_to_connection(ConnectionId=cid, Data=data)
    serial = time.perf_counter() - t0
    serial_delivered, _ = wait_for(1)

    sender = bootstrap.build_sender(client=None)
    sender._endpoint_url = endpoint  # the app's own Sender, only its endpoint is local
    t0 = time.perf_counter()
    subscriptions.notify_inbox(conversation, sender)
    fanout = time.perf_counter() - t0
    fanout_delivered, posts = wait_for(2)
    commands.put("stop")

    result = {
        "connections": args.connections, "latency_ms_per_post": args.latency_ms,
        "fanout_workers": settings.fanout_workers,
        "serial_seconds": round(serial, 3), "fanout_seconds": round(fanout, 3),
        "ratio_serial_to_fanout": round(serial / fanout, 2),
        "delivered_to_all": {"serial": serial_delivered, "fanout": fanout_delivered},
        "posts_received_by_gateway": posts,
        "floor_seconds": {"serial": round(args.connections * args.latency_ms / 1000, 2),
                          "fanout": round(args.connections * args.latency_ms / 1000 / settings.fanout_workers, 2)},
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nOne inbox event to {args.connections} agent connections, {args.latency_ms:.0f} ms per post_to_connection")
    print(f"{'':28}{'seconds':>10}{'floor':>10}")
    print(f"{'serial (one after another)':28}{serial:>10.2f}{result['floor_seconds']['serial']:>10.2f}")
    print(f"{'app fan-out (' + str(settings.fanout_workers) + ' threads)':28}{fanout:>10.2f}"
          f"{result['floor_seconds']['fanout']:>10.2f}")
    print(f"{'ratio serial / fan-out':28}{serial / fanout:>10.1f}")
    print(f"delivered to every client: serial {serial_delivered}, fan-out {fanout_delivered}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    ok = serial_delivered and fanout_delivered and posts == 2 * args.connections
    if not ok:
        print("BENCH FAILED: not every client received both frames", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
