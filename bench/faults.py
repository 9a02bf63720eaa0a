"""Faults under load: what throttles, lost sockets and failing AWS services cost, and proof that they lose nothing.

A dedicated local stack (`python -m infra.local`, 127.0.0.1 only) runs with infra/local/faults.py on
(PARLEY_FAULTS, seeded). The same scripted load runs on it with every rate at 0, then with the fault rates
below, then (smaller) during an outage of SES and Step Functions. Each run: N conversations, each with a visitor socket, shared by two agents'
sockets; the visitor starts with a first message (a Step Functions handoff), the agent accepts (which
answers the handoff's task token) and both sides exchange messages; the visitor asks for a transcript (an
SQS job, then SES) and the agent solves (a csat execution). The clients behave like the widget and the
console: every send carries a client_msg_id and is retried with the SAME one on `internal`,
`rate_limited`, a reply that does not come, or a closed socket (after reconnecting); a receiver that
sees a gap in `seq`, or that reconnects, asks `history` after the last seq it has; at the end each does
once more what the widget does at its next message.

Then everything is checked from the stored history (REST, as the console reads it): no message lost (every
acked client_msg_id stored, with the acked seq), none doubled (one stored message per client_msg_id), seqs
contiguous, every message received by the other side (live or by history), every transcript acked sent
exactly once or parked in the email dead-letter queue, one handoff execution per conversation and one
csat execution per solve. Any failure of those checks fails the run.

Figures (bench/results/faults.json): faults injected by kind, botocore's retries, what reached the app,
the clients' retries by reason and their reconnects, messages, lost, duplicated, delivered by history
rather than live, visitor→agent delivery and ack latency p50/p99 without and with faults.

Run: .venv/bin/python bench/faults.py [--conversations 8] [--messages 6] [--seed 7]   (about 2 min here)
"""
import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "faults.json"

# What the faulted run injects, per HTTP attempt of the matching calls (infra/local/faults.py KINDS).
RATES = {"dynamodb": 0.10, "post_to_connection_gone": 0.02, "post_to_connection_500": 0.05,
         "ses_throttle": 0.15, "ses_500": 0.10, "stepfunctions_throttle": 0.10, "stepfunctions_500": 0.10}
# Then an outage: SES and Step Functions refuse every attempt, so every email job ends in the dead-letter
# queue after its receives and every flow start fails (the chat goes on without its timers).
OUTAGE = {**{k: 0.0 for k in RATES}, "dynamodb": 0.10, "ses_500": 1.0, "stepfunctions_500": 1.0}
AGENTS = ("agent@example.com", "admin@example.com")  # workspace "demo", 3 chat slots each
PASSWORD = "demo-password"
REPLY_TIMEOUT = 15.0   # as the widget: no reply in 15 s, and it drops the socket and sends again
GIVE_UP = 60.0         # a send still unacked after this long counts as unacked (a failure)
RECONNECT_PAUSE = 0.3  # the widget waits 0.5-1 s and more; shorter at bench speed
_refs = itertools.count(1)


# --- the stack -----------------------------------------------------------------------------

@dataclass
class Stack:
    proc: subprocess.Popen
    port: int
    moto_url: str
    access_key: str
    secret_key: str

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def aws(self, service: str):
        import boto3
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.moto_url,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)


def start_stack(workdir: Path, seed: int) -> Stack:
    from infra.local.stack import free_port
    port, ready = free_port(), workdir / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_"))}
    # Every session of the run comes from 127.0.0.1: the per-address limits would take it for a flood.
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="ERROR", PARLEY_FAULTS="", PARLEY_FAULTS_SEED=str(seed),
               PARLEY_RATE_LIMIT_SCALE="100")
    log = open(workdir / "stack.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "infra.local", "--port", str(port), "--ready-file", str(ready)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise SystemExit(f"the local stack did not start:\n{(workdir / 'stack.log').read_text()[-3000:]}")
        time.sleep(0.1)
    port_line, moto_url, _pool, access_key, secret_key = ready.read_text().split()
    return Stack(proc, int(port_line), moto_url, access_key, secret_key)


def rest(stack_http: str, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack_http + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def rest_retrying(stack_http: str, method: str, path: str, body=None, token: str | None = None) -> dict:
    """A REST call retried while it answers 5xx or 429 (a fault reached it), as a page would retry."""
    for _ in range(10):
        status, payload = rest(stack_http, method, path, body, token)
        if status < 300:
            return payload
        if status not in (429, 500, 502, 503):
            raise RuntimeError(f"{method} {path}: {status} {payload}")
        time.sleep(0.3)
    raise RuntimeError(f"{method} {path}: still failing")


# --- the clients ---------------------------------------------------------------------------

class Closed(Exception):
    """The socket closed before the reply came."""


@dataclass
class Tally:
    """What the clients of one run did."""
    retries: dict = field(default_factory=dict)     # by reason: internal, rate_limited, timeout, closed
    reconnects: int = 0
    unexpected: list = field(default_factory=list)  # error replies no widget would retry
    unacked: list = field(default_factory=list)     # sends given up on

    def retried(self, reason: str) -> None:
        self.retries[reason] = self.retries.get(reason, 0) + 1


class Peer:
    """One socket of a visitor or an agent, reconnecting like the widget and the console, with the
    messages it received per conversation (by seq) and when."""

    def __init__(self, ws_url: str, token: str, name: str, tally: Tally):
        self.url, self.token, self.name, self.tally = f"{ws_url}?token={token}", token, name, tally
        self.pending: dict[str, asyncio.Future] = {}
        self.received: dict[str, dict[int, dict]] = {}   # conversation -> seq -> message
        self.arrived: dict[str, float] = {}              # message id -> when it first arrived
        self.by_history: set[str] = set()                # message ids first seen through `history`
        self.conversations: set[str] = set()             # what a reconnect re-joins (agents) or catches up
        self.ws = None
        self.up = asyncio.Event()
        self.stopped = False
        self.is_agent = False
        self._catching: set[str] = set()
        self._again: set[str] = set()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        opened = 0
        while not self.stopped:
            try:
                async with connect(self.url, open_timeout=15, close_timeout=1, proxy=None, compression=None,
                                   max_size=None) as ws:
                    self.ws = ws
                    opened += 1
                    self.up.set()
                    if opened > 1:
                        self.tally.reconnects += 1
                        asyncio.ensure_future(self._resume())
                    async for data in ws:
                        self._on_frame(json.loads(data))
            except asyncio.CancelledError:
                raise
            except Exception:  # refused ($connect failed on a fault), dropped, timed out: again, as the widget
                pass
            finally:
                self.ws = None
                self.up.clear()
                for future in self.pending.values():
                    if not future.done():
                        future.set_exception(Closed())
                        future.exception()  # its waiter may have given up already: no "never retrieved"
                self.pending.clear()
            if not self.stopped:
                await asyncio.sleep(RECONNECT_PAUSE)

    def _on_frame(self, frame: dict) -> None:
        ref = frame.get("ref")
        if frame.get("type") in ("ack", "error", "pong") and ref in self.pending:
            future = self.pending.pop(ref)
            if not future.done():
                future.set_result(frame)
            return
        if frame.get("type") == "message":
            self._take(frame["conversation_id"], [frame["message"]], live=True)

    def _take(self, conversation_id: str, messages: list[dict], live: bool, recovered: bool = True) -> None:
        """Messages that arrived live, or by `history` (a recovery) or `join` (how a console opens one)."""
        seen = self.received.setdefault(conversation_id, {})
        top = max(seen, default=0)
        for message in messages:
            if message["seq"] not in seen:
                seen[message["seq"]] = message
                self.arrived.setdefault(message["id"], time.monotonic())
                if not live and recovered:
                    self.by_history.add(message["id"])
        if live and messages and messages[0]["seq"] > top + 1:  # a gap: what the widget does
            asyncio.ensure_future(self.catch_up(conversation_id))

    async def _resume(self) -> None:
        """A new socket: agents join their open conversations again; everyone asks for what they missed."""
        async def one(conversation_id: str) -> None:
            try:
                if self.is_agent:
                    reply = await self.reliably("join", conversation_id=conversation_id)
                    self._take(conversation_id, reply.get("messages", []), live=False)
                await self.catch_up(conversation_id)
            except Exception as exc:  # surfaced by the checks, as missing messages
                self.tally.unexpected.append(f"{self.name} resume: {exc!r}")
        await asyncio.gather(*(one(cid) for cid in list(self.conversations)))

    def _held(self, conversation_id: str) -> int:
        """The highest seq held with none missing below it. These conversations have no internal notes, so
        every seq is the receiver's to hold (a visitor's widget must take a gap below the highest seq it
        holds for a note, docs/protocol.md §9)."""
        seen, held = self.received.get(conversation_id, {}), 0
        while held + 1 in seen:
            held += 1
        return held

    async def catch_up(self, conversation_id: str) -> None:
        """`history` after the last seq held, page by page, as the widget's catchUp(); asked again when a
        new gap shows while one is in flight."""
        if conversation_id in self._catching:
            self._again.add(conversation_id)
            return
        self._catching.add(conversation_id)
        try:
            while True:
                self._again.discard(conversation_id)
                reply = await self.reliably("history", conversation_id=conversation_id,
                                            after_seq=self._held(conversation_id), limit=100)
                self._take(conversation_id, reply["messages"], live=False)
                if not reply.get("has_more") and conversation_id not in self._again:
                    return
        finally:
            self._catching.discard(conversation_id)

    async def request(self, action: str, **fields) -> dict:
        """One try: the frame's one reply (Closed, or TimeoutError when none came in time)."""
        await asyncio.wait_for(self.up.wait(), 20)
        ref = f"{self.name}-{next(_refs)}"
        future = asyncio.get_running_loop().create_future()
        self.pending[ref] = future
        try:
            await self.ws.send(json.dumps({"action": action, "ref": ref, **fields}))
        except Exception:
            self.pending.pop(ref, None)
            raise Closed() from None
        try:
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        finally:
            self.pending.pop(ref, None)

    async def reliably(self, action: str, *, retry_closed: bool = True, also: tuple = (), **fields) -> dict:
        """Until acked, as the widget's outbox does: `internal` and `rate_limited` (and the codes in `also`)
        are retried after a pause, a lost reply or a closed socket after reconnecting, always with the same
        fields."""
        deadline = time.monotonic() + GIVE_UP
        while time.monotonic() < deadline:
            try:
                reply = await self.request(action, **fields)
            except (TimeoutError, Closed) as exc:
                if not retry_closed:
                    raise
                self.tally.retried("closed" if isinstance(exc, Closed) else "timeout")
                continue
            if reply.get("type") == "ack":
                return reply
            code = reply.get("code")
            if code in ("internal", "rate_limited", *also):
                self.tally.retried(code)
                await asyncio.sleep(min(2.0, float(reply.get("retry_after") or 0.3)))
                continue
            if code == "unauthorized" and self.ws is not None:
                # "unknown connection; reconnect": the server forgot this socket (a 410 a moment ago) before
                # it closed. The widget drops it and sends again on a new one.
                self.tally.retried(code)
                await self.ws.close()
                continue
            raise RuntimeError(f"{self.name} {action}: {reply}")
        raise TimeoutError(f"{self.name} {action}: no ack in {GIVE_UP} s")

    async def close(self) -> None:
        self.stopped = True
        if self.ws is not None:
            await self.ws.close()
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass


# --- the scripted load ---------------------------------------------------------------------

@dataclass
class Sent:
    conversation_id: str
    author: str          # "visitor" | "agent"
    client_msg_id: str
    began: float
    acked: float | None = None
    message: dict | None = None


@dataclass
class Run:
    label: str
    conversations: list = field(default_factory=list)   # ids
    sent: list = field(default_factory=list)            # Sent
    transcripts: list = field(default_factory=list)     # (address, "acked" | "unknown" | "refused")
    solved: list = field(default_factory=list)          # conversation ids solved by their agent
    tally: Tally = field(default_factory=Tally)
    visitors: dict = field(default_factory=dict)        # conversation -> Peer
    agents: list = field(default_factory=list)          # Peer
    agent_of: dict = field(default_factory=dict)        # conversation -> Peer
    seconds: float = 0.0


async def send(run: Run, peer: Peer, author: str, conversation_id: str, cmid: str, text: str) -> None:
    sent = Sent(conversation_id, author, cmid, time.monotonic())
    run.sent.append(sent)
    try:
        reply = await peer.reliably("send", conversation_id=conversation_id, client_msg_id=cmid, text=text)
    except Exception as exc:
        run.tally.unacked.append(f"{cmid}: {exc!r}")
        return
    sent.acked, sent.message = time.monotonic(), reply["message"]


async def conversation_script(run: Run, index: int, stack_http: str, ws_url: str, agent: Peer, messages: int,
                              rng: random.Random) -> None:
    session = await asyncio.to_thread(rest_retrying, stack_http, "POST", "/v1/visitor/sessions",
                                      {"site_key": "demo", "name": f"Visitor {index}"})
    visitor = Peer(ws_url, session["token"], f"{run.label}-v{index}", run.tally)
    first = f"{run.label}-v{index}-0"
    began = time.monotonic()
    reply = await visitor.reliably("start", text=f"Hello, I am visitor {index}", client_msg_id=first)
    conversation_id = reply["conversation"]["id"]
    sent = Sent(conversation_id, "visitor", first, began, time.monotonic(), reply.get("message"))
    run.sent.append(sent)
    run.conversations.append(conversation_id)
    run.visitors[conversation_id], run.agent_of[conversation_id] = visitor, agent
    visitor.conversations.add(conversation_id)
    agent.conversations.add(conversation_id)
    joined = await agent.reliably("join", conversation_id=conversation_id)
    agent._take(conversation_id, joined.get("messages", []), live=False, recovered=False)
    try:
        await agent.reliably("accept", conversation_id=conversation_id)
        accepted = True
    except RuntimeError as exc:  # every slot taken: the agent answers it anyway, unassigned
        if "capacity" not in str(exc):
            raise
        accepted = False

    async def side(peer: Peer, author: str) -> None:
        for i in range(1, messages + 1):
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            await send(run, peer, author, conversation_id, f"{run.label}-{author[0]}{index}-{i}",
                       f"{author} message {i} of conversation {index}")
    await asyncio.gather(side(visitor, "visitor"), side(agent, "agent"))
    # One transcript, asked once: the widget does not retry it (a person may click again: a new address).
    address = f"transcript-{run.label}-{index}@example.com"
    try:
        await visitor.reliably("transcript", retry_closed=False, conversation_id=conversation_id, email=address)
        run.transcripts.append((address, "acked"))
    except (TimeoutError, Closed):
        run.transcripts.append((address, "unknown"))  # queued or not: the reply was lost
    except RuntimeError:
        run.transcripts.append((address, "refused"))
    if accepted:
        # `conflict`: someone moved it meanwhile; the console reloads it and asks again.
        await agent.reliably("set_status", also=("conflict",), conversation_id=conversation_id, status="solved")
        run.solved.append(conversation_id)


async def run_load(label: str, stack_http: str, conversations: int, messages: int, seed: int) -> Run:
    run = Run(label)
    ws_url = stack_http.replace("http://", "ws://") + "/ws"
    rng = random.Random(f"{seed}:{label}")
    logins = [await asyncio.to_thread(rest_retrying, stack_http, "POST", "/v1/agents/login",
                                      {"email": email, "password": PASSWORD}) for email in AGENTS]
    run.agents = [Peer(ws_url, login["token"], f"{label}-agent{i}", run.tally) for i, login in enumerate(logins)]
    for agent in run.agents:
        agent.is_agent = True
    began = time.monotonic()
    scripts = await asyncio.gather(*(conversation_script(run, i, stack_http, ws_url, run.agents[i % len(run.agents)],
                                                         messages, rng) for i in range(conversations)),
                                   return_exceptions=True)
    run.tally.unexpected += [f"conversation {i}: {e!r}" for i, e in enumerate(scripts) if isinstance(e, Exception)]
    # What the widget and the console do at their next message or reconnect: ask after the last seq.
    await asyncio.sleep(1.0)
    for conversation_id in run.conversations:
        for peer in (run.visitors[conversation_id], run.agent_of[conversation_id]):
            try:
                await peer.catch_up(conversation_id)
            except Exception as exc:  # reported; the checks then find what it missed
                run.tally.unexpected.append(f"{peer.name} catch-up: {exc!r}")
    run.seconds = time.monotonic() - began
    return run


# --- the checks ----------------------------------------------------------------------------

def stored_messages(stack_http: str, token: str, conversation_id: str) -> list[dict]:
    out, after = [], 0
    while True:
        page = rest_retrying(stack_http, "GET", f"/v1/conversations/{conversation_id}/messages"
                                                f"?after_seq={after}&limit=100", token=token)
        out += page["messages"]
        if not page.get("has_more"):
            return out
        after = page["messages"][-1]["seq"]


def check_messages(run: Run, stack_http: str) -> dict:
    token = run.agents[0].token
    stored = {cid: stored_messages(stack_http, token, cid) for cid in run.conversations}
    problems, lost, duplicated, gaps, missing_at_receiver, by_history = [], 0, 0, 0, 0, 0
    for cid, messages in stored.items():
        seqs = [m["seq"] for m in messages]
        if seqs != list(range(1, len(seqs) + 1)):
            gaps += 1
            problems.append(f"{cid}: seqs {seqs}")
        count: dict[str, int] = {}
        for m in messages:
            if m.get("client_msg_id"):
                count[m["client_msg_id"]] = count.get(m["client_msg_id"], 0) + 1
        for cmid, n in count.items():
            if n > 1:
                duplicated += n - 1
                problems.append(f"{cid}: {cmid} stored {n} times")
        visitor, agent = run.visitors[cid], run.agent_of[cid]
        for m in messages:
            receiver = agent if m["author"]["kind"] == "visitor" else visitor
            if m["author"]["kind"] in ("visitor", "agent") and m["seq"] not in receiver.received.get(cid, {}):
                missing_at_receiver += 1
                problems.append(f"{cid}: seq {m['seq']} ({m['author']['kind']}) never reached the other side")
            if m["id"] in receiver.by_history:
                by_history += 1
    for sent in run.sent:
        if sent.message is None:
            continue
        match = [m for m in stored[sent.conversation_id] if m.get("client_msg_id") == sent.client_msg_id]
        if not match or match[0]["seq"] != sent.message["seq"] or match[0]["id"] != sent.message["id"]:
            lost += 1
            problems.append(f"{sent.client_msg_id}: acked as seq {sent.message['seq']}, stored {match}")
    # what people wrote; the system's notices (who joined, a solve) come on top, counted apart
    total = sum(1 for messages in stored.values() for m in messages if not m.get("notice"))
    notices = sum(1 for messages in stored.values() for m in messages if m.get("notice"))
    return {"stored": total, "notices": notices, "acked": sum(1 for s in run.sent if s.message), "lost": lost,
            "duplicated": duplicated, "conversations_with_gaps": gaps, "unacked": len(run.tally.unacked),
            "missing_at_receivers": missing_at_receiver, "received_by_history": by_history,
            "problems": problems + [f"unacked {u}" for u in run.tally.unacked] + run.tally.unexpected}


def check_emails(run: Run, stack: Stack, wait: float) -> dict:
    """Every transcript acked: one email, or its job in the dead-letter queue; none for a refused one."""
    sqs = stack.aws("sqs")
    dlq = sqs.get_queue_url(QueueName="parley-local-email-dlq")["QueueUrl"]
    parked: list[str] = []
    deadline = time.monotonic() + wait
    while True:
        outbox = json.loads(urllib.request.urlopen(f"{stack.http}/_local/outbox.json", timeout=30).read())
        sent: dict[str, int] = {}
        for email in outbox:
            for _, to in getaddresses([email["headers"].get("To", "")]):
                sent[to.lower()] = sent.get(to.lower(), 0) + 1
        got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        parked += [json.loads(m["Body"]).get("email") for m in got]
        waiting = [a for a, state in run.transcripts if state == "acked" and not sent.get(a) and a not in parked]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    problems = []
    for address, state in run.transcripts:
        n, in_dlq = sent.get(address, 0), parked.count(address)
        if state == "acked" and n + in_dlq != 1:
            problems.append(f"{address}: acked, {n} sent, {in_dlq} in the DLQ")
        if state == "unknown" and n + in_dlq > 1:
            problems.append(f"{address}: {n} sent, {in_dlq} in the DLQ")
        if state == "refused" and n + in_dlq:
            problems.append(f"{address}: refused, yet {n} sent")
    return {"requested": len(run.transcripts), "acked": sum(s == "acked" for _, s in run.transcripts),
            "reply_lost": sum(s == "unknown" for _, s in run.transcripts),
            "sent": sum(sent.get(a, 0) for a, _ in run.transcripts),
            "in_dead_letter_queue": sum(parked.count(a) for a, _ in run.transcripts), "problems": problems}


def check_flows(run: Run, stack: Stack) -> dict:
    """One handoff execution per conversation, one csat execution per solve (the starts are named, so a
    retried start finds its execution). A start that failed past its retries is a flow lost, which the app
    logs and lives with (chalicelib/stepfunctions.py): counted, not failed."""
    sfn = stack.aws("stepfunctions")
    arns = {m["name"].rsplit("-", 1)[-1]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}

    def names(flow: str) -> list[str]:
        out, token = [], None
        while True:
            page = sfn.list_executions(stateMachineArn=arns[flow], **({"nextToken": token} if token else {}))
            out += [e["name"] for e in page["executions"]]
            token = page.get("nextToken")
            if not token:
                return out
    handoffs, surveys = names("handoff"), names("csat")
    counts = {"handoffs": [sum(n.startswith(f"handoff-{cid}-") for n in handoffs) for cid in run.conversations],
              "surveys": [sum(n.startswith(f"csat-{cid}-") for n in surveys) for cid in run.solved]}
    problems = [f"{flow}: {n} executions for one trigger" for flow, ns in counts.items() for n in ns if n > 1]
    return {"handoffs_started": sum(counts["handoffs"]), "conversations": len(run.conversations),
            "surveys_started": sum(counts["surveys"]), "solves": len(run.solved),
            "flows_lost": sum(1 for ns in counts.values() for n in ns if n == 0), "problems": problems}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def latencies(run: Run) -> dict:
    # From the send's first try to the agent holding the message, live or by history. The first message
    # reaches the agent through `join`, after the start: only the later ones count.
    live, recovered = [], []
    for s in run.sent:
        agent = run.agent_of.get(s.conversation_id)
        if s.author != "visitor" or not s.message or s.client_msg_id.endswith("-0") \
                or s.message["id"] not in agent.arrived:
            continue
        seconds = agent.arrived[s.message["id"]] - s.began
        (recovered if s.message["id"] in agent.by_history else live).append(seconds)
    acks = [s.acked - s.began for s in run.sent if s.acked]

    def figures(values: list[float]) -> dict:
        return {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "n": len(values)}
    return {"visitor_to_agent_ms": figures(live + recovered), "visitor_to_agent_live_ms": figures(live),
            "visitor_to_agent_by_history_ms": figures(recovered), "ack_ms": figures(acks)}


def faults_now(stack_http: str) -> dict:
    return json.loads(urllib.request.urlopen(f"{stack_http}/_local/faults", timeout=30).read())


def difference(after: dict, before: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}


def scenario(stack: Stack, label: str, rates: dict, conversations: int, messages: int, seed: int,
             email_wait: float = 40.0) -> dict:
    """One run of the load at these rates, then its checks (the faults go on until they are done: the email
    queue's consumer meets them too), then every rate back to 0."""
    status, _ = rest(stack.http, "POST", "/_local/faults", {"rates": rates})
    assert status == 200, status
    before = faults_now(stack.http)

    async def load() -> Run:
        run = await run_load(label, stack.http, conversations, messages, seed)
        await asyncio.gather(*(peer.close() for peer in [*run.visitors.values(), *run.agents]))
        return run
    run = asyncio.run(load())
    result = {"label": label, "rates": rates, "seconds": round(run.seconds, 1), "conversations": conversations,
              "messages": check_messages(run, stack.http), "emails": check_emails(run, stack, email_wait),
              "flows": check_flows(run, stack), "latency": latencies(run),
              "clients": {"retries": run.tally.retries, "reconnects": run.tally.reconnects}}
    after = faults_now(stack.http)
    rest(stack.http, "POST", "/_local/faults", {"rates": {k: 0 for k in rates}})
    result["faults"] = {k: difference(after[k], before[k]) for k in ("injected", "surfaced", "retries", "attempts")}
    return result


def problems(result: dict) -> list[str]:
    return [*result["messages"]["problems"], *result["emails"]["problems"], *result["flows"]["problems"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--messages", type=int, default=6, help="per side and conversation, after the first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began, load_before = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), args.seed)
        try:
            # A first conversation warms the stack (imports, pools, table descriptions): not reported, so the
            # runs without and with faults start alike.
            scenario(stack, "warm", {k: 0 for k in RATES}, 1, 1, args.seed)
            runs = [scenario(stack, "clean", {k: 0 for k in RATES}, args.conversations, args.messages, args.seed),
                    scenario(stack, "faults", RATES, args.conversations, args.messages, args.seed),
                    scenario(stack, "outage", OUTAGE, 2, 2, args.seed, email_wait=90.0)]
        finally:
            stack.proc.terminate()
            stack.proc.wait(timeout=15)
    load = os.getloadavg()
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in load], "seed": args.seed,
              "total_seconds": round(time.monotonic() - began, 1),
              "what": "the same scripted load on one local stack, without then with injected faults "
                      "(infra/local/faults.py); clients retry with the same client_msg_id as the widget does",
              "runs": runs}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        m, e, f, lat = r["messages"], r["emails"], r["flows"], r["latency"]
        print(f"{r['label']:>7}: {m['stored']} stored, {m['acked']} acked, lost {m['lost']}, duplicated "
              f"{m['duplicated']}, unacked {m['unacked']}, missing at receivers {m['missing_at_receivers']} "
              f"({m['received_by_history']} by history); emails {e['sent']} sent + {e['in_dead_letter_queue']} in DLQ "
              f"of {e['acked']} acked; flows lost {f['flows_lost']}; visitor->agent p50 "
              f"{lat['visitor_to_agent_ms']['p50']} ms p99 {lat['visitor_to_agent_ms']['p99']} ms; "
              f"retries {r['clients']['retries']}, reconnects {r['clients']['reconnects']}; "
              f"injected {r['faults']['injected']}")
    print(f"total {result['total_seconds']} s; written to {RESULTS.relative_to(ROOT)}")
    found = [p for r in runs for p in problems(r)]
    if found:
        raise SystemExit("FAILED:\n  " + "\n  ".join(found[:40]))


if __name__ == "__main__":
    main()
