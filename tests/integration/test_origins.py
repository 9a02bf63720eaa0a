"""Which pages may use a site's widget and the console's sockets: the Origin header at $connect and on
the widget's REST routes, and the per-request CORS answers (chalicelib/origins.py)."""
import json

import pytest
from chalice.test import Client

from chalicelib.config import settings
from chalicelib.errors import BadRequestError
from chalicelib.identity import sessions
from chalicelib.store.models import Connection, Site, Visitor
from chalicelib.workspace import admin
from tests.integration.test_admin import admin_caller
from tests.integration.test_app import event
from tests.integration.test_identity import _agent_user

SHOP = "https://shop.example"
FOREIGN = ["https://evil.example", "null", "file://", "https://shop.example.evil.example", "http://shop.example",
           "https://shop.example:8443"]


@pytest.fixture
def listed(world):
    """site-a lists its shop and the shop's subdomains, through the admin REST service."""
    admin.update_site_settings(admin_caller(world), "site-a", {"allowed_origins": [SHOP, "https://*.shop.example"]})
    return Site.get("site-a")


def ws_connect(app, connection_id: str, token: str, origin: str | None) -> dict:
    """$connect as API Gateway calls it, with the browser's Origin header or none."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if origin is not None:
        headers["Origin"] = origin
    return app.ws_connect(event("ws_connect", connection_id=connection_id, headers=headers,
                                queryStringParameters={"token": token}), None)


# --- the setting ----------------------------------------------------------------------------

def test_admins_set_allowed_origins_normalized_and_validated(world):
    boss = admin_caller(world)
    assert admin.get_site_settings(boss, "site-a")["settings"]["allowed_origins"] is None  # an existing site
    saved = admin.update_site_settings(boss, "site-a", {"allowed_origins": [
        "https://Shop.Example/", "https://shop.example:443", "http://127.0.0.1:8000", "https://*.shop.example"]})
    assert saved["settings"]["allowed_origins"] == ["https://shop.example", "http://127.0.0.1:8000",
                                                    "https://*.shop.example"]
    assert Site.get("site-a").settings.allowed_origins == saved["settings"]["allowed_origins"]
    for bad in (["https://shop.example/cart"], ["shop.example"], ["ftp://shop.example"], ["null"], ["file://"],
                ["https://*.com"], ["https://shop.example:0"], [42], "https://shop.example", [SHOP] * 51):
        with pytest.raises(BadRequestError) as refused:
            admin.update_site_settings(boss, "site-a", {"allowed_origins": bad})
        assert refused.value.field == "allowed_origins"
    assert admin.update_site_settings(boss, "site-a", {"allowed_origins": None})["settings"]["allowed_origins"] is None
    assert admin.update_site_settings(boss, "site-a", {"allowed_origins": []})["settings"]["allowed_origins"] == []


def test_a_wildcard_covers_subdomains_only():
    from chalicelib.core import origins
    pattern = "https://*.shop.example"
    assert origins.matches(pattern, "https://eu.shop.example") and origins.matches(pattern, "https://a.b.shop.example")
    for other in ("https://shop.example", "http://eu.shop.example", "https://eu.shop.example:8443",
                  "https://evil.example/.shop.example", "https://evilshop.example"):
        assert not origins.matches(pattern, other), other


# --- $connect -------------------------------------------------------------------------------

@pytest.mark.parametrize("origin", FOREIGN)
def test_a_visitor_socket_from_a_page_the_site_does_not_list_is_refused(app, world, listed, origin):
    session = world.visitor_session()
    refused = ws_connect(app, "conn-foreign", session["token"], origin)
    assert refused["statusCode"] == 403
    error = json.loads(refused["body"])["error"]
    assert error["code"] == "forbidden" and error["origin"] == origin and origin in error["message"]
    assert Connection.count("conn-foreign") == 0


def test_a_visitor_socket_from_a_listed_page_or_no_browser_connects(app, world, listed):
    session = world.visitor_session()
    for cid, origin in (("conn-shop", SHOP), ("conn-sub", "https://eu.shop.example"), ("conn-script", None)):
        assert ws_connect(app, cid, session["token"], origin)["statusCode"] == 200, origin
        assert Connection.get(cid).visitor_id == session["visitor_id"]


def test_a_site_without_a_list_accepts_any_page_and_an_empty_list_none(app, world):
    session = world.visitor_session()
    assert ws_connect(app, "conn-any", session["token"], "https://evil.example")["statusCode"] == 200
    admin.update_site_settings(admin_caller(world), "site-a", {"allowed_origins": []})
    assert ws_connect(app, "conn-none", session["token"], SHOP)["statusCode"] == 403
    assert ws_connect(app, "conn-none", session["token"], None)["statusCode"] == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "file://", "https://shop.example"])
def test_an_agent_socket_from_anywhere_but_the_console_is_refused(app, world, cognito, monkeypatch, origin):
    monkeypatch.setattr(settings, "console_origins", ("https://console.parley.example",), raising=False)
    _agent_user(cognito)
    token = sessions.agent_login({"email": "agent@example.com", "password": "demo-password"})["token"]
    refused = ws_connect(app, "conn-agent", token, origin)
    assert refused["statusCode"] == 403
    error = json.loads(refused["body"])["error"]
    assert error["origin"] == origin and "console" in error["message"]
    assert Connection.count("conn-agent") == 0
    assert ws_connect(app, "conn-console", token, "https://console.parley.example")["statusCode"] == 200
    assert ws_connect(app, "conn-cli", token, None)["statusCode"] == 200  # a script: no Origin


# --- REST and CORS --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/sites/site-a/settings", "/v1/sites/site-a/availability"])
def test_the_widget_routes_answer_cors_to_listed_pages_only(app, world, listed, path):
    with Client(app.app) as client:
        allowed = client.http.get(path, headers={"Origin": "https://eu.shop.example"})
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://eu.shop.example"
        assert allowed.headers["Vary"] == "Origin"
        for origin in FOREIGN:
            refused = client.http.get(path, headers={"Origin": origin})
            assert refused.status_code == 403, origin
            assert "Access-Control-Allow-Origin" not in refused.headers
            assert refused.json_body["error"]["origin"] == origin
        script = client.http.get(path)
        assert script.status_code == 200 and "Access-Control-Allow-Origin" not in script.headers
        preflight = client.http.request("OPTIONS", path, headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == SHOP
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
        refused = client.http.request("OPTIONS", path, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers


def test_a_session_from_a_page_the_site_does_not_list_is_refused_before_anything_is_stored(app, world, listed):
    body = json.dumps({"site_key": "site-a", "user_id": "42", "user_hash": "wrong", "name": "Eve"})
    with Client(app.app) as client:
        refused = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "text/plain", "Origin": "null"},
                                   body=body)
        assert refused.status_code == 403 and refused.json_body["error"]["origin"] == "null"
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert Visitor.count() == 0
        created = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "text/plain", "Origin": SHOP},
                                   body=json.dumps({"site_key": "site-a"}))
        assert created.status_code == 201 and created.headers["Access-Control-Allow-Origin"] == SHOP
        # an allowed page reads its errors too (the widget tells a stale resume token by its 401)
        unknown = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "text/plain", "Origin": SHOP},
                                   body=json.dumps({"site_key": "site-a", "resume_token": "forged"}))
        assert unknown.status_code == 401 and unknown.headers["Access-Control-Allow-Origin"] == SHOP


def test_the_widget_routes_never_answer_any_origin(app, world):
    with Client(app.app) as client:
        for method, path in (("GET", "/v1/sites/site-a/settings"), ("GET", "/v1/sites/site-a/availability"),
                             ("OPTIONS", "/v1/visitor/sessions"), ("OPTIONS", "/v1/sites/site-a/settings")):
            response = client.http.request(method, path, headers={"Origin": "https://anywhere.example"})
            assert response.headers.get("Access-Control-Allow-Origin") == "https://anywhere.example", path
            assert response.headers["Vary"] == "Origin"
