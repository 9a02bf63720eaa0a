"""Self-service on moto (issue 14): what the widget reports of its suggestions is counted per article and
put on the bus; a visitor's "yes, it answered my question" spares a conversation, or solves the one they
had started, by self-service; an agent sees the articles answering the visitor's last question."""
import json

import pytest
from chalice.test import Client

from chalicelib.chat import commands, conversations, intake, messaging, selfservice
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.edges import ws
from chalicelib.errors import BadRequestError, NotFoundError, UnauthorizedError
from chalicelib.identity import tokens
from chalicelib.kb import articles
from chalicelib.store.models import ArticleStats, Conversation, Message, Site
from tests.integration.test_admin import admin_caller
from tests.integration.test_app import admin_token  # noqa: F401 - a fixture
from tests.integration.test_kb import LIVRAISON, RETURNS, SHIPPING


def stats(article_id: str, workspace_id: str = "ws_a") -> dict:
    got = ArticleStats.get(workspace_id, article_id)
    return {name: int(getattr(got, name)) for name in ("shown", "opened", "helpful", "not_helpful", "resolved")}


def claims_of(world, visitor: Caller) -> dict:
    return tokens.verify_visitor_token(world.token_for(visitor))


def test_each_event_is_counted_on_its_articles_and_published_for_the_reports(events_env):
    env = events_env
    boss = env.admin()
    shipping, returns = articles.create(boss, SHIPPING), articles.create(boss, RETURNS)
    site = Site.get("site-a")

    shown = selfservice.feedback(site, {"site_key": "site-a", "event": "shown", "query": "deliv",
                                        "article_ids": [shipping["id"], returns["id"], shipping["id"]]}, None,
                                 env.world.sender)
    assert shown == {"recorded": [shipping["id"], returns["id"]], "resolved": False}  # a repeat counts once
    selfservice.feedback(site, {"site_key": "site-a", "event": "opened", "article_ids": [shipping["id"]]}, None,
                         env.world.sender)
    selfservice.feedback(site, {"site_key": "site-a", "event": "not_helpful", "article_ids": [returns["id"]]},
                         None, env.world.sender)
    spared = selfservice.feedback(site, {"site_key": "site-a", "event": "helpful", "article_ids": [shipping["id"]]},
                                  None, env.world.sender)
    assert spared["resolved"] is True  # answered before any conversation: one spared
    assert stats(shipping["id"]) == {"shown": 1, "opened": 1, "helpful": 1, "not_helpful": 0, "resolved": 1}
    assert stats(returns["id"]) == {"shown": 1, "opened": 0, "helpful": 0, "not_helpful": 1, "resolved": 0}
    # An admin's read of the article carries its counts.
    assert articles.get(boss, shipping["id"])["stats"]["opened"] == 1

    published = [m["detail"] for m in env.queued(settings.events_queue_url)]
    kinds = sorted((e["type"], e["data"]["article"]["id"]) for e in published)
    assert kinds == sorted([("article.shown", shipping["id"]), ("article.shown", returns["id"]),
                            ("article.opened", shipping["id"]), ("article.not_helpful", returns["id"]),
                            ("article.helpful", shipping["id"])])
    helpful = next(e for e in published if e["type"] == "article.helpful")
    assert helpful["workspace_id"] == "ws_a" and helpful["data"]["resolved"] is True
    assert helpful["data"]["article"] == {"id": shipping["id"], "title": SHIPPING["title"], "locale": "en"}
    assert next(e for e in published if e["type"] == "article.shown")["data"]["query"] == "deliv"
    env.pipeline.drain()  # the events consumer takes article events in its stride (no webhook subscribes)


def test_a_yes_solves_the_visitors_open_conversation_by_self_service(world):
    boss = admin_caller(world)
    shipping = articles.create(boss, SHIPPING)
    visitor = world.visitor_connection()
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s", "text": "how long is delivery?"}),
                    world.sender)
    conversation_id = world.api.of(visitor.connection_id, "ack")[-1]["conversation"]["id"]
    assert Conversation.get(conversation_id).status == "queued"  # nobody online: waiting for a human

    site = Site.get("site-a")
    outcome = selfservice.feedback(site, {"site_key": "site-a", "event": "helpful", "article_ids": [shipping["id"]],
                                          "conversation_id": conversation_id}, claims_of(world, visitor), world.sender)
    assert outcome == {"recorded": [shipping["id"]], "resolved": True}
    solved = Conversation.get(conversation_id)
    assert (solved.status, solved.resolution, solved.auto_solved) == ("solved", "self_service", True)
    assert conversations.serialize(solved)["resolution"] == "self_service"
    notice = list(Message.query(conversation_id, scan_index_forward=False, limit=1))[0]
    assert notice.notice == "solved_self_service" and notice.author_kind == "system"
    assert notice.text in [m["message"]["text"] for m in world.api.of(visitor.connection_id, "message")]
    assert stats(shipping["id"])["resolved"] == 1

    # Again (a double tap): solved already, so nothing more is solved or counted as a resolution.
    again = selfservice.feedback(site, {"site_key": "site-a", "event": "helpful", "article_ids": [shipping["id"]],
                                        "conversation_id": conversation_id}, claims_of(world, visitor), world.sender)
    assert again["resolved"] is False and stats(shipping["id"])["resolved"] == 1
    # The visitor writes on: back in the queue for a human (the resolution goes with the solve).
    commands.send(visitor, conversation_id, "actually, one more thing", world.sender, client_msg_id="m2")
    after = Conversation.get(conversation_id)
    assert (after.status, after.resolution, after.solved_at) == ("queued", None, None)
    assert after.queue_key  # in the queue's index, where agents take it from


def test_a_conversation_id_needs_its_own_visitors_token(world):
    boss = admin_caller(world)
    shipping = articles.create(boss, SHIPPING)
    site = Site.get("site-a")
    owner, stranger = world.visitor_connection(), world.visitor_connection()
    conversation = intake.start(owner, {}, world.sender)
    body = {"site_key": "site-a", "event": "helpful", "article_ids": [shipping["id"]],
            "conversation_id": conversation.id}

    with pytest.raises(UnauthorizedError):
        selfservice.feedback(site, body, None, world.sender)  # anonymous
    with pytest.raises(NotFoundError):
        selfservice.feedback(site, body, claims_of(world, stranger), world.sender)  # another visitor's
    other_site = world.visitor_connection(site_key="site-b")
    with pytest.raises(UnauthorizedError):
        selfservice.feedback(site, body, claims_of(world, other_site), world.sender)  # a token of another site
    assert Conversation.get(conversation.id).status == "queued"
    with pytest.raises(Exception):  # a refused report counts nothing
        ArticleStats.get("ws_a", shipping["id"])


@pytest.mark.parametrize("body, field", [
    ({"event": "liked", "article_ids": ["a_x"]}, "event"),
    ({"event": "opened", "article_ids": []}, "article_ids"),
    ({"event": "opened", "article_ids": ["a_1", "a_2"]}, "article_ids"),
    ({"event": "shown", "article_ids": "a_1"}, "article_ids"),
    ({"event": "shown", "article_ids": ["a_1"], "extra": 1}, "extra"),
    ({"event": "shown", "article_ids": ["a_1"], "query": "x" * 501}, "query"),
])
def test_bad_reports_are_refused_naming_the_field(world, body, field):
    with pytest.raises(BadRequestError) as refused:
        selfservice.feedback(Site.get("site-a"), {"site_key": "site-a", **body}, None, world.sender)
    assert refused.value.field == field


def test_drafts_and_other_workspaces_articles_are_not_there_to_report(world):
    draft = articles.create(admin_caller(world), {**SHIPPING, "status": "draft"})
    theirs = articles.create(admin_caller(world, "ws_b"), SHIPPING)
    for article_id in (draft["id"], theirs["id"], "a_nope", "../x"):
        with pytest.raises(NotFoundError):
            selfservice.feedback(Site.get("site-a"), {"site_key": "site-a", "event": "opened",
                                                      "article_ids": [article_id]}, None, world.sender)


def test_an_agent_sees_the_articles_answering_the_visitors_last_question(world):
    boss = admin_caller(world)
    shipping, returns = articles.create(boss, SHIPPING), articles.create(boss, RETURNS)
    french = articles.create(boss, LIVRAISON)
    agent = world.agent_connection(world.agent())
    visitor = world.visitor_connection()
    conversation = intake.start(visitor, {}, world.sender)
    assert selfservice.matches(agent, conversation.id, {}) == {"query": None, "items": [], "abstained": True}

    messaging.send_message(visitor, conversation.id, "when will my order arrive?", client_msg_id="q1",
                           internal=False, sender=world.sender)
    found = selfservice.matches(agent, conversation.id, {})
    assert found["query"] == "when will my order arrive?" and found["items"][0]["id"] == shipping["id"]
    assert "body" not in found["items"][0] and found["items"][0]["snippet"]
    messaging.send_message(visitor, conversation.id, "and can I get a refund", client_msg_id="q2",
                           internal=False, sender=world.sender)
    messaging.send_message(agent, conversation.id, "note to self: refunds team", client_msg_id="n1",
                           internal=True, sender=world.sender)  # an internal note is not the visitor's question
    assert selfservice.matches(agent, conversation.id, {"limit": "1"})["items"][0]["id"] == returns["id"]

    # A French visitor gets the French articles.
    francophone = world.visitor_connection(world.visitor_session(locale="fr-FR"))
    theirs = intake.start(francophone, {}, world.sender)
    messaging.send_message(francophone, theirs.id, "delai de livraison ?", client_msg_id="f1", internal=False,
                           sender=world.sender)
    assert [i["id"] for i in selfservice.matches(agent, theirs.id, {})["items"]][:1] == [french["id"]]

    with pytest.raises(NotFoundError):
        selfservice.matches(world.agent_connection(world.agent("ws_b")), conversation.id, {})
    with pytest.raises(BadRequestError) as refused:
        selfservice.matches(agent, conversation.id, {"limit": "11"})
    assert refused.value.field == "limit"


def test_the_routes_answer_on_the_app(app, world, admin_token):  # noqa: F811 - the fixture
    boss = admin_caller(world)
    shipping = articles.create(boss, SHIPPING)
    visitor = world.visitor_connection()
    token = world.token_for(visitor)
    conversation = intake.start(visitor, {}, world.sender)
    with Client(app.app) as client:
        def post(body, headers=None):
            response = client.http.post("/v1/articles/events", body=json.dumps(body),
                                        headers={"Content-Type": "text/plain", **(headers or {})})
            return response.status_code, json.loads(response.body)
        status, body = post({"site_key": "site-a", "event": "opened", "article_ids": [shipping["id"]]})
        assert (status, body) == (202, {"recorded": [shipping["id"]], "resolved": False})
        status, body = post({"site_key": "nope", "event": "opened", "article_ids": [shipping["id"]]})
        assert status == 401
        status, body = post({"event": "opened", "article_ids": [shipping["id"]]})
        assert status == 400 and body["error"]["field"] == "site_key"
        status, body = post(["not", "an", "object"])
        assert status == 400 and body["error"]["field"] == "body"
        helpful = {"site_key": "site-a", "event": "helpful", "article_ids": [shipping["id"]],
                   "conversation_id": conversation.id}
        status, body = post(helpful)
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = post(helpful, {"Authorization": f"Bearer {token}"})
        assert (status, body["resolved"]) == (202, True)

        answer = client.http.get(f"/v1/conversations/{conversation.id}/articles",
                                 headers={"Authorization": f"Bearer {admin_token}"})
        assert answer.status_code == 200 and set(json.loads(answer.body)) == {"query", "items", "abstained"}
        assert client.http.get(f"/v1/conversations/{conversation.id}/articles").status_code == 401
