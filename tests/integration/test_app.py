"""app.py's wiring: websocket handlers fed API Gateway event fixtures, REST through chalice's test client."""
import copy
import json
from pathlib import Path

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.models import Connection, Message

EVENTS = Path(__file__).resolve().parents[1] / "events"


def event(name: str, **changes) -> dict:
    data = copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    data["requestContext"]["connectionId"] = changes.pop("connection_id", data["requestContext"]["connectionId"])
    data.update(changes)
    return data


@pytest.fixture
def app(world, monkeypatch):
    monkeypatch.setattr(app_module, "sender", world.sender)
    return app_module


def connect(app, world, connection_id: str, token: str) -> dict:
    result = app.ws_connect(event("ws_connect", connection_id=connection_id,
                                  queryStringParameters={"token": token}), None)
    if result["statusCode"] == 200:
        world.api.connect(connection_id)
    return result


def frame(app, connection_id: str, body) -> None:
    app.ws_message(event("ws_message", connection_id=connection_id,
                         body=body if isinstance(body, str) else json.dumps(body)), None)


def test_connect_records_the_connection_and_refuses_bad_tokens_with_401(app, world):
    session = world.visitor_session()
    assert connect(app, world, "conn-ok", session["token"])["statusCode"] == 200
    assert Connection.get("conn-ok").visitor_id == session["visitor_id"]
    refused = connect(app, world, "conn-bad", "forged.token.here")
    assert refused["statusCode"] == 401 and json.loads(refused["body"])["error"]["code"] == "unauthorized"
    assert Connection.count("conn-bad") == 0


def test_a_visitor_conversation_through_the_handlers(app, world):
    connect(app, world, "conn-v", world.visitor_session(name="Vera")["token"])
    frame(app, "conn-v", {"action": "start", "ref": "s1", "text": "Where is my order?"})
    ack = world.api.of("conn-v", "ack")[-1]
    conversation_id = ack["conversation"]["id"]
    assert ack["ref"] == "s1" and ack["conversation"]["last_seq"] == 1
    frame(app, "conn-v", {"action": "send", "ref": "s2", "conversation_id": conversation_id,
                          "client_msg_id": "m-2", "text": "<img src=x onerror=alert(1)>"})
    assert world.api.of("conn-v", "ack")[-1]["message"]["text"] == "<img src=x onerror=alert(1)>"
    assert [m.text for m in Message.query(conversation_id)] == ["Where is my order?", "<img src=x onerror=alert(1)>"]
    frame(app, "conn-v", {"action": "ping", "ref": "p"})
    assert world.api.of("conn-v")[-1] == {"type": "pong", "ref": "p"}
    app.ws_disconnect(event("ws_disconnect", connection_id="conn-v"), None)
    assert Connection.count("conn-v") == 0


@pytest.mark.parametrize("body, code, field", [
    ("not json", "bad_request", "frame"),
    ("[1, 2]", "bad_request", "frame"),
    ({"ref": "r"}, "bad_request", "action"),
    ({"action": "fly", "ref": "r"}, "bad_request", "action"),
    ({"action": "send", "ref": "r", "text": "hi"}, "bad_request", "conversation_id"),
    ({"action": "send", "ref": "r", "conversation_id": "c_x", "text": "   "}, "bad_request", "text"),
    ({"action": "send", "ref": "r", "conversation_id": "c_x", "text": "x" * 4001}, "bad_request", "text"),
    ({"action": "history", "ref": "r", "conversation_id": "c_x", "limit": 101}, "bad_request", "limit"),
    ({"action": "history", "ref": "r", "conversation_id": "c_x", "limit": 0}, "bad_request", "limit"),
    ({"action": "read", "ref": "r", "conversation_id": "c_x"}, "bad_request", "seq"),
    ({"action": "send", "ref": "r", "conversation_id": 7, "text": "hi"}, "bad_request", "conversation_id"),
    ({"action": "send", "ref": "r", "conversation_id": "c_x", "text": ["hi"]}, "bad_request", "text"),
    ({"action": "typing", "ref": "r", "conversation_id": "c_x", "state": "maybe"}, "bad_request", "state"),
    ({"action": "send", "ref": "r", "conversation_id": "c_nope", "text": "hi"}, "not_found", None),
    ({"action": "join", "ref": "r", "conversation_id": "c_x"}, "bad_request", "action"),
])
def test_bad_frames_get_one_error_with_the_right_code(app, world, body, code, field):
    connect(app, world, "conn-v", world.visitor_session()["token"])
    frame(app, "conn-v", body)
    (error,) = world.api.of("conn-v")
    assert error["type"] == "error" and error["code"] == code and error.get("field") == field
    if isinstance(body, dict) and "ref" in body:
        assert error["ref"] == "r"


def test_frames_over_32_kb_are_too_large_and_keep_their_ref(app, world):
    connect(app, world, "conn-v", world.visitor_session()["token"])
    frame(app, "conn-v", {"action": "send", "ref": "big", "conversation_id": "c_x", "text": "é" * 20000})
    assert world.api.of("conn-v") == [{"type": "error", "ref": "big", "code": "too_large",
                                       "message": "frame is larger than 32 KB"}]


def test_a_frame_from_an_unknown_connection_is_unauthorized(app, world):
    world.api.connect("conn-ghost")
    frame(app, "conn-ghost", {"action": "history", "ref": "h", "conversation_id": "c_1"})
    assert world.api.of("conn-ghost")[-1]["code"] == "unauthorized"


def test_rest_errors_have_the_documented_shape(app, world):
    with Client(app.app) as client:
        assert client.http.get("/v1/health").json_body == {"ok": True}
        response = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "application/json"},
                                    body=json.dumps({"site_key": "nope"}))
        assert response.status_code == 401 and response.json_body["error"]["code"] == "unauthorized"
        response = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "application/json"},
                                    body="{oops")
        assert response.status_code == 400 and response.json_body["error"]["field"] == "body"
        response = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "application/json"},
                                    body=json.dumps({"site_key": "site-a"}))
        assert response.status_code == 201 and response.json_body["visitor_id"].startswith("v_")
        response = client.http.get("/v1/conversations", headers={"Authorization": "Bearer x.y.z"})
        assert response.status_code == 401
        response = client.http.get("/v1/sites/site-a/availability")
        assert response.json_body == {"online": False, "agents_online": 0, "eta_seconds": None, "open_now": True}
