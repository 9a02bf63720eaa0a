"""Standard Webhooks signatures beside Parley-Signature: real deliveries through app.py's handlers on moto,
verified by the reference `standardwebhooks` package (PyPI) as a receiver would verify them."""
import base64
import binascii
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chalicelib.webhooks import delivery, endpoints
from tests.integration.test_webhooks import deliveries, verifier
from tests.integration.webhook_env import documented


def standard_headers(post: dict) -> dict:
    return {name: post["headers"][name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}


def webhooks_secret(hook: dict) -> str:
    """The Parley secret behind a standard one: the key bytes are the secret's UTF-8."""
    return base64.b64decode(hook["standard_webhooks_secret"].removeprefix("whsec_")).decode()


def test_a_real_delivery_verifies_with_the_standard_webhooks_package_and_keeps_parley_signature(events_env):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["conversation.created", "message.created"], admin=admin)
    _, cid = env.chat("Standard, please")
    env.until(lambda: len(receiver.posts) >= 2, what="two posts")

    for post in receiver.posts:
        event = Webhook(hook["standard_webhooks_secret"]).verify(post["body"], post["headers"])
        assert event == post["json"] and event["data"]["conversation"]["id"] == cid
        assert post["headers"]["webhook-id"] == post["headers"]["parley-event-id"] == event["id"]
        assert abs(int(post["headers"]["webhook-timestamp"]) - time.time()) < 60
        assert post["headers"]["parley-signature"].startswith(f"t={post['headers']['webhook-timestamp']},v1=")
        assert verifier()(hook["secret"], post["headers"]["parley-signature"], post["body"])  # the old header too


def test_a_tampered_body_an_old_timestamp_or_another_secret_fails_verification(events_env):
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, admin=admin)
    endpoints.send_test(admin, hook["id"])
    env.until(lambda: receiver.posts, what="the test post")
    post = receiver.posts[0]
    standard = Webhook(hook["standard_webhooks_secret"])
    assert standard.verify(post["body"], standard_headers(post))["type"] == "webhook.test"

    with pytest.raises(WebhookVerificationError):
        standard.verify(post["body"].replace(b"A test event", b"A fake event"), standard_headers(post))
    # Signed with the right key, but 10 minutes ago: the package's 5-minute tolerance refuses the replay.
    stamp = int(post["headers"]["webhook-timestamp"]) - 600
    old = {**standard_headers(post), "webhook-timestamp": str(stamp),
           "webhook-signature": delivery.sign_standard(webhooks_secret(hook), post["headers"]["webhook-id"], stamp,
                                                       post["body"])}
    with pytest.raises(WebhookVerificationError, match="too old"):
        standard.verify(post["body"], old)
    with pytest.raises(WebhookVerificationError):  # another event's id under this signature
        standard.verify(post["body"], {**standard_headers(post), "webhook-id": "evt_" + "0" * 32})
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoints.standard_secret("whsec_another")).verify(post["body"], standard_headers(post))
    # The Parley `secret` itself is not a Standard Webhooks secret: its url-safe characters either decode
    # to other bytes (the signature fails) or leave a length base64 cannot decode (the package refuses the key).
    with pytest.raises((WebhookVerificationError, binascii.Error)):
        Webhook(hook["secret"]).verify(post["body"], standard_headers(post))

    # After a rotation, only the new secret's standard form verifies the next post.
    rotated = endpoints.rotate_secret(admin, hook["id"])
    endpoints.send_test(admin, hook["id"])
    env.until(lambda: len(receiver.posts) == 2, what="the second test post")
    Webhook(rotated["standard_webhooks_secret"]).verify(receiver.posts[1]["body"], receiver.posts[1]["headers"])
    with pytest.raises(WebhookVerificationError):
        standard.verify(receiver.posts[1]["body"], standard_headers(receiver.posts[1]))


def test_every_try_and_every_retry_round_of_a_delivery_carry_the_same_webhook_id(events_env):
    env = events_env
    receiver = env.receiver(default=503)
    admin = env.admin()
    hook = env.endpoint(receiver.url, ["message.created"], admin=admin)
    env.chat("Try me again")
    env.until(lambda: deliveries(env, admin, hook["id"])[0]["status"] == "failed", timeout=20, what="3 tries")
    receiver.default = 200
    endpoints.retry_delivery(admin, hook["id"], deliveries(env, admin, hook["id"])[0]["id"])
    env.until(lambda: deliveries(env, admin, hook["id"])[0]["status"] == "delivered", what="the retry round")

    assert [p["headers"]["parley-delivery-attempt"] for p in receiver.posts] == ["1", "2", "3", "4"]
    assert len({p["headers"]["webhook-id"] for p in receiver.posts}) == 1
    assert receiver.posts[0]["headers"]["webhook-id"] == receiver.posts[0]["json"]["id"]
    standard = Webhook(hook["standard_webhooks_secret"])
    for post in receiver.posts:  # each try is signed afresh, at its own time
        assert standard.verify(post["body"], post["headers"]) == receiver.posts[0]["json"]
    assert len({p["headers"]["webhook-signature"] for p in receiver.posts}) == len(
        {p["headers"]["webhook-timestamp"] for p in receiver.posts})


def test_the_standard_secret_is_the_same_key_so_endpoints_made_before_it_need_no_new_secret(events_env):
    env = events_env
    admin = env.admin()
    created = env.endpoint("https://hooks.example.com/parley", admin=admin)
    assert created["standard_webhooks_secret"].startswith("whsec_")
    assert webhooks_secret(created) == created["secret"]
    assert "standard_webhooks_secret" not in endpoints.list_endpoints(admin)["items"][0]  # shown once, like secret
    body, stamp = b'{"id":"evt_1"}', int(time.time())
    assert Webhook(created["standard_webhooks_secret"]).verify(body, {
        "webhook-id": "evt_1", "webhook-timestamp": str(stamp),
        "webhook-signature": delivery.sign_standard(created["secret"], "evt_1", stamp, body)}) == {"id": "evt_1"}


def test_the_documented_python_snippet_verifies_a_real_delivery(events_env):
    """docs/protocol.md §18.5's Standard Webhooks snippet, run as printed, against a real post."""
    env = events_env
    receiver = env.receiver()
    admin = env.admin()
    hook = env.endpoint(receiver.url, admin=admin)
    endpoints.send_test(admin, hook["id"])
    env.until(lambda: receiver.posts, what="the test post")
    scope: dict = {}
    exec(documented("python", "def parley_event"), scope)
    post = receiver.posts[0]
    assert scope["parley_event"](hook["standard_webhooks_secret"], post["body"], post["headers"])["type"] == "webhook.test"
    assert scope["parley_event"](hook["standard_webhooks_secret"], post["body"] + b" ", post["headers"]) is None
