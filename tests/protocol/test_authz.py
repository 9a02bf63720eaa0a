"""The authorization matrix: every REST route and websocket action × every principal, from authz.py's table.

Each row of the table and each principal is one test, named after both. A refused call must get the
documented status or error, change nothing (what the row's snapshot reads is the same before and after)
and, on the websocket, leave the socket open and send the victim conversation's people nothing. The
completeness tests at the end fail when app.py, chalicelib/ws.py or docs/protocol.md name a route or an
action that has no row, or a row names one that is gone.

The module runs on a stack of its own: it adds agents (an admin of demo-b among them), blocks and
erases visitors, sets presence and changes demo's settings, which the shared stack's other tests read.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import authz
import boto3
import jwt
import pytest
from authz import ACTIONS, AGENT_SOCKET, ANY, LINK, ROUTES, VISITOR, rest_expectation, ws_expectation, ws_principals
from client import ws_url
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import moto_published_key, running_stack

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PASSWORD = "demo-password"
REPLY_TYPES = ("ack", "error", "pong")
# Events that would mean an intruder reached the victim conversation (`queue` positions are routing's own).
INTRUSIONS = ("message", "typing", "read", "conversation", "csat_request")

# Short made-up secrets below are meant to be wrong; pyjwt warns about their length.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture(autouse=True)
def quiet_workspaces():
    """This module's stack is its own (the `world` fixture), not the shared one tests/protocol/conftest.py quiets."""
    yield


# --- plumbing: REST calls, sockets, tokens -----------------------------------------------------

@dataclass
class Answer:
    status: int
    text: str

    @property
    def json(self) -> dict:
        try:
            return json.loads(self.text or "{}")
        except ValueError:
            return {}


class Socket:
    """One principal's websocket, kept for the whole module (the tests are plain functions, so sync)."""

    def __init__(self, base: str, token: str, name: str):
        self.name = name
        # max_queue=None: a socket read only now and then must not push back on the gateway's posts.
        self.ws = connect(ws_url(base, token), open_timeout=10, close_timeout=1, compression=None, max_size=None,
                          max_queue=None, proxy=None, legacy=True)
        self.events: list[dict] = []
        self.replies: list[dict] = []

    def _read(self, timeout: float) -> None:
        try:
            frame = json.loads(self.ws.recv(timeout=timeout))
        except ConnectionClosed:
            raise AssertionError(f"{self.name}: the socket was closed; last replies {self.replies[-3:]}") from None
        (self.replies if frame.get("type") in REPLY_TYPES else self.events).append(frame)

    def _wait(self, find, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            hit = find()
            if hit is not None:
                return hit
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout}s; replies {self.replies[-3:]}, "
                                     f"events {self.events[-3:]}")
            try:
                self._read(remaining)
            except TimeoutError:
                pass

    def send(self, action: str, **fields) -> str:
        ref = authz.unique(f"{self.name}-")
        self.ws.send(json.dumps({"action": action, "ref": ref, **fields}))
        return ref

    def reply(self, ref: str, timeout: float = 10.0) -> dict:
        def find():
            for i, frame in enumerate(self.replies):
                if frame.get("ref") == ref:
                    return self.replies.pop(i)
        return self._wait(find, timeout, f"reply to {ref}")

    def request(self, action: str, **fields) -> dict:
        return self.reply(self.send(action, **fields))

    def ack(self, action: str, **fields) -> dict:
        frame = self.request(action, **fields)
        assert frame["type"] == "ack", f"{self.name}: {action} {fields} was not acked: {frame}"
        return frame

    def event(self, type_: str, conversation_id: str, timeout: float = 10.0) -> dict:
        def find():
            for i, frame in enumerate(self.events):
                if frame.get("type") == type_ and frame.get("conversation_id") == conversation_id:
                    return self.events.pop(i)
        return self._wait(find, timeout, f"{type_} event of {conversation_id}")

    def drain(self) -> list[dict]:
        """Every event that has arrived so far, taken."""
        while True:
            try:
                self._read(0)
            except TimeoutError:
                break
        events, self.events = self.events, []
        return events

    def ping(self) -> None:
        frame = self.request("ping")
        assert frame["type"] == "pong", f"{self.name}: ping answered with {frame}"

    def close(self) -> None:
        self.ws.close()


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(claims: dict) -> str:
    """The same claims with `alg: none` and no signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def hs256(claims: dict, key: bytes, header: dict | None = None) -> str:
    """Signed by hand, so any key will do (pyjwt refuses an RSA public key as an HMAC secret, rightly)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', **(header or {})})}.{_b64(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def visitor_claims(visitor_id: str, **changes) -> dict:
    now = int(time.time())
    return {"sub": visitor_id, "site": "demo", "ws": "ws_demo", "typ": "visitor", "iat": now, "exp": now + 3600,
            **changes}


# --- the world: principals, targets, snapshots ---------------------------------------------------

class World:
    """Everything the matrix acts on, in workspace demo, and everyone who tries."""

    def __init__(self, stack):
        self.stack = stack
        self.secret = os.environ["PARLEY_TOKEN_SECRET"]  # tests/conftest.py sets it; the stack inherits it
        self.idp = boto3.client("cognito-idp", endpoint_url=stack.moto_url, region_name=REGION,
                                aws_access_key_id="matrix", aws_secret_access_key="matrix")
        self.dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=REGION,
                                     aws_access_key_id="matrix", aws_secret_access_key="matrix")
        self.tokens: dict[str, str | None] = {}
        self.ids: dict[str, str] = {}
        self.sockets: dict[str, Socket] = {}
        self.opened: list[Socket] = []

    # -- requests --

    def call(self, method: str, path: str, body=None, token: str | None = None) -> Answer:
        """The request as the matrix sends it: no Content-Type without a body, the body's text kept."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        status, _, answer = self.stack.raw(method, path, data, headers, timeout=20)
        return Answer(status, answer.decode())

    def as_admin(self, method: str, path: str, body=None, status: int | None = None) -> dict:
        answer = self.call(method, path, body, self.tokens["admin"])
        assert answer.status < 300 if status is None else answer.status == status, (method, path, answer)
        return answer.json

    def login(self, email: str, password: str = PASSWORD) -> dict:
        answer = self.call("POST", "/v1/agents/login", {"email": email, "password": password})
        assert answer.status == 200, answer
        return answer.json

    def session(self, site_key: str = "demo", **fields) -> dict:
        answer = self.call("POST", "/v1/visitor/sessions", {"site_key": site_key, **fields})
        assert answer.status == 201, answer
        return answer.json

    def socket(self, token: str, name: str) -> Socket:
        sock = Socket(self.stack.ws, token, name)
        self.opened.append(sock)
        return sock

    def new_agent(self, role: str = "agent", **fields) -> dict:
        body = {"email": authz.unique("matrix-") + "@example.com", "name": "Matrix Agent", "role": role,
                "password": "matrix-password", **fields}
        body = {k: v for k, v in body.items() if v is not None}
        return {**self.as_admin("POST", "/v1/agents", body, status=201), "password": body.get("password")}

    # -- building it --

    def build(self) -> None:
        admin = self.login("admin@example.com")
        self.tokens["admin"] = admin["token"]
        self.client_id = claims_of(admin["token"])["client_id"]
        expiring = self._expiring_agent_token()  # it has a second to run out while the rest is made
        agent, agent_b = self.login("agent@example.com"), self.login("agent-b@example.com")
        self.tokens.update(agent=agent["token"], agent_b=agent_b["token"])
        self.agent_login = agent
        self.ids.update(agent=agent["agent"]["id"], admin=admin["agent"]["id"], agent_b=agent_b["agent"]["id"])
        # Nobody answers the victim for the whole module: its handoff must not time out into a system message.
        self.as_admin("PATCH", "/v1/sites/demo", {"queue_timeout": 86400})

        # An admin of demo-b: made in demo by demo's admin, then moved (the seed gives demo-b none).
        admin_b = self.new_agent("admin")
        self.dynamodb.update_item(TableName="parley-local-agents", Key={"id": {"S": admin_b["id"]}},
                                  UpdateExpression="SET workspace_id = :ws",
                                  ExpressionAttributeValues={":ws": {"S": "ws_demo_b"}})
        self.tokens["admin_b"] = self.login(admin_b["email"], admin_b["password"])["token"]
        removed = self.new_agent()
        self.tokens["removed_agent"] = self.login(removed["email"], removed["password"])["token"]
        self.as_admin("DELETE", f"/v1/agents/{removed['id']}", status=204)
        self.ids["target_agent"] = self.new_agent()["id"]  # what refused PATCH / DELETE /v1/agents/{id} aim at

        # The victim: a visitor of demo with one message, watched by an admin who joined the conversation.
        self.victim_email = authz.unique("victim-") + "@example.com"
        victim = self.session(name="Victim", email=self.victim_email)
        self.tokens["visitor"] = victim["token"]
        self.sockets["visitor"] = self.socket(victim["token"], "victim")
        self.victim = self.sockets["visitor"].ack("start", text="the victim's secret")["conversation"]["id"]
        self.ids.update(victim=self.victim, victim_visitor=victim["visitor_id"])
        self.witness = self.socket(self.tokens["admin"], "witness")
        self.witness.ack("join", conversation_id=self.victim)
        for name, site_key in (("visitor_other", "demo"), ("visitor_b", "demo-b")):
            session = self.session(site_key)
            self.sockets[name] = self.socket(session["token"], name)
            own = self.sockets[name].ack("start", text=f"{name}'s own words")["conversation"]["id"]
            self.ids[f"{name}_conversation"] = own
        self.sockets["agent"] = self.socket(self.tokens["agent"], "agent")
        self.sockets["agent_b"] = self.socket(self.tokens["agent_b"], "agent_b")

        self.ids["canned"] = self.as_admin("POST", "/v1/canned-responses", {"shortcut": authz.unique("victim"),
                                                                              "text": "demo's own words"})["id"]
        self.ids["article"] = self.as_admin("POST", "/v1/articles", authz._article(self), status=201)["id"]
        self.as_admin("PUT", "/v1/sites/demo/bot", authz._flow(self))  # a version to preview
        self.ids["webhook"], self.ids["delivery"] = self._webhook_with_failed_delivery()
        self._bad_tokens(victim, expiring)

    def _expiring_agent_token(self) -> str:
        """An access token the pool signed for the app client that expires a second after it is made:
        the client's token lifetime is set to one second meanwhile (infra/local/fidelity.py, 4)."""
        def lifetime(value: int, unit: str) -> None:
            self.idp.update_user_pool_client(UserPoolId=self.stack.pool_id, ClientId=self.client_id,
                                             AccessTokenValidity=value, TokenValidityUnits={"AccessToken": unit})
        lifetime(1, "seconds")
        try:
            token = self._initiate(self.client_id, "agent@example.com")["AccessToken"]
        finally:
            lifetime(1, "hours")  # Cognito's default, which every other login of the module gets
        assert claims_of(token)["exp"] - claims_of(token)["iat"] == 1
        return token

    def _initiate(self, client_id: str, email: str) -> dict:
        return self.idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]

    def _webhook_with_failed_delivery(self) -> tuple[str, str]:
        """A disabled endpoint (no domain event makes deliveries for it) and a test delivery that failed:
        the stack tries each delivery once (PARLEY_WEBHOOK_MAX_ATTEMPTS=1) and port 9 refuses it."""
        webhook = self.as_admin("POST", "/v1/webhooks", authz._webhook(self), status=201)["id"]
        delivery = self.as_admin("POST", f"/v1/webhooks/{webhook}/test", status=202)["id"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            items = self.as_admin("GET", f"/v1/webhooks/{webhook}/deliveries")["items"]
            if items and items[0]["status"] == "failed":
                return webhook, delivery
            time.sleep(0.1)
        raise AssertionError(f"the test delivery did not fail: {items}")

    def _bad_tokens(self, victim: dict, expiring: str) -> None:
        agent = claims_of(self.tokens["agent"])
        head, payload, signature = self.tokens["agent"].split(".")
        other_client = self.idp.create_user_pool_client(
            UserPoolId=self.stack.pool_id, ClientName="not-the-console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
        jwks = urllib.request.urlopen(f"{self.stack.moto_url}/{self.stack.pool_id}/.well-known/jwks.json",
                                      timeout=10).read()
        visitor_id = victim["visitor_id"]
        now = int(time.time())
        changed = "BBBBBB" if signature.endswith("AAAAAA") else "AAAAAA"
        self.tokens.update({
            "anonymous": None,
            "garbage": "not-a-token",
            "forged_visitor": jwt.encode(visitor_claims(visitor_id), "not-the-server-secret", algorithm="HS256"),
            "expired_visitor": jwt.encode(visitor_claims(visitor_id, iat=now - 7200, exp=now - 3600), self.secret,
                                          algorithm="HS256"),
            "alg_none_visitor": unsigned(visitor_claims(visitor_id)),
            "forged_agent": jwt.encode(agent, moto_published_key(), algorithm="RS256", headers={"kid": "dummy"}),
            "tampered_agent": f"{head}.{payload}.{signature[:-6]}{changed}",
            "expired_agent": expiring,
            "alg_none_agent": unsigned(agent),
            "agent_id_token": self._initiate(self.client_id, "agent@example.com")["IdToken"],
            "other_client": self._initiate(other_client, "agent@example.com")["AccessToken"],
            "alg_confusion": hs256(agent, jwks, {"kid": "dummy"}),
            # $connect only
            "empty": "",
            "not_three_parts": "a.b.c",
            "unknown_kid": jwt.encode(agent, moto_published_key(), algorithm="RS256", headers={"kid": "nope"}),
            "unknown_visitor": jwt.encode(visitor_claims("v_" + "0" * 32), self.secret, algorithm="HS256"),
            "wrong_typ": jwt.encode(visitor_claims(visitor_id, typ="agent"), self.secret, algorithm="HS256"),
        })
        blocked = self.session()
        self.as_admin("POST", f"/v1/contacts/{blocked['visitor_id']}/block")
        self.tokens["blocked_visitor"] = blocked["token"]
        wait = claims_of(expiring)["exp"] + 1 - time.time()  # pyjwt refuses it once `exp` is in the past
        if wait > 0:
            time.sleep(wait)

    def close(self) -> None:
        for sock in self.opened:
            try:
                sock.close()
            except Exception:
                pass

    # -- targets --

    def demo_ids(self) -> set[str]:
        """Ids of demo's things that no other workspace may ever see."""
        keys = ("victim", "victim_visitor", "agent", "admin", "target_agent", "canned", "webhook", "delivery",
                "visitor_other_conversation")
        return {self.ids[k] for k in keys}

    def params(self, route: authz.Route, allowed: bool) -> dict:
        shared = {"conversation_id": self.victim, "visitor_id": self.ids["victim_visitor"], "site_key": "demo",
                  "agent_id": self.ids["target_agent"], "canned_id": self.ids["canned"], "article_id": self.ids["article"],
                  "webhook_id": self.ids["webhook"], "delivery_id": self.ids["delivery"], "rating": "5"}
        if not allowed:
            return shared
        fresh = {}
        if "conversation_id" in route.fresh:
            fresh["conversation_id"] = self.fresh_conversation()
        if "visitor_id" in route.fresh:
            fresh["visitor_id"] = self.session()["visitor_id"]
        if "agent_id" in route.fresh:
            fresh["agent_id"] = self.new_agent()["id"]
        if "canned_id" in route.fresh:
            fresh["canned_id"] = self.as_admin("POST", "/v1/canned-responses", authz._canned(self))["id"]
        if "article_id" in route.fresh:
            fresh["article_id"] = self.as_admin("POST", "/v1/articles", authz._article(self), status=201)["id"]
        if "delivery_id" in route.fresh:
            fresh["webhook_id"], fresh["delivery_id"] = self._webhook_with_failed_delivery()
        elif "webhook_id" in route.fresh:
            fresh["webhook_id"] = self.as_admin("POST", "/v1/webhooks", authz._webhook(self))["id"]
        return {**shared, **fresh}

    def fresh_conversation(self) -> str:
        session = self.session()
        sock = Socket(self.stack.ws, session["token"], "fresh")
        try:
            return sock.ack("start", text="a conversation of its own")["conversation"]["id"]
        finally:
            sock.close()

    def fresh_chat(self, start: bool = True, join: bool = True) -> tuple[Socket, str | None]:
        """A new visitor's socket and conversation, which agent@'s socket has joined (so each side sees the other's
        typing and read marks)."""
        session = self.session()
        sock = Socket(self.stack.ws, session["token"], "owner")
        if not start:
            return sock, None
        cid = sock.ack("start", text="a conversation of its own")["conversation"]["id"]
        if join:
            self.sockets["agent"].ack("join", conversation_id=cid)
        return sock, cid

    # -- credentials --

    def link_query(self, principal: str, params: dict) -> str:
        from chalicelib.identity.tokens import (
            mail_signature,  # the app's own signature of a rating link (mail.csat_link)
        )

        def sig(conversation_id: str, rating: str) -> str:
            return "sig=" + mail_signature("csat", conversation_id, rating, length=32)
        return {"link": sig(params["conversation_id"], params["rating"]),
                "no_sig": "",
                "forged_sig": "sig=" + "0" * 32,
                "other_conversation_sig": sig(self.ids["visitor_other_conversation"], params["rating"]),
                "other_rating_sig": sig(params["conversation_id"], "1")}[principal]

    def refresh_token(self) -> str:
        return self.agent_login["refresh_token"]

    def password_challenge(self) -> dict:
        """A real first sign-in: an agent made with a temporary password, its challenge session."""
        made = self.new_agent(password=None, temporary_password="matrix-temporary")
        answer = self.call("POST", "/v1/agents/login", {"email": made["email"], "password": "matrix-temporary"})
        assert answer.status == 401 and answer.json["error"]["code"] == "password_change_required", answer
        return {"email": made["email"], "session": answer.json["error"]["session"], "password": "matrix-chosen"}

    # -- what refused calls must leave alone --

    def snapshot(self, kind: str) -> dict:
        path = {"conversation": f"/v1/conversations/{self.victim}",
                "canned": "/v1/canned-responses",
                "articles": "/v1/articles",
                "agents": "/v1/agents",
                "site": "/v1/sites/demo",
                "bot": "/v1/sites/demo/bot",
                "hours": "/v1/sites/demo/hours",
                "visitor": f"/v1/visitors/{self.ids['victim_visitor']}",
                "webhooks": "/v1/webhooks",
                "deliveries": f"/v1/webhooks/{self.ids['webhook']}/deliveries"}[kind]
        return self.as_admin("GET", path)

    def intrusions(self) -> list[dict]:
        """Events about the victim conversation its visitor and its watching admin received since the last call."""
        def about_victim(event: dict) -> bool:
            conversation = event.get("conversation") or {}
            return (event.get("type") in INTRUSIONS and event.get("conversation_id") == self.victim) or \
                conversation.get("id") == self.victim
        return [e for sock in (self.sockets["visitor"], self.witness) for e in sock.drain() if about_victim(e)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("authz"), PARLEY_WEBHOOK_MAX_ATTEMPTS="1") as stack:
        built = World(stack)
        try:
            built.build()
            yield built
        finally:
            built.close()


# --- REST: every route × every principal -------------------------------------------------------

REST_CASES = [pytest.param(route, principal, id=f"{route.id} as {principal}")
              for route in ROUTES for principal in authz.principals(route)]


def _fill(path: str, params: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: urllib.parse.quote(params[m[1]], safe=""), path)


@pytest.mark.parametrize("route, principal", REST_CASES)
def test_rest(world, route, principal):
    expect = rest_expectation(route, principal)
    allowed = expect.status == route.ok and not expect.own and (route.access != LINK or principal == "link")
    params = world.params(route, allowed)
    query = world.link_query(principal, params) if route.access == LINK else (route.query(world) if route.query else "")
    path = _fill(route.path, params) + (f"?{query}" if query else "")
    body = route.body(world) if route.body else None
    before = world.snapshot(route.snapshot) if route.snapshot and not allowed else None

    answer = world.call(route.method, path, body, world.tokens.get(principal))

    assert answer.status == expect.status, f"{route.id} as {principal}: {answer.status} {answer.text[:300]}"
    if expect.code:
        assert answer.json.get("error", {}).get("code") == expect.code, answer.text[:300]
    if expect.own:  # their own workspace's answer: not one id of demo's in it
        leaked = [i for i in world.demo_ids() if i in answer.text]
        assert not leaked, f"{route.id} as {principal} shows demo's {leaked}: {answer.text[:300]}"
    if before is not None:
        assert world.snapshot(route.snapshot) == before, f"{route.id} as {principal} changed demo's {route.snapshot}"


# --- websocket: $connect -----------------------------------------------------------------------

@pytest.mark.parametrize("principal", list(authz.CONNECT_REFUSED))
def test_connect_refused(world, principal):
    token = world.tokens[principal]
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(world.stack.ws, token), open_timeout=10, proxy=None, legacy=True).close()
    response = refused.value.response
    assert response.status_code == authz.CONNECT_REFUSED[principal], (principal, response.status_code, response.body)
    error = json.loads(response.body or b"{}").get("error", {})
    assert error.get("code") == ("unauthorized" if response.status_code == 401 else "forbidden"), response.body


@pytest.mark.parametrize("principal", authz.CONNECT_ACCEPTED)
def test_connect_accepted(world, principal):
    sock = Socket(world.stack.ws, world.tokens[principal], principal)
    try:
        sock.ping()
    finally:
        sock.close()


# --- websocket: every action × every principal -------------------------------------------------

def _ws_cases():
    from chalicelib.edges import ws
    agent_actions, visitor_actions = set(ws.AGENT_ACTIONS), set(ws.VISITOR_ACTIONS)
    return [pytest.param(row, principal, id=f"{row.id} as {principal}")
            for row in ACTIONS for principal in ws_principals(row, agent_actions, visitor_actions)]


@pytest.mark.parametrize("row, principal", _ws_cases())
def test_ws(world, row, principal):
    expect = ws_expectation(row, principal)
    if expect.owner:
        _allowed(world, row, expect)
    else:
        _refused(world, row, principal, expect)


def _allowed(world, row: authz.Action, expect: authz.WsExpect) -> None:
    """The owner, on a conversation of its own: the documented success (or the documented non-auth error)."""
    visitor, cid = world.fresh_chat(start=row.action != "start", join=row.action != "join")
    try:
        actor = visitor if row.kind == VISITOR else world.sockets["agent"]
        other = world.sockets["agent"] if row.kind == VISITOR else visitor
        before = world.as_admin("GET", f"/v1/conversations/{cid}") if cid else None
        ref = actor.send(row.action, **row.fields(cid))
        if expect.reply == "none":  # no reply to typing and read: the other side's event is the proof
            event = other.event(row.event, cid)
            assert event["author"]["kind"] == row.kind, event
            actor.ping()
            assert not [r for r in actor.replies if r.get("ref") == ref], actor.replies
        else:
            frame = actor.reply(ref)
            assert frame["type"] == expect.reply, f"{row.id} by its owner: {frame}"
            if expect.reply == "error":
                assert (frame["code"], frame.get("field")) == (expect.code, expect.field), frame
                after = world.as_admin("GET", f"/v1/conversations/{cid}")
                assert after["conversation"]["last_seq"] == before["conversation"]["last_seq"], after
            elif row.action in ("start", "current"):
                assert frame["conversation"]["id"] and (cid is None or frame["conversation"]["id"] == cid), frame
            elif row.action == "accept":  # give the slot back: agent@ takes more below
                world.sockets["agent"].ack("set_status", conversation_id=cid, status="solved")
        actor.ping()
    finally:
        visitor.close()


def _refused(world, row: authz.Action, principal: str, expect: authz.WsExpect) -> None:
    """Anyone else, on the victim conversation: the documented error, nothing changed, nothing sent to the
    victim's visitor or its watching admin, the socket still open."""
    sock = world.sockets[principal]
    world.intrusions()  # what came before this test is not its doing
    before = world.snapshot("conversation")

    ref = sock.send(row.action, **row.fields(world.victim))
    try:
        frame = sock.reply(ref, timeout=5)
    except AssertionError as exc:  # typing and read answer nothing when they succeed
        raise AssertionError(f"{row.id} as {principal} was not refused: no error came ({exc})") from None

    if expect.reply == "error":
        assert frame["type"] == "error", f"{row.id} as {principal} was not refused: {frame}"
        assert frame["code"] == expect.code, frame
        assert frame.get("field") == expect.field, frame
    else:
        assert frame["type"] == expect.reply, f"{row.id} as {principal}: {frame}"
        if expect.own:
            victim = {world.victim, world.ids["victim_visitor"]}
            leaked = [i for i in victim if i in json.dumps(frame)]
            assert not leaked, f"{row.id} as {principal} got the victim's {leaked}: {frame}"
    assert world.snapshot("conversation") == before, f"{row.id} as {principal} changed the victim conversation"
    sock.ping()
    assert not world.intrusions(), f"{row.id} as {principal} reached the victim's people"


# --- another workspace's agent named in a body ------------------------------------------------

def _own_b(world) -> dict:
    """demo-b's conversation as agent-b@ reads it."""
    cid = world.ids["visitor_b_conversation"]
    answer = world.call("GET", f"/v1/conversations/{cid}", token=world.tokens["agent_b"])
    assert answer.status == 200, answer
    return answer.json


def _demo_agent(world) -> dict:
    return next(a for a in world.as_admin("GET", "/v1/agents")["items"] if a["id"] == world.ids["agent"])


def test_rest_cannot_assign_another_workspaces_agent(world):
    """PATCH on one's own conversation naming demo's agent as assignee: no such agent (docs/protocol.md §13.2)."""
    before, agent = _own_b(world), _demo_agent(world)
    answer = world.call("PATCH", f"/v1/conversations/{world.ids['visitor_b_conversation']}",
                        {"assignee_id": world.ids["agent"]}, world.tokens["agent_b"])
    assert answer.status == 404, answer
    assert (answer.json["error"]["code"], answer.json["error"].get("field")) == ("not_found", "assignee_id"), answer
    assert _own_b(world) == before
    assert _demo_agent(world) == agent  # no slot of theirs taken


def test_ws_cannot_transfer_to_another_workspaces_agent(world):
    """transfer on one's own conversation to demo's agent: no such agent, nothing stored (§5)."""
    before, agent = _own_b(world), _demo_agent(world)
    frame = world.sockets["agent_b"].request("transfer", conversation_id=world.ids["visitor_b_conversation"],
                                             to_agent_id=world.ids["agent"], note="for you")
    assert (frame["type"], frame.get("code"), frame.get("field")) == ("error", "not_found", "assignee_id"), frame
    assert _own_b(world) == before
    assert _demo_agent(world) == agent
    events = world.sockets["agent"].drain()
    assert not [e for e in events if world.ids["visitor_b_conversation"] in json.dumps(e)], events


# --- completeness: nothing without a row, no row for nothing -------------------------------------

def _app_routes() -> set[tuple[str, str]]:
    import app
    return {(method, path) for path, methods in app.app.routes.items() for method in methods}


def _shape(path: str) -> str:
    """A path with its parameters unnamed: the docs write {id} where app.py writes {conversation_id}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_route_of_the_app_has_a_row():
    missing = _app_routes() - {(r.method, r.path) for r in ROUTES}
    assert not missing, f"routes with no row in tests/protocol/authz.py ROUTES: {sorted(missing)}"


def test_every_row_is_a_route_of_the_app():
    gone = {(r.method, r.path) for r in ROUTES} - _app_routes()
    assert not gone, f"rows of tests/protocol/authz.py ROUTES that app.py has no route for: {sorted(gone)}"


def test_rows_are_unique():
    for ids in ([r.id for r in ROUTES], [a.id for a in ACTIONS]):
        assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def _ws_actions(kind: str) -> set[str]:
    from chalicelib.edges import ws
    return set(ws.VISITOR_ACTIONS if kind == VISITOR else ws.AGENT_ACTIONS) | {"ping"}  # ping: before the lookup


def _rows(kind: str) -> set[str]:
    return {a.action for a in ACTIONS if a.kind in (kind, ANY)}


@pytest.mark.parametrize("kind", [VISITOR, AGENT_SOCKET])
def test_every_websocket_action_has_a_row(kind):
    missing = _ws_actions(kind) - _rows(kind)
    assert not missing, f"{kind} actions of chalicelib/ws.py with no row in tests/protocol/authz.py: {sorted(missing)}"


@pytest.mark.parametrize("kind", [VISITOR, AGENT_SOCKET])
def test_every_row_is_a_websocket_action(kind):
    gone = _rows(kind) - _ws_actions(kind)
    assert not gone, f"rows of tests/protocol/authz.py that chalicelib/ws.py has no {kind} action for: {sorted(gone)}"


# docs/protocol.md lists routes as table rows starting "| `METHOD /path`" (§2.4, §13.2, §18.3), and
# "| `OPTIONS` on the three routes above" for the widget routes' preflights.
DOC = ROOT / "docs" / "protocol.md"
_DOC_ROUTE = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE|OPTIONS) (/v1/[^`?\s]*)")


def _documented_routes() -> set[tuple[str, str]]:
    found, paths = set(), []
    for line in DOC.read_text().splitlines():
        match = _DOC_ROUTE.match(line)
        if match:
            found.add((match[1], _shape(match[2])))
            paths.append(_shape(match[2]))
        elif line.startswith("| `OPTIONS` on the three routes above"):
            found |= {("OPTIONS", path) for path in paths[-3:]}
    return found


def _documented_actions() -> dict[str, set[str]]:
    """§4's `### \\`action\\`` headings are the visitor's; §5's headings and its first paragraph's
    "Agents have `send`, …" the agent's."""
    text = DOC.read_text()
    visitor = text.split("\n## 4. ", 1)[1].split("\n## 5. ", 1)[0]
    agent = text.split("\n## 5. ", 1)[1].split("\n## 6. ", 1)[0]
    heading = re.compile(r"^### `(\w+)`", re.M)
    shared = re.search(r"^Agents have (.*)$", agent, re.M)[1]
    return {VISITOR: set(heading.findall(visitor)),
            AGENT_SOCKET: set(heading.findall(agent)) | set(re.findall(r"`(\w+)`", shared))}


def test_the_doc_parsers_find_the_routes_and_actions():
    """A parser that finds nothing would make the two tests below pass whatever the doc says."""
    assert len(_documented_routes()) >= 40 and ("PATCH", "/v1/conversations/{}") in _documented_routes()
    actions = _documented_actions()
    assert {"start", "send", "ping", "transcript"} <= actions[VISITOR], actions
    assert {"send", "presence", "transfer", "ping"} <= actions[AGENT_SOCKET], actions


def test_every_documented_route_has_a_row():
    missing = _documented_routes() - {(r.method, _shape(r.path)) for r in ROUTES}
    assert not missing, f"routes docs/protocol.md lists with no row in tests/protocol/authz.py: {sorted(missing)}"


def test_every_row_is_documented():
    undocumented = {(r.method, _shape(r.path)) for r in ROUTES} - _documented_routes()
    assert not undocumented, f"routes of tests/protocol/authz.py that docs/protocol.md does not list: {undocumented}"


@pytest.mark.parametrize("kind", [VISITOR, AGENT_SOCKET])
def test_every_documented_action_has_a_row(kind):
    missing = _documented_actions()[kind] - _rows(kind)
    assert not missing, f"{kind} actions docs/protocol.md names with no row in tests/protocol/authz.py: {missing}"


@pytest.mark.parametrize("kind", [VISITOR, AGENT_SOCKET])
def test_every_action_row_is_documented(kind):
    undocumented = _rows(kind) - _documented_actions()[kind]
    assert not undocumented, f"{kind} rows of tests/protocol/authz.py docs/protocol.md does not name: {undocumented}"
