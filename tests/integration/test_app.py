"""app.py's wiring: websocket handlers fed API Gateway event fixtures, REST through chalice's test client."""
import copy
import json
import re
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.store.models import Connection, Message

EVENTS = Path(__file__).resolve().parents[1] / "events"


def event(name: str, **changes) -> dict:
    data = copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    data["requestContext"]["connectionId"] = changes.pop("connection_id", data["requestContext"]["connectionId"])
    data.update(changes)
    return data


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
        assert response.json_body == {"online": False, "agents_online": 0, "agents_away": 0, "eta_seconds": None,
                                      "agents": [], "open_now": True, "opens_at": None, "greeting": "Hi! How can we help? Nobody is online right now: leave a message and we will answer by email."}


# --- text that cannot be stored or sent: lone surrogates, NUL, nesting (docs/protocol.md §1) ---------------

DEEP = "[" * 1000 + "]" * 1000
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("body, ref, field", [
    ({"action": "start", "ref": "r", "text": "hello \udfff"}, "r", "text"),
    ({"action": "start", "ref": "r", "fields": {"name": "\ud800"}}, "r", "fields.name"),
    ({"action": "send", "ref": "r", "conversation_id": "c_x", "client_msg_id": "m\udfff", "text": "hi"}, "r",
     "client_msg_id"),
    ({"action": "send", "ref": "r", "conversation_id": "c_\x00", "text": "hi"}, "r", "conversation_id"),
    ({"action": "send", "ref": "r", "conversation_id": "c_x", "text": "a\x00b"}, "r", "text"),
    ({"action": "typing", "ref": "r", "conversation_id": "c_x", "state": "on", "preview": "\udc00"}, "r", "preview"),
    ({"action": "start", "ref": "r", "extra": ["fine", {"deep": "\udfff"}]}, "r", "extra.1.deep"),
    ({"action": "history", "ref": "r", "conversation_id": "c_x", "\udfff": 1}, "r", "frame"),
    ({"action": "ping", "ref": "\udfff"}, None, "ref"),
    ({"action": "ping", "ref": "p\x00"}, None, "ref"),
    ('{"action": "send", "ref": "deep", "text": "hi", "x": ' + DEEP + "}", "deep", "frame"),
    ('{"x": ' + DEEP + ', "ref": 7, "action": "ping"}', 7, "frame"),
    (DEEP, None, "frame"),
])
def test_unstorable_text_and_deep_nesting_get_one_bad_request_naming_the_field(app, world, body, ref, field):
    connect(app, world, "conn-v", world.visitor_session()["token"])
    frame(app, "conn-v", body)
    (error,) = world.api.of("conn-v")
    assert (error["type"], error["code"], error["ref"], error.get("field")) == ("error", "bad_request", ref, field)
    frame(app, "conn-v", {"action": "ping", "ref": "still-here"})
    assert world.api.of("conn-v")[-1] == {"type": "pong", "ref": "still-here"}
    assert Message.count() == 0
    # the rule refuses only what cannot be stored: astral characters and U+2028 are text
    frame(app, "conn-v", {"action": "start", "ref": "ok", "text": "😀 é \u2028 fine", "fields": {"name": "Zoë"}})
    ack = world.api.of("conn-v", "ack")[-1]
    assert ack["ref"] == "ok" and [m.text for m in Message.query(ack["conversation"]["id"])] == ["😀 é \u2028 fine"]


@pytest.fixture
def admin_token(app, world, cognito):
    """A real Cognito sign-in of an admin of ws_a, for the REST routes behind a bearer token."""
    from chalicelib.identity import sessions
    from chalicelib.store.models import Agent
    from chalicelib.workspace import admin
    founder = world.agent()
    Agent(founder).update(actions=[Agent.role.set("admin")])
    admin.create_agent(world.agent_connection(founder), {"email": "boss@example.com", "name": "Boss",
                                                         "role": "admin", "password": "a-good-password"})
    return sessions.agent_login({"email": "boss@example.com", "password": "a-good-password"})["token"]


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/v1/visitor/sessions", {"site_key": "site-a", "name": "\udfff"}, "name"),
    ("POST", "/v1/visitor/sessions", {"site_key": "site-a", "email": "a\udfff@example.com"}, "email"),
    ("POST", "/v1/visitor/sessions", {"site_key": "site-a", "page_url": "https://x.example/\x00"}, "page_url"),
    ("POST", "/v1/visitor/sessions", {"site_key": "site-a\udfff"}, "site_key"),
    ("POST", "/v1/visitor/sessions", {"site_key": "site-a", "\udfff": "key"}, "body"),
    ("POST", "/v1/agents/login", {"email": "boss@example.com", "password": "\udfff" * 8}, "password"),
    ("PATCH", "/v1/conversations/c_x", {"tags": ["fine", "bad\udfff"]}, "tags.1"),
    ("PATCH", "/v1/sites/site-a", {"greeting": "Bonjour \ud83d"}, "greeting"),
    ("POST", "/v1/canned-responses", {"shortcut": "hi", "text": "\x00"}, "text"),
    ("POST", "/v1/webhooks", {"url": "https://hooks.example/x", "events": ["\udfff"]}, "events.0"),
    ("POST", "/v1/agents", {"email": "new@example.com", "name": "\udfff", "password": "a-good-password"}, "name"),
])
def test_rest_bodies_with_unstorable_text_are_400_naming_the_field(app, world, admin_token, method, path, body,
                                                                   field):
    with Client(app.app) as client:
        response = client.http.request(method, path, headers={**JSON, "Authorization": f"Bearer {admin_token}"},
                                       body=json.dumps(body))  # json.dumps writes a lone surrogate as \udfff
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "bad_request" and response.json_body["error"]["field"] == field


@pytest.mark.parametrize("method, path", [("PATCH", "/v1/conversations/c_x"), ("PATCH", "/v1/sites/site-a"),
                                          ("PATCH", "/v1/agents/a_x"), ("POST", "/v1/webhooks")])
def test_an_empty_key_in_a_rest_body_is_400_naming_the_body(app, world, admin_token, method, path):
    """Found by tests/fuzz: `{"": null}` answered `unknown field ` with no field."""
    with Client(app.app) as client:
        response = client.http.request(method, path, headers={**JSON, "Authorization": f"Bearer {admin_token}"},
                                       body='{"": null}')
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["field"] == "body", response.body


def test_rest_deep_bodies_query_strings_and_path_parameters_are_400_not_500(app, world, admin_token):
    auth = {"Authorization": f"Bearer {admin_token}"}
    with Client(app.app) as client:
        for body in (DEEP, '{"site_key": "site-a", "x": ' + DEEP + "}", '{"a": ' * 1000 + "1" + "}" * 1000):
            response = client.http.post("/v1/visitor/sessions", headers=JSON, body=body)
            assert response.status_code == 400 and response.json_body["error"]["field"] == "body", response.body
        for path, field in (("/v1/conversations?cursor=%00", "cursor"), ("/v1/conversations?cursor=\udfff", "cursor"),
                            ("/v1/conversations?view=open&view=\udfff", "view"),
                            ("/v1/visitors?email=\udfff%40example.com", "email"),
                            ("/v1/webhooks/wh_x/deliveries?cursor=a%00", "cursor"),
                            # found by tests/fuzz: a bad value under an empty name named no field at all
                            ("/v1/conversations?=%00", "query"), ("/v1/agents/me?=a&=\udfff", "query")):
            response = client.http.get(path, headers=auth)
            assert response.status_code == 400 and response.json_body["error"]["field"] == field, (path, response.body)
        response = client.http.get("/v1/conversations?view=open", headers=auth)
        assert response.status_code == 200  # the same route with good text


def test_rest_path_parameters_and_query_strings_are_checked_on_the_raw_event(app, world):
    """API Gateway hands the app decoded parameters: one with a lone surrogate or NUL is 400 on every route."""
    base = {"httpMethod": "GET", "headers": {}, "multiValueHeaders": {}, "body": None, "isBase64Encoded": False,
            "stageVariables": None}
    cases = [("/v1/sites/{site_key}/availability", {"site_key": "site\udfff"}, None, "site_key"),
             ("/v1/sites/{site_key}/settings", {"site_key": "a\x00"}, None, "site_key"),
             ("/v1/csat/{conversation_id}/{rating}", {"conversation_id": "c_\udfff", "rating": "5"}, {"sig": "x"},
              "conversation_id"),
             ("/v1/csat/{conversation_id}/{rating}", {"conversation_id": "c_x", "rating": "5"}, {"sig": "\udfff"},
              "sig")]
    for resource, path_params, query, field in cases:
        event = {**base, "resource": resource, "path": resource, "pathParameters": path_params,
                 "queryStringParameters": query,
                 "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
                 "requestContext": {"resourcePath": resource, "httpMethod": "GET", "stage": "api",
                                    "requestId": "r-1", "identity": {"sourceIp": "127.0.0.1"}}}
        response = app.app(event, None)
        assert response["statusCode"] == 400, (resource, response)
        assert json.loads(response["body"])["error"]["field"] == field


def test_every_path_parameter_of_every_route_is_bounded_before_it_reaches_dynamodb(app, world, admin_token):
    """An id past DynamoDB's key size (2,048 bytes) fails the lookup with a ValidationException (moto too, with
    infra/local/fidelity.py): every path parameter of every route is 400 above 64 characters, named, and a
    64-character one still reaches the route. Generated from app.routes, so a new route is covered."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    with Client(app.app) as client:
        for path, methods in app.app.routes.items():
            names = re.findall(r"{(\w+)}", path)
            for method, name in ((m, n) for m in methods for n in names):
                for size, expected in ((3000, 400), (65, 400), (64, None)):
                    url = path
                    for other in names:
                        url = url.replace("{" + other + "}", "x" * size if other == name else "c_x")
                    response = client.http.request(method, url, headers=auth)
                    assert response.status_code < 500, (method, path, size, response.body)
                    bounded = f"{name} must be at most 64 characters".encode() in response.body
                    if expected:
                        assert response.status_code == 400 and response.json_body["error"]["field"] == name
                    assert bounded == bool(expected), (method, path, size, response.body)


def test_a_rating_link_with_a_non_ascii_signature_is_a_bad_link_page_not_a_500(app, world):
    with Client(app.app) as client:
        response = client.http.get("/v1/csat/c_x/5?sig=%C3%A9t%C3%A9")
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("session", ["garbage", "x" * 60, "y" * 4096])
def test_new_password_with_a_malformed_session_is_401_sign_in_again(app, world, cognito, session):
    with Client(app.app) as client:
        response = client.http.post("/v1/agents/new-password", headers=JSON, body=json.dumps(
            {"email": "someone@example.com", "session": session, "password": "a-good-password"}))
    assert response.status_code == 401, response.body
    assert response.json_body["error"]["message"] == "the sign-in session expired; sign in again"
