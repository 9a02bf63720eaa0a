"""Retention (TTL `expires_at` on conversations, messages, visitors) and data requests (export, erase,
find by email), on moto with the real schemas."""
import json
import logging
import time

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import bootstrap
from chalicelib.aws import stepfunctions
from chalicelib.chat import assignment, conversations, lifecycle, messaging, routing
from chalicelib.config import settings
from chalicelib.core.clock import now
from chalicelib.edges import ws
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from chalicelib.identity import sessions
from chalicelib.mail import render
from chalicelib.store.models import Agent, Connection, Conversation, Key, Message, Site, Visitor
from chalicelib.workspace import admin, privacy, team
from tests.integration.test_admin import admin_caller
from tests.integration.test_routing import new_chat

DAY = 24 * 3600
ERASE = {"confirm": "erase"}


def send(world, caller, conversation_id, text, client_msg_id=None, internal=False):
    frame = {"action": "send", "ref": "r", "conversation_id": conversation_id, "text": text,
             "client_msg_id": client_msg_id or f"cm-{text[:20]}"}
    if internal:
        frame["internal"] = True
    ws.handle_frame(caller.connection_id, json.dumps(frame), world.sender)
    reply = [f for f in world.api.of(caller.connection_id) if f.get("ref") == "r"][-1]
    assert reply["type"] == "ack", reply
    return reply["message"]


def keep(world, days):
    admin.update_site_settings(admin_caller(world), "site-a", {"retention_days": days})


def near(value, expected, slack=5):
    return value is not None and abs(int(value) - expected) <= slack


def claims_of(conversation_id):
    return [k for k in Key.scan() if k.pk.startswith(f"cmid#{conversation_id}#")]  # test-only Scan


# --- retention ---------------------------------------------------------------------------------

def test_without_retention_nothing_expires(world):
    agent = world.online_agent()
    session = world.visitor_session(email="keep@example.com")
    visitor, chat = new_chat(world, session=session)
    send(world, agent, chat, "Hello, how can I help?")
    assignment.set_status(agent, chat, "solved", world.sender)
    assert Site.get("site-a").settings.retention_days is None
    assert Visitor.get(session["visitor_id"]).expires_at is None
    conversation = Conversation.get(chat)
    assert conversation.retention_days is None and conversation.expires_at is None
    # the visitor's, the notice that the agent joined, the agent's
    assert [m.expires_at for m in Message.query(chat)] == [None, None, None]
    assert all(k.expires_at and k.expires_at <= now() + messaging.CLIENT_MSG_ID_TTL + 5 for k in claims_of(chat))


def test_retention_sets_expires_at_on_visitor_conversation_and_messages(world):
    keep(world, 30)
    session = world.visitor_session()
    t = now()
    assert near(Visitor.get(session["visitor_id"]).expires_at, t + 30 * DAY + settings.visitor_token_ttl)
    visitor, chat = new_chat(world, session=session)  # nobody online: it waits in the queue
    conversation = Conversation.get(chat)
    assert conversation.retention_days == 30 and near(conversation.expires_at, t + 30 * DAY)
    [first] = Message.query(chat)
    assert near(first.expires_at, t + 30 * DAY)
    # A claim never outlives its message (here the 7 days of client_msg_id memory are shorter anyway).
    assert all(k.expires_at <= first.expires_at for k in claims_of(chat))

    # Assigned and open: it holds a slot, so it has no horizon (TTL would not free the slot).
    agent = world.online_agent()
    conversation = Conversation.get(chat)
    assert conversation.assignee_id == agent.id and conversation.expires_at is None
    reply = send(world, agent, chat, "On it")
    assert near(Message.get(chat, reply["seq"]).expires_at, now() + 30 * DAY)
    assert Conversation.get(chat).expires_at is None

    # Solved: the slot is free and the horizon runs from now, past every message's.
    assignment.set_status(agent, chat, "solved", world.sender)
    solved = Conversation.get(chat)
    assert near(solved.expires_at, now() + 30 * DAY)
    assert solved.expires_at >= max(m.expires_at for m in Message.query(chat))
    # The visitor writes again: reopened to the agent, it holds the slot again and loses its horizon.
    send(world, visitor, chat, "One more thing")
    reopened = Conversation.get(chat)
    assert reopened.status == "open" and reopened.expires_at is None


def test_the_horizon_moves_with_activity_and_old_messages_keep_theirs(world, monkeypatch):
    keep(world, 2)
    clock = [now()]
    bootstrap.configure(sender=world.sender, now=lambda: clock[0])  # every module reads this clock
    visitor, chat = new_chat(world)
    first_expiry = Conversation.get(chat).expires_at
    clock[0] += DAY
    send(world, visitor, chat, "Still waiting")
    conversation = Conversation.get(chat)
    assert conversation.expires_at == first_expiry + DAY
    expiries = [int(m.expires_at) for m in Message.query(chat)]
    assert expiries == [first_expiry, first_expiry + DAY]


def test_a_new_period_applies_to_conversations_started_afterwards(world):
    keep(world, 30)
    _, older = new_chat(world)
    keep(world, 7)
    _, newer = new_chat(world)
    assert (Conversation.get(older).retention_days, Conversation.get(newer).retention_days) == (30, 7)
    keep(world, 0)  # 0 (or null): keep forever, from the next conversation on
    _, forever = new_chat(world)
    assert Conversation.get(forever).expires_at is None and Site.get("site-a").settings.retention_days is None
    assert Conversation.get(older).retention_days == 30


@pytest.mark.parametrize("bad", [3651, -1, "thirty", True, 1.5, [30]])
def test_retention_days_must_be_1_to_3650(world, bad):
    with pytest.raises(BadRequestError) as info:
        admin.update_site_settings(admin_caller(world), "site-a", {"retention_days": bad})
    assert info.value.field == "retention_days"


def test_retention_days_is_an_admin_setting(world):
    boss = admin_caller(world)
    assert admin.update_site_settings(boss, "site-a", {"retention_days": 365})["settings"]["retention_days"] == 365
    assert admin.update_site_settings(boss, "site-a", {"retention_days": None})["settings"]["retention_days"] is None
    with pytest.raises(ForbiddenError):
        admin.update_site_settings(world.agent_connection(world.agent()), "site-a", {"retention_days": 5})


def test_a_conversation_deleted_by_ttl_breaks_nothing(world):
    """The item goes as TTL deletes it: the visitor's active_conversation_id, their socket's
    subscription and their resume token all still point at it."""
    keep(world, 1)
    agent = world.online_agent()
    session = world.visitor_session()
    visitor, chat = new_chat(world, session=session)
    assignment.set_status(agent, chat, "solved", world.sender)
    Conversation(chat).delete()  # what TTL does: no condition, no event to the app
    assert Visitor.get(session["visitor_id"]).active_conversation_id == chat

    # The visitor comes back with the resume token the widget keeps, on a new socket.
    resumed = sessions.create_visitor_session({"site_key": "site-a", "resume_token": session["token"]})
    assert resumed["visitor_id"] == session["visitor_id"]
    again = world.visitor_connection(resumed)
    ws.handle_frame(again.connection_id, json.dumps({"action": "current", "ref": "c"}), world.sender)
    assert world.api.of(again.connection_id, "ack")[-1]["conversation"] is None
    ws.handle_frame(again.connection_id, json.dumps({"action": "history", "ref": "h", "conversation_id": chat}),
                    world.sender)
    assert world.api.of(again.connection_id, "error")[-1]["code"] == "not_found"
    ws.handle_frame(again.connection_id, json.dumps({"action": "start", "ref": "s", "text": "Hi again"}),
                    world.sender)
    fresh = world.api.of(again.connection_id, "ack")[-1]["conversation"]
    assert fresh["id"] != chat and fresh["last_seq"] == 2  # "Hi again" and the agent's joined notice
    assert Visitor.get(session["visitor_id"]).active_conversation_id == fresh["id"]
    # The old socket's disconnect, the agent's view and the profile cope with the hole.
    lifecycle.disconnect(visitor.connection_id)
    with pytest.raises(NotFoundError):
        conversations.load(agent, chat)
    assert {c["id"] for c in privacy.export_visitor(admin_caller(world), session["visitor_id"])["conversations"]} == {
        fresh["id"]}


def test_past_its_horizon_a_conversation_counts_as_gone_before_ttl_deletes_it(world, monkeypatch):
    keep(world, 1)
    visitor, chat = new_chat(world)
    agent = world.agent_connection(world.agent())
    later = now() + 2 * DAY
    bootstrap.configure(sender=world.sender, now=lambda: later)  # every module reads this clock
    with pytest.raises(NotFoundError):
        conversations.load(agent, chat)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s2"}), world.sender)
    assert world.api.of(visitor.connection_id, "ack")[-1]["conversation"]["id"] != chat


def test_messages_past_their_horizon_leave_the_history_of_a_live_conversation(world):
    keep(world, 30)
    agent = world.online_agent()
    visitor, chat = new_chat(world)
    send(world, agent, chat, "Second")
    Message(chat, 1).update(actions=[Message.expires_at.set(int(now()) - 1)])  # the oldest is past its horizon
    messages, _ = conversations.history(agent, Conversation.get(chat))
    assert [m["text"] for m in messages if not m.get("notice")] == ["Second"]


def test_a_visitor_record_gone_before_their_conversation_is_not_recreated(world):
    """A queued conversation can outlive its visitor's record: routing and email cope without it."""
    session = world.visitor_session(email="gone@example.com")
    _, chat = new_chat(world, session=session)
    Visitor(session["visitor_id"]).delete()  # as TTL would
    agent = world.online_agent()
    assert Conversation.get(chat).assignee_id == agent.id
    assert Visitor.count(session["visitor_id"]) == 0
    visitor, _, site_name, lang = render.context(Conversation.get(chat))
    assert visitor.email == "gone@example.com" and lang == "en"


def test_create_tables_turns_on_ttl_for_every_table_that_expires(world):
    import boto3
    client = boto3.client("dynamodb", region_name="us-east-1")
    for table in ("conversations", "messages", "visitors", "connections", "keys"):
        ttl = client.describe_time_to_live(TableName=settings.table(table))["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at"), table


# --- export ------------------------------------------------------------------------------------

def data_of(world, email, site_key="site-a", agent=None):
    """A visitor with two conversations (one closed and rated, one open with a note), and their agent.
    4 messages, 2 of them with a client_msg_id claim."""
    agent = agent or world.online_agent("ws_a" if site_key == "site-a" else "ws_b")
    session = world.visitor_session(site_key, name="Nora", email=email)
    visitor, first = new_chat(world, site_key=site_key, session=session)
    send(world, agent, first, "Hello Nora")
    assignment.set_status(agent, first, "solved", world.sender)
    assignment.record_csat(Conversation.get(first), 5, "quick")
    assignment.close_if_solved(first, Conversation.get(first).solved_at, world.sender)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s2", "text": "Back again"}),
                    world.sender)
    second = world.api.of(visitor.connection_id, "ack")[-1]["conversation"]["id"]
    assert second != first
    send(world, agent, second, "Nora is a VIP, refund approved", internal=True)
    return {"agent": agent, "visitor": visitor, "session": session, "conversations": [first, second]}


def test_export_holds_everything_about_the_visitor_and_nothing_else(world, caplog):
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    other = data_of(world, "olga@example.com")  # same site, same agent pool
    elsewhere = data_of(world, "nora@example.com", site_key="site-b")  # same address, another workspace
    caplog.set_level(logging.INFO, logger="chalicelib.workspace.privacy")

    export = privacy.export_visitor(boss, nora["session"]["visitor_id"])
    assert export["format"] == privacy.EXPORT_FORMAT and export["visitor_id"] == nora["session"]["visitor_id"]
    assert export["visitor"]["email"] == "nora@example.com" and export["visitor"]["name"] == "Nora"
    assert [c["id"] for c in export["conversations"]] == nora["conversations"]
    first, second = export["conversations"]
    assert first["csat"] == {"rating": 5, "comment": "quick"} and first["status"] == "closed"
    assert [m["text"] for m in first["messages"] if not m.get("notice")] == ["Hello", "Hello Nora"]
    note = second["messages"][-1]
    assert note["text"] == "Nora is a VIP, refund approved" and note["internal"] is True
    assert "internal_notes" in export["about"]
    text = json.dumps(export)
    for stranger in (other, elsewhere):
        assert stranger["session"]["visitor_id"] not in text
        assert not any(cid in text for cid in stranger["conversations"])
    assert "olga" not in text
    assert not any(key in text for key in ("subscribers", "rate_times", "task_token", "ws_status"))

    [line] = [r for r in caplog.records if getattr(r, "audit", {}).get("action") == "export"]
    assert line.audit["conversations"] == 2 and line.audit["messages"] == 6
    assert "nora" not in line.getMessage().lower() and "Hello" not in line.getMessage()


def test_export_reads_every_message_of_a_long_conversation(world):
    boss = admin_caller(world)
    agent = world.online_agent()
    session = world.visitor_session()
    _, chat = new_chat(world, session=session)
    for i in range(300):
        messaging.store_message(agent, chat, f"line {i} " + "x" * 3900)  # 1.2 MB: two Query pages
    [conversation] = privacy.export_visitor(boss, session["visitor_id"])["conversations"]
    assert [m["seq"] for m in conversation["messages"]] == list(range(1, 303))  # with the joined notice


def test_data_requests_are_for_admins_of_the_visitors_workspace(world):
    nora = data_of(world, "nora@example.com")
    vid = nora["session"]["visitor_id"]
    plain = world.agent_connection(world.agent())
    for call in (lambda c: privacy.export_visitor(c, vid), lambda c: privacy.erase_visitor(c, vid, ERASE, world.sender),
                 lambda c: privacy.find_by_email(c, {"email": "nora@example.com"})):
        with pytest.raises(ForbiddenError):
            call(plain)
    stranger = admin_caller(world, "ws_b")
    with pytest.raises(NotFoundError):
        privacy.export_visitor(stranger, vid)
    with pytest.raises(NotFoundError):
        privacy.erase_visitor(stranger, vid, ERASE, world.sender)
    assert privacy.find_by_email(stranger, {"email": "nora@example.com"}) == {"items": []}
    with pytest.raises(NotFoundError):
        privacy.export_visitor(admin_caller(world), "v_nobody")
    assert Visitor.get(vid).erasing is None and Message.count(nora["conversations"][0]) == 3


@pytest.mark.parametrize("call, field", [
    (lambda boss, s: privacy.erase_visitor(boss, "v_x", {}, s), "confirm"),
    (lambda boss, s: privacy.erase_visitor(boss, "v_x", {"confirm": "yes"}, s), "confirm"),
    (lambda boss, s: privacy.erase_visitor(boss, "v" * 65, ERASE, s), "visitor_id"),
    (lambda boss, s: privacy.export_visitor(boss, "v" * 65), "visitor_id"),
    (lambda boss, s: privacy.find_by_email(boss, {}), "email"),
    (lambda boss, s: privacy.find_by_email(boss, {"email": "not-an-address"}), "email"),
])
def test_bad_input_is_a_bad_request_naming_the_field(world, call, field):
    with pytest.raises(BadRequestError) as info:
        call(admin_caller(world), world.sender)
    assert info.value.field == field


def test_find_by_email_uses_the_sparse_index(world):
    boss = admin_caller(world)
    nora = world.visitor_session(email="Nora@Example.com")
    later = world.visitor_session()  # gives the address in the pre-chat fields of `start`
    caller = world.visitor_connection(later)
    ws.handle_frame(caller.connection_id,
                    json.dumps({"action": "start", "ref": "s", "fields": {"email": "nora@example.com"}}), world.sender)
    world.visitor_session(email="someone@example.com")
    found = privacy.find_by_email(boss, {"email": "NORA@example.com"})["items"]
    assert {v["id"] for v in found} == {nora["visitor_id"], later["visitor_id"]}
    assert all(v["email"] == "nora@example.com" for v in found)
    assert Visitor.get(nora["visitor_id"]).email_key == "ws_a#nora@example.com"


# --- erasure -----------------------------------------------------------------------------------

def test_erase_removes_everything_and_frees_the_agent_slot(world, caplog):
    boss = admin_caller(world)
    agent = world.online_agent(capacity=2)
    nora = data_of(world, "nora@example.com", agent=agent)  # her open conversation holds one slot
    other = data_of(world, "olga@example.com", agent=agent)  # and Olga's the other
    _, waiting = new_chat(world)
    assert Agent.get(agent.id).active_chats == 2 and Conversation.get(waiting).status == "queued"
    caplog.set_level(logging.INFO, logger="chalicelib.workspace.privacy")

    result = privacy.erase_visitor(boss, nora["session"]["visitor_id"], ERASE, world.sender)

    assert result["complete"] is True
    # each conversation: the visitor's message, the agent's joined notice and reply
    assert result["erased"] == {"conversations": 2, "messages": 6, "keys": 2, "connections": 1, "visitor": 1}
    assert Visitor.count(nora["session"]["visitor_id"]) == 0
    for cid in nora["conversations"]:
        assert Conversation.count(cid) == 0 and Message.count(cid) == 0 and claims_of(cid) == []
    assert nora["visitor"].connection_id not in world.api.live
    assert Connection.count(nora["visitor"].connection_id) == 0
    assert not list(Conversation.by_visitor.query(nora["session"]["visitor_id"]))
    assert privacy.find_by_email(boss, {"email": "nora@example.com"}) == {"items": []}
    # The slot came back through the status change, and routing used it: the waiting chat has it now.
    assert Conversation.get(waiting).assignee_id == agent.id and Agent.get(agent.id).active_chats == 2
    assert all(int(a.active_chats) == Conversation.by_assignee.count(a.id) for a in Agent.by_workspace.query("ws_a"))
    # Others' data is untouched.
    assert all(Message.count(cid) >= 2 for cid in other["conversations"])
    assert Visitor.count(other["session"]["visitor_id"]) == 1
    # The agent's socket forgot the conversation.
    assert nora["conversations"][1] not in (Connection.get(agent.connection_id).subscriptions or set())
    # Audit lines: ids and counts, no name or address.
    lines = [r.audit for r in caplog.records if hasattr(r, "audit")]
    assert [line["action"] for line in lines] == ["erase_started", "erase", "find"]
    assert lines[1]["messages"] == 6 and lines[1]["actor_id"] == boss.id and lines[2]["found"] == 0
    assert "nora" not in json.dumps(lines).lower()


def test_erase_twice_the_second_finds_nothing_and_the_visitor_may_come_back_fresh(world):
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    vid = nora["session"]["visitor_id"]
    assert privacy.erase_visitor(boss, vid, ERASE, world.sender)["complete"] is True
    with pytest.raises(NotFoundError):
        privacy.erase_visitor(boss, vid, ERASE, world.sender)
    # Their old token no longer opens a socket; the widget's resume token starts a fresh, empty record.
    with pytest.raises(UnauthorizedError):
        lifecycle.connect("conn-after-erase", nora["session"]["token"])
    fresh = sessions.create_visitor_session({"site_key": "site-a", "resume_token": nora["session"]["token"]})
    visitor = Visitor.get(fresh["visitor_id"])
    assert visitor.email is None and visitor.active_conversation_id is None and not visitor.blocked


def test_an_erase_cut_short_is_finished_by_the_next_call(world, monkeypatch):
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    vid = nora["session"]["visitor_id"]

    # Out of time before any conversation: the visitor is marked and blocked, nothing else yet.
    first = privacy.erase_visitor(boss, vid, ERASE, world.sender, budget=0)
    assert first["complete"] is False and first["erased"]["conversations"] == 0
    assert Visitor.get(vid).erasing and Visitor.get(vid).blocked
    with pytest.raises(ForbiddenError):
        sessions.create_visitor_session({"site_key": "site-a", "resume_token": nora["session"]["token"]})
    assert team.visitor_profile(boss, vid)["visitor"]["erasing"] is True

    # The Lambda dies after a conversation's messages went, before the conversation did.
    real_delete = Conversation.delete

    def dies(self, *args, **kwargs):
        raise RuntimeError("Lambda timed out")
    monkeypatch.setattr(Conversation, "delete", dies)
    with pytest.raises(RuntimeError):
        privacy.erase_visitor(boss, vid, ERASE, world.sender)
    monkeypatch.setattr(Conversation, "delete", real_delete)
    assert Message.count(nora["conversations"][0]) == 0 and Conversation.count(nora["conversations"][0]) == 1

    done = privacy.erase_visitor(boss, vid, ERASE, world.sender)
    assert done["complete"] is True and done["erased"]["conversations"] == 2 and done["erased"]["visitor"] == 1
    assert all(Conversation.count(cid) == 0 for cid in nora["conversations"]) and Visitor.count(vid) == 0
    assert all(int(a.active_chats) == Conversation.by_assignee.count(a.id) for a in Agent.by_workspace.query("ws_a"))


def test_a_message_stored_during_the_erase_is_swept_too(world, monkeypatch):
    """The conversation is deleted only if no message arrived after its messages were: else again."""
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    second = nora["conversations"][1]
    real = privacy._delete_messages
    calls = []

    def with_a_late_note(conversation_id, counts):
        real(conversation_id, counts)
        if conversation_id == second and not calls:
            calls.append(1)
            messaging.store_message(nora["agent"], second, "a late note", internal=True)
    monkeypatch.setattr(privacy, "_delete_messages", with_a_late_note)
    result = privacy.erase_visitor(boss, nora["session"]["visitor_id"], ERASE, world.sender)
    assert result["complete"] is True and result["erased"]["messages"] == 7  # with the two joined notices
    assert Message.count(second) == 0 and Conversation.count(second) == 0


def test_erasing_a_queued_visitor_takes_their_chat_out_of_the_queue(world):
    boss = admin_caller(world)
    session = world.visitor_session()
    _, chat = new_chat(world, session=session)
    assert Conversation.get(chat).status == "queued"
    privacy.erase_visitor(boss, session["visitor_id"], ERASE, world.sender)
    agent = world.online_agent()
    assert routing.drain("ws_a", world.sender) == [] and Agent.get(agent.id).active_chats == 0


def test_a_visitor_whose_record_expired_can_still_be_exported_and_erased(world):
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    vid = nora["session"]["visitor_id"]
    Visitor(vid).delete()  # TTL took the record; conversations with their own horizon remain
    export = privacy.export_visitor(boss, vid)
    assert export["visitor"] is None and len(export["conversations"]) == 2
    result = privacy.erase_visitor(boss, vid, ERASE, world.sender)
    assert result["complete"] is True and result["erased"]["conversations"] == 2 and result["erased"]["visitor"] == 0
    with pytest.raises(NotFoundError):
        privacy.export_visitor(boss, vid)


def test_a_conflicting_change_during_the_close_is_retried(world, monkeypatch):
    boss = admin_caller(world)
    nora = data_of(world, "nora@example.com")
    real, raised = privacy._close, []

    def conflict_once(conversation, sender):
        if not raised:
            raised.append(1)
            raise ConflictError("the conversation changed meanwhile; reload it")
        return real(conversation, sender)
    monkeypatch.setattr(privacy, "_close", conflict_once)
    assert privacy.erase_visitor(boss, nora["session"]["visitor_id"], ERASE, world.sender)["complete"] is True


# --- REST --------------------------------------------------------------------------------------

def test_rest_routes_export_as_a_download_erase_and_find(world, cognito, monkeypatch):
    bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
    boss = admin_caller(world)
    created = admin.create_agent(boss, {"email": "dpo@example.com", "name": "Dee", "role": "admin",
                                        "password": "a-good-password"})
    token = sessions.agent_login({"email": "dpo@example.com", "password": "a-good-password"})["token"]
    plain = admin.create_agent(boss, {"email": "plain@example.com", "name": "Pat", "password": "a-good-password"})
    plain_token = sessions.agent_login({"email": "plain@example.com", "password": "a-good-password"})["token"]
    assert created["role"] == "admin" and plain["role"] == "agent"
    nora = data_of(world, "nora@example.com")
    vid = nora["session"]["visitor_id"]
    auth = {"Authorization": f"Bearer {token}"}
    with Client(app_module.app) as client:
        found = client.http.get("/v1/visitors?email=nora%40example.com", headers=auth)
        assert found.status_code == 200 and [v["id"] for v in found.json_body["items"]] == [vid]
        export = client.http.get(f"/v1/visitors/{vid}/export", headers=auth)
        assert export.status_code == 200 and export.headers["Content-Disposition"].startswith("attachment;")
        assert json.loads(export.body)["visitor"]["id"] == vid
        refused = client.http.get(f"/v1/visitors/{vid}/export", headers={"Authorization": f"Bearer {plain_token}"})
        assert refused.status_code == 403 and refused.json_body["error"]["code"] == "forbidden"
        unconfirmed = client.http.delete(f"/v1/visitors/{vid}", headers=auth)
        assert unconfirmed.status_code == 400 and unconfirmed.json_body["error"]["field"] == "confirm"
        erased = client.http.delete(f"/v1/visitors/{vid}?confirm=erase", headers=auth)
        assert erased.status_code == 200 and erased.json_body["complete"] is True
        assert client.http.delete(f"/v1/visitors/{vid}?confirm=erase", headers=auth).status_code == 404
        assert client.http.get(f"/v1/visitors/{vid}", headers=auth).status_code == 404


# --- the flows stop with the conversation --------------------------------------------------------

def test_erasing_a_waiting_visitor_releases_their_handoff_flow(flows_env):
    env = flows_env
    visitor, cid = env.chat()
    conversation = env.until(lambda: (lambda c: c if c.task_token else None)(Conversation.get(cid)))
    name = f"handoff-{cid}-{stepfunctions._stamp_ms(conversation.queued_at)}"
    started = time.monotonic()
    privacy.erase_visitor(admin_caller(env.world), visitor.id, ERASE, env.world.sender)
    done = env.finished("handoff", name)
    assert done["status"] == "SUCCEEDED" and time.monotonic() - started < 4  # released, not timed out
    assert Conversation.count(cid) == 0 and env.pump_webhooks() == 0  # no missed-chat alert


def test_an_inactivity_flow_running_during_the_erase_finds_nothing_to_do(flows_env):
    env = flows_env
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    seq = env.frame(agent, action="send", conversation_id=cid, text="Your order number?")["message"]["seq"]
    result = privacy.erase_visitor(admin_caller(env.world), visitor.id, ERASE, env.world.sender)
    assert result["complete"] is True and Agent.get(agent.id).active_chats == 0
    done = env.finished("inactivity", f"inactivity-{cid}-{seq}")
    assert done["status"] == "SUCCEEDED" and done["output"]["check"]["step"] == {"next": "done"}
    assert Message.count(cid) == 0 and Conversation.count(cid) == 0  # no step wrote anything back
