"""Hostile REST requests against the real local stack: every route app.py declares, with hostile bodies,
query strings and path parameters, under an agent's, an admin's, another workspace's, a visitor's, a
forged or no token.

Property (docs/protocol.md §13.1, checked by tests/fuzz/rest.py): never a 5xx; every 4xx is the JSON
error body with the code its status stands for (bad_request naming the field); every 2xx is JSON.

A stack of its own: admins' random changes to sites, agents, webhooks and visitors must not reach
other tests' data.
"""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from app import app
from chalicelib.chat.conversations import VIEWS
from chalicelib.events import EVENT_TYPES
from tests.conftest import running_stack
from tests.fuzz import rest
from tests.fuzz import strategies as s
from tests.fuzz.support import COUNTS, StackLog, examples, fuzz_settings
from tests.fuzz.wire import start_conversation

NOWHERE = "c_" + "0" * 32
ROUTES = sorted((method, path) for path, methods in app.routes.items() for method in methods)
TAKEN = {(method, path): entry.content_types for path, methods in app.routes.items()
         for method, entry in methods.items()}


@dataclass
class World:
    stack: object
    headers: dict      # auth kind -> Authorization header (None: no header)
    ids: dict          # what the strategies draw from
    log: StackLog


def _jwt_without_signature(token: str) -> str:
    """The same claims under `alg: none`, the classic forgery."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz-rest-stack")
    with running_stack(workdir) as stack:
        agent, admin, foreign = (stack.agent(f"{who}@example.com") for who in ("agent", "admin", "agent-b"))
        me, spare, other = stack.visitor("demo", name="Rest Fuzz"), stack.visitor("demo"), stack.visitor("demo-b")
        mine, theirs = start_conversation(stack, me), start_conversation(stack, other)
        status, spare_agent = stack.request("POST", "/v1/agents", {"email": "spare@example.com", "name": "Spare",
                                                                   "password": "spare-password-1"}, admin["token"])
        assert status == 201, spare_agent
        status, hook = stack.request("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/hook",
                                                              "events": ["message.created"]}, admin["token"])
        assert status == 201, hook
        status, delivery = stack.request("POST", f"/v1/webhooks/{hook['id']}/test", {}, admin["token"])
        assert status == 202, delivery
        status, canned = stack.request("POST", "/v1/canned-responses", {"shortcut": "fuzz", "text": "Hi!"},
                                       agent["token"])
        assert status == 201, canned
        status, article = stack.request("POST", "/v1/articles", {"title": "Fuzz", "body": "Ships in 2 days.",
                                                                "locale": "en", "status": "published"},
                                        admin["token"])
        assert status == 201, article
        token = agent["token"]
        headers = {"agent": f"Bearer {token}", "admin": f"Bearer {admin['token']}",
                   "foreign": f"Bearer {foreign['token']}", "visitor": f"Bearer {me['token']}", "none": None,
                   "garbage": "Bearer not-a-token", "not-bearer": f"Basic {token}",
                   "forged": f"Bearer {token[:-4]}{'AAAA' if not token.endswith('AAAA') else 'BBBB'}",
                   "alg-none": f"Bearer {_jwt_without_signature(token)}", "huge": "Bearer " + "a" * 20_000}
        ids = {"conversations": [mine, theirs, NOWHERE], "visitors": [spare["visitor_id"], other["visitor_id"],
                                                                        "v_" + "0" * 32],
               "agents": [spare_agent["id"], foreign["agent"]["id"], "a_nobody"],
               "canned": ["cr_seed_0", "cr_seed_1", canned["id"], "cr_nope"], "webhooks": [hook["id"], "wh_nope"],
               "articles": [article["id"], "a_" + "0" * 32, "nope"],
               "deliveries": [delivery["id"], "dl_nope"],
               "tokens": [me["token"], other["token"], token, "garbage"],
               "refresh": [agent["refresh_token"], "garbage"]}
        yield World(stack, headers, ids, StackLog(workdir / "stack.log"))


def specs(ids: dict) -> dict:
    """What each route takes (docs/protocol.md §2, §13, §18.3): body fields and query parameters as
    good-value strategies, and who the route is for."""
    pick = s.pick
    agent, admin, public = ["agent", "admin"], ["admin"], ["none"]
    email = pick(["agent@example.com", "admin@example.com", "nobody@example.com", " AGENT@example.com "])
    password = pick(["demo-password", "wrong-password", "", "long-enough-password"])
    user_hash = hmac.new(b"demo-identity-secret", b"42", hashlib.sha256).hexdigest()
    groups = st.lists(s.group, max_size=3)
    events = st.lists(pick([*EVENT_TYPES, "bogus.event"]), max_size=3)
    hook_url = pick(["http://127.0.0.1:9/hook", "https://example.invalid/hook", "ftp://x", "http://10.0.0.1/"])
    site_fields = {"greeting": s.good_text, "color": pick(["#1f6feb", "#FFF", "#abcdef"]),
                   "rate_limit_count": st.integers(1, 1000), "rate_limit_window": st.integers(1, 3600),
                   "prechat_enabled": st.booleans(), "prechat_fields": st.lists(pick(["name", "email"])),
                   "prechat_required": st.lists(pick(["name", "email"])), "queue_timeout": st.integers(1, 86_400),
                   "inactivity_wait": st.integers(1, 600), "pending_wait": st.integers(1, 600),
                   "survey_window": st.integers(1, 600), "close_after": st.integers(1, 600),
                   "webhook_url": st.one_of(st.none(), hook_url), "retention_days": pick([None, 0, 1, 30, 3650]),
                   "allowed_origins": pick([None, [], ["https://shop.example"], ["https://*.example.com"],
                                            ["http://127.0.0.1:8000"]]),
                   "limits": pick([None, {}, {"start_ip": {"count": 20, "window": 600}},
                                   {"typing": {"count": 5, "window": 10}}])}
    agent_fields = {"name": s.name, "role": pick(["agent", "admin"]), "capacity": st.integers(0, 11),
                    "groups": groups}
    canned = {"shortcut": pick(["hello", "/Thanks", "new-one", "x" * 32, "Bad Shortcut", "fuzz"]),
              "text": s.good_text}
    article_fields = {"title": s.good_text, "body": s.good_text, "locale": pick(["en", "fr", "de"]),
                      "status": pick(["draft", "published"]), "questions": st.lists(s.good_text, max_size=3),
                      "site_keys": pick([None, ["demo"], ["demo", "demo-prechat"]]),
                      "url": pick([None, "https://shop.example/help", "javascript:x"])}
    hook = {"url": hook_url, "events": events, "enabled": st.booleans(), "description": s.good_text}
    node_ref = pick(["hi", "menu", "bye", "nowhere", "", "x" * 41])
    text = st.one_of(s.good_text, st.fixed_dictionaries({"en": s.good_text}),
                     st.fixed_dictionaries({"en": s.good_text, "fr": s.good_text, "de": s.good_text}))
    node = st.one_of(
        st.fixed_dictionaries({"kind": pick(["message", "handoff", "robot"]), "text": text, "next": node_ref}),
        st.fixed_dictionaries({"kind": st.just("options"), "text": text, "options": st.lists(
            st.fixed_dictionaries({"id": pick(["a", "human", "B", ""]), "label": text, "next": node_ref}),
            max_size=12)}),
        st.fixed_dictionaries({"kind": st.just("lookup"), "url": hook_url, "fields": st.lists(s.name, max_size=3),
                               "template": text, "next": node_ref, "fallback": node_ref}),
        st.fixed_dictionaries({"kind": st.just("ask"), "next": node_ref, "fields": st.lists(st.fixed_dictionaries({
            "name": pick(["order", "Email", "x" * 41]), "type": pick(["text", "email", "date"]), "label": text,
            "pattern": pick(["^[0-9]+$", "([", "a" * 300])}), max_size=6)}))
    flow = {"enabled": st.booleans(), "start": node_ref, "max_turns": st.integers(-1, 60),
            "nodes": st.dictionaries(node_ref, node, max_size=4)}
    paging = {"limit": st.integers(0, 101).map(str), "cursor": pick(["", "abc", "eyJhIjogMX0="])}
    return {
        ("GET", "/v1/health"): {"auth": public},
        ("POST", "/v1/visitor/sessions"): {"auth": public, "body": {
            "site_key": pick(["demo", "demo-b", "demo-prechat", "demo-offline", "nope"]),
            "resume_token": pick(ids["tokens"]), "name": s.name, "email": s.email,
            "user_id": pick(["42", " 42 ", "user-1"]), "user_hash": pick([user_hash, user_hash.upper(), "00" * 32]),
            "page_url": s.page_url, "locale": pick(["fr-FR", "en", "x" * 35, "x" * 36])}},
        ("OPTIONS", "/v1/visitor/sessions"): {"auth": public},
        ("GET", "/v1/sites/{site_key}/availability"): {"auth": public},
        ("OPTIONS", "/v1/sites/{site_key}/availability"): {"auth": public},
        ("GET", "/v1/sites/{site_key}/settings"): {"auth": public},
        ("OPTIONS", "/v1/sites/{site_key}/settings"): {"auth": public},
        ("POST", "/v1/agents/login"): {"auth": public, "body": {"email": email, "password": password}},
        ("POST", "/v1/agents/new-password"): {"auth": public, "body": {
            "email": email, "session": pick(["x" * 20, "short", "A" * 4_096]), "password": password}},
        ("POST", "/v1/agents/refresh"): {"auth": public, "body": {"refresh_token": pick(ids["refresh"])}},
        ("GET", "/v1/csat/{conversation_id}/{rating}"): {"auth": public, "query": {
            "sig": pick(["0" * 64, "abc", ""])}},
        ("GET", "/v1/agents/me"): {"auth": agent},
        ("GET", "/v1/conversations"): {"auth": agent, "query": {"view": pick(VIEWS), **paging}},
        ("GET", "/v1/inbox/counts"): {"auth": agent},
        ("GET", "/v1/conversations/{conversation_id}"): {"auth": agent},
        ("PATCH", "/v1/conversations/{conversation_id}"): {"auth": agent, "body": {
            "title": st.one_of(st.none(), s.good_text), "tags": st.lists(pick(["vip", " Billing ", "x" * 40]),
                                                                         max_size=3),
            "status": pick(["open", "pending", "solved", None]),
            "assignee_id": st.one_of(st.none(), pick(ids["agents"]))}},
        ("GET", "/v1/conversations/{conversation_id}/messages"): {"auth": agent, "query": {
            "after_seq": st.integers(0, 5).map(str), "before_seq": st.integers(1, 6).map(str),
            "limit": paging["limit"]}},
        ("GET", "/v1/agents"): {"auth": agent},
        ("GET", "/v1/visitors/{visitor_id}"): {"auth": agent},
        ("GET", "/v1/canned-responses"): {"auth": agent},
        ("POST", "/v1/canned-responses"): {"auth": agent, "body": canned},
        ("PUT", "/v1/canned-responses/{canned_id}"): {"auth": agent, "body": canned},
        ("DELETE", "/v1/canned-responses/{canned_id}"): {"auth": agent},
        ("POST", "/v1/agents"): {"auth": admin, "body": {
            **agent_fields, "email": st.one_of(st.uuids().map(lambda u: f"fz-{u.hex[:10]}@example.com"), email),
            "password": password, "temporary_password": password}},
        ("PATCH", "/v1/agents/{agent_id}"): {"auth": admin, "body": agent_fields},
        ("DELETE", "/v1/agents/{agent_id}"): {"auth": admin},
        ("GET", "/v1/sites/{site_key}"): {"auth": agent},
        ("PATCH", "/v1/sites/{site_key}"): {"auth": admin, "body": site_fields},
        ("POST", "/v1/contacts/{visitor_id}/block"): {"auth": agent, "body": {"reason": s.good_text}},
        ("DELETE", "/v1/contacts/{visitor_id}/block"): {"auth": agent},
        ("GET", "/v1/webhooks"): {"auth": admin},
        ("POST", "/v1/webhooks"): {"auth": admin, "body": hook},
        ("PATCH", "/v1/webhooks/{webhook_id}"): {"auth": admin, "body": hook},
        ("DELETE", "/v1/webhooks/{webhook_id}"): {"auth": admin},
        ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): {"auth": admin, "body": {}},
        ("POST", "/v1/webhooks/{webhook_id}/test"): {"auth": admin, "body": {}},
        ("GET", "/v1/webhooks/{webhook_id}/deliveries"): {"auth": admin, "query": paging},
        ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): {"auth": admin, "body": {}},
        ("GET", "/v1/visitors"): {"auth": admin, "query": {"email": s.email}},
        ("GET", "/v1/visitors/{visitor_id}/export"): {"auth": admin},
        ("GET", "/v1/articles/search"): {"auth": public, "query": {
            "site_key": pick(["demo", "demo-b", "nope", ""]), "q": st.one_of(s.good_text, pick(["ship", "délai"])),
            "locale": pick(["fr-FR", "en", "x" * 35, "x" * 36]), "limit": st.integers(0, 11).map(str)}},
        ("OPTIONS", "/v1/articles/search"): {"auth": public},
        ("GET", "/v1/sites/{site_key}/articles/{article_id}"): {"auth": public},
        ("POST", "/v1/articles/events"): {"auth": ["none", "visitor", "foreign"], "body": {
            "site_key": pick(["demo", "demo-b", "nope"]),
            "event": pick(["shown", "opened", "helpful", "not_helpful", "liked"]),
            "article_ids": st.one_of(st.lists(pick(ids["articles"]), min_size=0, max_size=12), s.good_text),
            "conversation_id": pick(ids["conversations"]), "query": s.good_text}},
        ("OPTIONS", "/v1/articles/events"): {"auth": public},
        ("OPTIONS", "/v1/sites/{site_key}/articles/{article_id}"): {"auth": public},
        ("GET", "/v1/articles"): {"auth": agent, "query": {
            "status": pick(["draft", "published", "live"]), "locale": pick(["en", "fr", "de"]),
            "q": s.good_text, **paging}},
        ("GET", "/v1/articles/{article_id}"): {"auth": agent},
        ("GET", "/v1/conversations/{conversation_id}/articles"): {"auth": agent, "query": {
            "limit": st.integers(0, 11).map(str)}},
        ("POST", "/v1/articles"): {"auth": admin, "body": article_fields},
        ("PUT", "/v1/articles/{article_id}"): {"auth": admin, "body": article_fields},
        ("DELETE", "/v1/articles/{article_id}"): {"auth": admin},
        ("DELETE", "/v1/visitors/{visitor_id}"): {"auth": admin, "query": {"confirm": pick(["erase", "no"])}},
        ("GET", "/v1/sites/{site_key}/hours"): {"auth": agent},
        ("PUT", "/v1/sites/{site_key}/hours"): {"auth": admin, "body": {
            "timezone": pick(["Europe/Paris", "UTC", "Mars/Olympus", ""]),
            "week": st.dictionaries(pick(["mon", "sat", "funday"]), st.lists(st.lists(
                pick(["09:00", "24:00", "22:00", "02:00", "9:00", "25:00"]), min_size=0, max_size=3), max_size=4),
                max_size=3),
            "exceptions": st.lists(st.fixed_dictionaries({"date": pick(["2026-12-25", "2026-02-30", "x"]),
                                                          "closed": st.booleans()}), max_size=3),
            "from": pick([None, "2026-01-01", "2999-01-01", "yesterday"])}},
        ("DELETE", "/v1/sites/{site_key}/hours"): {"auth": admin},
        ("GET", "/v1/sites/{site_key}/bot"): {"auth": admin},
        ("PUT", "/v1/sites/{site_key}/bot"): {"auth": admin, "body": flow},
        ("DELETE", "/v1/sites/{site_key}/bot"): {"auth": admin},
        ("POST", "/v1/sites/{site_key}/bot/preview"): {"auth": admin, "body": {
            "version": st.one_of(st.integers(-1, 5), s.good_text)}},
    }


def path_values(ids: dict) -> dict:
    pick = s.pick
    return {"conversation_id": pick(ids["conversations"]), "visitor_id": pick(ids["visitors"]),
            "agent_id": pick(ids["agents"]), "canned_id": pick(ids["canned"]), "webhook_id": pick(ids["webhooks"]),
            "delivery_id": pick(ids["deliveries"]), "article_id": pick(ids["articles"]),
            "site_key": pick(["demo", "demo-b", "demo-prechat", "demo-offline", "nope"]),
            "rating": pick(["1", "3", "5", "0", "6", "-1", "x", "05"])}


def test_every_route_has_a_spec():
    """A new route without a line in specs() fails here, not silently unfuzzed."""
    assert set(ROUTES) == set(specs({k: ["x"] for k in ("tokens", "refresh", "agents", "articles", "conversations")}))


def _fuzz(world: World, routes: list, count: int) -> None:
    requests = s.rest_requests(routes, specs(world.ids), path_values(world.ids))

    @fuzz_settings(max_examples=count)
    @given(template=requests)
    def answers_are_never_5xx_and_errors_are_structured(template):
        sent = rest.build(template, world.headers[template.auth])
        note(sent.brief())
        mark = world.log.mark()
        status, headers, body = rest.send(world.stack.port, sent)
        COUNTS.request(template.auth, status)
        with world.log.explaining(mark):
            rest.check(sent, TAKEN[(template.method, template.route)], status, headers, body)

    answers_are_never_5xx_and_errors_are_structured()


def test_bodies_of_every_route_that_takes_one(world):
    _fuzz(world, [r for r in ROUTES if r[0] in ("POST", "PUT", "PATCH")], examples(fast=60, long=1500))


def test_queries_and_paths_of_every_route(world):
    _fuzz(world, ROUTES, examples(fast=60, long=1500))
