"""The bot's visitor journeys (docs/bot.md) in headless Chromium against the real local stack: the widget on
the demo workspace's `demo-bot` site, where each test installs the demo shop's flow (infra/local/demo_bot.json,
PUT /v1/sites/demo-bot/bot; the shared `demo` site keeps none), greets on opening, offers choices, looks an
order up on the shop's own server (one this module runs on 127.0.0.1: the stack's own shop answers the `demo`
site's signature only), offers articles whose view's Yes solves and whose No hands off, and hands off to an
agent of a group on "Talk to a person", a choice or a failed lookup; in English and in French; and the
console's preview, apart from the visitor's own session. Every wait is bounded."""
import copy
import http.server
import json
import re
import threading
import uuid
from pathlib import Path

import pytest
from browser_helpers import ADMIN, AgentSocket, Api, bubbles, eventually, quiet_workspace, write
from playwright.sync_api import expect

from chalicelib.bot.engine import say  # what the bot itself says (not the flow): "Did this solve it?", Skip…
from infra.local.shop import ORDERS

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)

SITE = "demo-bot"  # the demo workspace's site for these tests (infra/local/stack.py)
DEMO_FLOW = json.loads((Path(__file__).resolve().parents[2] / "infra" / "local" / "demo_bot.json").read_text())
BOT = ".parley-log .parley-msg.parley-bot .parley-bubble"
CHIPS = ".parley-log .parley-msg:last-child .parley-chip"  # the chips of the last message: the open question


def said(node: str, lang: str = "en", key: str = "text") -> str:
    """What the demo flow's node says (its text, or its `template`)."""
    return DEMO_FLOW["nodes"][node][key][lang]


def label(option: str, lang: str = "en") -> str:
    """The label of one of the demo flow's menu options."""
    return next(o["label"][lang] for o in DEMO_FLOW["nodes"]["menu"]["options"] if o["id"] == option)


def order_question(lang: str = "en") -> str:
    """The demo flow's question for the order number."""
    return DEMO_FLOW["nodes"]["order_number"]["fields"][0]["label"][lang]


def flow(shop: str, nodes: dict | None = None, **changes) -> dict:
    """The demo shop's flow, its lookup on this module's shop; `nodes` added or replaced, `changes` at the top."""
    document = copy.deepcopy(DEMO_FLOW)
    document["nodes"]["order_status"]["url"] = shop
    document["nodes"].update(nodes or {})
    document.update(changes)
    return document


@pytest.fixture(scope="module")
def shop():
    """The shop's own server: POST /parley/orders answers the demo shop's orders (infra/local/shop.py's 1234
    and 2345) and no other (404); `shop.asked` keeps each lookup's body."""
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            asked.append(body)
            found = ORDERS.get(body["fields"].get("order_number"))
            answer = json.dumps(found or {"error": "no such order"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url, server.asked = f"http://127.0.0.1:{server.server_address[1]}/parley/orders", asked
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def admin(stack):
    return Api(stack, ADMIN)


@pytest.fixture
def install(stack, admin, shop):
    """install(nodes=None, **changes) saves the flow (flow()) on SITE; the site has no flow again afterwards."""
    def put(nodes: dict | None = None, **changes) -> dict:
        return admin.call("PUT", f"/v1/sites/{SITE}/bot", flow(shop.url, nodes, **changes))
    yield put
    status, _ = stack.request("DELETE", f"/v1/sites/{SITE}/bot", token=admin.token)
    assert status == 204


@pytest.fixture
def agent(stack, admin):
    """Alex Agent away (routing gives him nothing until a test says otherwise), Ada Admin away, nothing left
    open; `agent.join_groups(*names)` puts him in those groups (none again afterwards)."""
    quiet_workspace(stack)
    socket = AgentSocket(stack)
    socket.request("presence", status="away")
    socket.join_groups = lambda *groups: admin.call("PATCH", f"/v1/agents/{socket.profile['id']}", {"groups": list(groups)})
    yield socket
    socket.close()
    admin.call("PATCH", f"/v1/agents/{socket.profile['id']}", {"groups": []})


def open_widget(new_page, stack, locale: str = "en-US"):
    """A fresh person on the demo page of SITE, the panel open; `page.sent` collects the frames the widget
    sends, `page.searches` its knowledge base searches, `page.conversation(token)` reads its conversation."""
    page = new_page(locale=locale)
    page.sent, page.searches = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: page.sent.append(json.loads(payload))))
    page.on("request", lambda r: "/v1/articles/search" in r.url and page.searches.append(r.url))

    def conversation(token: str) -> dict:
        """The conversation the widget holds, as agents read it (REST)."""
        conversation_id = page.evaluate(f"JSON.parse(localStorage.getItem('parley:{SITE}') || '{{}}').conv")
        assert conversation_id, "the widget holds no conversation"
        status, body = stack.request("GET", f"/v1/conversations/{conversation_id}", token=token)
        assert status == 200, body
        return body["conversation"]
    page.conversation = conversation
    page.goto(f"{stack.http}/?site={SITE}&t={uuid.uuid4().hex[:12]}")
    page.locator(".parley-launcher").click()
    expect(page.locator(".parley-panel")).to_be_visible()
    return page


def sent(page, action: str) -> list[dict]:
    return [frame for frame in page.sent if frame.get("action") == action]


# --- the greeting and the choices ----------------------------------------------------------------

def test_opening_the_panel_starts_with_the_bots_greeting_and_a_choice_leads_on(stack, new_page, install, agent,
                                                                                artifacts):
    install()
    page = open_widget(new_page, stack)
    # the site's greeting with who is online (nobody: both demo agents are away), then the flow's first words
    expect(page.locator(BOT)).to_have_text([re.compile(r"^Hi! How can we help\? Nobody is online"), said("welcome"),
                                            said("menu")])
    expect(page.locator(".parley-greeting")).to_be_hidden()  # said once, by the bot
    expect(page.locator(".parley-msg.parley-bot .parley-author").first).to_have_text("Assistant")
    # the way to a person is the control above the composer, not one more chip
    expect(page.locator(CHIPS)).to_have_text([label("order"), label("shipping"), label("sales"), label("support")])
    human = page.get_by_role("button", name="Talk to a person")
    expect(human).to_be_visible()
    assert [{k: v for k, v in f.items() if k != "ref"} for f in sent(page, "start")] == [
        {"action": "start", "page_url": page.url, "fields": {}}]  # no text: the bot speaks first
    assert bubbles(page)[1:] == [said("welcome"), said("menu")]  # the visitor said nothing
    assert page.conversation(agent.token)["status"] == "bot"
    page.screenshot(path=str(artifacts / "widget-bot-greeting.png"))

    # While the bot answers, the widget suggests no articles as the visitor types (the bot does that).
    box = page.locator(".parley-composer textarea")
    box.press_sequentially("how long does delivery take", delay=10)
    page.wait_for_timeout(600)
    assert page.searches == [] and page.locator(".parley-suggest .parley-chip").count() == 0
    box.fill("")

    page.locator(CHIPS, has_text=label("order")).click()
    expect(page.locator(".parley-msg.parley-visitor .parley-bubble")).to_have_text([label("order")])
    expect(page.locator(BOT).last).to_have_text(order_question())
    expect(page.locator(CHIPS)).to_have_count(0)  # a required question: nothing to skip
    conversation_id = page.conversation(agent.token)["id"]
    assert [(f["option_id"], f["conversation_id"]) for f in sent(page, "choose")] == [("order", conversation_id)]

    page.reload()  # a reload finds the conversation where it stands: with the bot
    page.locator(".parley-launcher").click()
    expect(page.locator(BOT).last).to_have_text(order_question())
    expect(page.get_by_role("button", name="Talk to a person")).to_be_visible()
    assert sent(page, "start") == sent(page, "start")[:1]  # no second conversation
    assert page.errors == []


# --- lookups -------------------------------------------------------------------------------------

def test_an_order_number_is_checked_then_looked_up_on_the_shops_server(stack, new_page, install, agent, shop):
    install()
    page = open_widget(new_page, stack)
    page.locator(CHIPS, has_text=label("order")).click()
    expect(page.locator(BOT).last).to_have_text(order_question())
    write(page, "12")
    retry = DEMO_FLOW["nodes"]["order_number"]["fields"][0]["retry"]["en"]
    expect(page.locator(BOT).nth(-2)).to_have_text(retry)  # the field's pattern refused it
    expect(page.locator(BOT).last).to_have_text(order_question())
    write(page, "1234")
    answer = said("order_status", key="template").format(order_number="1234", **ORDERS["1234"])
    expect(page.locator(BOT, has_text="Order 1234")).to_have_text(answer)
    expect(page.locator(BOT).last).to_have_text(said("menu"))  # and the menu again
    expect(page.locator(CHIPS)).to_have_count(4)
    conversation = page.conversation(agent.token)
    assert conversation["status"] == "bot" and conversation["fields"] == {"order_number": "1234"}
    assert [a["fields"] for a in shop.asked if a["conversation_id"] == conversation["id"]] == [{"order_number": "1234"}]
    assert page.errors == []


def test_a_lookup_that_fails_hands_the_visitor_to_a_person(stack, new_page, install, agent):
    install()
    page = open_widget(new_page, stack)
    page.locator(CHIPS, has_text=label("order")).click()
    expect(page.locator(BOT).last).to_have_text(order_question())
    write(page, "5678")  # the shop knows no such order: the flow's fallback, then Support
    expect(page.locator(BOT).nth(-2)).to_have_text(said("not_found"))
    expect(page.locator(BOT).last).to_have_text(said("to_support"))
    expect(page.locator(".parley-queue")).to_have_text(re.compile(r"^Waiting for an agent: position 1, about \d+ min$"))
    expect(page.get_by_role("button", name="Talk to a person")).to_be_hidden()  # with people now
    conversation = eventually(lambda: (c := page.conversation(agent.token))["status"] == "queued" and c)
    assert conversation["group"] == "support" and conversation["bot"]["outcome"] == "handed_off"

    # A people's conversation now: the suggestions are back while the visitor types, as on any chat.
    page.locator(".parley-composer textarea").press_sequentially("how long does shipping take", delay=10)
    expect(page.locator(".parley-suggest .parley-chip").first).to_have_text("Shipping times")
    assert page.errors == []


# --- articles ------------------------------------------------------------------------------------

def offered_articles(page):
    """Shipping and returns: the bot's articles (1 to 3), then Did this solve it? Yes / No."""
    page.locator(CHIPS, has_text=label("shipping")).click()
    offer = page.locator(".parley-log .parley-msg.parley-bot", has_text=said("faq"))
    articles = offer.locator(".parley-arts .parley-chip")
    expect(articles.first).to_be_visible()
    assert 1 <= articles.count() <= 3
    expect(page.locator(BOT).last).to_have_text(say("solved?", "en"))
    expect(page.locator(CHIPS)).to_have_text([say("yes", "en"), say("no", "en")])
    return articles


def test_an_article_the_bot_offers_opens_and_its_yes_solves_the_conversation(stack, new_page, install, agent,
                                                                             artifacts):
    install()
    page = open_widget(new_page, stack)
    scripts = []
    page.on("request", lambda r: r.url.endswith("/widget/widget-kb.js") and scripts.append(r.url))
    articles = offered_articles(page)
    title = articles.first.inner_text()
    page.screenshot(path=str(artifacts / "widget-bot-articles.png"))
    articles.first.click()
    article = page.locator(".parley-article")
    expect(article.locator(".parley-atitle")).to_have_text(title)
    assert len(scripts) == 1  # the article view, loaded on demand as for the suggestions
    with page.expect_request(lambda r: r.url.endswith("/v1/articles/events")
                             and json.loads(r.post_data)["event"] == "helpful") as answered:
        article.get_by_role("button", name="Yes").click()
    assert json.loads(answered.value.post_data)["conversation_id"] == page.conversation(agent.token)["id"]
    expect(article.get_by_role("status")).to_contain_text("Glad it helped")
    done = eventually(lambda: (c := page.conversation(agent.token))["status"] == "solved" and c)
    assert done["resolution"] == "bot" and done["bot"]["outcome"] == "confirmed"
    article.get_by_role("button", name=re.compile("Back to the chat")).click()
    expect(page.locator(BOT).last).to_have_text(said("bye"))  # the flow's solved node
    expect(page.get_by_role("button", name="Talk to a person")).to_be_hidden()
    assert page.errors == []


def test_no_to_the_bots_articles_hands_off_to_a_person(stack, new_page, install, agent):
    install()
    page = open_widget(new_page, stack)
    offered_articles(page)
    page.locator(CHIPS, has_text=say("no", "en")).click()
    expect(page.locator(BOT).last).to_have_text(said("to_support"))  # the articles' unsolved node
    expect(page.locator(".parley-queue")).to_contain_text("Waiting for an agent")
    conversation = eventually(lambda: (c := page.conversation(agent.token))["status"] == "queued" and c)
    assert conversation["group"] == "support"
    assert page.errors == []


# --- to a person ---------------------------------------------------------------------------------

def test_talk_to_a_person_by_keyboard_hands_off_to_an_agent_of_the_flows_group(stack, new_page, install, agent,
                                                                               artifacts):
    install()  # human_group: support
    agent.join_groups("support")
    agent.request("presence", status="online")
    page = open_widget(new_page, stack)
    expect(page.locator(BOT).first).to_contain_text("Alex is online")  # the greeting says who is there
    expect(page.locator(BOT).last).to_have_text(said("menu"))
    human = page.get_by_role("button", name="Talk to a person")
    human.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".parley-msg.parley-visitor .parley-bubble")).to_have_text([say("human", "en")])
    expect(human).to_be_hidden()
    expect(page.locator(".parley-composer textarea")).to_be_focused()  # the focus stays in the chat
    conversation_id = page.conversation(agent.token)["id"]
    assigned = agent.assigned(conversation_id)  # Alex, of support, online: routing gives it to him
    assert assigned["group"] == "support"
    assert [f["option_id"] for f in sent(page, "choose")] == ["human"]

    agent.say(conversation_id, "Hi, Alex here. How can I help?")
    expect(page.locator(".parley-msg.parley-agent .parley-bubble")).to_have_text(["Hi, Alex here. How can I help?"])
    expect(page.locator(".parley-sub")).to_have_text("You are chatting with Alex Agent")
    texts = [m["text"] for m in agent.messages(conversation_id) if not m.get("notice")]
    assert texts[1:3] == [said("welcome"), said("menu")]  # what the bot said is in his history, before him
    assert texts[-1] == "Hi, Alex here. How can I help?"
    page.screenshot(path=str(artifacts / "widget-bot-handed-off.png"))
    assert page.errors == []


def test_a_choice_that_hands_off_to_sales_reaches_an_agent_of_sales_only(stack, new_page, install, agent):
    install()
    agent.join_groups("support")
    agent.request("presence", status="online")
    page = open_widget(new_page, stack)
    page.locator(CHIPS, has_text=label("sales")).click()
    expect(page.locator(BOT).last).to_have_text(said("to_sales"))
    expect(page.locator(".parley-queue")).to_contain_text("position 1")  # Alex is not of sales: it waits
    conversation_id = page.conversation(agent.token)["id"]
    assert page.conversation(agent.token)["group"] == "sales"
    agent.join_groups("sales")  # now he is: routing settles, and he gets it
    agent.assigned(conversation_id)
    agent.say(conversation_id, "Sales here, hello!")
    expect(page.locator(".parley-msg.parley-agent .parley-bubble")).to_have_text(["Sales here, hello!"])
    expect(page.locator(".parley-queue")).to_be_hidden()
    assert page.errors == []


# --- what a question asks for --------------------------------------------------------------------

def test_a_question_sets_the_composers_keyboard_and_an_optional_one_can_be_skipped(stack, new_page, install, agent):
    contact = {"kind": "ask", "next": "thanks", "fields": [
        {"name": "email", "type": "email", "required": False, "label": {"en": "Your email, if you like?"}},
        {"name": "phone", "type": "phone", "required": True, "label": {"en": "A phone number to call you back?"}}]}
    thanks = {"kind": "message", "end": True, "text": {"en": "Thanks, we will call you."}}
    install(start="contact", nodes={"contact": contact, "thanks": thanks})
    page = open_widget(new_page, stack)
    box = page.locator(".parley-composer textarea")
    expect(page.locator(BOT).last).to_have_text("Your email, if you like?")
    expect(box).to_have_attribute("inputmode", "email")
    expect(box).to_have_attribute("autocomplete", "email")
    expect(page.locator(CHIPS)).to_have_text([say("skip", "en")])
    page.locator(CHIPS).click()
    expect(page.locator(BOT).last).to_have_text("A phone number to call you back?")
    expect(box).to_have_attribute("inputmode", "tel")
    expect(box).to_have_attribute("autocomplete", "tel")
    expect(page.locator(CHIPS)).to_have_count(0)  # required: no Skip
    assert [f["option_id"] for f in sent(page, "choose")] == ["skip"]
    write(page, "+33 1 23 45 67 89")
    expect(page.locator(BOT).last).to_have_text("Thanks, we will call you.")
    expect(box).to_have_attribute("inputmode", "")  # a message again, not a phone number
    conversation = page.conversation(agent.token)
    assert conversation["status"] == "bot" and conversation["fields"] == {"phone": "+33 1 23 45 67 89"}
    assert page.errors == []


# --- in French -----------------------------------------------------------------------------------

def test_in_french_the_bot_and_the_widget_speak_french(stack, new_page, install, agent, artifacts):
    install()
    page = open_widget(new_page, stack, locale="fr-FR")
    expect(page.locator(BOT)).to_have_text([re.compile(r"Personne n"), said("welcome", "fr"), said("menu", "fr")])
    expect(page.locator(CHIPS)).to_have_text([label(o, "fr") for o in ("order", "shipping", "sales", "support")])
    human = page.get_by_role("button", name="Parler à une personne")
    expect(human).to_be_visible()
    page.locator(CHIPS, has_text=label("order", "fr")).click()
    expect(page.locator(BOT).last).to_have_text(order_question("fr"))
    write(page, "2345")
    answer = said("order_status", "fr", key="template").format(order_number="2345", **ORDERS["2345"])
    expect(page.locator(BOT, has_text="Commande 2345")).to_have_text(answer)
    page.screenshot(path=str(artifacts / "widget-bot-fr.png"))
    human.dblclick()  # a double tap is one handoff: the control goes at the first
    expect(page.locator(BOT).last).to_have_text(say("handoff", "fr"))
    expect(page.locator(".parley-queue")).to_contain_text("En attente")
    page.wait_for_timeout(300)
    assert [f["option_id"] for f in sent(page, "choose")] == ["order", "human"]
    expect(page.locator(".parley-msg.parley-visitor .parley-bubble")).to_have_count(3)  # the choices and 2345
    assert page.errors == []


# --- the console's preview -----------------------------------------------------------------------

def test_a_preview_runs_the_flow_in_a_session_of_its_own(stack, new_page, install, admin, agent):
    install()
    page = open_widget(new_page, stack)  # the visitor's own conversation on the site, stored
    expect(page.locator(BOT).last).to_have_text(said("menu"))
    key = f"parley:{SITE}"
    before = page.evaluate(f"localStorage.getItem({json.dumps(key)})")
    assert json.loads(before)["conv"]

    # The flow switched off: visitors get no bot, but a preview of it still runs it.
    install(enabled=False, nodes={"welcome": {"kind": "message", "next": "menu", "text": {"en": "Preview greeting."}}})
    ticket = admin.call("POST", f"/v1/sites/{SITE}/bot/preview", {})["ticket"]
    assert stack.request("GET", f"/v1/sites/{SITE}/settings")[1]["bot"] is None
    page.goto(f"{stack.http}/?site={SITE}&preview={ticket}")  # the demo page's tag with data-preview
    with page.expect_request(lambda r: r.url.endswith("/v1/visitor/sessions")) as session:
        page.locator(".parley-launcher").click()  # a session once there is something to say
    assert json.loads(session.value.post_data)["preview"] == ticket
    expect(page.locator(BOT).nth(1)).to_have_text("Preview greeting.")
    expect(page.locator(BOT).last).to_have_text(said("menu"))
    assert page.evaluate(f"localStorage.getItem({json.dumps(key)})") == before  # the visitor's own is untouched

    page.goto(f"{stack.http}/?site={SITE}")  # back on the shop: the visitor's own conversation, as it was
    page.locator(".parley-launcher").click()
    expect(page.locator(BOT).nth(1)).to_have_text(said("welcome"))
    expect(page.locator(BOT).last).to_have_text(said("menu"))
    assert page.errors == []
