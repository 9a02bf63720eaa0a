"""The agent console (web/console/) in headless Chromium against the real local stack.

Visitors are simulated with real websockets; agents' state is checked through REST. The stack is
shared by the whole session (other suites use it too), so every test uses fresh visitors with
distinctive names, never assumes empty views, and solves what it opened so no chat slot stays taken.
Every wait is bounded.

The backend routes chats to agents who are `online`. These tests walk manual flows (accept, transfer,
capacity), so before each one both demo agents are put `away` and leftovers of other suites are
solved, and the console opens `away` unless a test asks otherwise (test_routing_console.py covers
automatic assignment).
"""
import json
import re
import uuid

import pytest
from browser_helpers import (
    ADMIN,
    AGENT,
    PASSWORD,
    VIEWPORT,
    Socket,
    eventually,
    row,
    set_presence,
    sign_in,
    solve_leftovers,
    unique,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


# --- helpers ----------------------------------------------------------------------------------

def quiet_workspace(stack, agent_token: str, admin_token: str) -> None:
    """Both demo agents away (routing gives them nothing) and nothing left waiting or open."""
    set_presence(stack, agent_token, "away")
    set_presence(stack, admin_token, "away")
    solve_leftovers(stack, admin_token)


@pytest.fixture(autouse=True)
def quiet(stack, agent_api, admin_api):
    """Before each test: the demo agents away and the demo workspace's leftovers solved."""
    quiet_workspace(stack, agent_api.token, admin_api.token)


def view_count(page, view: str) -> int:
    """The number a view shows, once its list has loaded."""
    count = page.locator(f'[data-view="{view}"] .view__count')
    expect(count).to_have_text(re.compile(r"^\d+$"))
    return int(count.inner_text())


def open_conversation(page, conversation_id: str) -> None:
    page.evaluate("id => { location.hash = '#/c/' + id; }", conversation_id)
    expect(page.locator("#thread-main")).to_be_visible()


# --- tests ------------------------------------------------------------------------------------

def test_sign_in_error_then_session_presence_and_sign_out(stack, new_page, agent_api, artifacts):
    page = new_page(viewport=VIEWPORT)
    page.goto(stack.http + "/console/")
    sign_in(page, AGENT, "not-the-password")
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Wrong email or password.")
    expect(page.locator("#app")).to_be_hidden()
    page.screenshot(path=str(artifacts / "console-sign-in-error.png"))

    page.locator("#login-form").get_by_label("Password").fill(PASSWORD)
    page.locator("#login-form").get_by_role("button", name="Sign in").click()
    expect(page.locator("#me-name")).to_have_text("Alex Agent")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.locator("#conn-text")).to_have_text("Connected")
    me = agent_api.me()
    expect(page.locator("#slots-text")).to_have_text(f"{me['active_chats']} / {me['capacity']}")
    expect(page.locator("#settings-open")).to_be_hidden()   # agents have no settings page

    # A first sign-in on this browser is Away (issue 13: nobody routable by default); each state says
    # what it means for new chats.
    presence = page.get_by_label("Your status")
    expect(presence).to_have_value("away")
    eventually(lambda: agent_api.me()["status"] == "away")
    expect(page.locator("#presence-hint")).to_have_text("No new chats; accept by hand")
    expect(page.locator("#thread-empty")).to_contain_text("new chats wait in Unassigned for you to accept by hand")
    presence.select_option("online")
    expect(page.locator("#presence-hint")).to_have_text("Chats come to you automatically")
    eventually(lambda: agent_api.me()["status"] == "online")
    expect(page.locator("#presence-dot")).to_have_attribute("data-status", "online")
    expect(page.locator("#thread-empty")).to_contain_text("assigned to you automatically and appear in Mine")

    page.reload()  # the session survives a reload (sessionStorage)
    expect(page.locator("#me-name")).to_have_text("Alex Agent")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.get_by_label("Your status")).to_have_value("online")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#login-form")).to_be_visible()
    page.reload()
    expect(page.locator("#login-form")).to_be_visible()
    assert page.errors == []


def test_token_is_refreshed_before_it_expires(console):
    page = console()
    # Pretend the token expires in 20 s (edited as the next page load starts, before the console runs,
    # so the running console cannot write its copy back): on load the console renews it first.
    page.add_init_script("""(() => {
        const key = "parley.console.session";
        const session = JSON.parse(sessionStorage.getItem(key) || "null");
        if (session && !session.edited) {
            Object.assign(session, {expires_at: Date.now() + 20000, edited: true});
            sessionStorage.setItem(key, JSON.stringify(session));
        }
    })()""")
    with page.expect_response(lambda r: r.url.endswith("/v1/agents/refresh")) as refreshed:
        page.reload()
    assert refreshed.value.status == 200
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expires_in = page.evaluate(
        "() => JSON.parse(sessionStorage.getItem('parley.console.session')).expires_at - Date.now()")
    assert expires_in > 10 * 60 * 1000

    # A session that can no longer be renewed ends on the sign-in form, saying why.
    page.add_init_script("""(() => {
        const key = "parley.console.session";
        const session = JSON.parse(sessionStorage.getItem(key) || "null");
        if (session) {
            Object.assign(session, {token: "expired", refresh_token: "revoked", expires_at: Date.now() - 1000});
            sessionStorage.setItem(key, JSON.stringify(session));
        }
    })()""")
    page.reload()
    expect(page.locator("#login-error")).to_have_text("Your session has expired. Please sign in again.")
    assert page.errors == []


def test_live_inbox_accept_reply_typing_note_and_solve(console, visitors, agent_api, artifacts):
    agent_api.free_slots(1)
    used = agent_api.me()["active_chats"]
    page = console()
    page.locator('[data-view="unassigned"]').click()
    unassigned = view_count(page, "unassigned")
    mine = view_count(page, "mine")

    visitor = visitors(unique("Quentin"))
    first = f"Hello, parcel {uuid.uuid4().hex[:6]} has not arrived"
    conversation = visitor.start(first)
    cid = conversation["id"]

    # Live: the new chat appears in Unassigned without a reload, and the count rises.
    expect(row(page, cid)).to_be_visible()
    expect(row(page, cid)).to_contain_text(visitor.name)
    expect(row(page, cid).locator(".row__preview")).to_have_text(first)      # its last_message
    expect(row(page, cid).locator(".row__wait")).to_have_text("Waiting <1 min")  # from queued_at
    expect(page.locator('[data-view="unassigned"] .view__count')).to_have_text(str(unassigned + 1))
    expect(page.locator("#conv-list li").first).to_have_attribute("data-id", cid)  # newest first

    row(page, cid).locator("a").click()
    expect(page.locator("#thread-visitor")).to_have_text(visitor.name)
    expect(page.locator(".msg--visitor .msg__bubble")).to_have_text([first])
    expect(page.locator("#visitor-heading")).to_have_text(visitor.name)
    expect(page.locator("#visitor-facts")).to_contain_text("https://shop.example/checkout?step=2")

    # The visitor's sneak peek, as a faded draft line.
    visitor.typing("It says pending since Mon")
    expect(page.locator("#typing")).to_be_visible()
    expect(page.locator("#typing-preview")).to_have_text("It says pending since Mon")

    # Accept: it moves to Mine and takes a slot.
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#thread-status")).to_contain_text("Open")
    expect(page.locator("#slots-text")).to_have_text(re.compile(rf"^{used + 1} / "))
    expect(page.locator('[data-view="unassigned"] .view__count')).to_have_text(str(unassigned))
    expect(page.locator('[data-view="mine"] .view__count')).to_have_text(str(mine + 1))
    page.locator('[data-view="mine"]').click()
    expect(row(page, cid)).to_be_visible()
    assert agent_api.conversation(cid)["assignee_id"] == agent_api.agent["id"]

    # A reply reaches the visitor.
    composer = page.get_by_label("Message", exact=True)
    composer.fill("Let me check that for you.")
    composer.press("Enter")
    reply = visitor.wait_next(lambda f: f.get("type") == "message" and not f["message"].get("notice"), "the reply")
    assert reply["message"]["text"] == "Let me check that for you."
    assert reply["message"]["author"]["kind"] == "agent"
    expect(composer).to_have_value("")

    # A visitor message arrives live; the typing line goes away.
    visitor.say("Thanks, order number is 4411")
    expect(page.locator(".msg--visitor .msg__bubble").last).to_have_text("Thanks, order number is 4411")
    expect(page.locator("#typing")).to_be_hidden()

    # An internal note: shown as a note, never sent to the visitor.
    note = f"Carrier outage in region {uuid.uuid4().hex[:4]}; do not promise a date"
    page.get_by_role("button", name="Note", exact=True).click()
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    composer.fill(note)
    composer.press("Enter")
    note_node = page.locator(".msg--note", has_text=note)
    expect(note_node).to_be_visible()
    expect(note_node.locator(".msg__tag")).to_have_text("Private note")
    note_bg = note_node.locator(".msg__bubble").evaluate("n => getComputedStyle(n).backgroundColor")
    reply_bg = page.locator(".msg--own.msg--agent .msg__bubble").first.evaluate(
        "n => getComputedStyle(n).backgroundColor")
    assert note_bg != reply_bg
    page.get_by_role("button", name="Reply", exact=True).click()
    composer.fill("One moment please.")
    composer.press("Enter")
    visitor.wait_next(lambda f: f.get("type") == "message" and f["message"]["text"] == "One moment please.",
                      "the second reply")
    visitor.drain()
    assert note not in json.dumps(visitor.frames)
    history = visitor.request("history", conversation_id=cid)
    assert all(m["text"] != note for m in history["messages"])

    page.screenshot(path=str(artifacts / "console-conversation.png"))

    # Solved: out of Mine, slot released.
    page.get_by_role("button", name="Solved", exact=True).click()
    expect(row(page, cid)).to_have_count(0)
    expect(page.locator("#thread-status")).to_contain_text("Solved")
    expect(page.locator("#slots-text")).to_have_text(re.compile(rf"^{used} / "))
    assert agent_api.conversation(cid)["status"] == "solved"
    assert page.errors == []


def test_canned_response_expands_with_names(console, visitors, artifacts):
    page = console()
    visitor = visitors(unique("Rosalind"))
    cid = visitor.start("Hi! Do you ship to Norway?")["id"]
    open_conversation(page, cid)
    expect(page.locator(".msg--visitor")).to_have_count(1)

    composer = page.get_by_label("Message", exact=True)
    composer.click()
    composer.press_sequentially("/hel")
    popup = page.get_by_role("listbox", name="Canned responses")
    expect(popup).to_be_visible()
    options = popup.get_by_role("option")
    expect(options.first).to_contain_text("/hello")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(popup).not_to_contain_text("/shipping")
    page.screenshot(path=str(artifacts / "console-canned.png"))
    composer.press("Enter")
    expect(popup).to_be_hidden()
    expect(composer).to_have_value(f"Hi {visitor.name}, I'm Alex Agent. How can I help?")

    # "/" after a space offers every shortcut; arrows move, Tab picks; Escape closes.
    composer.press_sequentially(" /")
    expect(popup).to_contain_text("/shipping")
    shortcuts = options.locator(".canned-opt__shortcut").all_inner_texts()
    assert {"/hello", "/thanks", "/shipping"} <= set(shortcuts)
    for _ in range(shortcuts.index("/shipping")):
        composer.press("ArrowDown")
    expect(options.nth(shortcuts.index("/shipping"))).to_have_attribute("aria-selected", "true")
    composer.press("Tab")
    expect(composer).to_have_value(re.compile(r"How can I help\? Orders ship within 2 business days"))
    composer.press_sequentially(" /tha")
    expect(options.first).to_contain_text("/thanks")
    composer.press("Escape")
    expect(popup).to_be_hidden()
    expect(composer).to_have_value(re.compile(r" /tha$"))
    assert page.errors == []


def test_title_and_tags_edits_persist(console, visitors, agent_api):
    page = console()
    visitor = visitors(unique("Tomasz"))
    cid = visitor.start("I was charged twice")["id"]
    open_conversation(page, cid)

    title = page.get_by_label("Conversation title")
    title.fill("Double charge on order 5521")
    title.press("Enter")
    eventually(lambda: agent_api.conversation(cid)["title"] == "Double charge on order 5521")

    tags = page.get_by_label("Add a tag")
    tags.fill("billing")
    tags.press("Enter")
    expect(page.locator("#tag-list .tag")).to_have_count(1)
    tags.fill("VIP")
    tags.press("Enter")
    expect(page.locator("#tag-list .tag")).to_have_count(2)
    eventually(lambda: agent_api.conversation(cid)["tags"] == ["billing", "vip"])
    page.get_by_role("button", name="Remove tag billing").click()
    eventually(lambda: agent_api.conversation(cid)["tags"] == ["vip"])

    page.reload()
    expect(page.get_by_label("Conversation title")).to_have_value("Double charge on order 5521")
    expect(page.locator("#tag-list .tag")).to_have_text(["vip×"])
    expect(row(page, cid)).to_contain_text("Double charge on order 5521")
    assert page.errors == []


def test_transfer_to_admin(console, visitors, agent_api, admin_api):
    agent_api.free_slots(1)
    admin_api.free_slots(1)
    admin_before = agent_api.team_member(ADMIN)["active_chats"]
    page = console()
    visitor = visitors(unique("Ulrike"))
    cid = visitor.start("Can I talk to a manager?")["id"]
    open_conversation(page, cid)
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#thread-status")).to_contain_text("Alex Agent")

    page.get_by_role("button", name="Transfer").click()
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    admin = agent_api.team_member(ADMIN)
    dialog.get_by_label("To").select_option(admin["id"])
    dialog.get_by_label("Note for your colleague").fill("Wants a manager; order 7781")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog).to_be_hidden()

    eventually(lambda: agent_api.team_member(ADMIN)["active_chats"] == admin_before + 1)
    assert agent_api.conversation(cid)["assignee_id"] == admin["id"]
    expect(page.locator("#thread-status")).to_contain_text("Ada Admin")
    expect(page.locator(".msg--system", has_text="transferred this conversation")).to_be_visible()
    expect(page.locator(".msg--note", has_text="Wants a manager; order 7781")).to_be_visible()
    visitor.wait(lambda f: f.get("type") == "message" and f["message"].get("notice") == "transferred",
                 "the transfer notice")
    visitor.drain()
    assert "Wants a manager" not in json.dumps(visitor.frames)
    assert page.errors == []


def test_capacity_refusal_shows_the_slots_message(console, visitors, agent_api):
    me = agent_api.me()
    agent_api.free_slots(me["capacity"])           # start from a known state: every slot free
    fillers = []
    for i in range(me["capacity"]):
        visitor = visitors(unique(f"Filler{i}"))
        fillers.append(visitor.start("Filling a slot")["id"])
        agent_api.patch(fillers[-1], assignee_id=me["id"])
    assert agent_api.me()["active_chats"] == me["capacity"]

    page = console()
    cap = me["capacity"]
    expect(page.locator("#slots-text")).to_have_text(f"{cap} / {cap}")
    fourth = visitors(unique("Wanda"))
    cid = fourth.start("Anyone there?")["id"]
    open_conversation(page, cid)
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator(".toast--error")).to_contain_text(f"All your chat slots are taken ({cap}/{cap})")
    assert agent_api.conversation(cid)["status"] == "queued"
    expect(page.get_by_role("button", name="Accept", exact=True)).to_be_visible()

    # Solving one frees a slot, and then the accept goes through.
    agent_api.patch(fillers[0], status="solved")
    expect(page.locator("#slots-text")).to_have_text(f"{cap - 1} / {cap}")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#slots-text")).to_have_text(f"{cap} / {cap}")
    assert agent_api.conversation(cid)["assignee_id"] == me["id"]
    assert page.errors == []


def test_visitor_html_is_shown_as_text_and_never_runs(console, visitors):
    # Without the page's CSP, so that only the console's own DOM handling stands between the payload and
    # the page.
    page = console(bypass_csp=True)
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    visitor = visitors('<b onmouseover="window.__pwned=1">Mallory</b>', page_url="javascript:window.__pwned=1")
    cid = visitor.start(payload)["id"]
    expect(row(page, cid)).to_contain_text('<b onmouseover="window.__pwned=1">Mallory</b>')
    open_conversation(page, cid)
    bubble = page.locator(".msg--visitor .msg__bubble")
    expect(bubble).to_have_text(payload)
    visitor.typing(payload)
    expect(page.locator("#typing-preview")).to_have_text(payload)
    visitor.say("javascript:window.__pwned=1 and see https://example.com/help?a=1&b=2.")
    links = page.locator(".msg--visitor .msg__bubble a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("href", "https://example.com/help?a=1&b=2")
    expect(links.first).to_have_attribute("target", "_blank")
    expect(links.first).to_have_attribute("rel", re.compile(r"noopener.*noreferrer"))
    expect(page.locator("#thread-visitor")).to_have_text('<b onmouseover="window.__pwned=1">Mallory</b>')
    page.locator("#thread-visitor").hover()
    expect(page.locator("#visitor-facts")).to_contain_text("javascript:window.__pwned=1")
    expect(page.locator("#visitor-facts a")).to_have_count(0)   # only http(s) pages become links
    assert page.locator("#msg-list img, #msg-list script, #conv-list img, #thread b, #typing img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []


def test_older_messages_load_when_scrolling_up(console, visitors, stack, agent_api):
    visitor = visitors(unique("Yusuf"))
    cid = visitor.start("Message number 1")["id"]
    # 64 more messages from an agent socket (the shared stack scales the agents' flood limit): 65, over a page.
    with Socket(stack, agent_api.token, "helper agent") as helper:
        helper.request("join", conversation_id=cid)
        for n in range(2, 66):
            helper.request("send", conversation_id=cid, client_msg_id=f"bulk-{n}", text=f"Message number {n}")

    page = console()
    open_conversation(page, cid)
    messages = page.locator("#msg-list .msg")
    expect(messages.last).to_contain_text("Message number 65")
    expect(messages).to_have_count(50)
    expect(page.locator('#msg-list [data-seq="1"]')).to_have_count(0)
    page.locator("#messages").evaluate("box => { box.scrollTop = 0; }")
    expect(messages).to_have_count(65)
    expect(messages.first).to_contain_text("Message number 1")
    expect(page.locator("#older-start")).to_be_visible()
    # The reader stays where they were: the newest message is not in view any more.
    assert page.locator("#messages").evaluate("b => b.scrollTop > 0")
    assert page.errors == []


def test_unread_counts_for_each_of_my_chats(console, visitors, agent_api):
    me = agent_api.me()
    agent_api.free_slots(3)
    a, b = visitors(unique("Dmitri")), visitors(unique("Elif"))
    ca, cb = a.start("Chat A")["id"], b.start("Chat B")["id"]
    agent_api.patch(ca, assignee_id=me["id"])
    agent_api.patch(cb, assignee_id=me["id"])

    page = console()
    page.locator('[data-view="mine"]').click()
    open_conversation(page, ca)
    unread_b = row(page, cb).locator(".row__unread")
    expect(unread_b).to_have_text("1")             # "Chat B" was never read
    b.say("Are you there?")
    expect(unread_b).to_have_text("2")
    expect(row(page, cb)).to_contain_text("Are you there?")
    expect(page.locator("#conv-list li").first).to_have_attribute("data-id", cb)  # newest activity first
    a.say("Still here")                            # the open chat: shown, not counted
    expect(page.locator(".msg--visitor .msg__bubble").last).to_have_text("Still here")
    expect(row(page, ca).locator(".row__unread")).to_be_hidden()
    expect(page).to_have_title(re.compile(r"^\(2\) Parley console$"))

    # A chat that becomes mine while the console is open is joined as well.
    c = visitors(unique("Farid"))
    cc = c.start("Chat C")["id"]
    agent_api.patch(cc, assignee_id=me["id"])
    expect(row(page, cc)).to_be_visible()
    unread_c = row(page, cc).locator(".row__unread")
    expect(unread_c).to_have_text("1")
    c.say("Ping from C")
    expect(unread_c).to_have_text("2")

    row(page, cb).locator("a").click()             # reading clears the count
    expect(unread_b).to_be_hidden()
    expect(page.locator(".msg--visitor .msg__bubble").last).to_have_text("Are you there?")
    assert page.errors == []


def test_new_chat_flags_title_and_badge_while_another_is_open(console, visitors):
    page = console()
    first = visitors(unique("Agnes"))
    open_conversation(page, first.start("First chat")["id"])
    page.locator('[data-view="mine"]').click()
    expect(page).not_to_have_title(re.compile("New chat"))
    second = visitors(unique("Bruno"))
    second.start("Second chat, anyone?")
    expect(page).to_have_title(re.compile(r"^\(\d+\) New chat · Parley console$"))
    expect(page.locator("#alert-badge")).to_have_text("1 new chat")
    expect(page.locator('[data-view="unassigned"] .view__new')).to_be_visible()
    page.locator('[data-view="unassigned"]').click()
    expect(page.locator("#alert-badge")).to_be_hidden()
    expect(page).not_to_have_title(re.compile("New chat"))
    assert page.errors == []


def test_reconnects_after_the_socket_drops(console, visitors):
    routes = []

    def through(route):  # every frame passes through; the test keeps the route to cut it
        route.connect_to_server()
        routes.append(route)

    page = console(before=lambda p: p.route_web_socket(re.compile(r"/ws\?token="), through))
    visitor = visitors(unique("Ciaran"))
    cid = visitor.start("Are you still there?")["id"]
    open_conversation(page, cid)
    expect(page.locator(".msg--visitor")).to_have_count(1)
    assert len(routes) == 1

    routes[0].close()
    expect(page.locator("#conn")).to_have_attribute("data-state", "down")
    expect(page.locator("#conn-text")).to_contain_text("retrying")
    expect(page.locator("#thread-banner")).to_contain_text("offline")
    visitor.say("Hello again?")  # while the console is away: caught up after the reconnect

    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=15_000)
    assert len(routes) == 2
    bubbles = page.locator(".msg--visitor .msg__bubble")
    expect(bubbles.last).to_have_text("Hello again?")
    visitor.say("Still live")
    expect(bubbles).to_have_text(["Are you still there?", "Hello again?", "Still live"])
    assert page.errors == []


def test_reconnects_when_the_server_no_longer_knows_the_socket(console, visitors, agent_api):
    """A socket can stay open while the server has forgotten it (its frames answer `unauthorized`
    "unknown connection; reconnect", and no event reaches it): the console opens a new one."""
    routes = []

    def through(route):
        route.connect_to_server()
        routes.append(route)

    page = console(before=lambda p: p.route_web_socket(re.compile(r"/ws\?token="), through))
    page.locator('[data-view="unassigned"]').click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    assert len(routes) == 1
    routes[0].send(json.dumps({"type": "error", "ref": None, "code": "unauthorized",
                               "message": "unknown connection; reconnect"}))
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=15_000)
    eventually(lambda: page.wait_for_timeout(50) or len(routes) == 2)
    # The new socket is a live one: a new chat shows up without a reload.
    visitor = visitors(unique("Greta"))
    cid = visitor.start("Hello after the reconnect")["id"]
    expect(row(page, cid)).to_be_visible()
    assert page.errors == []


def test_two_tags_added_before_the_first_save_returns_both_stay(console, visitors, agent_api):
    """Issue 13, defect 2: `refund` Enter `urgent` Enter, the first save still in flight when the second
    leaves. Both saves are held until both were sent, then released in order: neither may be lost."""
    page = console()
    cid = visitors(unique("Ines")).start("Two things to flag")["id"]
    open_conversation(page, cid)
    held = []
    page.route(f"**/v1/conversations/{cid}", lambda route: held.append(route) if route.request.method == "PATCH"
               else route.continue_())
    tags = page.get_by_label("Add a tag")
    for name in ("refund", "urgent"):
        tags.fill(name)
        tags.press("Enter")
    for _ in range(100):  # the page's event loop must turn for the routes to be called: no time.sleep
        if len(held) == 2:
            break
        page.wait_for_timeout(100)
    assert len(held) == 2, held
    for route in held:
        route.continue_()
    eventually(lambda: sorted(agent_api.conversation(cid)["tags"]) == ["refund", "urgent"])
    page.unroute(f"**/v1/conversations/{cid}")
    page.reload()
    expect(page.locator("#tag-list .tag")).to_have_count(2)
    assert page.errors == []


def test_the_header_says_offline_as_soon_as_the_browser_loses_the_network(console, visitors, artifacts):
    """Issue 13, defect 1: the browser goes offline; the console says so at once, not minutes later, and is
    connected again when the network is back."""
    page = console()
    page.context.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-state", "down", timeout=5_000)
    expect(page.locator("#conn-text")).to_have_text("Offline · waiting for the network")
    page.screenshot(path=str(artifacts / "console-offline.png"))
    page.context.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=15_000)
    cid = visitors(unique("Oskar")).start("Are you there now?")["id"]
    page.locator('[data-view="unassigned"]').click()
    expect(row(page, cid)).to_be_visible()  # the new socket hears new chats
    assert page.errors == []


def test_a_socket_that_goes_silent_is_noticed_by_the_heartbeat(console):
    """Issue 13, defect 1: the connection still looks open to the browser but nothing comes back (a dead
    route, a sleeping laptop's Wi-Fi): within a heartbeat and its timeout the console says it is
    disconnected and opens a new socket."""
    routes, silent = [], {"on": False}

    def through(route):
        server = route.connect_to_server()
        route.on_message(lambda message: None if silent["on"] and len(routes) == 1 else server.send(message))
        server.on_message(lambda message: None if silent["on"] and len(routes) == 1 else route.send(message))
        routes.append(route)

    page = console(before=lambda p: p.route_web_socket(re.compile(r"/ws\?token="), through))
    silent["on"] = True
    expect(page.locator("#conn")).to_have_attribute("data-state", "down", timeout=40_000)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=15_000)
    assert len(routes) == 2
    assert page.errors == []


def test_a_fresh_browser_signs_an_agent_in_as_away_until_they_choose(stack, new_page, agent_api):
    """Issue 13, defect 9: nobody becomes routable just by opening the console on a new browser."""
    page = new_page(viewport=VIEWPORT)
    page.goto(stack.http + "/console/")
    sign_in(page, AGENT)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.get_by_label("Your status")).to_have_value("away")
    eventually(lambda: agent_api.me()["status"] == "away")
    page.get_by_label("Your status").select_option("online")  # the choice is remembered for next time
    eventually(lambda: agent_api.me()["status"] == "online")
    page.reload()
    expect(page.get_by_label("Your status")).to_have_value("online")
    page.get_by_label("Your status").select_option("away")
    eventually(lambda: agent_api.me()["status"] == "away")
    assert page.errors == []


def test_a_rating_shows_in_the_open_conversation_without_a_reload(console, visitors, agent_api):
    """Issue 13, defect 6: the visitor rates while the agent looks at the conversation."""
    page = console()
    visitor = visitors(unique("Rosa"))
    cid = visitor.start("Thanks for the help")["id"]
    open_conversation(page, cid)
    expect(page.locator("#conv-facts")).not_to_contain_text("Rating")
    visitor.request("rate", conversation_id=cid, rating=4, comment="Quick and kind")
    expect(page.locator("#conv-facts")).to_contain_text("★★★★☆ “Quick and kind”")
    assert page.errors == []


def test_no_accept_button_on_a_solved_chat_that_is_already_yours(console, visitors, agent_api):
    """Issue 13, defect 9: the agent's own solved chat offers its status buttons, not "Accept"."""
    page = console()
    cid = visitors(unique("Sven")).start("One quick question")["id"]
    me = agent_api.me()["id"]
    agent_api.patch(cid, assignee_id=me, status="open")
    agent_api.patch(cid, status="solved")
    open_conversation(page, cid)
    expect(page.locator("#thread-status")).to_contain_text("Solved")
    expect(page.locator("#accept")).to_be_hidden()
    assert page.errors == []


def test_the_thread_says_who_joined_and_that_a_silent_chat_was_solved_automatically(console, visitors, admin_api,
                                                                                      artifacts):
    """Issue 13, defect 8: the thread (and the visitor) read that the agent joined, and that the chat was
    solved by the inactivity flow, not by anyone: the real flow, with the site's waits at 1 s."""
    admin_api.call("PATCH", "/v1/sites/demo", {"inactivity_wait": 1, "pending_wait": 1})
    try:
        page = console()
        visitor = visitors(unique("Quiet"))
        cid = visitor.start("Do you have it in blue?")["id"]
        open_conversation(page, cid)
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.locator(".msg--system", has_text="Alex Agent joined the conversation.")).to_be_visible()
        composer = page.get_by_label("Message", exact=True)
        composer.fill("Which size would you like?")
        composer.press("Enter")
        expect(page.locator(".msg--system", has_text="Are you still there?")).to_be_visible(timeout=20_000)
        solved = page.locator(".msg--system", has_text="marked as solved automatically, as we had no reply")
        expect(solved).to_be_visible(timeout=20_000)
        told = visitor.wait(lambda f: f["type"] == "message" and f["message"].get("notice") == "solved_auto",
                            "the visitor's solved notice")
        assert told["message"]["text"] == solved.locator(".msg__system").inner_text()
        page.screenshot(path=str(artifacts / "console-solved-automatically.png"))
        assert page.errors == []
    finally:
        admin_api.call("PATCH", "/v1/sites/demo", {"inactivity_wait": 600, "pending_wait": 24 * 3600})
