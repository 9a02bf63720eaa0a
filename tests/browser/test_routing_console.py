"""The console and the widget with routing, in headless Chromium against the real local stack.

An agent who is `online` is given chats automatically (least busy first, within capacity); one who is
`away` accepts them by hand. These tests walk both in the console, the admin's Settings page, and the
widget's real queue line. Visitors are simulated with `websockets.sync.client`.

The stack is shared with the other suites, so each test starts from a known state: both demo agents
`away` (set over a websocket), nothing left waiting or open in the demo workspace, capacities back to
3; and each test gives back what it took. Every wait is bounded.
"""
import json
import re
import time
import uuid

import pytest
from browser_helpers import (
    ADMIN,
    AGENT,
    VIEWPORT,
    WAIT,
    Socket,
    demo_at_rest,
    eventually,
    row,
    seeded_capacities,
    unique,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


CAPACITY = 3          # the seeded capacity of both demo agents


# --- helpers ----------------------------------------------------------------------------------

def open_conversation(page, conversation_id: str) -> None:
    page.evaluate("id => { location.hash = '#/c/' + id; }", conversation_id)
    expect(page.locator("#thread-main")).to_be_visible()
    expect(page.locator("#thread-status")).not_to_be_empty()


def record_sent_frames(frames: list):
    """A `before` hook for the console fixture: every frame the page's websockets send lands in `frames`."""
    def hook(page):
        def watch(ws):
            ws.on("framesent", lambda payload: frames.append(json.loads(payload)) if isinstance(payload, str) else None)
        page.on("websocket", watch)
    return hook


def left(frames: list, conversation_id: str) -> bool:
    return any(f.get("action") == "leave" and f.get("conversation_id") == conversation_id for f in frames)


def wait_for_leave(page, frames: list, conversation_id: str, timeout: float = WAIT) -> None:
    """Playwright hands page events (sent frames) over only while it is called: wait through it."""
    deadline = time.monotonic() + timeout
    while not left(frames, conversation_id):
        assert time.monotonic() < deadline, f"no leave for {conversation_id}; sent: {frames[-6:]}"
        page.wait_for_timeout(100)


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def known_state(stack, agent_api, admin_api):
    """Before each test: both demo agents away, capacities seeded, nothing waiting or open. After it:
    capacities back (a test that changes one restores it itself too)."""
    demo_at_rest(stack, agent_api, admin_api)
    yield
    seeded_capacities(admin_api)


@pytest.fixture
def visitors(stack, admin_api):
    """visitors(name) → a connected visitor Socket (`.conversation_id` once started). Afterwards the
    sockets close and their chats are solved, whoever holds them."""
    made: list[Socket] = []

    def make(name: str | None = None, site: str = "demo") -> Socket:
        name = name or unique("Visitor")
        session = stack.visitor(site, name=name, page_url="https://shop.example/checkout")
        socket = Socket(stack, session["token"], name)
        socket.conversation_id = None
        made.append(socket)
        return socket

    def start(socket: Socket, text: str) -> str:
        socket.conversation_id = socket.request("start", text=text)["conversation"]["id"]
        return socket.conversation_id

    make.start = start
    yield make
    for socket in made:
        socket.close()
        if socket.conversation_id:
            admin_api.solve(socket.conversation_id)


# --- (a) Away: a chat is accepted by hand ------------------------------------------------------

def test_away_agent_accepts_a_waiting_chat_by_hand(console, visitors, agent_api):
    frames: list[dict] = []
    page = console(AGENT, "away", before=record_sent_frames(frames))
    expect(page.locator("#presence-hint")).to_have_text("No new chats; accept by hand")
    page.locator('[data-view="unassigned"]').click()
    visitor = visitors(unique("Hana"))
    cid = visitors.start(visitor, "Is the blue teapot back in stock?")

    # Away: nobody takes it; it waits in Unassigned, with its wait and its last message.
    entry = row(page, cid)
    expect(entry).to_be_visible()
    expect(entry.locator(".row__wait")).to_have_text("Waiting <1 min")
    expect(entry.locator(".row__preview")).to_have_text("Is the blue teapot back in stock?")
    expect(page.locator('[data-view="unassigned"] .view__count')).to_have_text("1")
    time.sleep(0.5)
    assert agent_api.conversation(cid)["status"] == "queued"
    visitor.wait(lambda f: f["type"] == "queue" and f["conversation_id"] == cid, "its place in the queue")

    # Looking at it and going back: this console stops its live events (it is not this agent's chat).
    open_conversation(page, cid)
    expect(page.locator("#thread-banner")).to_contain_text(f"{visitor.name} is waiting for an agent")
    page.evaluate("() => { location.hash = ''; }")
    wait_for_leave(page, frames, cid)

    # Accept by hand: it is the agent's now, in Mine, one slot taken.
    open_conversation(page, cid)
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#thread-status")).to_have_text("Open · Alex Agent (you)")
    expect(page.locator("#slots-text")).to_have_text(f"1 / {CAPACITY}")
    expect(page.locator('[data-view="mine"] .view__count')).to_have_text("1")
    expect(page.locator('[data-view="unassigned"] .view__count')).to_have_text("0")
    page.locator('[data-view="mine"]').click()
    expect(row(page, cid)).to_be_visible()
    expect(page.locator(".toast", has_text="assigned to you")).to_have_count(0)  # its own accept: no notice
    conversation = agent_api.conversation(cid)
    assert conversation["assignee_id"] == agent_api.agent["id"] and conversation["status"] == "open"
    visitor.wait(lambda f: f["type"] == "conversation" and f["conversation"]["status"] == "open", "the accept")

    # Its own chat stays subscribed when the pane closes: the visitor's next message still counts.
    leaves = sum(1 for f in frames if f.get("action") == "leave")
    page.evaluate("() => { location.hash = ''; }")
    visitor.request("send", conversation_id=cid, client_msg_id=uuid.uuid4().hex, text="Any news?")
    expect(row(page, cid).locator(".row__unread")).to_have_text("1")
    expect(row(page, cid).locator(".row__preview")).to_have_text("Any news?")
    page.wait_for_timeout(300)
    assert sum(1 for f in frames if f.get("action") == "leave") == leaves
    assert page.errors == []


# --- (b) a transfer to Ada Admin ---------------------------------------------------------------

def test_transfer_to_a_colleague_moves_the_slot(console, visitors, agent_api, admin_api):
    frames: list[dict] = []
    page = console(AGENT, "away", before=record_sent_frames(frames))
    visitor = visitors(unique("Ines"))
    cid = visitors.start(visitor, "I need an invoice with my company's VAT number")
    open_conversation(page, cid)
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#thread-status")).to_contain_text("Alex Agent")
    before = agent_api.team()
    assert before[AGENT]["active_chats"] == 1 and before[ADMIN]["active_chats"] == 0

    page.get_by_role("button", name="Transfer").click()
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    to = dialog.get_by_label("To")
    expect(to.locator("optgroup").first).to_have_attribute("label", "A colleague (takes it now)")
    to.select_option(before[ADMIN]["id"])
    dialog.get_by_label("Note for your colleague").fill("Invoices are yours; VAT FR-4411")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast", has_text="Transferred to Ada Admin.")).to_be_visible()

    # Everyone's REST view of the team: Ada's slots rose, Alex's fell.
    after = eventually(lambda: (lambda t: t if t[ADMIN]["active_chats"] == 1 else None)(agent_api.team()))
    assert after[AGENT]["active_chats"] == 0
    assert agent_api.conversation(cid)["assignee_id"] == before[ADMIN]["id"]
    expect(page.locator("#slots-text")).to_have_text(f"0 / {CAPACITY}")
    expect(page.locator("#thread-status")).to_have_text("Open · Ada Admin")
    expect(page.locator("#thread-banner")).to_contain_text("Ada Admin is handling this conversation")
    # The note comes back in the transfer's ack: shown at once, as a note, never to the visitor.
    expect(page.locator(".msg--note", has_text="Invoices are yours; VAT FR-4411")).to_be_visible()
    expect(page.locator(".msg--system", has_text="transferred this conversation to Ada Admin")).to_be_visible()
    visitor.wait(lambda f: f["type"] == "message" and f["message"].get("notice") == "transferred", "the transfer notice")
    time.sleep(0.3)
    assert "VAT FR-4411" not in json.dumps(visitor.frames)

    # No longer this agent's: closing the pane stops its live events here.
    page.evaluate("() => { location.hash = ''; }")
    wait_for_leave(page, frames, cid)
    assert page.errors == []


def test_transfer_to_a_team_queue(console, visitors, agent_api, admin_api):
    """A team (group) from the team list: the chat goes back to that team's queue."""
    admin_id = admin_api.team()[ADMIN]["id"]
    admin_api.call("PATCH", f"/v1/agents/{admin_id}", {"groups": ["billing"]})
    try:
        page = console(AGENT, "away")
        visitor = visitors(unique("Jonas"))
        cid = visitors.start(visitor, "Why was I charged twice?")
        open_conversation(page, cid)
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.locator("#slots-text")).to_have_text(f"1 / {CAPACITY}")
        page.get_by_role("button", name="Transfer").click()
        dialog = page.locator("#transfer-dialog")
        dialog.get_by_label("To").select_option("group:billing")
        dialog.get_by_role("button", name="Transfer").click()
        expect(dialog).to_be_hidden()
        expect(page.locator(".toast", has_text="Sent to the billing team's queue.")).to_be_visible()
        conversation = eventually(lambda: (lambda c: c if c["status"] == "queued" else None)(agent_api.conversation(cid)))
        assert conversation["group"] == "billing" and conversation["assignee_id"] is None  # Ada is away: it waits
        expect(page.locator("#thread-banner")).to_contain_text("waiting for an agent of the billing team")
        expect(page.locator("#slots-text")).to_have_text(f"0 / {CAPACITY}")
        # the visitor reads it too, so never the internal team name unless the site labels it (none here)
        expect(page.locator(".msg--system", has_text="transferred this conversation to another team")).to_be_visible()
        assert page.errors == []
    finally:
        admin_api.call("PATCH", f"/v1/agents/{admin_id}", {"groups": []})


# --- (c) capacity ------------------------------------------------------------------------------

def test_capacity_refusal_when_the_agent_is_full(console, visitors, agent_api, admin_api):
    admin_api.set_capacity(AGENT, 1)
    try:
        page = console(AGENT, "away")
        expect(page.locator("#slots-text")).to_have_text("0 / 1")
        first = visitors(unique("Karl"))
        first_id = visitors.start(first, "First in line")
        open_conversation(page, first_id)
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.locator("#slots-text")).to_have_text("1 / 1")
        expect(page.locator("#slots")).to_have_attribute("data-full", "true")

        second = visitors(unique("Lena"))
        second_id = visitors.start(second, "Second in line")
        open_conversation(page, second_id)
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.locator(".toast--error")).to_contain_text("All your chat slots are taken (1/1)")
        assert agent_api.conversation(second_id)["status"] == "queued"
        assert agent_api.team()[AGENT]["active_chats"] == 1
        expect(page.get_by_role("button", name="Accept", exact=True)).to_be_visible()
        assert page.errors == []
    finally:
        admin_api.set_capacity(AGENT, CAPACITY)
    assert agent_api.team()[AGENT]["capacity"] == CAPACITY


# --- (d) Online: chats arrive by themselves ----------------------------------------------------

def test_online_agent_gets_a_new_chat_in_mine_without_a_click(console, visitors, agent_api, artifacts):
    page = console(AGENT, "online")
    expect(page.locator("#presence-hint")).to_have_text("Chats come to you automatically")
    page.get_by_role("button", name="Sound off").click()          # the agent wants the new-chat sound
    page.locator('[data-view="mine"]').click()
    expect(page.locator('[data-view="mine"] .view__count')).to_have_text("0")

    visitor = visitors(unique("Mila"))
    cid = visitors.start(visitor, "Hello! Can I change the size of my order?")
    entry = row(page, cid)
    expect(entry).to_be_visible()                                   # no click: routing gave it
    expect(entry.locator(".row__preview")).to_have_text("Hello! Can I change the size of my order?")
    expect(entry.locator(".row__unread")).to_have_text("1")
    expect(page.locator(".toast", has_text=f"New chat assigned to you: {visitor.name}")).to_be_visible()
    expect(page.locator("#slots-text")).to_have_text(f"1 / {CAPACITY}")
    expect(page.locator('[data-view="mine"] .view__count')).to_have_text("1")
    expect(page.locator('[data-view="unassigned"] .view__count')).to_have_text("0")
    assert int(page.evaluate("document.body.dataset.chimes || '0'")) >= 1
    conversation = agent_api.conversation(cid)
    assert conversation["assignee_id"] == agent_api.agent["id"] and conversation["status"] == "open"
    # The visitor learns it is being handled; their next message reaches the console live.
    visitor.wait(lambda f: f["type"] == "conversation" and f["conversation"]["status"] == "open"
                 or f.get("type") == "ack" and f["conversation"]["status"] == "open", "the assignment")
    visitor.request("send", conversation_id=cid, client_msg_id=uuid.uuid4().hex, text="It should be a large.")
    expect(entry.locator(".row__unread")).to_have_text("2")
    expect(entry.locator(".row__preview")).to_have_text("It should be a large.")
    page.screenshot(path=str(artifacts / "console-mine-auto-assigned.png"))

    # The toast opens it; reading clears the count.
    page.locator(".toast", has_text="New chat assigned to you").get_by_role("button", name="Open").click()
    expect(page.locator(".msg--visitor .msg__bubble")).to_have_text(
        ["Hello! Can I change the size of my order?", "It should be a large."])
    expect(entry.locator(".row__unread")).to_be_hidden()
    assert page.errors == []


# --- (e) Settings: the team and the sites (admins) ----------------------------------------------

def test_admin_adds_an_agent_who_can_sign_in_then_removes_them(console, stack, admin_api, new_page, artifacts):
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    name = unique("Nadia")
    page = console(ADMIN, "away")
    page.get_by_role("button", name="Settings").click()
    expect(page).to_have_url(re.compile(r"#/settings/team$"))
    table = page.locator(".team-table")
    expect(table.locator("tr", has_text=AGENT)).to_contain_text("Alex Agent")
    expect(table.locator("tr", has_text=AGENT)).to_contain_text(f"0 / {CAPACITY}")
    expect(table.locator("tr", has_text=ADMIN)).to_contain_text("Admin")

    page.get_by_role("button", name="Add agent").click()
    dialog = page.locator("#agent-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    # The API's refusal is shown as it says it, and the field it names gets the cursor.
    dialog.get_by_label("Email").fill(AGENT)
    dialog.get_by_label("Password", exact=True).fill("long-enough-1")
    dialog.get_by_role("button", name="Add agent").click()
    expect(dialog.locator("#agent-error")).to_have_text("An agent with this email exists.")
    expect(dialog.get_by_label("Email")).to_be_focused()
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("Capacity").fill("11")
    dialog.get_by_role("button", name="Add agent").click()
    expect(dialog.locator("#agent-error")).to_have_text("Capacity must be between 1 and 10.")
    expect(dialog.get_by_label("Capacity")).to_be_focused()
    dialog.get_by_label("Capacity").fill("2")
    dialog.get_by_label("Groups").fill("billing, Tier-2")
    dialog.get_by_label("Password", exact=True).fill("short")
    dialog.get_by_role("button", name="Add agent").click()
    expect(dialog.locator("#agent-error")).to_have_text("The password needs at least 8 characters.")
    expect(dialog.get_by_label("Password", exact=True)).to_be_focused()
    dialog.get_by_label("Password", exact=True).fill("welcome-aboard-7")
    dialog.get_by_role("button", name="Add agent").click()
    expect(dialog).to_be_hidden()

    new_row = table.locator("tr", has_text=email)
    expect(new_row).to_contain_text(name)
    expect(new_row).to_contain_text("Agent")
    expect(new_row).to_contain_text("0 / 2")
    expect(new_row.locator(".tag")).to_have_text(["billing", "tier-2"])
    created = admin_api.team()[email]
    assert created["capacity"] == 2 and created["role"] == "agent" and created["groups"] == ["billing", "tier-2"]

    # Edit: capacity and role.
    page.get_by_role("button", name=f"Edit {name}").click()
    dialog.get_by_label("Capacity").fill("4")
    dialog.get_by_label("Role").select_option("admin")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(new_row).to_contain_text("0 / 4")
    expect(new_row.locator(".role-pill")).to_have_text("Admin")
    page.get_by_role("button", name=f"Edit {name}").click()
    dialog.get_by_label("Role").select_option("agent")
    dialog.get_by_role("button", name="Save").click()
    expect(new_row.locator(".role-pill")).to_have_text("Agent")
    page.screenshot(path=str(artifacts / "console-settings-team.png"))

    # The new agent signs in with that password, in a browser of their own; no settings for them.
    theirs = new_page(viewport=VIEWPORT)
    theirs.goto(stack.http + "/console/")
    form = theirs.locator("#login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill("welcome-aboard-7")
    form.get_by_role("button", name="Sign in").click()
    expect(theirs.locator("#me-name")).to_have_text(name)
    expect(theirs.locator("#conn")).to_have_attribute("data-state", "open")
    expect(theirs.locator("#slots-text")).to_have_text("0 / 4")
    expect(theirs.locator("#settings-open")).to_be_hidden()
    theirs.get_by_label("Your status").select_option("away")   # not to be given chats while this runs
    eventually(lambda: admin_api.team()[email]["status"] == "away")
    page.get_by_role("link", name="Sites").click()                   # the team is read again on return
    page.get_by_role("link", name="Team").click()
    expect(table.locator("tr", has_text=email)).to_contain_text("Away · accepts by hand")
    theirs.get_by_role("button", name="Sign out").click()
    expect(theirs.locator("#login-form")).to_be_visible()

    # Remove, after a confirmation; they can no longer sign in.
    page.get_by_role("button", name=f"Remove {name}").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text(f"Remove {name}?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(new_row).to_be_visible()
    page.get_by_role("button", name=f"Remove {name}").click()
    confirm.get_by_role("button", name="Remove").click()
    expect(new_row).to_have_count(0)
    assert email not in admin_api.team()
    status, _ = stack.request("POST", "/v1/agents/login", {"email": email, "password": "welcome-aboard-7"})
    assert status == 401
    assert page.errors == [] and theirs.errors == []


def test_an_agent_given_a_temporary_password_chooses_their_own_at_first_sign_in(console, stack, admin_api,
                                                                                new_page, artifacts):
    email = f"temp-{uuid.uuid4().hex[:8]}@example.com"
    name = unique("Omar")
    page = console(ADMIN, "away")
    page.evaluate("() => { location.hash = '#/settings/team'; }")
    page.get_by_role("button", name="Add agent").click()
    dialog = page.locator("#agent-dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("Password", exact=True).fill("handed-over-1")
    dialog.get_by_label("They choose their own password at first sign-in").check()
    dialog.get_by_role("button", name="Add agent").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".team-table tr", has_text=email)).to_contain_text(name)
    try:
        theirs = new_page(viewport=VIEWPORT)
        theirs.goto(stack.http + "/console/")
        form = theirs.locator("#login-form")
        form.get_by_label("Email").fill(email)
        form.get_by_label("Password").fill("handed-over-1")
        form.get_by_role("button", name="Sign in").click()
        choose = theirs.locator("#newpass-form")
        expect(choose).to_be_visible()
        expect(choose).to_contain_text(f"This is your first sign-in as {email}")
        choose.get_by_label("New password").fill("my-own-secret-9")
        choose.get_by_label("Repeat it").fill("my-own-secret-8")
        choose.get_by_role("button", name="Save and sign in").click()
        expect(choose.locator("#newpass-error")).to_have_text("The two passwords differ.")
        theirs.screenshot(path=str(artifacts / "console-first-sign-in.png"))
        choose.get_by_label("Repeat it").fill("my-own-secret-9")
        choose.get_by_role("button", name="Save and sign in").click()
        expect(theirs.locator("#me-name")).to_have_text(name)
        expect(theirs.locator("#conn")).to_have_attribute("data-state", "open")
        theirs.get_by_label("Your status").select_option("away")
        # From now on their own password is the one: the temporary one no longer works.
        assert stack.request("POST", "/v1/agents/login", {"email": email, "password": "my-own-secret-9"})[0] == 200
        assert stack.request("POST", "/v1/agents/login", {"email": email, "password": "handed-over-1"})[0] == 401
        assert theirs.errors == [] and page.errors == []
    finally:
        created = admin_api.team().get(email)
        if created:
            admin_api.call("DELETE", f"/v1/agents/{created['id']}")


def test_admin_edits_a_sites_widget_settings(console, stack, admin_api, artifacts):
    site = "demo-prechat"
    original = admin_api.call("GET", f"/v1/sites/{site}")["settings"]
    try:
        page = console(ADMIN, "away")
        page.evaluate("() => { location.hash = '#/settings/sites'; }")
        expect(page.locator("#settings-sites")).to_be_visible()
        # A site with no conversation yet is added by its key (the API cannot list a workspace's sites).
        page.get_by_label("Another site of this workspace").fill("no-such-site")
        page.get_by_role("button", name="Add site").click()
        expect(page.locator("#site-add-error")).to_have_text("No site with the key “no-such-site” in your workspace.")
        page.get_by_label("Another site of this workspace").fill(site)
        page.get_by_role("button", name="Add site").click()
        card = page.locator(f'.site-card[data-site="{site}"]')
        expect(card).to_be_visible()
        expect(card.get_by_label("Greeting", exact=True)).to_have_value(original["greeting"])

        greeting = f"Hello from the test {uuid.uuid4().hex[:4]}! Ask us anything."
        card.get_by_label("Greeting", exact=True).fill(greeting)
        card.get_by_label("Colour", exact=True).fill("#12ab3")
        card.get_by_label("Messages allowed").fill("5")
        card.get_by_label("Window in seconds").fill("30")
        card.get_by_label("Name required").check()
        expect(card.get_by_label("Ask for the name")).to_be_checked()   # required implies asked
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".form-error")).to_have_text("Color must be a colour like #1f6feb.")
        expect(card.get_by_label("Colour", exact=True)).to_be_focused()
        card.get_by_label("Colour", exact=True).fill("#0b7a4b")
        expect(card.locator(".site-preview__greeting")).to_have_text(greeting)
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".site-card__saved")).to_have_text("Saved.")
        page.set_viewport_size({"width": 1440, "height": 1500})   # the settings scroll inside the page: show it all
        page.locator("#settings").evaluate("box => { box.scrollTop = 0; }")
        page.screenshot(path=str(artifacts / "console-settings-sites.png"))

        public = stack.request("GET", f"/v1/sites/{site}/settings")[1]
        assert public["greeting"] == greeting and public["color"] == "#0b7a4b"
        assert public["prechat"]["enabled"] is True and public["prechat"]["required"] == ["name", "email"]
        stored = admin_api.call("GET", f"/v1/sites/{site}")["settings"]
        assert stored["rate_limit_count"] == 5 and stored["rate_limit_window"] == 30
        assert page.errors == []
    finally:
        admin_api.call("PATCH", f"/v1/sites/{site}", original)


def test_admin_writes_what_french_visitors_and_transfers_read(console, stack, admin_api):
    """Issue 13, defects 5 and 8: a greeting per language and the team names a transfer reads to visitors,
    from the site settings (the `texts` setting); a line that is not "team: label" is refused, saying which."""
    site = "demo-prechat"
    original = admin_api.call("GET", f"/v1/sites/{site}")["settings"]
    try:
        page = console(ADMIN, "away")
        page.evaluate("() => { location.hash = '#/settings/sites'; }")
        page.get_by_label("Another site of this workspace").fill(site)
        page.get_by_role("button", name="Add site").click()
        card = page.locator(f'.site-card[data-site="{site}"]')
        expect(card).to_be_visible()
        card.get_by_label("Greeting in French").fill("Bonjour ! Une question sur nos bols ?")
        card.get_by_label("Team names in English").fill("billing: our invoicing team")
        card.get_by_label("Team names in French").fill("Billing: notre service facturation\ntech l'équipe technique")
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".form-error")).to_have_text(
            "Team names: write each as name: label (\"tech l'équipe technique\" is not).")
        expect(card.get_by_label("Team names in French")).to_have_attribute("aria-invalid", "true")
        card.get_by_label("Team names in French").fill("Billing: notre service facturation\ntech: l'équipe technique")
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".site-card__saved")).to_have_text("Saved.")
        stored = admin_api.call("GET", f"/v1/sites/{site}")["settings"]["texts"]
        assert stored == {"en": {"teams": {"billing": "our invoicing team"}},
                          "fr": {"greeting": "Bonjour ! Une question sur nos bols ?",
                                 "teams": {"billing": "notre service facturation", "tech": "l'équipe technique"}}}
        assert stack.request("GET", f"/v1/sites/{site}/settings")[1]["greetings"] == {
            "fr": "Bonjour ! Une question sur nos bols ?"}
        page.reload()  # what was saved is what the form shows
        card = page.locator(f'.site-card[data-site="{site}"]')
        expect(card.get_by_label("Team names in French")).to_have_value("billing: notre service facturation\ntech: l'équipe technique")
        assert page.errors == []
    finally:
        admin_api.call("PATCH", f"/v1/sites/{site}", {**original, "texts": None})


def test_an_agent_blocks_and_unblocks_a_visitor_from_the_side_panel(console, visitors, stack, admin_api):
    page = console(AGENT, "away")   # blocking is any agent's to do, not only admins'
    expect(page.locator("#settings-open")).to_be_hidden()
    visitor = visitors(unique("Otto"))
    cid = visitors.start(visitor, "buy cheap watches at example.biz")
    visitor_id = admin_api.conversation(cid)["visitor"]["id"]
    open_conversation(page, cid)
    side = page.locator("#side-main")
    side.get_by_role("button", name="Block visitor").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text(f"Block {visitor.name}?")
    confirm.get_by_role("button", name="Block visitor").click()
    expect(side.get_by_role("button", name="Unblock visitor")).to_be_visible()
    expect(page.locator("#visitor-facts")).to_contain_text("Blocked")
    eventually(lambda: visitor.closed)                         # their socket is cut
    assert admin_api.call("GET", f"/v1/visitors/{visitor_id}")["visitor"]["blocked"] is True
    expect(page.locator("#thread-status")).to_contain_text("Solved")   # out of the queue: nobody is routed to it

    side.get_by_role("button", name="Unblock visitor").click()
    # exact: "Block visitor" also names "Unblock visitor" by substring, which passed before the unblock returned
    expect(side.get_by_role("button", name="Block visitor", exact=True)).to_be_visible()
    assert admin_api.call("GET", f"/v1/visitors/{visitor_id}")["visitor"]["blocked"] is False
    assert page.errors == []


# --- (f) the widget's real queue line ----------------------------------------------------------

def test_widget_shows_its_place_in_the_queue_when_the_only_agent_is_full(stack, new_page, visitors, agent_api,
                                                                          admin_api, artifacts):
    admin_api.set_capacity(AGENT, 1)
    alex = Socket(stack, agent_api.token, "Alex")
    try:
        assert alex.request("presence", status="online")["agent"]["status"] == "online"
        filler = visitors(unique("Pia"))
        filler_id = visitors.start(filler, "Taking the only slot")
        alex.wait(lambda f: f["type"] == "inbox" and f["conversation"]["id"] == filler_id
                  and f["conversation"]["assignee_id"] == agent_api.agent["id"], "the filler assigned")
        assert agent_api.team()[AGENT]["active_chats"] == 1

        page = new_page()
        marker = uuid.uuid4().hex[:12]
        page.goto(f"{stack.http}/?site=demo&t={marker}")
        with page.expect_response(lambda r: r.url.endswith("/v1/sites/demo/availability")):  # read on opening
            page.locator(".parley-launcher").click()
        expect(page.locator(".parley-composer")).to_be_visible()      # Alex is online: a chat is offered
        box = page.locator(".parley-composer textarea")
        box.fill("Do you gift-wrap?")
        box.press("Enter")
        queue = page.locator(".parley-queue")
        expect(queue).to_have_text(re.compile(r"^Waiting for an agent: position 1, about \d+ min$"))
        waiting = alex.wait(lambda f: f["type"] == "inbox" and marker in (f["conversation"]["visitor"]["page_url"] or ""),
                            "the widget's chat")["conversation"]
        assert agent_api.conversation(waiting["id"])["status"] == "queued"
        page.screenshot(path=str(artifacts / "widget-queue-position.png"))

        # The slot frees: the queue drains to Alex, and the widget's line goes.
        alex.request("set_status", conversation_id=filler_id, status="solved")
        expect(queue).to_be_hidden()
        assert agent_api.conversation(waiting["id"])["assignee_id"] == agent_api.agent["id"]
        alex.request("set_status", conversation_id=waiting["id"], status="solved")
        assert page.errors == []
    finally:
        alex.close()
        admin_api.set_capacity(AGENT, CAPACITY)
