"""Inbox page cursors (chalicelib/chat/conversations.py): a cursor is the page's DynamoDB key, as opaque
URL-safe base64, and it is only taken back for the view (index and hash key) that issued it."""
import base64
import json

import pytest

from chalicelib.chat.conversations import _decode_cursor, _encode_cursor
from chalicelib.errors import BadRequestError

KEY = {"id": {"S": "c_1"}, "ws_status": {"S": "ws_1#open"}, "activity_at": {"S": "2026-11-23T10:00:00.000Z"}}


def raw(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def refused(cursor: str, hash_name: str = "ws_status", hash_value: str = "ws_1#open") -> BadRequestError:
    with pytest.raises(BadRequestError) as info:
        _decode_cursor(cursor, hash_name, hash_value)
    return info.value


@pytest.mark.parametrize("key", [
    KEY,
    {"id": {"S": "c_é/+?"}, "assignee_active": {"S": "agent-1"}, "activity_at": {"S": "2026"}},
    {"id": {"S": "c_" + "x" * 200}, "workspace_id": {"S": "ws_1"}, "activity_at": {"S": ""}},
])
def test_a_cursor_round_trips_for_its_own_view(key):
    hash_name = next(k for k in key if k not in ("id", "activity_at"))
    cursor = _encode_cursor(key)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor  # URL-safe, unpadded
    assert _decode_cursor(cursor, hash_name, key[hash_name]["S"]) == key


def test_padding_is_optional_on_the_way_back():
    assert _decode_cursor(raw(KEY), "ws_status", "ws_1#open") == KEY


def test_a_cursor_of_another_view_or_workspace_is_refused():
    cursor = _encode_cursor(KEY)
    for hash_name, hash_value in (("ws_status", "ws_1#solved"), ("ws_status", "ws_2#open"),
                                  ("assignee_active", "ws_1#open"), ("workspace_id", "ws_1")):
        error = refused(cursor, hash_name, hash_value)
        assert error.field == "cursor" and error.message == "cursor is not valid for this view"


@pytest.mark.parametrize("key", [
    {**KEY, "extra": {"S": "x"}},  # a key the index would not return
    {k: v for k, v in KEY.items() if k != "activity_at"},
    {**KEY, "id": {"N": "1"}}, {**KEY, "id": {"S": 1}}, {**KEY, "id": "c_1"},
    {**KEY, "activity_at": {"S": "x", "N": "1"}},
    {**KEY, "ws_status": {"S": "ws_1#open", "extra": "x"}},
    [KEY], "c_1", None, 7,
])
def test_a_tampered_key_is_refused(key):
    assert refused(raw(key)).field == "cursor"


@pytest.mark.parametrize("cursor", ["!!!", "%%%", "a", "abcde", raw("")[:-1] + "\x00",
                                    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
                                    base64.urlsafe_b64encode(b"{not json").decode(),
                                    _encode_cursor(KEY)[:-3], "é"])
def test_garbage_is_a_bad_request_naming_the_cursor(cursor):
    error = refused(cursor)
    assert (error.code, error.status, error.field) == ("bad_request", 400, "cursor")
    assert error.to_dict() == {"code": "bad_request", "message": "cursor is not valid for this view",
                               "field": "cursor"}


def test_a_deeply_nested_cursor_within_the_routes_length_is_a_bad_request():
    cursor = base64.urlsafe_b64encode(b"[" * 1100).decode().rstrip("=")
    assert len(cursor) <= 2048  # what app.py's list_conversations lets through
    assert refused(cursor).field == "cursor"
