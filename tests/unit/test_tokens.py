"""Visitor tokens, resume rules and identity verification: pure rules, no AWS."""
import time

import jwt
import pytest

from chalicelib.config import settings
from chalicelib.errors import UnauthorizedError
from chalicelib.identity import tokens


def test_visitor_token_round_trip():
    token, ttl = tokens.issue_visitor_token("v_1", "site", "ws")
    claims = tokens.verify_visitor_token(token)
    assert (claims["sub"], claims["site"], claims["ws"], ttl) == ("v_1", "site", "ws", 24 * 3600)


def test_forged_token_is_refused():
    now = int(time.time())
    forged = jwt.encode({"sub": "v_1", "site": "s", "ws": "w", "typ": "visitor", "iat": now, "exp": now + 60},
                        "another-secret-just-as-long-as-the-real-one-0123", algorithm="HS256")
    with pytest.raises(UnauthorizedError):
        tokens.verify_visitor_token(forged)


def test_expired_token_is_refused_with_its_reason():
    now = int(time.time())
    expired = jwt.encode({"sub": "v", "site": "s", "ws": "w", "typ": "visitor", "iat": now - 100, "exp": now - 10},
                         settings.token_secret, algorithm="HS256")
    with pytest.raises(UnauthorizedError, match="expired"):
        tokens.verify_visitor_token(expired)


def test_unsigned_token_is_refused():
    unsigned = jwt.encode({"sub": "v", "site": "s", "ws": "w", "typ": "visitor", "iat": 1, "exp": 2**31},
                          None, algorithm="none")
    with pytest.raises(UnauthorizedError):
        tokens.verify_visitor_token(unsigned)


def test_resume_accepts_an_expired_token_of_the_same_site_within_30_days():
    issued = int(time.time()) - 10 * 24 * 3600
    old = jwt.encode({"sub": "v_9", "site": "s", "ws": "w", "typ": "visitor", "iat": issued, "exp": issued + 60},
                     settings.token_secret, algorithm="HS256")
    assert tokens.verify_resume_token(old, "s") == "v_9"
    with pytest.raises(UnauthorizedError):
        tokens.verify_resume_token(old, "other-site")


def test_resume_refuses_a_token_older_than_30_days():
    issued = int(time.time()) - 31 * 24 * 3600
    old = jwt.encode({"sub": "v_9", "site": "s", "ws": "w", "typ": "visitor", "iat": issued, "exp": issued + 60},
                     settings.token_secret, algorithm="HS256")
    with pytest.raises(UnauthorizedError, match="too old"):
        tokens.verify_resume_token(old, "s")


def test_user_hash_is_hex_hmac_sha256_and_compared_in_constant_time():
    import hashlib
    import hmac
    expected = hmac.new(b"k", b"user-1", hashlib.sha256).hexdigest()
    assert tokens.user_hash("k", "user-1") == expected
    assert tokens.verify_user_hash("k", "user-1", expected.upper())
    assert not tokens.verify_user_hash("k", "user-1", expected[:-1] + "0")
    assert not tokens.verify_user_hash(None, "user-1", expected)


@pytest.mark.parametrize("given", ["\x80", "é" * 64, "\u200f", "😀"])
def test_a_user_hash_that_is_not_ascii_is_wrong_not_an_error(given):
    """Found by tests/fuzz: compare_digest refuses non-ASCII strings, so `"user_hash": "\\u0080"` was a 500."""
    assert not tokens.verify_user_hash("k", "user-1", given)


def test_verified_visitors_get_the_same_id_on_every_device_and_differ_by_site():
    a = tokens.verified_visitor_id("s", "u1")
    assert a == tokens.verified_visitor_id("s", "u1")
    assert a != tokens.verified_visitor_id("s2", "u1") != tokens.verified_visitor_id("s", "u2")
