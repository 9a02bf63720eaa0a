"""Webhooks: endpoints managed by admins, events dispatched to them, signed posts, retries with a
growing delay, the dead-letter queue, redelivery — on moto, through app.py's handlers."""
import json
import shutil
import socket
import subprocess
import time

import pytest
from chalice.test import Client

from chalicelib import events
from chalicelib.config import settings
from chalicelib.core.clock import iso
from chalicelib.edges import consumers
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.net import urls
from chalicelib.store.models import Agent, IdempotencyRecord, WebhookDelivery
from chalicelib.webhooks import delivery, endpoints
from tests.fakes import WebhookReceiver, tls_contexts
from tests.integration.webhook_env import documented


def deliveries(env, admin, hook_id) -> list[dict]:
    return endpoints.list_deliveries(admin, hook_id, {})["items"]


def verifier():
    """The Python snippet of docs/protocol.md §18.5, run as printed."""
    scope: dict = {}
    exec(documented("python", "def verify_parley_signature"), scope)
    return scope["verify_parley_signature"]


# --- endpoints: who may, and what is accepted -------------------------------------------------

def test_admins_manage_endpoints_and_see_the_secret_once(events_env):
    env = events_env
    admin = env.admin()
    created = endpoints.create_endpoint(admin, {"url": "https://hooks.example.com/parley",
                                               "events": ["message.created", "conversation.created"],
                                               "description": "CRM"})
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["conversation.created", "message.created"]  # canonical order
    assert created["secret_hint"] == "whsec_…" + created["secret"][-4:]
    listed = endpoints.list_endpoints(admin)
    assert [h["id"] for h in listed["items"]] == [created["id"]] and "secret" not in listed["items"][0]
    assert listed["event_types"] == list(events.EVENT_TYPES)

    updated = endpoints.update_endpoint(admin, created["id"], {"enabled": False, "events": ["csat.submitted"],
                                                              "description": None})
    assert (updated["enabled"], updated["events"], updated["description"]) == (False, ["csat.submitted"], None)
    assert "secret" not in updated
    rotated = endpoints.rotate_secret(admin, created["id"])
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    endpoints.delete_endpoint(admin, created["id"])
    assert endpoints.list_endpoints(admin)["items"] == []


def test_agents_and_other_workspaces_are_refused(events_env):
    env = events_env
    hook = env.endpoint("https://hooks.example.com/a")
    agent = env.world.agent_connection(env.world.agent("ws_a"))
    for call in (lambda: endpoints.list_endpoints(agent),
                 lambda: endpoints.create_endpoint(agent, {"url": "https://x.example.com", "events": ["message.created"]}),
                 lambda: endpoints.update_endpoint(agent, hook["id"], {"enabled": False}),
                 lambda: endpoints.delete_endpoint(agent, hook["id"]),
                 lambda: endpoints.send_test(agent, hook["id"])):
        with pytest.raises(ForbiddenError):
            call()
    other = env.admin("ws_b")
    assert endpoints.list_endpoints(other)["items"] == []
    for call in (lambda: endpoints.update_endpoint(other, hook["id"], {"enabled": False}),
                 lambda: endpoints.delete_endpoint(other, hook["id"]),
                 lambda: endpoints.rotate_secret(other, hook["id"]),
                 lambda: endpoints.send_test(other, hook["id"]),
                 lambda: endpoints.list_deliveries(other, hook["id"], {})):
        with pytest.raises(NotFoundError):
            call()


@pytest.mark.parametrize("body, field", [
    ({"events": ["message.created"]}, "url"),
    ({"url": "http://hooks.example.com/x", "events": ["message.created"]}, "url"),
    ({"url": "ftp://hooks.example.com/x", "events": ["message.created"]}, "url"),
    ({"url": "https://10.1.2.3/x", "events": ["message.created"]}, "url"),
    ({"url": "https://169.254.169.254/latest/meta-data", "events": ["message.created"]}, "url"),
    ({"url": "https://[fd00::1]/x", "events": ["message.created"]}, "url"),
    ({"url": "https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "events": ["message.created"]}, "url"),  # NAT64
    ({"url": "https://[2002:a9fe:a9fe::]/latest/meta-data", "events": ["message.created"]}, "url"),  # 6to4
    ({"url": "https://user:pw@hooks.example.com/x", "events": ["message.created"]}, "url"),
    ({"url": "https://hooks.example.com/" + "x" * 2100, "events": ["message.created"]}, "url"),
    ({"url": 42, "events": ["message.created"]}, "url"),
    ({"url": "https://hooks.example.com/x"}, "events"),
    ({"url": "https://hooks.example.com/x", "events": []}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["message.deleted"]}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["webhook.test"]}, "events"),
    ({"url": "https://hooks.example.com/x", "events": "message.created"}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["message.created"], "enabled": "yes"}, "enabled"),
    ({"url": "https://hooks.example.com/x", "events": ["message.created"], "description": "d" * 201}, "description"),
    ({"url": "https://hooks.example.com/x", "events": ["message.created"], "secret": "mine"}, "secret"),
])
def test_bad_input_is_a_bad_request_naming_the_field(events_env, body, field):
    with pytest.raises(BadRequestError) as refused:
        endpoints.create_endpoint(events_env.admin(), body)
    assert refused.value.field == field


def test_loopback_urls_only_where_allowed_and_ids_are_checked(events_env, monkeypatch):
    env = events_env
    admin = env.admin()
    hook = env.endpoint("http://127.0.0.1:9/hook", admin=admin)  # allowed in tests
    monkeypatch.setattr(settings, "webhook_allow_loopback", False)
    for url in ("http://127.0.0.1:9/hook", "https://localhost/hook", "https://127.0.0.1/hook", "https://[::1]/x"):
        with pytest.raises(BadRequestError) as refused:
            endpoints.update_endpoint(admin, hook["id"], {"url": url})
        assert refused.value.field == "url"
    assert urls.post("http://127.0.0.1:9/hook", b"{}", {}) == (None, "refused: url must not point at this machine")
    with pytest.raises(BadRequestError) as refused:
        endpoints.update_endpoint(admin, "../etc", {"enabled": True})
    assert refused.value.field == "webhook_id"
    with pytest.raises(BadRequestError) as refused:
        endpoints.retry_delivery(admin, hook["id"], "nope")
    assert refused.value.field == "delivery_id"
    with pytest.raises(BadRequestError) as refused:
        endpoints.list_deliveries(admin, hook["id"], {"limit": "1000"})
    assert refused.value.field == "limit"


def test_a_workspace_has_at_most_ten_endpoints(events_env):
    env = events_env
    admin = env.admin()
    for i in range(endpoints.MAX_ENDPOINTS):
        env.endpoint(f"https://hooks.example.com/{i}", admin=admin)
    with pytest.raises(ConflictError):
        env.endpoint("https://hooks.example.com/one-more", admin=admin)


# --- the REST routes, through app.py and a real Cognito sign-in -------------------------------

def _signed_in(env, cognito, email: str, role: str, workspace_id: str = "ws_a") -> dict:
    from chalicelib.identity import sessions
    idp, pool = cognito["idp"], cognito["pool_id"]
    user = idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                                 UserAttributes=[{"Name": "email", "Value": email}])["User"]
    idp.admin_set_user_password(UserPoolId=pool, Username=email, Password="demo-password", Permanent=True)
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    Agent(sub, workspace_id=workspace_id, email=email, name=email, role=role, created_at=iso()).save()
    token = sessions.agent_login({"email": email, "password": "demo-password"})["token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_the_rest_routes(events_env, cognito):
    env = events_env
    receiver = env.receiver()
    admin = _signed_in(env, cognito, "boss@example.com", "admin")
    agent = _signed_in(env, cognito, "alex@example.com", "agent")
    stranger = _signed_in(env, cognito, "other@example.com", "admin", "ws_b")
    with Client(env.app.app) as client:
        post = lambda path, body, headers=admin: client.http.post(path, headers=headers, body=json.dumps(body))
        made = post("/v1/webhooks", {"url": receiver.url, "events": ["message.created"]})
        assert made.status_code == 201 and made.json_body["secret"].startswith("whsec_")
        hook_id = made.json_body["id"]
        assert client.http.get("/v1/webhooks", headers=agent).status_code == 403
        bad = post("/v1/webhooks", {"url": "http://example.com", "events": ["message.created"]})
        assert bad.status_code == 400 and bad.json_body["error"] == {
            "code": "bad_request", "message": "url must be an https:// URL", "field": "url"}
        patched = client.http.patch(f"/v1/webhooks/{hook_id}", headers=admin, body=json.dumps({"enabled": False}))
        assert patched.status_code == 200 and patched.json_body["enabled"] is False
        assert client.http.patch(f"/v1/webhooks/{hook_id}", headers=stranger,
                                 body=json.dumps({"enabled": True})).status_code == 404
        tested = post(f"/v1/webhooks/{hook_id}/test", {})
        assert tested.status_code == 202 and tested.json_body["event_type"] == "webhook.test"
        env.until(lambda: receiver.posts, what="the test post")
        listed = client.http.get(f"/v1/webhooks/{hook_id}/deliveries?limit=5", headers=admin)
        assert listed.status_code == 200 and listed.json_body["items"][0]["status"] == "delivered"
        retried = post(f"/v1/webhooks/{hook_id}/deliveries/{tested.json_body['id']}/retry", {})
        assert retried.status_code == 409  # delivered: nothing to retry
        rotated = post(f"/v1/webhooks/{hook_id}/rotate-secret", {})
        assert rotated.status_code == 200 and rotated.json_body["secret"] != made.json_body["secret"]
        assert client.http.delete(f"/v1/webhooks/{hook_id}", headers=agent).status_code == 403
        assert client.http.delete(f"/v1/webhooks/{hook_id}", headers=admin).status_code == 204
        assert client.http.get("/v1/webhooks", headers=admin).json_body["items"] == []


def test_addresses_that_reach_the_metadata_service_are_refused_over_rest(events_env, cognito):
    """The NAT64 and 6to4 spellings of 169.254.169.254, for an endpoint and for a site's team alert."""
    admin = _signed_in(events_env, cognito, "boss@example.com", "admin")
    with Client(events_env.app.app) as client:
        for url in ("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "https://[2002:a9fe:a9fe::]/latest/meta-data"):
            made = client.http.post("/v1/webhooks", headers=admin,
                                    body=json.dumps({"url": url, "events": ["message.created"]}))
            assert made.status_code == 400 and made.json_body["error"] == {
                "code": "bad_request", "field": "url",
                "message": "url must not point at a private or reserved address (it carries 169.254.169.254)"}
            site = client.http.patch("/v1/sites/site-a", headers=admin, body=json.dumps({"webhook_url": url}))
            assert site.status_code == 400 and site.json_body["error"] == {
                "code": "bad_request", "field": "webhook_url",
                "message": "webhook_url must not point at a private or reserved address (it carries 169.254.169.254)"}
        assert client.http.get("/v1/webhooks", headers=admin).json_body["items"] == []


class RebindingDns:
    """A DNS server with a zero TTL that answers `public` and `private` in turn for `name` (the
    DNS-rebinding attack: a check sees the first answer, the connection the second); other names
    resolve as usual."""

    def __init__(self, monkeypatch, name: str, *answers: str):
        self.name, self.answers, self.asked = name, answers, 0
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host != self.name:
            return self._real(host, port, *args, **kwargs)
        answer = self.answers[self.asked % len(self.answers)]
        self.asked += 1
        return self._real(answer, port, *args, **kwargs)


def test_a_dns_answer_that_changes_after_the_check_is_refused_before_a_byte_is_sent(events_env, monkeypatch):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    monkeypatch.setattr(settings, "webhook_allow_loopback", False)
    url = f"https://rebind.parley.test:{receiver.port}/parley"
    hook = env.endpoint(url, ["message.created"], admin=admin)  # a hostname: its addresses are checked at each post
    dns = RebindingDns(monkeypatch, "rebind.parley.test", "8.8.8.8", "127.0.0.1")

    endpoints.send_test(admin, hook["id"])
    env.until(lambda: deliveries(env, admin, hook["id"])[0]["attempts"], what="the first try")
    env.until(lambda: receiver.openings, what="the receiver to see the connection")
    assert receiver.openings == [b""] and receiver.posts == []  # closed before a byte: no TLS hello, no post
    (tried,) = deliveries(env, admin, hook["id"])
    assert (tried["status"], tried["response_code"], tried["error"]) == (
        "retrying", None, "refused: connected to a loopback address")
    assert dns.asked == 2  # the check saw 8.8.8.8, the connection 127.0.0.1

    # A site's team alert goes through the same post.
    with pytest.raises(delivery.WebhookError, match="refused: connected to a loopback address"):
        delivery.deliver_alert({"url": url, "payload": {"text": "A chat was missed"}})
    env.until(lambda: len(receiver.openings) == 2, what="the receiver to see the alert's connection")
    assert receiver.openings == [b"", b""] and receiver.posts == []


def test_an_honest_host_is_posted_to_by_name_over_http_and_https(events_env, monkeypatch, tmp_path):
    """Loopback allowed (as in the local stack): the post goes to the address the name resolves to, with
    the name in the Host header, and over https the certificate is checked against the name."""
    env = events_env
    admin = env.admin()
    plain = env.receiver()
    hook = env.endpoint(f"http://localhost:{plain.port}/parley", ["message.created"], admin=admin)
    endpoints.send_test(admin, hook["id"])
    env.until(lambda: plain.posts, what="the post over http")
    assert plain.posts[0]["headers"]["host"] == f"localhost:{plain.port}"
    assert plain.posts[0]["json"]["type"] == "webhook.test"

    server_tls, client_tls = tls_contexts("hooks.parley.test", tmp_path)
    monkeypatch.setattr(urls, "_tls_context", client_tls)  # trusts only the test certificate
    secure = WebhookReceiver(tls=server_tls)
    try:
        RebindingDns(monkeypatch, "hooks.parley.test", "127.0.0.1")
        signed = env.endpoint(f"https://hooks.parley.test:{secure.port}/parley?from=parley", admin=admin)
        endpoints.send_test(admin, signed["id"])
        env.until(lambda: secure.posts, what="the post over https")
        assert secure.posts[0]["headers"]["host"] == f"hooks.parley.test:{secure.port}"
        assert deliveries(env, admin, signed["id"])[0]["status"] == "delivered"

        status, error = urls.post(f"https://127.0.0.1:{secure.port}/parley", b"{}", {})
        assert status is None and "certificate" in error.lower()  # the certificate names hooks.parley.test
        assert len(secure.posts) == 1
    finally:
        secure.close()


# --- dispatch and delivery --------------------------------------------------------------------

def test_events_reach_subscribed_endpoints_signed_as_documented(events_env):
    env = events_env
    receiver, other = env.receiver(), env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["conversation.created", "message.created"], admin=admin)
    env.endpoint(other.url, ["csat.submitted"], admin=admin)
    disabled = env.receiver()
    off = env.endpoint(disabled.url, ["message.created"], admin=admin)
    endpoints.update_endpoint(admin, off["id"], {"enabled": False})
    foreign = env.receiver()
    env.endpoint(foreign.url, ["message.created"], admin=env.admin("ws_b"))

    _, cid = env.chat("Hello there")
    env.until(lambda: len(receiver.posts) >= 2, what="two posts")
    env.pipeline.drain()
    assert sorted(receiver.types()) == ["conversation.created", "message.created"]
    assert other.posts == [] and disabled.posts == [] and foreign.posts == []

    verify = verifier()
    for post in receiver.posts:
        headers, event = post["headers"], post["json"]
        assert verify(hook["secret"], headers["parley-signature"], post["body"])
        assert not verify(hook["secret"], headers["parley-signature"], post["body"] + b" ")
        assert not verify("whsec_wrong", headers["parley-signature"], post["body"])
        assert headers["user-agent"] == "Parley-Webhooks/1" and headers["content-type"] == "application/json"
        assert headers["parley-event-id"] == event["id"] and headers["parley-event-type"] == event["type"]
        assert headers["parley-delivery-attempt"] == "1"
        assert event["workspace_id"] == "ws_a" and event["data"]["conversation"]["id"] == cid
    stamp = int(receiver.posts[0]["headers"]["parley-signature"].split(",")[0][2:])
    old = f"t={stamp - 600},v1={delivery.sign(hook['secret'], stamp - 600, receiver.posts[0]['body'])}"
    assert not verify(hook["secret"], old, receiver.posts[0]["body"])  # a replay outside the tolerance

    records = deliveries(env, admin, hook["id"])
    assert {(d["status"], d["attempts"], d["response_code"]) for d in records} == {("delivered", 1, 200)}
    assert {d["event_type"] for d in records} == {"conversation.created", "message.created"}


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_the_documented_node_snippet_verifies_a_real_delivery(events_env, tmp_path):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, admin=admin)
    endpoints.send_test(admin, hook["id"])
    env.until(lambda: receiver.posts, what="the test post")
    post = receiver.posts[0]
    script = tmp_path / "verify.js"
    script.write_text(documented("js", "function verifyParleySignature") + """
const [secret, header, bodyFile] = process.argv.slice(2);
const body = require("fs").readFileSync(bodyFile);
process.stdout.write(String(verifyParleySignature(secret, header, body)));
""")
    body = tmp_path / "body.json"
    body.write_bytes(post["body"])
    run = lambda secret: subprocess.run(["node", str(script), secret, post["headers"]["parley-signature"], str(body)],
                                        capture_output=True, text=True, timeout=30).stdout
    assert run(hook["secret"]) == "true" and run("whsec_wrong") == "false"


def test_a_failing_receiver_is_retried_later_each_time_then_dead_lettered(events_env):
    env = events_env
    receiver = env.receiver(default=503)
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["message.created"], admin=admin)
    _, cid = env.chat("Anyone?")
    env.until(lambda: receiver.posts, what="the first try")
    (first,) = deliveries(env, admin, hook["id"])
    assert (first["status"], first["attempts"], first["response_code"], first["error"]) == (
        "retrying", 1, 503, "HTTP 503")
    assert first["next_attempt_at"] > first["updated_at"]

    env.until(lambda: deliveries(env, admin, hook["id"])[0]["status"] == "failed", timeout=20,
              what="the last try")
    assert len(receiver.posts) == settings.webhook_max_attempts == 3
    assert [p["headers"]["parley-delivery-attempt"] for p in receiver.posts] == ["1", "2", "3"]
    assert len({p["headers"]["parley-event-id"] for p in receiver.posts}) == 1  # one event, tried 3 times
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.posts, receiver.posts[1:], strict=False)]
    assert gaps[0] >= delivery.retry_delay(1) == 1 and gaps[1] >= delivery.retry_delay(2) == 4
    assert gaps[1] > gaps[0]
    (failed,) = deliveries(env, admin, hook["id"])
    assert (failed["status"], failed["attempts"], failed["response_code"], failed["next_attempt_at"]) == (
        "failed", 3, 503, None)
    (dead,) = env.queued(settings.webhook_dlq_url)
    assert (dead["delivery_id"], dead["attempt"], dead["round_start"], dead["last_error"]) == (
        failed["id"], 4, 3, "HTTP 503")

    # The receiver is fixed; an admin retries: a new round, and it is delivered.
    receiver.default = 204
    retried = endpoints.retry_delivery(admin, hook["id"], failed["id"])
    assert retried["status"] == "retrying"
    with pytest.raises(ConflictError):
        endpoints.retry_delivery(admin, hook["id"], failed["id"])
    env.until(lambda: deliveries(env, admin, hook["id"])[0]["status"] == "delivered", what="the retry")
    (done,) = deliveries(env, admin, hook["id"])
    assert (done["attempts"], done["response_code"], done["error"]) == (4, 204, None)
    assert receiver.posts[-1]["headers"]["parley-delivery-attempt"] == "4"

    # The dead-letter job, moved back to the webhook queue after that, posts nothing more.
    env.sqs.send_message(QueueUrl=settings.webhook_queue_url, MessageBody=json.dumps(dead))
    env.pipeline.drain()
    assert len(receiver.posts) == 4


def test_every_try_is_claimed_once_and_events_are_dispatched_once(events_env):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["message.created"], admin=admin)
    event = events.envelope("evt_" + "a" * 32, "message.created", iso(), "ws_a", {"note": "once"})
    assert delivery.dispatch_event(event) == 1
    # The same event again (a replayed stream batch, or a dispatcher that died after writing the
    # record): never tried yet, so its job is queued again: two jobs for try 1.
    assert delivery.dispatch_event(event) == 1
    env.pipeline.drain()
    assert len(receiver.posts) == 1 and receiver.posts[0]["json"]["data"] == {"note": "once"}
    assert delivery.dispatch_event(event) == 0  # tried: a replay queues nothing
    (record,) = deliveries(env, admin, hook["id"])
    job = {"kind": "webhook", "workspace_id": "ws_a", "webhook_id": hook["id"], "delivery_id": record["id"],
           "attempt": 1, "round_start": 0}
    env.sqs.send_message(QueueUrl=settings.webhook_queue_url, MessageBody=json.dumps(job))
    env.pipeline.drain()
    assert len(receiver.posts) == 1  # a late copy of try 1's job
    # the same message delivered twice by SQS (at least once) is posted once: the consumer's idempotency
    message = {"messageId": "m-1", "receiptHandle": "r-1", "body": json.dumps({**job, "attempt": 2, "round_start": 1}),
               "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"}
    assert consumers.consume({"Records": [message, message]}, delivery.handle_job, name="webhook",
                             with_message_id=True) == {"batchItemFailures": []}
    assert len(receiver.posts) == 2
    assert WebhookDelivery.get(hook["id"], record["id"]).attempts == 2


def test_the_events_queue_consumer_relies_on_its_own_records_not_idempotency_records(events_env):
    """dispatch_webhooks is idempotent by its delivery records, so it writes no powertools records: two
    fewer writes per domain event, and a redelivered message still queues nothing twice."""
    env = events_env
    receiver = env.receiver()
    hook = env.endpoint(receiver.url, ["message.created"], admin=env.admin())
    event = events.envelope("evt_" + "b" * 32, "message.created", iso(), "ws_a", {"note": "twice"})
    message = {"messageId": "m-9", "receiptHandle": "r-9", "body": json.dumps({"id": "eb-1", "detail": event}),
               "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"}
    assert env.app.app.handler_map["dispatch_webhooks"]({"Records": [message]}, None) == {"batchItemFailures": []}
    env.pipeline.drain()
    assert env.app.app.handler_map["dispatch_webhooks"]({"Records": [message]}, None) == {"batchItemFailures": []}
    env.pipeline.drain()
    assert len(receiver.posts) == 1
    assert len(list(WebhookDelivery.query(hook["id"]))) == 1
    assert not [r for r in IdempotencyRecord.scan() if r.id.startswith(f"{settings.service_name}-events")]


def test_disabled_and_deleted_endpoints_get_nothing_more_and_tests_go_through(events_env):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["message.created"], admin=admin)
    endpoints.update_endpoint(admin, hook["id"], {"enabled": False})
    env.chat()
    env.pipeline.drain()
    assert receiver.posts == [] and deliveries(env, admin, hook["id"]) == []
    tested = endpoints.send_test(admin, hook["id"])  # a test goes to a disabled endpoint too
    env.until(lambda: receiver.posts, what="the test post")
    assert receiver.posts[0]["json"]["type"] == "webhook.test"
    assert receiver.posts[0]["json"]["data"]["webhook"]["id"] == hook["id"]
    assert deliveries(env, admin, hook["id"])[0]["id"] == tested["id"]

    endpoints.update_endpoint(admin, hook["id"], {"enabled": True})
    env.chat()
    for reader in env.pipeline.readers:  # events dispatched, jobs queued, not yet delivered
        reader.pump()
    from infra.local.events import pump_queue
    pump_queue(env.sqs, settings.events_queue_url, env.app.app.handler_map["dispatch_webhooks"], "dispatch")
    endpoints.update_endpoint(admin, hook["id"], {"enabled": False})
    env.pipeline.drain()
    pending = [d for d in deliveries(env, admin, hook["id"]) if d["event_type"] == "message.created"]
    assert [(d["status"], d["error"], d["response_code"]) for d in pending] == [
        ("failed", "the endpoint is disabled", None)]
    assert env.queued(settings.webhook_dlq_url) == []  # nothing to replay: it was never posted
    assert len(receiver.posts) == 1


def test_deliveries_are_listed_newest_first_in_pages(events_env):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, admin=admin)
    made = []
    for _ in range(5):
        made.append(endpoints.send_test(admin, hook["id"])["id"])
        time.sleep(0.002)  # ids sort by the event's millisecond
    page = endpoints.list_deliveries(admin, hook["id"], {"limit": "3"})
    assert [d["id"] for d in page["items"]] == made[::-1][:3] and page["cursor"] == made[2]
    rest = endpoints.list_deliveries(admin, hook["id"], {"limit": "3", "cursor": page["cursor"]})
    assert [d["id"] for d in rest["items"]] == made[::-1][3:] and rest["cursor"] is None


def test_team_alerts_still_go_through_the_same_queue(events_env):
    env = events_env
    receiver = env.receiver(statuses=[500])
    assert delivery.enqueue(receiver.url, {"text": "A chat was missed"})
    env.pipeline.drain()  # the 500 leaves it on the queue for SQS to deliver again
    assert [p["status"] for p in receiver.posts] == [500]
    env.until(lambda: len(receiver.posts) == 2, what="SQS delivering the alert again")
    assert receiver.posts[1]["json"] == {"text": "A chat was missed"}
