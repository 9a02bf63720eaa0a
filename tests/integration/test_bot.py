"""The bot on moto (issue 15, docs/bot.md): a site's flow, saved in versions and checked with errors naming
the node and field; conversations that start with the bot; `choose`, free text, fields, lookups,
branches; every failure handing off once; the three outcomes and the 24-hour revert."""
import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.bot import flows
from chalicelib.chat import bot_turns
from chalicelib.edges import flow_tasks, ws
from chalicelib.errors import BadRequestError, ForbiddenError
from chalicelib.kb import articles
from chalicelib.net import signing
from chalicelib.store.models import Conversation, Message, Site, Visitor
from tests.integration.test_admin import admin_caller
from tests.integration.test_kb import RETURNS, SHIPPING

SECRET_SEEN = {}


class Shop(BaseHTTPRequestHandler):
    """The company's own server: order 1234 is shipped; 5555 answers without the template's key; 9999 is
    slow; anything else is not found."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SECRET_SEEN["headers"] = dict(self.headers)
        SECRET_SEEN["body"] = body
        order = json.loads(body)["fields"].get("order_number")
        if order == "9999":
            import time
            time.sleep(4)
        answer, status = {"1234": ({"status": "shipped", "eta": "Friday"}, 200),
                          "5555": ({"state": "odd"}, 200)}.get(order, ({"error": "not found"}, 404))
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    server.shutdown()


def shop_flow(url: str) -> dict:
    return {
        "enabled": True, "start": "welcome", "max_turns": 3,
        "nodes": {
            "welcome": {"kind": "message", "text": {"en": "Hi, I am the shop's assistant.", "fr": "Bonjour !"},
                        "next": "menu"},
            "menu": {"kind": "options", "text": {"en": "What can I do for you?", "fr": "Que puis-je faire ?"},
                     "options": [{"id": "order", "label": {"en": "Where is my order?", "fr": "Ma commande ?"},
                                  "next": "order_number"},
                                 {"id": "help", "label": {"en": "Shipping and returns"}, "next": "faq"},
                                 {"id": "sales", "label": {"en": "Talk to sales"}, "next": "to_sales"}]},
            "order_number": {"kind": "ask", "next": "order_status",
                             "fields": [{"name": "order_number", "type": "text", "required": True,
                                         "pattern": "^[0-9]{4}$", "label": {"en": "Your order number?"},
                                         "retry": {"en": "Order numbers are 4 digits."}}]},
            "order_status": {"kind": "lookup", "url": url, "fields": ["order_number"],
                             "template": {"en": "Order {order_number}: {status}, arriving {eta}."},
                             "next": "menu", "fallback": "to_support"},
            "faq": {"kind": "articles", "text": {"en": "These may help:"}, "solved": "bye", "unsolved": "to_support"},
            "bye": {"kind": "message", "text": {"en": "Glad I could help!"}, "end": True},
            "to_sales": {"kind": "handoff", "group": "sales", "text": {"en": "A salesperson will be with you."}},
            "to_support": {"kind": "handoff", "group": "support", "text": {"en": "Let me find you a person."}},
        },
    }


def install(world, flow: dict, site_key: str = "site-a") -> dict:
    return flows.save(admin_caller(world), site_key, flow)


def frame(world, caller, ref: str, **body) -> dict:
    """Send a frame; its answer (ack or error)."""
    ws.handle_frame(caller.connection_id, json.dumps({"ref": ref, **body}), world.sender)
    return next(f for f in reversed(world.api.of(caller.connection_id)) if f.get("ref") == ref)


def bot_texts(conversation_id: str) -> list[str]:
    return [m.text for m in Message.query(conversation_id) if m.author_kind == "bot"]


def start(world, visitor, **body) -> dict:
    ack = frame(world, visitor, "start", action="start", **body)
    assert ack["type"] == "ack", ack
    return ack


# --- the flow document ------------------------------------------------------------------------

def test_a_saved_flow_is_a_new_version_and_the_site_points_at_it(world, shop):
    first = install(world, shop_flow(shop))
    assert first["version"] == 1 and first["enabled"] is True and first["lookup_secret"].startswith("bot_")
    changed = shop_flow(shop)
    changed["nodes"]["welcome"]["text"]["en"] = "Hello again."
    second = install(world, changed)
    assert second["version"] == 2 and second["lookup_secret"] == first["lookup_secret"]  # kept across saves
    assert Site.get("site-a").bot_version == 2
    assert flows.version("site-a", 1)["nodes"]["welcome"]["text"]["en"] == "Hi, I am the shop's assistant."
    assert flows.read(admin_caller(world), "site-a")["flow"]["nodes"]["welcome"]["text"]["en"] == "Hello again."


def test_every_problem_is_named_by_its_node_and_field(world, shop):
    broken = shop_flow(shop)
    broken["nodes"]["menu"]["options"][1]["next"] = "nowhere"
    broken["nodes"]["order_number"]["fields"][0]["pattern"] = "([0-9"
    broken["nodes"]["menu"]["options"].append({"id": "human", "label": {"en": "x"}, "next": "menu"})
    del broken["nodes"]["to_sales"]["text"]
    broken["nodes"]["order_status"]["url"] = "http://10.0.0.1/orders"
    with pytest.raises(BadRequestError) as raised:
        install(world, broken)
    fields = [p["field"] for p in raised.value.to_dict()["errors"]]
    assert "nodes.menu.options[1].next" in fields
    assert "nodes.order_number.fields[0].pattern" in fields
    assert "nodes.menu.options[3].id" in fields  # a reserved id
    assert "nodes.order_status.url" in fields
    assert raised.value.field == fields[0] and raised.value.to_dict()["message"].startswith(fields[0])
    assert Site.get("site-a").bot_version is None  # nothing saved


def test_only_admins_change_the_flow_and_only_their_own_sites(world, shop):
    agent = world.agent_connection(world.agent())
    with pytest.raises(ForbiddenError):
        flows.save(agent, "site-a", shop_flow(shop))
    from chalicelib.errors import NotFoundError
    with pytest.raises(NotFoundError):
        flows.save(admin_caller(world, "ws_b"), "site-a", shop_flow(shop))


# --- conversations with the bot ----------------------------------------------------------------

def test_a_new_conversation_starts_with_the_bot_and_a_choice_moves_it_on(world, shop):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    ack = start(world, visitor)
    conversation = ack["conversation"]
    assert conversation["status"] == "bot"
    assert [m["text"] for m in ack["messages"]] == [
        "Hi! How can we help? Nobody is online right now: leave a message and we will answer by email.",
        "Hi, I am the shop's assistant.", "What can I do for you?"]
    menu = ack["messages"][-1]
    assert [o["id"] for o in menu["options"]] == ["order", "help", "sales", "human"]  # a person, always one tap away
    assert menu["author"]["kind"] == "bot"

    chosen = frame(world, visitor, "c1", action="choose", conversation_id=conversation["id"], option_id="order")
    assert chosen["type"] == "ack" and chosen["message"]["text"] == "Where is my order?"
    assert chosen["messages"][0]["ask"] == {"field": "order_number", "type": "text", "required": True}
    # The bot's replies also reach the visitor's socket as events (their other tabs too).
    events = [f for f in world.api.of(visitor.connection_id) if f.get("type") == "message"]
    assert events[-1]["message"]["text"] == "Your order number?"

    retry = frame(world, visitor, "s1", action="send", conversation_id=conversation["id"], text="12")
    assert retry["message"]["text"] == "12"
    assert bot_texts(conversation["id"])[-2:] == ["Order numbers are 4 digits.", "Your order number?"]
    frame(world, visitor, "s2", action="send", conversation_id=conversation["id"], text="1234")
    assert bot_texts(conversation["id"])[-2:] == ["Order 1234: shipped, arriving Friday.", "What can I do for you?"]
    stored = Conversation.get(conversation["id"])
    assert stored.status == "bot" and stored.fields.as_dict() == {"order_number": "1234"}
    # The lookup was signed with the site's secret, as webhooks are (Standard Webhooks).
    headers, body = SECRET_SEEN["headers"], SECRET_SEEN["body"]
    secret = Site.get("site-a").bot_secret
    assert headers["webhook-signature"] == signing.sign_standard(secret, headers["webhook-id"],
                                                                 int(headers["webhook-timestamp"]), body)
    assert json.loads(body)["fields"] == {"order_number": "1234"}


def test_the_greeting_names_who_is_online_and_the_real_wait_as_the_availability_route_does(world, shop):
    from chalicelib.chat import sites
    from chalicelib.store.models import Agent, Workspace
    install(world, shop_flow(shop))
    dana = world.online_agent(name="Dana Smith", capacity=1)
    alex = world.online_agent(name="Alex", capacity=1)
    assert sites.availability("site-a", None, "en")["greeting"] == \
        "Hi! How can we help? Alex and Dana are online and can answer you now."
    opening = start(world, world.visitor_connection())["messages"][0]["text"]
    assert opening.endswith("Alex and Dana are online and can answer you now.")
    for agent in (dana, alex):  # both full: the wait at the queue's moving average
        Agent(agent.id).update(actions=[Agent.active_chats.set(1)])
    Workspace("ws_a").update(actions=[Workspace.wait_seconds.set(150)])
    french = sites.availability("site-a", None, "fr-FR")
    assert french["agents"] == ["Alex", "Dana"] and french["eta_seconds"] == 150
    assert french["greeting"].endswith("Alex et Dana sont en ligne\u202f; l’attente est d’environ 2 minutes.")


@pytest.mark.parametrize("order, reason", [("4321", "lookup_failed"), ("5555", "lookup_failed")])
def test_a_failed_lookup_goes_to_its_fallback(world, shop, order, reason):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    frame(world, visitor, "c", action="choose", conversation_id=conversation_id, option_id="order")
    frame(world, visitor, "s", action="send", conversation_id=conversation_id, text=order)
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.group, stored.bot_outcome) == ("queued", "support", "handed_off")
    assert bot_texts(conversation_id)[-1] == "Let me find you a person."


def test_talk_to_a_person_hands_off_once_and_the_bot_is_silent_after(world, shop):
    install(world, shop_flow(shop))
    agent = world.online_agent(groups=["support"])
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    ack = frame(world, visitor, "h", action="choose", conversation_id=conversation_id, option_id="human")
    assert ack["type"] == "ack"
    stored = Conversation.get(conversation_id)
    assert stored.bot_outcome == "handed_off" and stored.bot_handoff_reason == "asked"
    assert stored.status == "open" and stored.assignee_id == agent.id  # routing took it at once
    again = frame(world, visitor, "h2", action="choose", conversation_id=conversation_id, option_id="human")
    assert again["type"] == "error" and again["code"] == "not_found"
    before = len(bot_texts(conversation_id))
    frame(world, visitor, "s", action="send", conversation_id=conversation_id, text="hello?")
    assert len(bot_texts(conversation_id)) == before  # a person's conversation now


def test_concurrent_retries_of_a_choice_hand_off_exactly_once(world, shop):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    inbox_before = sum(1 for f in world.api.all_frames() if f.get("type") == "inbox") \
        if hasattr(world.api, "all_frames") else None

    def choose(i):
        return bot_turns.visitor_turn(visitor, conversation_id, world.sender, option="sales")

    results = []
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(choose, i) for i in range(8)]:
            try:
                results.append(future.result())
            except Exception as exc:
                results.append(exc)
    played = [r for r in results if isinstance(r, bot_turns.Played) and r.answered and not r.duplicate]
    assert len(played) == 1
    handoffs = [m.text for m in Message.query(conversation_id) if m.text == "A salesperson will be with you."]
    assert handoffs == ["A salesperson will be with you."]
    stored = Conversation.get(conversation_id)
    assert stored.status == "queued" and stored.group == "sales"
    del inbox_before


def test_free_text_at_a_choice_gets_articles_then_the_offer_of_a_person(world, shop):
    boss = admin_caller(world)
    shipping = articles.create(boss, {**SHIPPING, "status": "published"})
    articles.create(boss, {**RETURNS, "status": "published"})
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor, text="how long does delivery take")["conversation"]["id"]
    found = [m for m in Message.query(conversation_id) if m.articles]
    assert found and found[-1].articles[0]["id"] == shipping["id"]
    last = list(Message.query(conversation_id))[-1]
    assert [o["id"] for o in last.options] == ["yes", "no", "human"]
    frame(world, visitor, "n", action="choose", conversation_id=conversation_id, option_id="no")
    last = list(Message.query(conversation_id))[-1]
    assert [o["id"] for o in last.options] == ["order", "help", "sales", "human"]  # the question again
    frame(world, visitor, "y", action="choose", conversation_id=conversation_id, option_id="help")
    confirmed = frame(world, visitor, "y2", action="choose", conversation_id=conversation_id, option_id="yes")
    assert confirmed["conversation"]["status"] == "solved"  # the ack shows the turn's outcome
    told = [f["conversation"]["status"] for f in world.api.of(visitor.connection_id) if f.get("type") == "conversation"]
    assert told[-1] == "solved"  # and so does the visitor's conversation event
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.resolution, stored.bot_outcome) == ("solved", "bot", "confirmed")
    assert bot_texts(conversation_id)[-1] == "Glad I could help!"


def test_turns_without_progress_hand_off(world, shop):
    install(world, shop_flow(shop))  # max_turns 3
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    for i in range(3):
        frame(world, visitor, f"s{i}", action="send", conversation_id=conversation_id, text="blah blah")
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.bot_handoff_reason) == ("queued", "no_progress")


def test_a_bot_error_hands_off(world, shop, monkeypatch):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    from chalicelib.bot import engine

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr(engine, "_choose", broken)
    ack = frame(world, visitor, "c", action="choose", conversation_id=conversation_id, option_id="order")
    assert ack["type"] == "ack"
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.bot_handoff_reason) == ("queued", "error")


def test_a_dead_end_hands_off(world, shop, monkeypatch):
    """A node without a next step cannot be saved; one in a version stored before a rule existed still
    hands off rather than strand the visitor."""
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    stale = copy.deepcopy(flows.version("site-a", 1))
    del stale["nodes"]["order_number"]
    monkeypatch.setitem(flows._versions, ("site-a", 1), stale)
    frame(world, visitor, "c", action="choose", conversation_id=conversation_id, option_id="order")
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.bot_handoff_reason) == ("queued", "dead_end")
    assert bot_texts(conversation_id)[-1] == "Let me find you a person."


def test_the_outcome_is_published_for_the_reports(events_env, shop):
    env = events_env
    flows.save(env.admin(), "site-a", shop_flow(shop))
    visitor = env.world.visitor_connection()
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "start", "ref": "s"}), env.world.sender)
    conversation_id = env.world.api.of(visitor.connection_id, "ack")[-1]["conversation"]["id"]
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "choose", "ref": "h", "option_id": "sales",
                                                       "conversation_id": conversation_id}), env.world.sender)
    from tests.integration.test_events import published
    outcomes = [e for e in published(env) if e["type"] == "bot.outcome"]
    assert [(e["data"]["outcome"], e["data"]["final"], e["data"]["reason"]) for e in outcomes] == \
        [("handed_off", True, "flow")]
    assert outcomes[0]["data"]["conversation"]["bot"]["outcome"] == "handed_off"


# --- outcomes -------------------------------------------------------------------------------------

def test_assumed_after_quiet_reverted_by_a_return_within_24_hours_final_after(world, shop):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    frame(world, visitor, "c", action="choose", conversation_id=conversation_id, option_id="order")
    frame(world, visitor, "s", action="send", conversation_id=conversation_id, text="1234")
    stored = Conversation.get(conversation_id)
    Conversation(conversation_id).update(actions=[Conversation.activity_at.set("2020-01-01T00:00:00.000Z")])
    step = flow_tasks.bot_check({"conversation_id": conversation_id, "idle_wait": 60}, world.sender)
    assert step["next"] == "assumed"
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.bot_outcome, stored.bot_outcome_final) == ("solved", "assumed", False)
    # The visitor comes back within the 24 hours: reverted, and the bot goes on.
    frame(world, visitor, "back", action="choose", conversation_id=conversation_id, option_id="order")
    stored = Conversation.get(conversation_id)
    assert stored.status == "bot" and stored.bot_outcome is None
    assert flow_tasks.bot_finalize({"conversation_id": conversation_id, "at": step["at"]}, world.sender) == \
        {"final": False}  # the reverted outcome is not made final
    Conversation(conversation_id).update(actions=[Conversation.activity_at.set("2020-01-01T00:00:00.000Z")])
    step = flow_tasks.bot_check({"conversation_id": conversation_id, "idle_wait": 60}, world.sender)
    assert flow_tasks.bot_finalize({"conversation_id": conversation_id, "at": step["at"]}, world.sender) == \
        {"final": True}
    assert Conversation.get(conversation_id).bot_outcome_final is True


def test_a_conversation_nobody_answered_gets_no_outcome(world, shop):
    install(world, shop_flow(shop))
    visitor = world.visitor_connection()
    conversation_id = start(world, visitor)["conversation"]["id"]
    Conversation(conversation_id).update(actions=[Conversation.activity_at.set("2020-01-01T00:00:00.000Z")])
    assert flow_tasks.bot_check({"conversation_id": conversation_id, "idle_wait": 60}, world.sender) == {"next": "done"}
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.bot_outcome) == ("closed", None)


def test_a_preview_session_runs_a_disabled_version_and_never_reaches_a_person(world, shop):
    flow = shop_flow(shop)
    flow["enabled"] = False
    saved = install(world, flow)
    assert Site.get("site-a").bot_enabled is False
    regular = world.visitor_connection()
    assert start(world, regular)["conversation"]["status"] == "queued"  # the flow is off for visitors
    ticket = flows.preview_ticket(admin_caller(world), "site-a", {"version": saved["version"]})["ticket"]
    session = world.visitor_session(preview=ticket)
    assert Visitor.get(session["visitor_id"]).preview_bot == saved["version"]
    previewer = world.visitor_connection(session)
    conversation_id = start(world, previewer)["conversation"]["id"]
    frame(world, previewer, "h", action="choose", conversation_id=conversation_id, option_id="human")
    stored = Conversation.get(conversation_id)
    assert (stored.status, stored.resolution, stored.preview) == ("solved", "preview", True)
    from chalicelib.errors import UnauthorizedError
    with pytest.raises(UnauthorizedError):
        world.visitor_session(site_key="site-b", preview=ticket)  # another site's ticket
    # Nobody's work: no view lists it, no count counts it (the regular visitor's conversation is there).
    from chalicelib.chat import conversations
    agent = world.agent_connection(world.agent())
    for view in ("all", "solved"):
        listed = [c["id"] for c in conversations.list_view(agent, view, 50, None)["items"]]
        assert conversation_id not in listed, view
    assert conversations.counts(agent)["all"] == 1 and conversations.counts(agent)["solved"] == 0


def test_the_console_may_preview_any_site_of_the_deployment_other_pages_may_not(world, monkeypatch):
    """The preview runs the real widget on the console's own page: a site listing only its own pages
    still lets the deployment's console use its widget, and nobody else."""
    from chalicelib.chat import sites
    from chalicelib.config import settings
    from chalicelib.errors import OriginNotAllowedError
    monkeypatch.setattr(settings, "console_origins", ("https://console.parley.example",))
    site = Site.get("site-a")
    site.settings.allowed_origins = ["https://shop.example"]
    site.save()
    assert sites.widget_settings("site-a", "https://console.parley.example")["site_key"] == "site-a"
    assert sites.widget_settings("site-a", "https://shop.example")["site_key"] == "site-a"
    with pytest.raises(OriginNotAllowedError):
        sites.widget_settings("site-a", "https://evil.example")
