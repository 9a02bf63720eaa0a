"""Admins: the team in Cognito and DynamoDB, site settings, blocking visitors."""
import json

import pytest

from chalicelib.chat import lifecycle, sites
from chalicelib.edges import ws
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from chalicelib.identity import sessions
from chalicelib.store.models import Agent, Connection, Conversation, Site
from chalicelib.workspace import admin
from tests.integration.test_routing import new_chat


def admin_caller(world, workspace_id="ws_a"):
    agent_id = world.agent(workspace_id)
    Agent(agent_id).update(actions=[Agent.role.set("admin")])
    return world.agent_connection(agent_id)


def test_an_admin_creates_an_agent_who_can_sign_in(world, cognito):
    boss = admin_caller(world)
    created = admin.create_agent(boss, {"email": "new@example.com", "name": "Nia", "capacity": 5,
                                        "groups": ["Tech"], "password": "a-good-password"})
    assert (created["capacity"], created["groups"], created["role"]) == (5, ["tech"], "agent")
    login = sessions.agent_login({"email": "new@example.com", "password": "a-good-password"})
    assert login["agent"]["id"] == created["id"] and Agent.get(created["id"]).workspace_id == "ws_a"
    with pytest.raises(ConflictError):
        admin.create_agent(boss, {"email": "new@example.com", "name": "Again", "password": "a-good-password"})
    for bad in ({"email": "x@example.com", "name": "X", "capacity": 11},
                {"email": "x@example.com", "name": "X", "role": "owner"}, {"name": "X"}):
        with pytest.raises(BadRequestError):
            admin.create_agent(boss, bad)


def test_only_admins_change_the_team_and_settings(world, cognito):
    plain = world.agent_connection(world.agent())
    with pytest.raises(ForbiddenError):
        admin.create_agent(plain, {"email": "y@example.com", "name": "Y", "password": "a-good-password"})
    with pytest.raises(ForbiddenError):
        admin.update_agent(plain, plain.id, {"capacity": 10}, world.sender)
    with pytest.raises(ForbiddenError):
        admin.update_site_settings(plain, "site-a", {"rate_limit_count": 100})
    with pytest.raises(NotFoundError):
        admin.update_agent(admin_caller(world, "ws_b"), plain.id, {"capacity": 10}, world.sender)


def test_raising_capacity_drains_the_queue_at_once(world):
    agent = world.online_agent(capacity=1)
    new_chat(world)
    _, waiting = new_chat(world)
    assert Conversation.get(waiting).status == "queued"
    admin.update_agent(admin_caller(world), agent.id, {"capacity": 2}, world.sender)
    assert Conversation.get(waiting).assignee_id == agent.id


def test_removing_an_agent_returns_their_chats_to_the_queue(world, cognito):
    leaving = world.online_agent(capacity=2)
    _, chat = new_chat(world)
    assert Conversation.get(chat).assignee_id == leaving.id
    admin.remove_agent(admin_caller(world), leaving.id, world.sender)
    assert Agent.count(leaving.id) == 0
    assert Conversation.get(chat).status == "queued"
    assert leaving.connection_id not in world.api.live  # their console was disconnected


def test_site_settings_set_the_flood_limit_of_new_connections(world):
    boss = admin_caller(world)
    updated = admin.update_site_settings(boss, "site-a", {"rate_limit_count": 3, "rate_limit_window": 60,
                                                          "greeting": "Bonjour"})
    assert updated["settings"]["rate_limit_count"] == 3 and Site.get("site-a").settings.greeting == "Bonjour"
    visitor = world.visitor_connection()
    assert (visitor.rate_limit_count, visitor.rate_limit_window) == (3, 60)
    for bad in ({"rate_limit_count": 0}, {"color": "red"}, {"prechat_fields": ["phone"]}, {"bogus": 1}):
        with pytest.raises(BadRequestError):
            admin.update_site_settings(boss, "site-a", bad)
    with pytest.raises(NotFoundError):
        admin.get_site_settings(admin_caller(world, "ws_b"), "site-a")


def test_a_blocked_visitor_is_disconnected_refused_and_never_heard(world):
    agent = world.online_agent()
    session = world.visitor_session()
    visitor, chat = new_chat(world, session=session)
    admin.set_blocked(agent, session["visitor_id"], True, world.sender)
    assert visitor.connection_id not in world.api.live
    with pytest.raises(ForbiddenError):
        lifecycle.connect("conn-again", session["token"])
    # a frame that was already in flight on the old socket is refused, not stored
    before = Conversation.get(chat).last_seq
    world.api.connect(visitor.connection_id)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "send", "conversation_id": chat, "ref": "b",
                                                        "text": "let me in"}), world.sender)
    assert world.api.of(visitor.connection_id, "error")[-1]["code"] == "forbidden"
    assert Conversation.get(chat).last_seq == before
    admin.set_blocked(agent, session["visitor_id"], False, world.sender)
    lifecycle.connect("conn-after", session["token"])
    assert Connection.count("conn-after") == 1


def test_blocking_a_waiting_visitor_takes_their_chat_out_of_the_queue(world):
    session = world.visitor_session()
    _, chat = new_chat(world, session=session)
    assert Conversation.get(chat).status == "queued"
    admin.set_blocked(world.agent_connection(world.agent()), session["visitor_id"], True, world.sender)
    world.online_agent()
    assert Conversation.get(chat).status == "solved" and Conversation.get(chat).assignee_id is None


def test_unknown_sites_are_not_found_and_groups_are_normalised(world):
    boss = admin_caller(world)
    with pytest.raises(NotFoundError):
        admin.get_site_settings(boss, "no-such-site")
    agent = world.agent()
    assert admin.update_agent(boss, agent, {"groups": ["Tech", "tech", "billing"]}, world.sender)["groups"] == [
        "billing", "tech"]
    with pytest.raises(BadRequestError):
        admin.update_agent(boss, agent, {"groups": ["*"]}, world.sender)


def test_an_invited_agent_chooses_a_password_at_first_sign_in(world, cognito):
    from chalicelib.errors import PasswordChangeRequiredError
    boss = admin_caller(world)
    created = admin.create_agent(boss, {"email": "invited@example.com", "name": "Ivy",
                                        "temporary_password": "temporary-123"})
    with pytest.raises(PasswordChangeRequiredError) as info:
        sessions.agent_login({"email": "invited@example.com", "password": "temporary-123"})
    assert info.value.to_dict()["session"]
    done = sessions.agent_new_password({"email": "invited@example.com", "session": info.value.session,
                                        "password": "my-own-password"})
    assert done["agent"]["id"] == created["id"]
    assert sessions.agent_login({"email": "invited@example.com", "password": "my-own-password"})["token"]


def test_site_settings_hold_the_flows_waits_and_the_team_webhook(world):
    boss = admin_caller(world)
    updated = admin.update_site_settings(boss, "site-a", {"queue_timeout": 120, "close_after": 3600,
                                                          "webhook_url": "https://hooks.slack.com/services/T/B/x"})
    assert updated["settings"]["queue_timeout"] == 120 and updated["settings"]["inactivity_wait"] == 600
    assert Site.get("site-a").settings.webhook_url == "https://hooks.slack.com/services/T/B/x"
    for bad in ({"webhook_url": "http://example.com/hook"}, {"webhook_url": "ftp://x"}, {"queue_timeout": 0}):
        with pytest.raises(BadRequestError):
            admin.update_site_settings(boss, "site-a", bad)
    admin.update_site_settings(boss, "site-a", {"webhook_url": None})
    assert Site.get("site-a").settings.webhook_url is None


def test_site_texts_give_each_language_its_greeting_and_team_labels_and_name_the_bad_field(world):
    boss = admin_caller(world)
    texts = {"fr": {"greeting": "Bonjour ! Une question ?", "teams": {"Billing": "notre service facturation"}},
             "en": {"greeting": "  "}}
    updated = admin.update_site_settings(boss, "site-a", {"texts": texts})
    # group names are stored as agents' groups are (lowercase); an empty language is dropped
    assert updated["settings"]["texts"] == {"fr": {"greeting": "Bonjour ! Une question ?",
                                                   "teams": {"billing": "notre service facturation"}}}
    public = sites.widget_settings("site-a")
    assert public["greetings"] == {"fr": "Bonjour ! Une question ?"} and public["greeting"] == "Hi! How can we help?"
    assert "teams" not in json.dumps(public)  # labels are for transfers, not for every page view
    for bad, field in (({"de": {"greeting": "Hallo"}}, "texts.de"), ({"fr": {"welcome": "x"}}, "texts.fr.welcome"),
                       ({"fr": {"teams": {"no spaces": "x"}}}, "texts.fr.teams.no spaces"),
                       ({"fr": {"teams": {"tech": "x" * 81}}}, "texts.fr.teams.tech"), ("hello", "texts")):
        with pytest.raises(BadRequestError) as refused:
            admin.update_site_settings(boss, "site-a", {"texts": bad})
        assert refused.value.field == field, (bad, refused.value.message)
    admin.update_site_settings(boss, "site-a", {"texts": None})
    assert Site.get("site-a").settings.texts is None and sites.widget_settings("site-a")["greetings"] == {}


# --- creating an agent is all or nothing, and retryable ---------------------------------------------------

class AgentsPutFails:
    """The agents table refuses PutItem (throttled) while `failing` is set: a botocore hook on the very
    client pynamodb writes with, so everything before the write, Cognito included, is real."""

    def __init__(self):
        self.failing = False
        self.events = Agent._get_connection().connection.client.meta.events
        self.events.register("before-call.dynamodb.PutItem", self._refuse)

    def _refuse(self, params, **_):
        from botocore.exceptions import ClientError
        if self.failing and params["TableName"].endswith("agents"):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "Rate of requests exceeds the allowed throughput."},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

    def remove(self):
        self.events.unregister("before-call.dynamodb.PutItem", self._refuse)


@pytest.fixture
def agents_put_fails(world):
    hook = AgentsPutFails()
    yield hook
    hook.remove()


def _rest_admin(world, cognito):
    """An admin signed in through Cognito, and chalice's test client to call the REST routes as them."""
    from chalice.test import Client

    import app as app_module
    founder = world.agent()
    Agent(founder).update(actions=[Agent.role.set("admin")])
    admin.create_agent(world.agent_connection(founder), {"email": "boss@example.com", "name": "Boss",
                                                         "role": "admin", "password": "a-good-password"})
    token = sessions.agent_login({"email": "boss@example.com", "password": "a-good-password"})["token"]
    client = Client(app_module.app)

    def post(body: dict):
        return client.http.post("/v1/agents", body=json.dumps(body), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    return post


def _cognito_user(cognito, email):
    try:
        return cognito["idp"].admin_get_user(UserPoolId=cognito["pool_id"], Username=email)
    except cognito["idp"].exceptions.UserNotFoundException:
        return None


def test_a_failed_profile_write_removes_the_new_sign_in_and_a_retry_succeeds(world, cognito, agents_put_fails):
    post = _rest_admin(world, cognito)
    body = {"email": "flaky@example.com", "name": "Flo", "password": "a-good-password"}
    agents_put_fails.failing = True
    failed = post(body)
    assert failed.status_code == 503 and failed.json_body["error"]["code"] == "unavailable", failed.body
    assert "sign-in was removed" in failed.json_body["error"]["message"]
    assert _cognito_user(cognito, "flaky@example.com") is None
    agents_put_fails.failing = False
    retried = post(body)
    assert retried.status_code == 201, retried.body
    assert Agent.get(retried.json_body["id"]).email == "flaky@example.com"
    assert sessions.agent_login({"email": "flaky@example.com", "password": "a-good-password"})["agent"]["name"] == "Flo"


def test_a_cognito_user_without_a_profile_is_adopted_and_one_with_a_profile_is_409(world, cognito):
    post = _rest_admin(world, cognito)
    # what an older version left behind when the profile write failed: a user, no profile
    orphan = cognito["idp"].admin_create_user(UserPoolId=cognito["pool_id"], Username="orphan@example.com",
                                              MessageAction="SUPPRESS", TemporaryPassword="old-temporary-1",
                                              UserAttributes=[{"Name": "email", "Value": "orphan@example.com"}])
    sub = next(a["Value"] for a in orphan["User"]["Attributes"] if a["Name"] == "sub")
    adopted = post({"email": "orphan@example.com", "name": "Olive", "password": "a-good-password"})
    assert adopted.status_code == 201, adopted.body
    assert adopted.json_body["id"] == sub and Agent.get(sub).workspace_id == "ws_a"
    assert sessions.agent_login({"email": "orphan@example.com", "password": "a-good-password"})["agent"]["id"] == sub
    again = post({"email": "orphan@example.com", "name": "Olive", "password": "a-good-password"})
    assert again.status_code == 409 and again.json_body["error"]["field"] == "email", again.body
    assert Agent.get(sub).name == "Olive"


def test_nothing_reaches_cognito_until_the_whole_body_is_valid(world, cognito):
    post = _rest_admin(world, cognito)
    for body, field in (({"email": "early@example.com", "name": "E", "capacity": 11}, "capacity"),
                        ({"email": "early@example.com", "name": "E", "groups": ["*"]}, "groups"),
                        ({"email": "early@example.com", "name": "E\udfff"}, "name"),
                        # a valid address, longer than the 128 characters Cognito takes as a user name
                        ({"email": "a" * 64 + "@" + "b" * 60 + ".example.com", "name": "Long"}, "email")):
        response = post(body)
        assert response.status_code == 400 and response.json_body["error"]["field"] == field, response.body
    users = cognito["idp"].list_users(UserPoolId=cognito["pool_id"])["Users"]
    emails = [a["Value"] for u in users for a in u["Attributes"] if a["Name"] == "email"]
    assert emails == ["boss@example.com"]  # the admin's own, and no other


def test_cognito_refusing_a_value_is_a_400_naming_the_field_it_came_from(world, cognito):
    """Cognito's own checks come after ours: its refusal names the field the admin sent, never another."""
    post = _rest_admin(world, cognito)
    # a user without a profile, so a temporary password goes through admin_set_user_password (moto checks the
    # policy there, not in admin_create_user)
    cognito["idp"].admin_create_user(UserPoolId=cognito["pool_id"], Username="orphan@example.com",
                                     MessageAction="SUPPRESS", TemporaryPassword="old-temporary-1",
                                     UserAttributes=[{"Name": "email", "Value": "orphan@example.com"}])
    too_long = "p" * 120  # within our 8-256, past the pool's policy (moto's pools take at most 98)
    for body, field in (({"email": "0@0.0", "name": "Zero", "password": "a-good-password"}, "email"),
                        ({"email": "p@example.com", "name": "P", "password": too_long}, "password"),
                        ({"email": "orphan@example.com", "name": "O", "temporary_password": too_long},
                         "temporary_password")):
        response = post(body)
        assert response.status_code == 400, response.body
        assert response.json_body["error"]["field"] == field, (body, response.body)
    users = cognito["idp"].list_users(UserPoolId=cognito["pool_id"])["Users"]
    emails = sorted(a["Value"] for u in users for a in u["Attributes"] if a["Name"] == "email")
    assert emails == ["boss@example.com", "orphan@example.com"]  # nothing created, the orphan still unadopted
    orphan = _cognito_user(cognito, "orphan@example.com")
    assert not Agent.count(next(a["Value"] for a in orphan["UserAttributes"] if a["Name"] == "sub"))
