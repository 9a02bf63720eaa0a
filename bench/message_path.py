"""What one visitor message costs on the real hot path, with 10 and with 10,000 stored conversations.

Run from the repository root:  .venv/bin/python bench/message_path.py   (about 20 s on 2 cores)

What is measured
----------------
Each measured message is one call of `chalicelib.edges.ws.handle_frame(visitor_connection_id, frame, sender)`,
the function the `$default` websocket handler in app.py calls, with a `send` frame from a visitor
whose conversation has one agent subscribed. Everything runs in-process on moto (`mock_aws`).
Per message the bench records:

- DynamoDB requests, by operation (GetItem, Query, TransactWriteItems, UpdateItem, Scan, ...).
  Counted client-side with a botocore `before-call.dynamodb` hook. pynamodb gives every model its
  own botocore session, client and event emitter (and `dynamo()`, which issues the
  TransactWriteItems, is yet another one), so hooking `Conversation`'s client alone would miss
  most calls: the bench hooks every one of them, and cross-checks the total against the requests
  moto's DynamoDB endpoint actually served. Any difference fails the run (an unhooked client).
- `post_to_connection` calls, split into the ack back to the visitor's own connection and the
  delivery to the agent's connection. Every posted frame is parsed: an `error` frame, a missing
  ack or a missing delivery fails the run, so the bench cannot quietly time an error path. At the
  end, a history query (outside the timed window) checks that every message was stored once,
  with contiguous seqs.
- Handler wall time (median and p95), plus how much of it was spent inside moto's DynamoDB
  emulator, and the rest ("outside emulator"), which is the app's own code plus botocore.

Both sizes are measured in one process, interleaved message by message: the 10-conversation world
and the 10,000-conversation world live side by side in two moto accounts (moto picks the account
for each request from MOTO_ACCOUNT_ID, which the bench switches between messages; table names,
clients and code are the same). Message i goes to one world, then to the other, the order flipping
every pair (ABBA), so load from other processes or a slow drift hits both sizes alike and the ratio
compares like with like. Both worlds hold the same workspace, site, agent and seeded histories;
they differ only in the number of stored conversations.

A known emulator artifact, neutralized
--------------------------------------
The bench, like the tests and the local stack, runs moto with infra/local/fidelity.py installed
(`install()`), which makes moto's DynamoDB behave like DynamoDB where the app relies on it:
- atomic writes: one lock around moto's DynamoDB writes, so two conditional writes never both see
  the old value (moto itself reads, checks and writes without a lock);
- a per-item transaction backup: stock moto deep-copies every table a TransactWriteItems touches,
  as a rollback backup, before doing anything. With 10,000 conversations that alone costs ~0.9 s
  per transaction, growing linearly with the table, where real DynamoDB's cost does not depend on
  the table at all; on stock moto any hot path with a transaction on the conversations table would
  look O(N) whatever the app does. The patch snapshots only the items the transaction names and
  puts them back if it is cancelled: same semantics, which a self-test checks at start-up (a
  cancelled transaction leaves nothing behind, and no table was copied; `emulator.rollback_self_test`
  in the JSON). `emulator.hot_path_uses_transact_write_items` says whether the measured path
  issues transactions, i.e. whether the per-item backup matters to these figures.
Everything else is stock moto.

The queue position's cost
-------------------------
A second measurement: what a visitor's `start` costs when others already wait. Two more worlds (two
more moto accounts) hold the same workspace, site and one online agent with every slot taken, and
10 or 1,000 conversations queued in the general queue, with their tickets (chalicelib/tickets.py).
Each measured call is `ws.handle_frame(connection_id, {"action": "start", "text": ...})` from a
fresh visitor whose session and socket were set up outside the timed window: it creates the
conversation, takes its ticket, stores the first message, runs the drain (nobody is free) and
tells the visitor their position. Each start is checked: an ack showing the conversation
`queued`, and a `queue` event with position = queued + 1 (so a broken or skipped position fails
the run). Afterwards, outside the timed window, the conversation and everything it created are
removed and the queue's counter is put back, so every start meets the same queue. Both sizes are
interleaved ABBA like the messages. The targets: the same DynamoDB requests at 1,000 as at 10 (the
worst start at 1,000 no more than the worst at 10), no Scan, and the items the Queries read (their
ScannedCount, which DynamoDB bills) at most two queue heads more at 1,000 than at 10. The wall-time ratio is reported, not
targeted: moto answers a Query on an index by filtering the whole table, which real DynamoDB does
not, so its time inside the emulator still grows with the table; "outside emulator" is the app's.

Reading the output
------------------
The table shows, per stored-conversation count, the mean DynamoDB requests per message and the
worst single message (a request made only every n-th message shows in the worst and in the
histogram, barely in the mean), by operation; post_to_connection calls (ack + delivery); handler
times. Then the targets from the design: at most 3 DynamoDB requests for every message (checked on
the worst one), 0 Scans, one post_to_connection per recipient connection plus the ack, and a p50 at
10,000 within 1.2x the p50 at 10 (the median of the per-pair ratios is printed next to it, as a
noise check). "Where each request comes from" gives, per operation, the chalicelib call chain that
issued it, averaged over the measured messages. Results go to
bench/results/message_path.json (the top-level keys summarize; `runs` holds every run in full).
"""
import argparse
import gc
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# As tests/conftest.py does, before anything imports chalicelib (which reads its settings once).
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "PARLEY_TABLE_PREFIX": "parley-bench-", "PARLEY_TOKEN_SECRET": "bench-secret-do-not-use-anywhere-else-0123456789",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
import moto
import moto.dynamodb.models as moto_ddb_models
from moto.dynamodb.responses import DynamoHandler
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import bootstrap
from chalicelib.chat import conversations, lifecycle, routing, subscriptions, tickets
from chalicelib.edges import ws
from chalicelib.identity import sessions, tokens
from chalicelib.store import tables
from chalicelib.store.dynamo import dynamo
from chalicelib.store.models import (
    Agent,
    Connection,
    Conversation,
    Key,
    Message,
    Site,
    SiteSettings,
    Visitor,
    Workspace,
)
from infra.local import fidelity

RESULTS = ROOT / "bench" / "results" / "message_path.json"
QUEUE_SIZES = (10, 1_000)  # conversations already queued when a visitor starts
QUEUE_ACCOUNTS = {10: "333333333333", 1_000: "444444444444"}
SIZES = (10, 10_000)
ACCOUNTS = {10: "111111111111", 10_000: "222222222222"}  # one moto account per world
WORKSPACE, SITE_KEY, AGENT_ID = "w_bench", "site_bench", "a_bench"
ENDPOINT = "https://example.execute-api.us-east-1.amazonaws.com/test"
BENCH_HISTORY = 40  # messages already in the measured conversation when a run starts
# A few conversations with a realistic history: (filler index, messages). All exist at both sizes.
SEEDED_HISTORIES = ((0, 12), (1, 25), (2, 40), (3, 60), (4, 80), (5, 120), (6, 150), (7, 200))
TARGET_DYNAMODB, TARGET_SCANS, TARGET_RATIO = 3, 0, 1.2


class BenchFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailure(message)


# --- counting -------------------------------------------------------------------------------

class Counters:
    """Everything one message caused. Reset before each message; thread-safe (fan-out uses a pool)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.client_ops = Counter()   # botocore before-call.dynamodb, by operation
            self.server_ops = Counter()   # requests moto's DynamoDB endpoint served, by operation
            self.emulator_s = 0.0         # time spent inside moto's DynamoDB endpoint
            self.emulator_s_by_op = Counter()  # the same, by operation
            self.query_items_read = 0     # items DynamoDB read for the Queries (ScannedCount): what it bills
            self.posts = []               # (connection_id, parsed frame)
            self.post_status = []         # HTTP status of each post_to_connection
            self.sites = []               # (operation, chalicelib call chain) of each DynamoDB request

    # botocore: before-call.dynamodb.<Operation>
    def on_dynamodb_call(self, model, **_):
        chain = _chalicelib_chain()
        with self.lock:
            self.client_ops[model.name] += 1
            self.sites.append((model.name, chain))

    # botocore: after-call.dynamodb.Query
    def on_query_answer(self, parsed, **_):
        with self.lock:
            self.query_items_read += int(parsed.get("ScannedCount", 0))

    # botocore: before-call.apigatewaymanagementapi.PostToConnection. `params` is the serialized
    # request here: the connection id is the last segment of url_path, the Data is the body.
    def on_post(self, params, **_):
        connection_id = unquote(params["url_path"].rsplit("/", 1)[-1])
        data = params.get("body")
        try:
            frame = json.loads(data)
        except (TypeError, ValueError):
            frame = {"unparseable": repr(data)[:200]}
        with self.lock:
            self.posts.append((connection_id, frame))

    # botocore: after-call.apigatewaymanagementapi.PostToConnection
    def on_post_done(self, http_response, **_):
        with self.lock:
            self.post_status.append(http_response.status_code)

    def on_server_request(self, operation: str, seconds: float):
        with self.lock:
            self.server_ops[operation] += 1
            self.emulator_s += seconds
            self.emulator_s_by_op[operation] += seconds


_CHALICELIB = f"{os.sep}chalicelib{os.sep}"


def _chalicelib_chain() -> str:
    """The chalicelib frames (outermost first) that led to this request: where it comes from.

    Walks frames by hand (no source lines read, unlike traceback.extract_stack): a few microseconds,
    so it stays on during the timed messages and every request is attributed, rare ones included."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if _CHALICELIB in code.co_filename:
            frames.append(f"{Path(code.co_filename).stem}.{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return " > ".join(reversed(frames)) or "(outside chalicelib)"


def hook_dynamodb_clients(counters: Counters) -> int:
    """Register the counter on every DynamoDB client pynamodb has; returns how many distinct emitters."""
    clients = [m._get_connection().connection.client for m in tables.ALL_MODELS]
    clients.append(dynamo().client)  # TransactWriteItems goes through this one
    emitters = {}
    for client in clients:
        emitters.setdefault(id(client.meta.events), client.meta.events)
    for emitter in emitters.values():
        emitter.register("before-call.dynamodb", counters.on_dynamodb_call, unique_id="parley-bench-count")
        emitter.register("after-call.dynamodb.Query", counters.on_query_answer, unique_id="parley-bench-read")
    return len(emitters)


def hook_dynamodb_server(counters: Counters) -> None:
    """Count, and time, each request at moto's DynamoDB endpoint: the ground truth for the client hooks."""
    original = DynamoHandler.call_action

    def call_action(self):
        target = self.headers.get("X-Amz-Target") or self.headers.get("x-amz-target") or "?.?"
        started = time.perf_counter()
        try:
            return original(self)
        finally:
            counters.on_server_request(target.split(".")[-1], time.perf_counter() - started)

    DynamoHandler.call_action = call_action


def hook_sender(counters: Counters, sender) -> None:
    events = sender.client.meta.events
    events.register("before-call.apigatewaymanagementapi.PostToConnection", counters.on_post,
                    unique_id="parley-bench-post")
    events.register("after-call.apigatewaymanagementapi.PostToConnection", counters.on_post_done,
                    unique_id="parley-bench-post-done")


# --- moto: the fidelity patch the tests and the local stack install --------------------------

def self_test_rollback() -> dict:
    """With infra/local/fidelity.py installed, a cancelled transaction must leave nothing behind.

    The transaction updates an existing item, puts a new one, and fails the condition of a third:
    moto applies every item whose condition holds and cancels at the end, so this checks that the
    per-item backup puts both back (the update undone, the new item gone). It also checks that the
    keys table was not swapped for a whole-table copy, as stock moto's rollback does: the backup
    really is per item."""
    tag = f"selftest#{uuid.uuid4().hex}"
    Key(f"{tag}#a", seq=1).save()
    Key(f"{tag}#taken", seq=1).save()
    table_before = moto_table(Key)
    try:
        with TransactWrite(connection=dynamo()) as tx:
            tx.update(Key(f"{tag}#a"), actions=[Key.seq.set(2)])
            tx.save(Key(f"{tag}#new", seq=1))
            tx.save(Key(f"{tag}#taken", seq=2), condition=Key.pk.does_not_exist())
        cancelled = False
    except TransactWriteError:
        cancelled = True
    a = Key.get(f"{tag}#a", consistent_read=True)
    taken = Key.get(f"{tag}#taken", consistent_read=True)
    new_exists = Key.count(f"{tag}#new", consistent_read=True) > 0
    outcome = {"cancelled": cancelled, "update_undone": int(a.seq) == 1, "put_undone": not new_exists,
               "conditioned_item_untouched": int(taken.seq) == 1,
               "table_not_copied": moto_table(Key) is table_before}
    for suffix in ("a", "taken", "new"):
        Key(f"{tag}#{suffix}").delete()
    outcome["ok"] = all(outcome.values())
    check(outcome["ok"], f"transaction rollback self-test failed: {outcome}")
    return outcome


# --- the world -------------------------------------------------------------------------------

def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


NOW = datetime.now(UTC)
LINES = ("Hi, I can't log into my account.", "Sure, let me check that for you.",
         "My order #4411 hasn't arrived yet, it's been a week.", "Thanks, that worked!",
         "Could you send me the invoice again?", "I have updated the address on the order.")


# Days the site keeps conversations (--retention-days; 0: forever): the measured conversation carries
# them, so each message also writes its TTL `expires_at`, still within the same three requests.
RETENTION_DAYS = 0


def create_world() -> None:
    stamp = iso(NOW)
    Workspace(WORKSPACE, name="Bench Inc.", created_at=stamp).save()
    # A flood limit that never triggers: the bench sends hundreds of messages in seconds.
    Site(SITE_KEY, workspace_id=WORKSPACE, name="bench.example.com",
         settings=SiteSettings(rate_limit_count=1_000_000, rate_limit_window=10,
                               retention_days=RETENTION_DAYS or None), created_at=stamp).save()
    Agent(AGENT_ID, workspace_id=WORKSPACE, email="agent@bench.example.com", name="Ada Agent",
          status="online", capacity=10, active_chats=1, created_at=stamp).save()


STATUSES = (("closed", 70), ("solved", 10), ("open", 8), ("queued", 5), ("pending", 4), ("bot", 3))
_STATUS_WHEEL = [s for s, weight in STATUSES for _ in range(weight)]


def filler_id(i: int) -> str:
    return "c_" + uuid.UUID(int=(0xB0B << 100) + i).hex


def filler(i: int) -> Conversation:
    """A stored conversation that is not the one being measured, like a busy workspace's past chats."""
    status = _STATUS_WHEEL[(i * 37) % len(_STATUS_WHEEL)]
    created = NOW - timedelta(minutes=13 * i + 7)
    activity = created + timedelta(minutes=9)
    assignee = AGENT_ID if status in ("open", "pending", "solved", "closed") else None
    seq = dict(SEEDED_HISTORIES).get(i, 3 + i % 17)
    return Conversation(
        filler_id(i), workspace_id=WORKSPACE, site_key=SITE_KEY, visitor_id=f"v_fill_{i}",
        visitor_name=f"Visitor {i}", visitor_email=f"visitor{i}@example.com" if i % 3 else None,
        page_url="https://bench.example.com/pricing", status=status, assignee_id=assignee,
        title=f"Question about order {1000 + i}" if i % 4 == 0 else None,
        tags=["billing", "vip"] if i % 5 == 0 else [], created_at=iso(created), updated_at=iso(activity),
        activity_at=iso(activity), last_seq=seq, first_response_at=iso(created + timedelta(minutes=1)),
        solved_at=iso(activity) if status in ("solved", "closed") else None, subscribers={},
        **conversations.index_keys(WORKSPACE, status, assignee))


def history_messages(conversation_id: str, count: int, visitor_id: str, start: datetime) -> list[Message]:
    out = []
    for seq in range(1, count + 1):
        visitor = seq % 2 == 1
        out.append(Message(conversation_id, seq, id=f"m_{uuid.uuid4().hex}",
                           client_msg_id=f"hist-{seq}" if visitor else None,
                           author_kind="visitor" if visitor else "agent",
                           author_id=visitor_id if visitor else AGENT_ID,
                           author_name=None if visitor else "Ada Agent", text=LINES[seq % len(LINES)],
                           internal=False, created_at=iso(start + timedelta(seconds=20 * seq))))
    return out


def use_world(size: int) -> None:
    """Send the following requests (all of them, from every client) to the world of `size` conversations."""
    os.environ["MOTO_ACCOUNT_ID"] = ACCOUNTS[size]


def use_queue_world(queued: int) -> None:
    """Send the following requests to the world where `queued` conversations wait."""
    os.environ["MOTO_ACCOUNT_ID"] = QUEUE_ACCOUNTS[queued]


def moto_table(model, size: int | None = None):
    """The moto Table object behind a model, in the world of `size` (default: the current one)."""
    account = ACCOUNTS[size] if size is not None else os.environ["MOTO_ACCOUNT_ID"]
    return moto_ddb_models.dynamodb_backends[account]["us-east-1"].tables[model.Meta.table_name]


def table_size(model, size: int) -> int:
    """Items in a moto table, read from the backend (no request, so nothing to count)."""
    table = moto_table(model, size)
    if table.range_key_attr:
        return sum(len(partition) for partition in table.items.values())
    return len(table.items)


def seed_fillers(count: int) -> None:
    """Store `count` filler conversations (and the seeded histories) with batch writes."""
    started = time.perf_counter()
    step = 2500
    print(f"  seeding {count:,} conversations", flush=True)
    with Conversation.batch_write() as batch:
        for i in range(count):
            batch.save(filler(i))
            if (i + 1) % step == 0:
                print(f"    {i + 1:,} / {count:,} stored", flush=True)
    with Message.batch_write() as batch:
        for i, messages in SEEDED_HISTORIES:
            check(i < count, "seeded histories must exist at every size")
            for m in history_messages(filler_id(i), messages, f"v_fill_{i}", NOW - timedelta(days=i + 1)):
                batch.save(m)
    print(f"    done in {time.perf_counter() - started:.1f} s", flush=True)


# --- one run ---------------------------------------------------------------------------------

class Run:
    """A fresh conversation between a fresh visitor connection and the agent's connection."""

    def __init__(self, label: str, size: int):
        self.label, self.size = label, size
        suffix = uuid.uuid4().hex[:12]
        self.cid = f"c_bench_{suffix}"
        self.visitor_id = f"v_bench_{suffix}"
        self.visitor_conn = f"vconn{suffix}="
        self.agent_conn = f"aconn{suffix}="
        self.sent = []  # (client_msg_id, seq) acknowledged

    def set_up(self) -> None:
        created = NOW - timedelta(hours=1)
        stamp = iso(created)
        Visitor(self.visitor_id, site_key=SITE_KEY, workspace_id=WORKSPACE, name="Bench Visitor",
                email="bench.visitor@example.com", active_conversation_id=self.cid, created_at=stamp,
                last_seen_at=iso(NOW)).save()
        Conversation(self.cid, workspace_id=WORKSPACE, site_key=SITE_KEY, visitor_id=self.visitor_id,
                     visitor_name="Bench Visitor", visitor_email="bench.visitor@example.com",
                     page_url="https://bench.example.com/checkout", status="open", assignee_id=AGENT_ID,
                     created_at=stamp, updated_at=stamp, activity_at=stamp, last_seq=BENCH_HISTORY,
                     first_response_at=stamp, subscribers={}, retention_days=RETENTION_DAYS or None,
                     **conversations.index_keys(WORKSPACE, "open", AGENT_ID)).save()
        with Message.batch_write() as batch:
            for m in history_messages(self.cid, BENCH_HISTORY, self.visitor_id, created):
                batch.save(m)
        # The visitor's socket goes through the real $connect path (token, connection, resubscribe).
        token, _ = tokens.issue_visitor_token(self.visitor_id, SITE_KEY, WORKSPACE)
        lifecycle.connect(self.visitor_conn, token)
        # An agent's $connect needs a Cognito token: store the connection as lifecycle.connect does,
        # then subscribe it the way `join` does.
        Connection(self.agent_conn, kind="agent", workspace_id=WORKSPACE, agent_id=AGENT_ID,
                   agent_workspace_id=WORKSPACE, name="Ada Agent", connected_at=iso(NOW),
                   expires_at=int(time.time()) + lifecycle.CONNECTION_TTL).save()
        subscriptions.subscribe(self.agent_conn, "agent", self.cid)
        subs = Conversation.get(self.cid, consistent_read=True).subscribers.as_dict()
        check(subs == {self.visitor_conn: "visitor", self.agent_conn: "agent"},
              f"unexpected subscribers after set-up: {subs}")
        visitor_connection = Connection.get(self.visitor_conn, consistent_read=True)
        check(int(visitor_connection.rate_limit_count) == 1_000_000,
              "the visitor connection did not take the site's rate limit")

    def send_one(self, counters: Counters, sender, n: int) -> dict:
        client_msg_id = f"{self.label}-{n}-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"action": "send", "conversation_id": self.cid, "client_msg_id": client_msg_id,
                           "ref": f"r{n}", "text": f"{LINES[n % len(LINES)]} ({n})"})
        counters.reset()
        started = time.perf_counter()
        ws.handle_frame(self.visitor_conn, body, sender)
        elapsed = time.perf_counter() - started
        with counters.lock:
            sample = {"ms": elapsed * 1000, "client_ops": Counter(counters.client_ops),
                      "server_ops": Counter(counters.server_ops), "emulator_ms": counters.emulator_s * 1000,
                      "posts": list(counters.posts), "post_status": list(counters.post_status),
                      "sites": list(counters.sites)}
        self._verify(sample, client_msg_id, f"r{n}")
        return sample

    def _verify(self, sample: dict, client_msg_id: str, ref: str) -> None:
        errors = [(c, f) for c, f in sample["posts"] if f.get("type") == "error"]
        check(not errors, f"handle_frame answered with an error frame: {errors}")
        check(sample["client_ops"] == sample["server_ops"],
              f"client-side hooks saw {dict(sample['client_ops'])} but moto served "
              f"{dict(sample['server_ops'])}: a DynamoDB client is not hooked")
        check(all(s == 200 for s in sample["post_status"]) and len(sample["post_status"]) == len(sample["posts"]),
              f"post_to_connection statuses {sample['post_status']}")
        acks = [f for c, f in sample["posts"] if c == self.visitor_conn]
        deliveries = [f for c, f in sample["posts"] if c == self.agent_conn]
        strays = [c for c, _ in sample["posts"] if c not in (self.visitor_conn, self.agent_conn)]
        check(not strays, f"post_to_connection to unknown connections {strays}")
        check(len(acks) >= 1 and acks[0].get("type") == "ack" and acks[0].get("ref") == ref,
              f"no ack to the visitor: {acks}")
        message = acks[0].get("message") or {}
        check(message.get("client_msg_id") == client_msg_id and acks[0].get("duplicate") is False,
              f"the ack is not for this message: {acks[0]}")
        check(any(f.get("type") == "message" and (f.get("message") or {}).get("seq") == message.get("seq")
                  for f in deliveries), f"the agent did not receive the message: {deliveries}")
        self.sent.append((client_msg_id, int(message["seq"])))

    def verify_stored(self) -> None:
        """Outside the timed window: every acknowledged message is stored once, seqs contiguous."""
        stored = list(Message.query(self.cid, consistent_read=True))
        by_cmid = Counter(m.client_msg_id for m in stored)
        for client_msg_id, _seq in self.sent:
            check(by_cmid[client_msg_id] == 1, f"{client_msg_id} stored {by_cmid[client_msg_id]} times")
        seqs = [int(m.seq) for m in stored]
        expected_last = BENCH_HISTORY + len(self.sent)
        check(seqs == list(range(1, expected_last + 1)), f"seqs not contiguous 1..{expected_last}")
        conversation = Conversation.get(self.cid, consistent_read=True)
        check(int(conversation.last_seq) == expected_last,
              f"last_seq {conversation.last_seq}, expected {expected_last}")
        if RETENTION_DAYS:  # every measured message carries its TTL
            check(all(m.expires_at for m in stored[BENCH_HISTORY:]), "a measured message has no expires_at")

    def tear_down(self) -> None:
        """Leave the tables as they were, so the next run differs only in the stored conversations."""
        with Message.batch_write() as batch:
            for m in Message.query(self.cid, consistent_read=True):
                batch.delete(m)
        with Key.batch_write() as batch:  # client_msg_id claims, if the app keeps them in the keys table
            for k in Key.scan(Key.pk.startswith(f"cmid#{self.cid}")):
                batch.delete(k)
        Connection(self.visitor_conn).delete()
        Connection(self.agent_conn).delete()
        Conversation(self.cid).delete()
        Visitor(self.visitor_id).delete()


# --- the queue position: a visitor's start with 10 or 1,000 conversations waiting ------------

QUEUE_KEY = conversations.queue_key(WORKSPACE, None)


def queued_filler(i: int, count: int) -> Conversation:
    """The i-th of `count` conversations waiting in the general queue, ticket i + 1, oldest first."""
    queued_at = iso(NOW - timedelta(seconds=count - i))
    ticket = tickets.Ticket(i + 1, queued_at)
    return Conversation(
        f"c_queued_{i:05d}", workspace_id=WORKSPACE, site_key=SITE_KEY, visitor_id=f"v_queued_{i}",
        visitor_name=f"Waiting visitor {i}", status="queued", created_at=queued_at, updated_at=queued_at,
        activity_at=queued_at, last_seq=1, subscribers={}, **conversations.index_keys(WORKSPACE, "queued", None,
                                                                                        None, ticket))


def create_queue_world(queued: int) -> Key:
    """The workspace with its one agent online and full, and `queued` conversations waiting.
    Returns the queue's ticket counter as seeded, which each start's tear-down puts back."""
    create_world()
    Agent(AGENT_ID).update(actions=[Agent.active_chats.set(10)])  # create_world's capacity: every slot taken
    with Conversation.batch_write() as batch:
        for i in range(queued):
            batch.save(queued_filler(i, queued))
    counter = Key(tickets.counter_key(QUEUE_KEY), seq=queued, queued_at=queued_filler(queued - 1, queued).queued_at)
    counter.save()
    return counter


class QueueStart:
    """One visitor's `start` into a queue that already holds `queued` conversations."""

    def __init__(self, queued: int, counter: Key, n: int):
        self.queued, self.counter = queued, counter
        self.connection_id = f"qconn{uuid.uuid4().hex[:12]}="
        session = sessions.create_visitor_session({"site_key": SITE_KEY, "name": f"Queued visitor {n}"})
        self.visitor_id = session["visitor_id"]
        lifecycle.connect(self.connection_id, session["token"])
        self.body = json.dumps({"action": "start", "ref": f"s{n}", "client_msg_id": f"first-{n}",
                                "text": f"{LINES[n % len(LINES)]} ({n})"})

    def run(self, counters: Counters, sender) -> dict:
        counters.reset()
        started = time.perf_counter()
        ws.handle_frame(self.connection_id, self.body, sender)
        elapsed = time.perf_counter() - started
        with counters.lock:
            sample = {"ms": elapsed * 1000, "client_ops": Counter(counters.client_ops),
                      "server_ops": Counter(counters.server_ops), "emulator_ms": counters.emulator_s * 1000,
                      "emulator_ms_by_op": {op: t * 1000 for op, t in counters.emulator_s_by_op.items()},
                      "query_items_read": counters.query_items_read,
                      "posts": list(counters.posts), "sites": list(counters.sites)}
        self._verify(sample)
        return sample

    def _verify(self, sample: dict) -> None:
        check(sample["client_ops"] == sample["server_ops"],
              f"client-side hooks saw {dict(sample['client_ops'])} but moto served {dict(sample['server_ops'])}")
        mine = [f for c, f in sample["posts"] if c == self.connection_id]
        errors = [f for f in mine if f.get("type") == "error"]
        check(not errors, f"start answered with an error frame: {errors}")
        acks = [f for f in mine if f.get("type") == "ack"]
        check(len(acks) == 1 and acks[0]["conversation"]["status"] == "queued",
              f"the start was not acknowledged as queued: {acks}")
        self.conversation_id = acks[0]["conversation"]["id"]
        told = [f["position"] for f in mine if f.get("type") == "queue"]
        check(told == [self.queued + 1], f"position told {told}, expected [{self.queued + 1}]")
        sample["position"] = told[0]

    def tear_down(self) -> None:
        """Outside the timed window: remove what the start created and put the queue's counter back."""
        for message in Message.query(self.conversation_id, consistent_read=True):
            message.delete()
        with Key.batch_write() as batch:  # the first message's client_msg_id claim
            for k in Key.scan(Key.pk.startswith(f"cmid#{self.conversation_id}")):
                batch.delete(k)
        Conversation(self.conversation_id).delete()
        Visitor(self.visitor_id).delete()
        Connection(self.connection_id).delete()
        self.counter.save()


def measure_queue_position(counters: Counters, sender, counters_by_size: dict, warmup: int, starts: int) -> dict:
    """Visitors' starts into both queue worlds, interleaved ABBA. Returns each size's summary."""
    samples: dict[int, list[dict]] = {}

    def round_of(n: int, out: dict | None) -> None:
        for queued in (QUEUE_SIZES if n % 4 in (0, 3) else QUEUE_SIZES[::-1]):
            use_queue_world(queued)
            start = QueueStart(queued, counters_by_size[queued], n)
            sample = start.run(counters, sender)
            start.tear_down()
            if out is not None:
                out.setdefault(queued, []).append(sample)

    print(f"  {warmup} warm-up + {starts} measured starts per queue size, interleaved", flush=True)
    for n in range(warmup):
        round_of(n, None)
    gc.collect()
    for n in range(starts):
        round_of(warmup + n, samples)
    out = {}
    for queued in QUEUE_SIZES:
        use_queue_world(queued)
        waiting = Conversation.in_queue.count(QUEUE_KEY)
        check(waiting == queued, f"{waiting} conversations left queued after the run, expected {queued}")
        out[str(queued)] = summarize_starts(samples[queued], queued)
    small, big = out[str(QUEUE_SIZES[0])], out[str(QUEUE_SIZES[1])]
    pairs = [b["ms"] / a["ms"] for a, b in zip(samples[QUEUE_SIZES[0]], samples[QUEUE_SIZES[1]], strict=False)]
    out["ratio_requests_1000_to_10"] = round(
        big["dynamodb_requests_per_start"] / small["dynamodb_requests_per_start"], 3)
    out["ratio_p50_1000_to_10"] = round(big["p50_ms"] / small["p50_ms"], 3)
    out["ratio_median_of_pairs_1000_to_10"] = round(statistics.median(pairs), 3)
    out["ratio_p50_outside_dynamodb_emulator_1000_to_10"] = round(
        big["p50_ms_outside_dynamodb_emulator"] / small["p50_ms_outside_dynamodb_emulator"], 3)
    out["targets_met"] = {
        "the worst start at 1,000 queued costs no more requests than the worst at 10":
            big["dynamodb_requests_max"] <= small["dynamodb_requests_max"],
        "scans_per_start == 0": small["scans_per_start"] == 0 and big["scans_per_start"] == 0,
        f"items read by Queries at 1,000 queued: at most two queue heads ({2 * routing.QUEUE_HEAD}) more than at 10":
            big["query_items_read_per_start"] <= small["query_items_read_per_start"] + 2 * routing.QUEUE_HEAD,
    }
    return out


def summarize_starts(samples: list[dict], queued: int) -> dict:
    n = len(samples)
    ops, sites = Counter(), Counter()
    for s in samples:
        ops.update(s["client_ops"])
        sites.update(s["sites"])
    requests = [sum(s["client_ops"].values()) for s in samples]
    ms = [s["ms"] for s in samples]
    outside = [s["ms"] - s["emulator_ms"] for s in samples]
    return {
        "queued_before_start": queued, "starts": n, "position_told": samples[0]["position"],
        "dynamodb_requests_per_start": round(sum(requests) / n, 3), "dynamodb_requests_max": max(requests),
        "dynamodb_requests_histogram": {str(k): v for k, v in sorted(Counter(requests).items())},
        "dynamodb_by_operation_per_start": {op: round(c / n, 3) for op, c in sorted(ops.items())},
        "scans_per_start": round(ops.get("Scan", 0) / n, 3),
        # Items the Queries read (ScannedCount): DynamoDB bills reads by them, not by requests.
        "query_items_read_per_start": round(sum(s["query_items_read"] for s in samples) / n, 3),
        "p50_ms": round(statistics.median(ms), 3), "p95_ms": round(pct(ms, 0.95), 3),
        "p50_ms_outside_dynamodb_emulator": round(statistics.median(outside), 3),
        "p50_ms_inside_dynamodb_emulator": round(statistics.median(s["emulator_ms"] for s in samples), 3),
        # Where the emulator's time goes: its Queries on an index filter the whole table.
        "p50_ms_inside_dynamodb_emulator_by_operation": {
            op: round(statistics.median(s["emulator_ms_by_op"].get(op, 0.0) for s in samples), 3) for op in sorted(ops)},
        "call_sites": {f"{op} <- {chain}": round(c / n, 3) for (op, chain), c in sorted(sites.items())},
    }


def report_queue(queue: dict) -> None:
    small, big = queue[str(QUEUE_SIZES[0])], queue[str(QUEUE_SIZES[1])]
    print(f"\nA visitor's start (with a first message) into a queue, nobody free, {small['starts']} measured "
          f"starts per size, interleaved")
    print(f"{'':38}{'10 queued':>12}{'1,000 queued':>14}")
    for title, key in (("position told", "position_told"),
                       ("DynamoDB requests / start (mean)", "dynamodb_requests_per_start"),
                       ("DynamoDB requests, worst start", "dynamodb_requests_max"),
                       ("items read by Queries / start", "query_items_read_per_start")):
        print(f"{title:38}{small[key]:>12}{big[key]:>14}")
    ops = sorted(set(small["dynamodb_by_operation_per_start"]) | set(big["dynamodb_by_operation_per_start"]))
    for op in ops:
        a = small["dynamodb_by_operation_per_start"].get(op, 0)
        b = big["dynamodb_by_operation_per_start"].get(op, 0)
        print(f"{'  ' + op:38}{a:>12}{b:>14}")
    for title, key in (("start p50 ms", "p50_ms"), ("start p95 ms", "p95_ms"),
                       ("  p50 ms outside DynamoDB emulator", "p50_ms_outside_dynamodb_emulator"),
                       ("  p50 ms inside DynamoDB emulator", "p50_ms_inside_dynamodb_emulator")):
        print(f"{title:38}{small[key]:>12}{big[key]:>14}")
    for op in ops:
        a = small["p50_ms_inside_dynamodb_emulator_by_operation"].get(op, 0)
        b = big["p50_ms_inside_dynamodb_emulator_by_operation"].get(op, 0)
        print(f"{'    ' + op:38}{a:>12}{b:>14}")
    print(f"{'requests ratio 1,000 / 10':38}{'':12}{queue['ratio_requests_1000_to_10']:>14.3f}")
    print(f"{'p50 ratio 1,000 / 10':38}{'':12}{queue['ratio_p50_1000_to_10']:>14.3f}")
    outside = queue["ratio_p50_outside_dynamodb_emulator_1000_to_10"]
    print(f"{'  same, outside DynamoDB emulator':38}{'':12}{outside:>14.3f}")
    print(f"{'  median of per-pair ratios':38}{'':12}{queue['ratio_median_of_pairs_1000_to_10']:>14.3f}")
    print("Where each request comes from (per start, 1,000 queued):")
    for site, n in big["call_sites"].items():
        print(f"  {n:>6} x {site}")
    print("Queue targets:")
    for name, met in queue["targets_met"].items():
        print(f"  [{'MET' if met else 'NOT MET'}] {name}")


# --- a bot turn: a visitor's message or choice answered by the bot -----------------------------------

BOT_SITE = "site_bench_bot"
BOT_FLOW = {
    "enabled": True, "start": "menu", "max_turns": 50,
    "nodes": {
        "menu": {"kind": "options", "text": {"en": "What can I do for you?"},
                 "options": [{"id": "order", "label": {"en": "Where is my order?"}, "next": "number"}]},
        "number": {"kind": "ask", "next": "thanks", "fields": [{"name": "order_number", "type": "text",
                                                                "label": {"en": "Your order number?"}}]},
        "thanks": {"kind": "message", "text": {"en": "Thanks, noted."}, "next": "menu"},
    },
}
BOT_KINDS = ("choose", "answer", "free_text")  # a quick reply; a field's answer; words where a choice was expected
TARGET_BOT_DYNAMODB = 4


def create_bot_site() -> None:
    """A site of the 10-conversation world with the flow above, and two published articles to suggest."""
    from chalicelib.bot import flows
    from chalicelib.core.caller import Caller
    from chalicelib.kb import articles
    Site(BOT_SITE, workspace_id=WORKSPACE, name="bot.bench.example.com",
         settings=SiteSettings(rate_limit_count=1_000_000, rate_limit_window=10), created_at=iso(NOW)).save()
    admin = Caller.for_agent(AGENT_ID, WORKSPACE, name="Ada Agent", role="admin")
    flows.save(admin, BOT_SITE, BOT_FLOW)
    for title, body, questions in (("Shipping times", "We ship within 2 business days.", ["how long is delivery"]),
                                   ("Returns", "Return any item within 30 days.", ["can i send it back"])):
        articles.create(admin, {"title": title, "body": body, "locale": "en", "status": "published",
                                "questions": questions})


class BotTurn:
    """A fresh visitor on the bot site, its conversation opened (outside the timed window), then one turn."""

    def __init__(self, kind: str, n: int):
        self.kind, self.n = kind, n
        self.connection_id = f"bconn{uuid.uuid4().hex[:12]}="
        session = sessions.create_visitor_session({"site_key": BOT_SITE})
        self.visitor_id = session["visitor_id"]
        lifecycle.connect(self.connection_id, session["token"])
        ws.handle_frame(self.connection_id, json.dumps({"action": "start", "ref": "open"}), _NULL_SENDER)
        self.conversation_id = Visitor.get(self.visitor_id, consistent_read=True).active_conversation_id
        if kind == "answer":  # at the ask node
            ws.handle_frame(self.connection_id, json.dumps({"action": "choose", "ref": "c", "option_id": "order",
                                                            "conversation_id": self.conversation_id}), _NULL_SENDER)
        frames = {"choose": {"action": "choose", "option_id": "order"},
                  "answer": {"action": "send", "text": f"{4000 + n}", "client_msg_id": f"b{n}"},
                  "free_text": {"action": "send", "text": "how long is delivery", "client_msg_id": f"b{n}"}}
        self.body = json.dumps({**frames[kind], "ref": f"t{n}", "conversation_id": self.conversation_id})

    def run(self, counters: Counters, sender, flows_started: list) -> dict:
        before = len(flows_started)
        counters.reset()
        started = time.perf_counter()
        ws.handle_frame(self.connection_id, self.body, sender)
        elapsed = time.perf_counter() - started
        with counters.lock:
            sample = {"ms": elapsed * 1000, "client_ops": Counter(counters.client_ops),
                      "server_ops": Counter(counters.server_ops), "posts": list(counters.posts),
                      "sites": list(counters.sites), "flows_started": flows_started[before:]}
        self._verify(sample)
        return sample

    def _verify(self, sample: dict) -> None:
        check(sample["client_ops"] == sample["server_ops"],
              f"client-side hooks saw {dict(sample['client_ops'])} but moto served {dict(sample['server_ops'])}")
        mine = [f for c, f in sample["posts"] if c == self.connection_id]
        check(not [f for f in mine if f.get("type") == "error"], f"the bot turn answered an error: {mine}")
        replies = [f["message"] for f in mine if f.get("type") == "message" and f["message"]["author"]["kind"] == "bot"]
        expected = {"choose": "Your order number?", "answer": "What can I do for you?",
                    "free_text": "Did this solve it?"}[self.kind]
        check(replies and replies[-1]["text"] == expected, f"{self.kind}: the bot replied {replies}")
        stored = list(Message.query(self.conversation_id, consistent_read=True))
        check([m.seq for m in stored] == list(range(1, len(stored) + 1)), "seqs not contiguous")
        check(stored[-1].author_kind == "bot" and any(m.author_kind == "visitor" for m in stored),
              "the visitor's message and the bot's reply were not both stored")

    def tear_down(self) -> None:
        for message in Message.query(self.conversation_id, consistent_read=True):
            message.delete()
        Conversation(self.conversation_id).delete()
        Visitor(self.visitor_id).delete()
        Connection(self.connection_id).delete()


class _NullSender:
    """The set-up's frames (the opening) go nowhere: only the measured turn's posts are counted."""

    def send(self, *args, **kwargs):
        return True

    def send_each(self, deliveries):
        return []

    def broadcast(self, *args, **kwargs):
        return None


_NULL_SENDER = _NullSender()


def measure_bot_turns(counters: Counters, sender, warmup: int, turns: int) -> dict:
    """Each kind of bot turn, `turns` times, each on a fresh opened conversation; the bot watch's Step
    Functions starts counted (its ARN set, `start` recorded instead of called)."""
    from chalicelib.aws import stepfunctions
    from chalicelib.config import settings
    use_world(SIZES[0])
    create_bot_site()
    flows_started: list[str] = []
    real_start, real_arn = stepfunctions.start, settings.bot_arn
    stepfunctions.start = lambda arn, name, data: flows_started.append(name) or True
    settings.bot_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:parley-bench-bot"
    opening_starts = []
    samples: dict[str, list[dict]] = {kind: [] for kind in BOT_KINDS}
    try:
        for n in range(warmup + turns):
            for kind in BOT_KINDS:
                before = len(flows_started)
                turn = BotTurn(kind, n)
                opening_starts.append(len(flows_started) - before)
                sample = turn.run(counters, sender, flows_started)
                turn.tear_down()
                if n >= warmup:
                    samples[kind].append(sample)
    finally:
        stepfunctions.start, settings.bot_arn = real_start, real_arn
    out = {}
    for kind, got in samples.items():
        requests = [sum(s["client_ops"].values()) for s in got]
        ops, sites = Counter(), Counter()
        for s in got:
            ops.update(s["client_ops"])
            sites.update(s["sites"])
        out[kind] = {
            "turns": len(got), "dynamodb_requests_per_turn": round(sum(requests) / len(got), 3),
            "dynamodb_requests_max": max(requests),
            "dynamodb_by_operation_per_turn": {op: round(c / len(got), 3) for op, c in sorted(ops.items())},
            "scans_per_turn": round(ops.get("Scan", 0) / len(got), 3),
            "step_functions_starts_per_turn": round(sum(len(s["flows_started"]) for s in got) / len(got), 3),
            "p50_ms": round(statistics.median(s["ms"] for s in got), 3),
            "call_sites": {f"{op} <- {chain}": round(c / len(got), 3) for (op, chain), c in sorted(sites.items())},
        }
    out["bot_watch_starts_per_opening"] = round(sum(opening_starts) / len(opening_starts), 3)
    out["targets_met"] = {
        f"DynamoDB requests per bot turn <= {TARGET_BOT_DYNAMODB}, both messages stored":
            all(out[k]["dynamodb_requests_max"] <= TARGET_BOT_DYNAMODB for k in BOT_KINDS),
        "no Step Functions start (so no transition) per turn":
            all(out[k]["step_functions_starts_per_turn"] == 0 for k in BOT_KINDS),
        "scans per bot turn == 0": all(out[k]["scans_per_turn"] == 0 for k in BOT_KINDS),
    }
    return out


def report_bot(bot: dict) -> None:
    print("\nA bot turn: the visitor's message or choice and the bot's reply, one fresh conversation each")
    print(f"{'':38}" + "".join(f"{k:>12}" for k in BOT_KINDS))
    for title, key in (("DynamoDB requests / turn (mean)", "dynamodb_requests_per_turn"),
                       ("DynamoDB requests, worst turn", "dynamodb_requests_max"),
                       ("Step Functions starts / turn", "step_functions_starts_per_turn"),
                       ("turn p50 ms", "p50_ms")):
        print(f"{title:38}" + "".join(f"{bot[k][key]:>12}" for k in BOT_KINDS))
    for kind in BOT_KINDS:
        print(f"  {kind}: " + ", ".join(f"{op} {n}" for op, n in bot[kind]["dynamodb_by_operation_per_turn"].items()))
    print(f"bot watch starts per opening: {bot['bot_watch_starts_per_opening']}")
    print("Bot targets:")
    for name, met in bot["targets_met"].items():
        print(f"  [{'MET' if met else 'NOT MET'}] {name}")


def measure_interleaved(counters: Counters, sender, warmup: int, messages: int) -> dict:
    """One Run per world; message i goes to both, in ABBA order. Returns each world's summary."""
    runs = {}
    for size in SIZES:
        use_world(size)
        runs[size] = Run(str(size), size)
        runs[size].set_up()
        check(table_size(Conversation, size) == size,
              f"{table_size(Conversation, size)} conversations stored, expected {size}")
        print(f"  world {size:,}: {table_size(Conversation, size):,} stored conversations, "
              f"{table_size(Message, size):,} stored messages", flush=True)

    def round_of(n: int, out: dict) -> None:
        for size in (SIZES if n % 4 in (0, 3) else SIZES[::-1]):  # ABBA ABBA ...
            use_world(size)
            out.setdefault(size, []).append(runs[size].send_one(counters, sender, n))

    print(f"  {warmup} warm-up + {messages} measured messages per world, interleaved", flush=True)
    for n in range(warmup):  # not counted: first-call costs (connection pools, thread pool, ...)
        round_of(n, {})
    gc.collect()
    samples = {}
    for n in range(messages):
        round_of(warmup + n, samples)
        if (n + 1) % 100 == 0:
            print(f"    {n + 1} / {messages}", flush=True)
    results = {}
    for size, run in runs.items():
        use_world(size)
        run.verify_stored()
        run.tear_down()
        results[size] = summarize(samples[size], run)
        results[size]["stored_conversations"] = size
    pairs = [b["ms"] / a["ms"] for a, b in zip(samples[SIZES[0]], samples[SIZES[1]], strict=False)]
    results["median_paired_ratio"] = round(statistics.median(pairs), 3)
    return results


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(samples: list[dict], run: Run) -> dict:
    n = len(samples)
    ops, sites = Counter(), Counter()
    for s in samples:
        ops.update(s["client_ops"])
        sites.update(s["sites"])
    per_msg_requests = [sum(s["client_ops"].values()) for s in samples]
    acks = [sum(1 for c, _ in s["posts"] if c == run.visitor_conn) for s in samples]
    deliveries = [sum(1 for c, _ in s["posts"] if c == run.agent_conn) for s in samples]
    ms = [s["ms"] for s in samples]
    outside = [s["ms"] - s["emulator_ms"] for s in samples]
    return {
        "messages": n,
        "p50_ms": round(statistics.median(ms), 3), "p95_ms": round(pct(ms, 0.95), 3),
        "p50_ms_outside_dynamodb_emulator": round(statistics.median(outside), 3),
        "p50_ms_inside_dynamodb_emulator": round(statistics.median(s["emulator_ms"] for s in samples), 3),
        "dynamodb_requests_per_message": round(sum(per_msg_requests) / n, 3),
        "dynamodb_requests_max": max(per_msg_requests),
        "p95_ms_outside_dynamodb_emulator": round(pct(outside, 0.95), 3),
        "mean_ms": round(statistics.fmean(ms), 3), "min_ms": round(min(ms), 3), "max_ms": round(max(ms), 3),
        "dynamodb_by_operation_per_message": {op: round(c / n, 3) for op, c in sorted(ops.items())},
        # How many messages needed k requests: a rare extra request shows here, not in the mean.
        "dynamodb_requests_histogram": {str(k): v for k, v in sorted(Counter(per_msg_requests).items())},
        # Per message, and where in chalicelib each request is issued (all measured messages).
        "call_sites": {f"{op} <- {chain}": round(c / n, 3) for (op, chain), c in sorted(sites.items())},
        "extra_request_examples": extra_request_examples(samples),
        "scans_per_message": round(ops.get("Scan", 0) / n, 3),
        "ack_per_message": round(sum(acks) / n, 3),
        "delivery_per_message": round(sum(deliveries) / n, 3),
        "recipient_connections": 1,
        "post_to_connection_per_message": round((sum(acks) + sum(deliveries)) / n, 3),
        "post_to_connection_max": max(a + d for a, d in zip(acks, deliveries, strict=False)),
    }


def extra_request_examples(samples: list[dict]) -> list[dict]:
    """The first few messages that cost more requests than the most common count, with their calls."""
    counts = [sum(s["client_ops"].values()) for s in samples]
    usual = Counter(counts).most_common(1)[0][0]
    return [{"message_index": i, "requests": counts[i], "calls": [f"{op} <- {chain}" for op, chain in s["sites"]]}
            for i, s in enumerate(samples) if counts[i] > usual][:3]


def hook_self_check(counters: Counters, sender) -> dict:
    """Known calls, known counts: the hooks count what they should before anything is measured."""
    use_world(SIZES[0])
    run = Run("selfcheck", SIZES[0])
    run.set_up()
    results = {}

    def expect(name, action, op, n=1):
        counters.reset()
        action()
        got_client, got_server = dict(counters.client_ops), dict(counters.server_ops)
        check(got_client == {op: n} and got_server == {op: n},
              f"hook self-check {name}: expected {{{op!r}: {n}}}, hooks saw {got_client}, moto served {got_server}")
        results[name] = got_client

    expect("Conversation.get", lambda: Conversation.get(run.cid), "GetItem")
    expect("Connection.get", lambda: Connection.get(run.visitor_conn), "GetItem")
    expect("Message.query", lambda: list(Message.query(run.cid, limit=5)), "Query")

    def transact():
        with TransactWrite(connection=dynamo()) as tx:
            tx.condition_check(Conversation, run.cid, condition=Conversation.id.exists())
    expect("TransactWrite via dynamo()", transact, "TransactWriteItems")
    expect("Key.scan", lambda: list(Key.scan(limit=1)), "Scan")

    counters.reset()
    sender.send(run.agent_conn, {"type": "bench-selfcheck"})
    check(len(counters.posts) == 1 and counters.post_status == [200],
          f"post hook self-check: {counters.posts} {counters.post_status}")
    results["sender.send"] = {"PostToConnection": 1}
    run.tear_down()
    return results


# --- report ----------------------------------------------------------------------------------

def report(runs: dict, args, extras: dict) -> dict:
    small, big = runs["10"], runs["10000"]
    ratio = big["p50_ms"] / small["p50_ms"]
    ratio_outside = big["p50_ms_outside_dynamodb_emulator"] / small["p50_ms_outside_dynamodb_emulator"]
    by_size = {"10": small, "10000": big}
    targets = {
        "dynamodb_requests_per_message <= 3": all(r["dynamodb_requests_max"] <= TARGET_DYNAMODB for r in by_size.values()),
        "scans_per_message == 0": all(r["scans_per_message"] == TARGET_SCANS for r in by_size.values()),
        "post_to_connection: 1 ack + 1 per recipient connection": all(
            r["ack_per_message"] == 1 and r["delivery_per_message"] == r["recipient_connections"]
            and r["post_to_connection_max"] == 1 + r["recipient_connections"] for r in by_size.values()),
        "ratio_p50_10000_to_10 <= 1.2": ratio <= TARGET_RATIO,
    }
    rows = [
        ("DynamoDB requests / message (mean)", "dynamodb_requests_per_message", "<= 3"),
        ("DynamoDB requests, worst message", "dynamodb_requests_max", "<= 3"),
        ("  of which Scan", "scans_per_message", "0"),
        ("post_to_connection / message", "post_to_connection_per_message", "1 + recipients"),
        ("  ack to the visitor", "ack_per_message", "1"),
        ("  delivery to the agent", "delivery_per_message", "1"),
        ("handler p50 ms", "p50_ms", ""), ("handler p95 ms", "p95_ms", ""),
        ("  p50 ms outside DynamoDB emulator", "p50_ms_outside_dynamodb_emulator", ""),
        ("  p50 ms inside DynamoDB emulator", "p50_ms_inside_dynamodb_emulator", ""),
    ]
    ops = sorted(set(small["dynamodb_by_operation_per_message"]) | set(big["dynamodb_by_operation_per_message"]))
    print()
    print(f"Per visitor message (handle_frame 'send', 1 agent subscribed), {small['messages']} measured "
          f"messages per world, interleaved; moto with infra/local/fidelity.py installed")
    print(f"{'':38}{'10 convs':>12}{'10,000 convs':>14}   target")
    for title, key, target in rows[:2]:
        print(f"{title:38}{small[key]:>12}{big[key]:>14}   {target}")
    for op in ops:
        a = small["dynamodb_by_operation_per_message"].get(op, 0)
        b = big["dynamodb_by_operation_per_message"].get(op, 0)
        print(f"{'  ' + op:38}{a:>12}{b:>14}")
    for title, key, target in rows[2:]:
        print(f"{title:38}{small[key]:>12}{big[key]:>14}   {target}")
    print(f"{'p50 ratio 10,000 / 10':38}{'':12}{ratio:>14.3f}   <= {TARGET_RATIO}")
    print(f"{'  same, outside DynamoDB emulator':38}{'':12}{ratio_outside:>14.3f}")
    print(f"{'  median of per-pair ratios':38}{'':12}{extras['median_paired_ratio']:>14.3f}")
    print(f"\nRequests per message, histogram (10,000 world): {big['dynamodb_requests_histogram']}")
    print("Where each request comes from (per message, 10,000 world; chalicelib frames outermost first):")
    for site, n in big["call_sites"].items():
        print(f"  {n:>6} x {site}")
    for example in big["extra_request_examples"][:1]:
        print(f"A message with {example['requests']} requests (measured message #{example['message_index']}):")
        for call in example["calls"]:
            print(f"    {call}")
    print("\nTargets:")
    for name, met in targets.items():
        print(f"  [{'MET' if met else 'NOT MET'}] {name}")

    def per_size(key):
        return {k: r[key] for k, r in by_size.items()}

    return {
        "benchmark": "message_path",
        "what": "one visitor 'send' frame through chalicelib.edges.ws.handle_frame, stored and delivered to one agent",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "versions": {"moto": moto.__version__, "boto3": boto3.__version__,
                     "pynamodb": __import__("pynamodb").__version__},
        "messages_measured": small["messages"], "warmup_messages": args.warmup, "retention_days": args.retention_days,
        "dynamodb_requests_per_message": per_size("dynamodb_requests_per_message"),
        "dynamodb_requests_max_per_message": per_size("dynamodb_requests_max"),
        "dynamodb_requests_histogram": per_size("dynamodb_requests_histogram"),
        "scans_per_message": per_size("scans_per_message"),
        "post_to_connection_per_message": per_size("post_to_connection_per_message"),
        "ack_per_message": per_size("ack_per_message"),
        "delivery_per_message": per_size("delivery_per_message"),
        "p50_ms": per_size("p50_ms"), "p95_ms": per_size("p95_ms"),
        "p50_ms_outside_dynamodb_emulator": per_size("p50_ms_outside_dynamodb_emulator"),
        "ratio_p50_10000_to_10": round(ratio, 3),
        "ratio_median_of_pairs_10000_to_10": extras.pop("median_paired_ratio"),
        "ratio_p50_outside_dynamodb_emulator_10000_to_10": round(ratio_outside, 3),
        "dynamodb_by_operation_per_message": {k: r["dynamodb_by_operation_per_message"] for k, r in by_size.items()},
        "call_sites_per_message": per_size("call_sites"),
        "targets": {"dynamodb_requests_per_message_max": TARGET_DYNAMODB, "scans_per_message": TARGET_SCANS,
                    "ratio_p50_10000_to_10_max": TARGET_RATIO},
        "targets_met": targets,
        "measurement": "both worlds in one process, interleaved message by message (ABBA), one moto account each",
        "runs": runs,
        **extras,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300, help="measured messages per run")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted messages before each run")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--retention-days", type=int, default=0,
                        help="the site's retention (0: forever); messages then carry a TTL")
    parser.add_argument("--starts", type=int, default=40, help="measured visitor starts per queue size")
    parser.add_argument("--start-warmup", type=int, default=4, help="uncounted starts before those")
    parser.add_argument("--bot-turns", type=int, default=30, help="measured bot turns of each kind")
    args = parser.parse_args()
    global RETENTION_DAYS
    RETENTION_DAYS = args.retention_days
    check(args.messages >= 20 and args.warmup >= 1, "--messages >= 20 and --warmup >= 1")
    check(args.starts >= 10 and args.start_warmup >= 1, "--starts >= 10 and --start-warmup >= 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()

    counters = Counters()
    # As tests/conftest.py and the local stack do: atomic writes, per-item transaction backup.
    fidelity.install()
    hook_dynamodb_server(counters)
    with moto.mock_aws():
        for size in SIZES:
            print(f"[{time.perf_counter() - started:5.1f} s] world of {size:,} stored conversations", flush=True)
            use_world(size)
            tables.create_tables()
            create_world()
            seed_fillers(size - 1)  # plus the measured conversation
        queue_counters = {}
        for queued in QUEUE_SIZES:
            print(f"[{time.perf_counter() - started:5.1f} s] world of {queued:,} queued conversations", flush=True)
            use_queue_world(queued)
            tables.create_tables()
            queue_counters[queued] = create_queue_world(queued)
        emitters = hook_dynamodb_clients(counters)
        sender = bootstrap.build_sender(client=boto3.client(
            "apigatewaymanagementapi", endpoint_url=ENDPOINT, region_name="us-east-1"))
        hook_sender(counters, sender)
        use_world(SIZES[0])
        rollback = self_test_rollback()
        self_check = hook_self_check(counters, sender)
        print(f"hooks: {emitters} DynamoDB client event emitters hooked; self-check {self_check}", flush=True)
        print(f"moto transaction rollback self-test: {rollback}", flush=True)
        print(f"[{time.perf_counter() - started:5.1f} s] measuring", flush=True)
        measured = measure_interleaved(counters, sender, args.warmup, args.messages)
        print(f"[{time.perf_counter() - started:5.1f} s] measuring the queue position", flush=True)
        queue = measure_queue_position(counters, sender, queue_counters, args.start_warmup, args.starts)
        print(f"[{time.perf_counter() - started:5.1f} s] measuring bot turns", flush=True)
        bot = measure_bot_turns(counters, sender, 2, args.bot_turns)
        os.environ.pop("MOTO_ACCOUNT_ID", None)

    runs = {str(size): measured[size] for size in SIZES}
    extras = {
        "median_paired_ratio": measured["median_paired_ratio"],
        "hook_self_check": self_check, "dynamodb_client_emitters_hooked": emitters,
        "emulator": {
            "fidelity_patch": "infra/local/fidelity.py install(): a lock around moto's DynamoDB writes, and "
                              "TransactWriteItems backed up per item instead of moto's whole-table deepcopy",
            "rollback_self_test": rollback,
            # The per-item backup only matters when the measured path issues TransactWriteItems.
            "hot_path_uses_transact_write_items": any(
                "TransactWriteItems" in r["dynamodb_by_operation_per_message"] for r in runs.values()),
        },
    }
    result = report(runs, args, extras)
    report_queue(queue)
    result["queue_position"] = {
        "what": "one visitor 'start' frame with a first message through chalicelib.edges.ws.handle_frame, into the "
                "general queue with nobody free, with 10 and with 1,000 conversations already queued",
        "measurement": "both queue worlds in one process, interleaved start by start (ABBA), one moto account each; "
                       "each start's conversation removed and the queue's ticket counter put back after it",
        **queue}
    report_bot(bot)
    result["bot_turn"] = {
        "what": "one visitor frame in a conversation the bot holds through chalicelib.edges.ws.handle_frame: a "
                "`choose` at an options node, an answer to an ask node, free text at an options node (the "
                "knowledge base searched); the visitor's message and the bot's replies stored",
        "measurement": "10-conversation world, a site with a flow; each turn on a fresh conversation opened "
                       "outside the timed window; the bot watch's starts recorded instead of sent",
        **bot}
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out} in {result['elapsed_s']} s total")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
