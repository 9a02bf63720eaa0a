"""The public entry points' rate limits (chalicelib/limits.py) and what transcripts may carry, on moto.

Each limit is exercised at its real default (the suite's PARLEY_RATE_LIMIT_SCALE is set back to 1):
the last use inside the limit is accepted, the next one is refused with `rate_limited` and a
`retry_after`, and another key (another address, another visitor) is not affected.
"""
import itertools
import json
import threading
import urllib.parse

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.chat import intake, lifecycle, messaging, subscriptions
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.edges import ws
from chalicelib.errors import BadRequestError, RateLimitedError, UnauthorizedError
from chalicelib.identity import sessions
from chalicelib.store import limits
from chalicelib.store.models import Key, Message, Site
from tests.integration.mail_env import parts
from tests.integration.test_identity import _agent_user

_ips = itertools.count(1)


# Five seconds into a day, so into a window of every limit: a slow run never crosses a window's edge.
FROZEN = 1_800_000_000 - 1_800_000_000 % 86400 + 5


@pytest.fixture(autouse=True)
def real_limits(monkeypatch):
    monkeypatch.setattr(settings, "rate_limit_scale", 1.0)
    monkeypatch.setattr(limits, "now", lambda: float(FROZEN))
    # the sliding windows of the flood limits must not slide during a slow run either
    monkeypatch.setattr(messaging, "AGENT_RATE_WINDOW", 3600)


def an_ip() -> str:
    return f"198.51.100.{next(_ips)}"


def visitor_from(world, ip: str, site_key: str = "site-a", **fields) -> Caller:
    session = sessions.create_visitor_session({"site_key": site_key, **fields})
    cid = f"conn-lim-{next(_ips)}"
    lifecycle.connect(cid, session["token"], source_ip=ip)
    world.api.connect(cid)
    return lifecycle.caller_for_connection(cid)


def frame(caller, sender, **body):
    ws.handle_frame(caller.connection_id, json.dumps(body), sender)


# --- visitor sessions -------------------------------------------------------------------------

def test_sessions_are_limited_per_address(world):
    ip = an_ip()
    for _ in range(60):
        sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    with pytest.raises(RateLimitedError) as refused:
        sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    assert 0 < refused.value.retry_after <= 600
    sessions.create_visitor_session({"site_key": "site-a"}, source_ip=an_ip())  # another address: fine


def test_a_limited_session_over_rest_is_429_with_retry_after(world):
    headers = {"Content-Type": "application/json", "CloudFront-Viewer-Address": "203.0.113.7:51234"}
    body = json.dumps({"site_key": "site-a"})
    with Client(app_module.app) as client:
        statuses = [client.http.post("/v1/visitor/sessions", headers=headers, body=body).status_code
                    for _ in range(60)]
        refused = client.http.post("/v1/visitor/sessions", headers=headers, body=body)
    assert statuses == [201] * 60
    assert refused.status_code == 429
    error = refused.json_body["error"]
    assert error["code"] == "rate_limited" and 0 < error["retry_after"] <= 600
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_site_sets_its_own_session_limit(world):
    site = Site.get("site-a")
    site.settings.limits = {"session_ip": {"count": 2, "window": 60}}
    site.save()
    ip = an_ip()
    sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    with pytest.raises(RateLimitedError):
        sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    sessions.create_visitor_session({"site_key": "site-b"}, source_ip=ip)  # site-b keeps the default


def test_counters_expire_with_ttl(world):
    ip = an_ip()
    sessions.create_visitor_session({"site_key": "site-a"}, source_ip=ip)
    [counter] = [k for k in Key.scan() if k.pk.startswith("rl#session_ip#")]
    assert counter.hits == 1 and counter.expires_at > 0


# --- conversation starts ----------------------------------------------------------------------

def test_new_conversations_are_limited_per_address_and_the_refused_one_reaches_no_agent(world):
    agent = world.agent_connection(world.agent())
    ip = an_ip()
    for i in range(10):
        frame(visitor_from(world, ip), world.sender, action="start", ref=f"s{i}", text="hello")
    world.api.clear()
    late = visitor_from(world, ip)
    frame(late, world.sender, action="start", ref="late", text="hello")
    [error] = world.api.of(late.connection_id, "error")
    assert error["ref"] == "late" and error["code"] == "rate_limited" and error["retry_after"] > 0
    assert world.api.of(agent.connection_id, "inbox") == []  # nobody was told of a chat that is not there
    other = visitor_from(world, an_ip())
    frame(other, world.sender, action="start", ref="ok", text="hello")
    assert world.api.of(other.connection_id, "ack")[0]["conversation"]["status"] == "queued"


def test_returning_to_the_open_conversation_is_not_a_new_start(world):
    ip = an_ip()
    visitor = visitor_from(world, ip)
    for i in range(15):
        frame(visitor, world.sender, action="start", ref=f"s{i}")
    acks = world.api.of(visitor.connection_id, "ack")
    assert len(acks) == 15 and len({a["conversation"]["id"] for a in acks}) == 1


# --- transcripts ------------------------------------------------------------------------------

def _chat(world, page_url: str, email: str = "dana@example.com", site_key: str = "site-a"):
    visitor = visitor_from(world, an_ip(), site_key=site_key, email=email, name="Dana")
    conversation = intake.start(visitor, {"page_url": page_url}, world.sender)
    messaging.send_message(visitor, conversation.id, "Hello", client_msg_id="v1", internal=False,
                           sender=world.sender)
    return visitor, conversation


def _the_shop_owns_its_pages():
    site = Site.get("site-a")
    site.settings.allowed_origins = ["https://shop.example"]
    site.save()


def _transcript(visitor, conversation, sender, email, ref="t"):
    frame(visitor, sender, action="transcript", ref=ref, conversation_id=conversation.id, email=email)


def _links(msg) -> list[str]:
    text, html_body = parts(msg)
    return [w for w in (text + " " + html_body).replace('"', " ").split() if "://" in w]


def test_transcript_links_never_point_at_a_host_the_site_does_not_own(world, outbox):
    visitor, conversation = _chat(world, "https://evil.example/phish?x=1")
    _transcript(visitor, conversation, world.sender, "dana@example.com")
    [msg] = outbox()
    text, html_body = parts(msg)
    assert "evil.example" not in text + html_body
    assert "parley_resume" not in text + html_body


def test_a_transcript_to_the_conversations_own_address_may_resume_it(world, outbox):
    _the_shop_owns_its_pages()
    visitor, conversation = _chat(world, "https://shop.example/help")
    _transcript(visitor, conversation, world.sender, "Dana@Example.com")
    [msg] = outbox()
    [link] = [w for w in _links(msg) if w.startswith("https://shop.example/help?")][:1]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    assert query["parley_conversation"] == conversation.id
    again = sessions.create_visitor_session({"site_key": "site-a", "resume_token": query["parley_resume"]})
    assert again["visitor_id"] == visitor.id


def test_a_transcript_to_another_address_carries_no_resume_token(world, outbox):
    _the_shop_owns_its_pages()
    visitor, conversation = _chat(world, "https://shop.example/help")
    _transcript(visitor, conversation, world.sender, "stranger@example.org")
    [msg] = outbox()
    assert msg["To"].addresses[0].addr_spec == "stranger@example.org"
    text, html_body = parts(msg)
    assert "parley_resume" not in text + html_body and "Hello" in text


def test_transcripts_are_limited_per_conversation(world, outbox):
    visitor, conversation = _chat(world, "https://shop.example/")
    for i in range(3):
        _transcript(visitor, conversation, world.sender, f"me{i}@example.com", ref=f"t{i}")
    _transcript(visitor, conversation, world.sender, "me9@example.com", ref="t9")
    assert [f["ref"] for f in world.api.of(visitor.connection_id, "ack")
            if str(f["ref"]).startswith("t")] == ["t0", "t1", "t2"]
    [error] = world.api.of(visitor.connection_id, "error")
    assert error["ref"] == "t9" and error["code"] == "rate_limited" and error["retry_after"] > 0
    assert len(outbox()) == 3


def test_transcripts_are_limited_per_recipient_across_visitors(world, outbox):
    victim = "victim@example.org"
    for i in range(5):
        visitor, conversation = _chat(world, "https://shop.example/", email=f"v{i}@example.com")
        _transcript(visitor, conversation, world.sender, victim)
        assert world.api.of(visitor.connection_id, "ack")[-1]["queued"] is True
    visitor, conversation = _chat(world, "https://shop.example/", email="v9@example.com")
    _transcript(visitor, conversation, world.sender, victim.upper())
    assert world.api.of(visitor.connection_id, "error")[-1]["code"] == "rate_limited"
    assert len(outbox()) == 5


def test_transcripts_are_limited_per_visitor(world, outbox, monkeypatch):
    visitor, conversation = _chat(world, "https://shop.example/")
    # per conversation stays out of the way: the visitor's own limit is the one that holds
    monkeypatch.setitem(limits.DEFAULTS, "transcript_conversation",
                        limits.Limit("transcript_conversation", 100, 3600, "transcripts of this conversation"))
    for i in range(5):
        _transcript(visitor, conversation, world.sender, f"me{i}@example.com", ref=f"t{i}")
    _transcript(visitor, conversation, world.sender, "me9@example.com", ref="t9")
    assert world.api.of(visitor.connection_id, "error")[-1]["code"] == "rate_limited"
    assert len(outbox()) == 5


# --- agent sign-in ----------------------------------------------------------------------------

def test_wrong_passwords_lock_the_account_for_a_while_even_for_the_right_one(world, cognito):
    _agent_user(cognito)
    for _ in range(10):
        with pytest.raises(UnauthorizedError):
            sessions.agent_login({"email": "agent@example.com", "password": "wrong-password"}, source_ip=an_ip())
    with pytest.raises(RateLimitedError) as refused:
        sessions.agent_login({"email": "Agent@example.com", "password": "demo-password"}, source_ip=an_ip())
    assert refused.value.retry_after > 0


def test_a_successful_sign_in_clears_the_accounts_failures(world, cognito):
    _agent_user(cognito)
    ip = an_ip()
    for _ in range(3):
        for _ in range(9):
            with pytest.raises(UnauthorizedError):
                sessions.agent_login({"email": "agent@example.com", "password": "wrong-password"}, source_ip=ip)
        assert sessions.agent_login({"email": "agent@example.com", "password": "demo-password"}, source_ip=ip)


def test_sign_ins_are_limited_per_address_across_accounts(world, cognito):
    ip = an_ip()
    for i in range(50):
        with pytest.raises(UnauthorizedError):
            sessions.agent_login({"email": f"guess{i}@example.com", "password": "wrong-password"}, source_ip=ip)
    with pytest.raises(RateLimitedError):
        sessions.agent_login({"email": "guess-last@example.com", "password": "wrong-password"}, source_ip=ip)


# --- what one visitor or agent can put on everyone ----------------------------------------------

def test_typing_is_limited_per_connection_and_the_refused_ones_reach_nobody(world):
    visitor = visitor_from(world, an_ip())
    conversation = intake.start(visitor, {}, world.sender)
    agent = world.agent_connection(world.agent())
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)
    preview = "x" * 4000
    for i in range(25):
        frame(visitor, world.sender, action="typing", ref=f"k{i}", conversation_id=conversation.id,
              state="on", preview=preview)
    assert len(world.api.of(agent.connection_id, "typing")) == 20
    errors = world.api.of(visitor.connection_id, "error")
    assert [e["ref"] for e in errors] == [f"k{i}" for i in range(20, 25)]
    assert {e["code"] for e in errors} == {"rate_limited"}


def test_agents_have_a_flood_limit_per_conversation_too(world):
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    agents = [world.agent_connection(world.agent()) for _ in range(2)]
    for i in range(30):  # two agents and their notes share one window
        messaging.send_message(agents[i % 2], conversation.id, f"a{i}", client_msg_id=f"a{i}",
                               internal=bool(i % 3 == 0), sender=world.sender)
    with pytest.raises(RateLimitedError) as refused:
        messaging.send_message(agents[0], conversation.id, "one more", client_msg_id="a30", internal=False,
                               sender=world.sender)
    assert 0 < refused.value.retry_after <= 3600
    # the visitor's own window is separate
    assert messaging.send_message(visitor, conversation.id, "still here", client_msg_id="v1", internal=False,
                                  sender=world.sender)["seq"] == 31


def test_a_pile_up_of_agent_sends_ends_in_acks_and_refusals_with_no_gap(world):
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    agent = world.agent_connection(world.agent())
    outcomes, lock = [], threading.Lock()

    def send(i):
        try:
            seq = messaging.send_message(agent, conversation.id, f"burst {i}", client_msg_id=f"b{i}",
                                         internal=False, sender=world.sender)["seq"]
            result = ("ack", seq)
        except RateLimitedError:
            result = ("rate_limited", None)
        except Exception as exc:  # anything else is a failure of the test
            result = ("other", repr(exc))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [kind for kind, _ in outcomes]
    assert kinds.count("other") == 0, [o for o in outcomes if o[0] == "other"][:3]
    acked = kinds.count("ack")
    # The flood limit caps the winners; on a slow machine some racers also run out of their retry budget
    # (rate_limited too): how many win depends on the machine, that nothing else happens does not.
    assert len(outcomes) == 60 and 1 <= acked <= messaging.AGENT_RATE_COUNT
    assert sorted(seq for kind, seq in outcomes if kind == "ack") == list(range(1, acked + 1))
    assert [m.seq for m in Message.query(conversation.id)] == list(range(1, acked + 1))


def test_a_send_that_keeps_losing_gives_up_with_rate_limited_within_its_budget(world, monkeypatch):
    """Whatever the contention, a send stops retrying after RETRY_SECONDS and says so; it does not hold its
    worker for the old 20 s."""
    from botocore.exceptions import ClientError
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    monkeypatch.setattr(messaging, "RETRY_SECONDS", 0.5)
    tries = []

    def always_conflict(params, **kwargs):
        tries.append(1)
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                           "CancellationReasons": [{"Code": "TransactionConflict"}] * 3}, "TransactWriteItems")

    from chalicelib.store.dynamo import dynamo
    events = dynamo().client.meta.events
    events.register("before-call.dynamodb.TransactWriteItems", always_conflict)
    try:
        with pytest.raises(RateLimitedError) as refused:
            messaging.send_message(visitor, conversation.id, "never", client_msg_id="n1", internal=False,
                                   sender=world.sender)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", always_conflict)
    assert refused.value.retry_after == 1.0 and len(tries) > 1
    assert Message.count(conversation.id) == 0


def test_an_admin_sets_and_clears_a_sites_limits_over_rest(world, cognito):
    from chalicelib.workspace import admin
    admin_id = _agent_user(cognito, email="ada@example.com")
    from chalicelib.store.models import Agent
    agent = Agent.get(admin_id)
    agent.update(actions=[Agent.role.set("admin")])
    caller = Caller.for_agent(agent.id, agent.workspace_id, name=agent.name, role="admin")
    body = admin.update_site_settings(caller, "site-a", {"limits": {"start_ip": {"count": 25, "window": 300}}})
    assert body["settings"]["limits"] == {"start_ip": {"count": 25, "window": 300}}
    assert limits.for_site("start_ip", Site.get("site-a").settings) == limits.Limit(
        "start_ip", 25, 300, limits.DEFAULTS["start_ip"].what)
    for bad, field in (({"login_ip": {"count": 1, "window": 1}}, "limits.login_ip"),
                       ({"start_ip": {"count": 0, "window": 60}}, "limits.start_ip.count"),
                       ({"start_ip": {"count": 5}}, "limits.start_ip.window"),
                       ("often", "limits")):
        with pytest.raises(BadRequestError) as refused:
            admin.update_site_settings(caller, "site-a", {"limits": bad})
        assert refused.value.field == field
    assert admin.update_site_settings(caller, "site-a", {"limits": None})["settings"]["limits"] is None
    assert limits.for_site("start_ip", Site.get("site-a").settings) == limits.DEFAULTS["start_ip"]
