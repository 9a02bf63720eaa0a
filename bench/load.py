"""Load: N concurrent conversations through the local stack, each with its visitor's socket and an agent's.

For each N, a fresh local stack (`python -m infra.local`, limits scaled ×1000 because every socket comes
from 127.0.0.1) gets ceil(N / 10) agents of capacity 10, online on one console socket each; N visitors
start a conversation each, which routing assigns, and the assignee joins it. Then for --duration
seconds every visitor sends a message every --interval seconds (each visitor at its own phase) and
the agent answers each one as soon as it arrives. A pinger socket measures `ping` meanwhile.

Reported per N: visitor→agent and agent→visitor delivery latency (send to the other socket's
`message` event) p50/p99, messages per second delivered (both sides) against offered, lost (acked
but never delivered once the run has drained), duplicated (one socket given one message twice),
misordered (a socket seeing a conversation's seq go down), the stack process's CPU (seconds of CPU per
second, and milliseconds per message), and the driver's own CPU: it runs on the same 2 cores.
With --profile, py-spy samples the stack during the run and the CPU is broken down by where it went
(bench/_stacks.py). Writes bench/results/load.json.

Run: .venv/bin/python bench/load.py [--conversations 50 100 200] [--interval 3] [--duration 60] [--profile]
"""
import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "load.json"
PASSWORD = "load-password-1"
CAPACITY = 10


def start_stack(workdir: Path, **env_overrides) -> tuple[subprocess.Popen, int]:
    from infra.local.stack import free_port
    port, ready = free_port(), workdir / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_"))}
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING", PARLEY_RATE_LIMIT_SCALE="1000", **env_overrides)
    log = open(workdir / "stack.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "infra.local", "--port", str(port), "--ready-file", str(ready)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit(f"the local stack did not start:\n{(workdir / 'stack.log').read_text()}")
        time.sleep(0.1)
    return proc, port


def rest(port: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU so far of the stack's process and of each process it started (moto's, infra/local/motohost.py)."""
    out = {"stack": cpu_seconds(pid)}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            name = "moto" if "motohost" in cmdline else f"child {child}"
            out[name] = out.get(name, 0.0) + cpu_seconds(int(child))
    return out


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Socket:
    """One websocket: replies matched by ref, events handed to a callback, every frame kept in order."""
    refs = itertools.count()

    def __init__(self, ws, on_event):
        self.ws, self.on_event = ws, on_event
        self.waiting: dict[str, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, port: int, token: str, on_event=None, origin: str | None = None) -> "Socket":
        from websockets.asyncio.client import connect
        ws = await connect(f"ws://127.0.0.1:{port}/ws?token={token}", origin=origin, open_timeout=60,
                           max_size=None, ping_interval=None)
        return cls(ws, on_event or (lambda frame, at: None))

    async def _read(self) -> None:
        async for raw in self.ws:
            at = time.perf_counter()
            frame = json.loads(raw)
            future = self.waiting.pop(frame.get("ref"), None) if frame.get("ref") is not None else None
            if future is not None and not future.done():
                future.set_result((frame, at))
            elif frame.get("type") not in ("ack", "error", "pong"):
                self.on_event(frame, at)

    async def request(self, action: str, timeout: float = 60, **fields) -> tuple[dict, float]:
        ref = f"r{next(self.refs)}"
        future = asyncio.get_running_loop().create_future()
        self.waiting[ref] = future
        await self.ws.send(json.dumps({"action": action, "ref": ref, **fields}))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


class Tally:
    """What one run saw: send times, deliveries, and what went wrong."""

    def __init__(self):
        self.sent: dict[str, float] = {}        # client_msg_id -> when its send frame left
        self.acked: set[str] = set()
        self.delivered: dict[str, float] = {}   # client_msg_id -> latency to the other side
        self.seen: set[tuple[str, str]] = set()  # (receiver, message id)
        self.last_seq: dict[tuple[str, str], int] = {}
        self.duplicated = self.misordered = self.errors = 0
        self.window: tuple[float, float] = (0.0, 0.0)
        self.delivered_in_window = 0

    def deliver(self, receiver: str, message: dict, at: float) -> str | None:
        key = (receiver, message["id"])
        if key in self.seen:
            self.duplicated += 1
            return None
        self.seen.add(key)
        stream = (receiver, message["conversation_id"])
        if message["seq"] < self.last_seq.get(stream, 0):
            self.misordered += 1
        self.last_seq[stream] = max(message["seq"], self.last_seq.get(stream, 0))
        cmid = message.get("client_msg_id")
        if cmid in self.sent and cmid not in self.delivered:
            self.delivered[cmid] = at - self.sent[cmid]
            if self.window[0] <= at <= self.window[1]:
                self.delivered_in_window += 1
        return cmid


async def run(port: int, conversations: int, interval: float, duration: float, drain: float,
              on_window=lambda began: None) -> dict:
    """One load run; `on_window(True)` is called as the measured window opens, `on_window(False)` as it closes."""
    tally = Tally()
    origin = f"http://127.0.0.1:{port}"  # agents' sockets come from the stack's own console page
    admin = await asyncio.to_thread(rest, port, "POST", "/v1/agents/login",
                                    {"email": "admin@example.com", "password": "demo-password"})
    teams = math.ceil(conversations / CAPACITY)
    agents: list[Socket] = []
    replies: list[asyncio.Task] = []
    joined: dict[str, Socket] = {}
    assigned = asyncio.Event()

    def agent_event(socket_index: int):
        def on_event(frame: dict, at: float) -> None:
            kind = frame.get("type")
            if kind == "message" and frame["message"]["author"]["kind"] == "visitor":
                cmid = tally.deliver(f"agent{socket_index}", frame["message"], at)
                if cmid and cmid.startswith("v-") and tally.window[0] <= at:
                    replies.append(asyncio.ensure_future(send(agents[socket_index], frame["conversation_id"],
                                                              "a-" + cmid[2:], f"re: {frame['message']['text']}")))
            elif kind in ("conversation", "inbox"):
                conversation = frame["conversation"]
                if conversation.get("assignee_id") == agent_ids[socket_index] and conversation["id"] not in joined \
                        and conversation["status"] == "open":
                    joined[conversation["id"]] = agents[socket_index]
                    asyncio.ensure_future(agents[socket_index].request("join", conversation_id=conversation["id"]))
                    if len(joined) >= conversations:
                        assigned.set()
        return on_event

    async def send(socket: Socket, conversation_id: str, cmid: str, text: str) -> None:
        tally.sent[cmid] = time.perf_counter()
        frame, _ = await socket.request("send", conversation_id=conversation_id, client_msg_id=cmid, text=text)
        if frame.get("type") == "ack":
            tally.acked.add(cmid)
        else:
            tally.errors += 1

    agent_ids: list[str] = []
    for i in range(teams):
        email = f"load-{i}@example.com"
        created = await asyncio.to_thread(rest, port, "POST", "/v1/agents", {
            "email": email, "name": f"Load Agent {i}", "role": "agent", "capacity": CAPACITY,
            "password": PASSWORD}, admin["token"])
        login = await asyncio.to_thread(rest, port, "POST", "/v1/agents/login", {"email": email, "password": PASSWORD})
        agent_ids.append(created["id"])
        agents.append(await Socket.open(port, login["token"], agent_event(i), origin=origin))
        await agents[-1].request("presence", status="online")

    visitors: list[tuple[Socket, str]] = []

    def visitor_event(index: int):
        def on_event(frame: dict, at: float) -> None:
            if frame.get("type") == "message" and frame["message"]["author"]["kind"] == "agent":
                tally.deliver(f"visitor{index}", frame["message"], at)
        return on_event

    for i in range(conversations):
        session = await asyncio.to_thread(rest, port, "POST", "/v1/visitor/sessions", {"site_key": "demo"})
        socket = await Socket.open(port, session["token"], visitor_event(i))
        frame, _ = await socket.request("start", text="hello", client_msg_id=f"hello-{i}")
        visitors.append((socket, frame["conversation"]["id"]))
    try:
        await asyncio.wait_for(assigned.wait(), 120)
    except TimeoutError:
        raise SystemExit(f"only {len(joined)} of {conversations} conversations were assigned") from None
    await asyncio.sleep(2)  # the joins' acks and the greetings settle

    pinger_session = await asyncio.to_thread(rest, port, "POST", "/v1/visitor/sessions", {"site_key": "demo"})
    pinger = await Socket.open(port, pinger_session["token"])
    pings: list[float] = []

    async def ping_loop(until: float) -> None:
        while time.perf_counter() < until:
            began = time.perf_counter()
            await pinger.request("ping")
            pings.append(time.perf_counter() - began)
            await asyncio.sleep(0.25)

    async def visitor_loop(index: int, socket: Socket, conversation_id: str, until: float) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        k = 0
        while time.perf_counter() < until:
            began = time.perf_counter()
            asyncio.ensure_future(send(socket, conversation_id, f"v-{index}-{k}", f"question {k} from {index}"))
            k += 1
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))

    on_window(True)
    cpu_before, own_before = stack_cpu_seconds(stack_pid), own_cpu_seconds()
    start = time.perf_counter()
    tally.window = (start, start + duration)
    until = start + duration
    await asyncio.gather(ping_loop(until), *(visitor_loop(i, s, c, until) for i, (s, c) in enumerate(visitors)))
    cpu_after, own_window = stack_cpu_seconds(stack_pid), own_cpu_seconds() - own_before
    per_process = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    cpu_window = sum(per_process.values())
    on_window(False)
    deadline = time.perf_counter() + drain
    while time.perf_counter() < deadline and (len(tally.delivered) < len(tally.sent) or
                                              any(not t.done() for t in replies)):
        await asyncio.sleep(0.2)
    visitor_side = [v for k, v in tally.delivered.items() if k.startswith("v-")]
    agent_side = [v for k, v in tally.delivered.items() if k.startswith("a-")]
    lost = len([k for k in tally.acked if k not in tally.delivered])
    for socket, _ in visitors:
        await socket.close()
    for socket in agents:
        await socket.close()
    await pinger.close()
    delivered_in_window = tally.delivered_in_window
    ms = lambda v: None if v is None else round(v * 1000, 1)
    return {
        "conversations": conversations, "agents": teams, "interval_s": interval, "duration_s": duration,
        "offered_per_s": round(2 * conversations / interval, 1),
        "sent": len(tally.sent), "acked": len(tally.acked), "errors": tally.errors,
        "delivered_per_s": round(delivered_in_window / duration, 1),
        "visitor_to_agent_ms": {"p50": ms(quantile(visitor_side, 0.5)), "p99": ms(quantile(visitor_side, 0.99)),
                                "n": len(visitor_side)},
        "agent_to_visitor_ms": {"p50": ms(quantile(agent_side, 0.5)), "p99": ms(quantile(agent_side, 0.99)),
                                "n": len(agent_side)},
        "ping_ms": {"p50": ms(quantile(pings, 0.5)), "p99": ms(quantile(pings, 0.99)), "n": len(pings)},
        "lost": lost, "duplicated": tally.duplicated, "misordered": tally.misordered,
        "stack_cpu_per_s": round(cpu_window / duration, 2),
        "stack_cpu_per_s_by_process": {name: round(v / duration, 2) for name, v in per_process.items()},
        "stack_cpu_ms_per_message": round(1000 * cpu_window / delivered_in_window, 1) if delivered_in_window else None,
        "driver_cpu_per_s": round(own_window / duration, 2),
    }


stack_pid = 0


def main() -> None:
    global stack_pid
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between a visitor's messages")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for the last deliveries")
    parser.add_argument("--profile", action="store_true", help="sample the stack with py-spy during each run")
    parser.add_argument("--transport", nargs="+", default=["process"], choices=["process", "in-process", "http"],
                        help="where moto runs (infra/local/stack.py): each N is run with each")
    parser.add_argument("--stack-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="settings for the stack under test (e.g. PARLEY_FRAMES_IN_FLIGHT=8)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    from infra.local.stack import SWITCH_INTERVAL
    random.seed(7)
    runs = []
    for n, transport in itertools.product(args.conversations, args.transport):
        with tempfile.TemporaryDirectory() as tmp:
            settings = dict(pair.split("=", 1) for pair in args.stack_env)
            proc, port = start_stack(Path(tmp), PARLEY_LOCAL_MOTO_TRANSPORT=transport, **settings)
            stack_pid = proc.pid
            spy = None
            profile = Path(tempfile.gettempdir()) / f"parley-load-profile-{n}-{transport}.txt"  # kept for a closer look

            def on_window(began: bool) -> None:
                nonlocal spy
                if not args.profile:
                    return
                if began:  # only the measured window: py-spy samples whichever thread holds the GIL
                    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                                            str(proc.pid), "--format", "raw", "--rate", "200", "--gil", "--subprocesses",
                                            "-o", str(profile), "--nonblocking"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                else:
                    spy.send_signal(2)
                    spy.wait(timeout=60)
            try:
                load = os.getloadavg()
                result = asyncio.run(run(port, n, args.interval, args.duration, args.drain, on_window))
                result["load_average_before"] = [round(x, 2) for x in load]
                result["transport"] = transport
                result["stack_env"] = settings
                if args.profile:
                    from bench._stacks import breakdown
                    result["profile"] = breakdown(profile)
                runs.append(result)
                print(json.dumps(result), flush=True)
            finally:
                if spy is not None and spy.poll() is None:
                    spy.kill()
                proc.terminate()
                proc.wait(timeout=60)  # closing hundreds of sockets runs a $disconnect each
    output = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "what": "N conversations through the local stack, a visitor message every interval and an agent "
                      "reply to each; the driver runs on the same machine",
              "switch_interval_s": SWITCH_INTERVAL, "runs": runs}
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    print(f"{'N':>4} {'moto':>10} {'offered/s':>9} {'deliv/s':>8} {'v→a p50':>8} {'p99':>7} {'a→v p50':>8} {'p99':>7} "
          f"{'ping p99':>9} {'lost':>5} {'dup':>4} {'order':>6} {'cpu/s':>6} {'ms/msg':>7}")
    for r in runs:
        print(f"{r['conversations']:>4} {r['transport']:>10} {r['offered_per_s']:>9} {r['delivered_per_s']:>8} "
              f"{r['visitor_to_agent_ms']['p50']:>8} {r['visitor_to_agent_ms']['p99']:>7} "
              f"{r['agent_to_visitor_ms']['p50']:>8} {r['agent_to_visitor_ms']['p99']:>7} "
              f"{r['ping_ms']['p99']:>9} {r['lost']:>5} {r['duplicated']:>4} {r['misordered']:>6} "
              f"{r['stack_cpu_per_s']:>6} {r['stack_cpu_ms_per_message']:>7}")


if __name__ == "__main__":
    main()
