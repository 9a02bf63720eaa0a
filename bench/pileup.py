"""Pile-up: hundreds of agent sends in flight to one conversation, and what everyone else waits meanwhile.

Issue 10 measured, on the code before its fixes, that 250 sends in flight to one conversation made a
new websocket connect wait 45 s (the losing writers retried for up to 20 s each on the local stack's
32-thread pool). Here the real local stack (`python -m infra.local`, limits at their documented
defaults) takes, for each N: one agent socket firing N `send` frames at once into one conversation, and,
right behind them, a newcomer who asks for a visitor session, opens a socket and pings. Measured in the
same run: how long the newcomer waited with the burst in flight against with nothing in flight (the
ratio is the figure), how long until the last send was answered, and how the N were answered (ack,
rate_limited, anything else: must be 0). Writes bench/results/pileup.json.

Measured on 2026-12-02 on this 2-core machine, the same script against 14b9f16 (before the fixes): 250 in
flight were answered in 86 s, 32 of them `conflict` after 20 s of retries, and the newcomer waited 79 s
(0.13 s idle). After: see the results file (250: 18.7 s, 0 other, the newcomer 0.67 s).
Run: .venv/bin/python bench/pileup.py [--sends 50 250 1000]
"""
import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "pileup.json"


def start_stack(workdir: Path) -> tuple[subprocess.Popen, int]:
    from infra.local.stack import free_port
    port, ready = free_port(), workdir / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_"))}
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "infra.local", "--port", str(port), "--ready-file", str(ready)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit("the local stack did not start")
        time.sleep(0.1)
    return proc, port


def post(port: int, path: str, body: dict, timeout: float = 120) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


async def reply(ws, ref: str, inbox: dict) -> dict:
    while ref not in inbox:
        frame = json.loads(await ws.recv())
        if frame.get("ref") is not None:
            inbox[frame["ref"]] = frame
    return inbox.pop(ref)


async def newcomer(port: int) -> float:
    """Seconds for a new visitor's session, socket and pong."""
    from websockets.asyncio.client import connect
    began = time.perf_counter()
    session = await asyncio.to_thread(post, port, "/v1/visitor/sessions", {"site_key": "demo"})
    async with connect(f"ws://127.0.0.1:{port}/ws?token={session['token']}", open_timeout=120) as ws:
        await ws.send(json.dumps({"action": "ping", "ref": "p"}))
        await asyncio.wait_for(reply(ws, "p", {}), 120)
    return time.perf_counter() - began


async def pileup(port: int, agent_token: str, sends: int) -> dict:
    from websockets.asyncio.client import connect
    session = await asyncio.to_thread(post, port, "/v1/visitor/sessions", {"site_key": "demo"})
    async with connect(f"ws://127.0.0.1:{port}/ws?token={session['token']}") as visitor, \
            connect(f"ws://127.0.0.1:{port}/ws?token={agent_token}") as agent:
        await visitor.send(json.dumps({"action": "start", "ref": "s", "text": "hello"}))
        conversation = (await reply(visitor, "s", {}))["conversation"]["id"]
        inbox: dict = {}
        await agent.send(json.dumps({"action": "join", "ref": "j", "conversation_id": conversation}))
        await reply(agent, "j", inbox)
        idle = await newcomer(port)
        began = time.perf_counter()
        for i in range(sends):
            await agent.send(json.dumps({"action": "send", "ref": f"r{i}", "conversation_id": conversation,
                                         "client_msg_id": f"pile-{i}", "text": f"#{i}"}))
        waited = asyncio.ensure_future(newcomer(port))
        replies = [await asyncio.wait_for(reply(agent, f"r{i}", inbox), 180) for i in range(sends)]
        answered = time.perf_counter() - began
        busy = await waited
    kinds = {"ack": 0, "rate_limited": 0, "other": 0}
    for frame in replies:
        key = "ack" if frame["type"] == "ack" else frame.get("code") if frame.get("code") == "rate_limited" else "other"
        kinds[key] += 1
    return {"sends": sends, "answers": kinds, "all_answered_s": round(answered, 3),
            "newcomer_idle_s": round(idle, 3), "newcomer_during_s": round(busy, 3),
            "newcomer_ratio": round(busy / idle, 2) if idle else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, nargs="+", default=[50, 250, 1000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_stack(Path(tmp))
        try:
            agent = post(port, "/v1/agents/login", {"email": "agent@example.com", "password": "demo-password"})
            runs = [asyncio.run(pileup(port, agent["token"], n)) for n in args.sends]
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "what": "N agent sends in flight to one conversation on the local stack; a newcomer's "
                      "session + socket + pong during the burst vs. with nothing in flight",
              "runs": runs}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'sends':>6} {'ack':>5} {'limited':>8} {'other':>6} {'all answered':>13} {'newcomer idle':>14} "
          f"{'during':>8} {'ratio':>6}")
    for r in runs:
        a = r["answers"]
        print(f"{r['sends']:>6} {a['ack']:>5} {a['rate_limited']:>8} {a['other']:>6} {r['all_answered_s']:>12}s "
              f"{r['newcomer_idle_s']:>13}s {r['newcomer_during_s']:>7}s {r['newcomer_ratio']:>6}")
    if any(r["answers"]["other"] for r in runs):
        raise SystemExit("some sends were answered with neither ack nor rate_limited")


if __name__ == "__main__":
    main()
