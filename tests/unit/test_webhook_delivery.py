"""Endpoint deliveries' pure rules (chalicelib/webhooks/delivery.py): when the next try comes, the
delivery's id, and the two signatures a receiver checks."""
import json
import time

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from chalicelib.config import settings
from chalicelib.webhooks import delivery
from chalicelib.webhooks.delivery import MAX_DELAY, delivery_id, retry_delay, sign, sign_standard, signature_headers
from chalicelib.webhooks.endpoints import standard_secret

SECRET = "whk_s3cret-key-0123"
BODY = b'{"id":"ev_1","type":"conversation.created"}'
# Computed outside Python: printf '%s' "1700000000.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex,
# and printf '%s' "ev_1.1700000000.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
V1_HEX = "6bb98c41eab4ec95b894f63d9dcbdb629b003c95e6f76d3a4af677a0b69e869e"
STANDARD_B64 = "z/YX877Y0xiwpZoy7tuoP0wPUMeq4+DaQ5RrXDWbnGo="


# --- retry_delay ----------------------------------------------------------------------------

def test_the_delay_grows_fourfold_from_the_base_to_the_sqs_ceiling(monkeypatch):
    monkeypatch.setattr(settings, "webhook_retry_base", 30)
    assert [retry_delay(tries) for tries in range(1, 8)] == [30, 120, 480, 900, 900, 900, 900]
    assert MAX_DELAY == 900  # SQS DelaySeconds' maximum: a longer delay would be refused


def test_no_failed_try_yet_counts_as_one(monkeypatch):
    monkeypatch.setattr(settings, "webhook_retry_base", 30)
    assert retry_delay(0) == retry_delay(-3) == retry_delay(1) == 30


def test_the_base_comes_from_the_settings_and_the_cap_holds_for_any_base(monkeypatch):
    monkeypatch.setattr(settings, "webhook_retry_base", 5)
    assert [retry_delay(tries) for tries in range(1, 6)] == [5, 20, 80, 320, 900]
    monkeypatch.setattr(settings, "webhook_retry_base", 0)
    assert retry_delay(4) == 0
    monkeypatch.setattr(settings, "webhook_retry_base", 10_000)
    assert retry_delay(1) == MAX_DELAY
    assert retry_delay(10_000) == MAX_DELAY  # a large count is no overflow and no wait beyond the ceiling


# --- delivery_id ----------------------------------------------------------------------------

def event(event_id="ev_1", occurred_at="2026-11-23T10:00:00.123Z") -> dict:
    return {"id": event_id, "occurred_at": occurred_at}


def test_the_id_is_the_events_milliseconds_then_a_digest_of_event_and_endpoint():
    given = delivery_id(event(), "wh_1")
    assert given == delivery_id(event(), "wh_1")  # stable: a redelivered event finds its record
    assert given.startswith("dl_1795428000123") and len(given) == len("dl_") + 13 + 12
    assert int(given[16:], 16) >= 0  # the last 12 characters are hex
    assert delivery_id(event(), "wh_2") != given != delivery_id(event("ev_2"), "wh_1")
    assert delivery_id(event(), "wh_2")[:16] == given[:16]  # same event, same time prefix


def test_ids_sort_as_their_events_happened_across_digit_counts_and_offsets():
    stamps = ["1970-01-01T00:00:01.000Z", "2001-09-09T01:46:39.999Z", "2001-09-09T01:46:40.000Z",
              "2026-11-23T10:00:00.123Z", "2026-11-23T11:00:00.124+01:00", "2286-11-20T17:46:39.998Z"]
    ids = [delivery_id(event(f"ev_{i}", stamp), "wh_1") for i, stamp in enumerate(stamps)]
    assert sorted(ids) == ids  # 13 digits, zero-padded: string order is time order


def test_an_event_without_a_readable_time_is_stamped_now(monkeypatch):
    monkeypatch.setattr(delivery, "now", lambda: 1_700_000_000.5)
    for broken in ({"id": "ev_1"}, event(occurred_at="yesterday")):
        assert delivery_id(broken, "wh_1").startswith("dl_1700000000500")


@pytest.mark.parametrize("occurred_at", [None, 1_700_000_000])
def test_an_event_whose_time_is_not_a_string_is_stamped_now(monkeypatch, occurred_at):
    monkeypatch.setattr(delivery, "now", lambda: 1_700_000_000.5)
    assert delivery_id(event(occurred_at=occurred_at), "wh_1").startswith("dl_1700000000500")


# --- signatures -----------------------------------------------------------------------------

def test_the_v1_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    assert sign(SECRET, 1700000000, BODY) == V1_HEX
    assert sign(SECRET, 1700000001, BODY) != V1_HEX
    assert sign(SECRET + "x", 1700000000, BODY) != V1_HEX
    assert sign(SECRET, 1700000000, BODY + b" ") != V1_HEX


def test_the_standard_signature_is_v1_comma_base64_hmac_of_id_timestamp_body():
    assert sign_standard(SECRET, "ev_1", 1700000000, BODY) == "v1," + STANDARD_B64
    assert sign_standard(SECRET, "ev_2", 1700000000, BODY) != "v1," + STANDARD_B64


def test_one_post_carries_both_signatures_keyed_by_the_event():
    assert signature_headers(SECRET, "ev_1", 1700000000, BODY) == {
        "Parley-Signature": f"t=1700000000,v1={V1_HEX}",
        "webhook-id": "ev_1", "webhook-timestamp": "1700000000", "webhook-signature": "v1," + STANDARD_B64}


def test_the_standard_webhooks_library_verifies_the_headers_with_the_secret_it_is_given():
    stamp = int(time.time())  # the library refuses a timestamp more than 5 minutes away
    headers = signature_headers(SECRET, "ev_1", stamp, BODY)
    receiver = StandardWebhook(standard_secret(SECRET))
    assert standard_secret(SECRET).startswith("whsec_")
    assert receiver.verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY.replace(b"created", b"deleted"), headers)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY, {**headers, "webhook-id": "ev_2"})
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(standard_secret("another-secret")).verify(BODY, headers)
