"""The console says what is true, and shows it where a person can read it, in headless Chromium against
the real local stack: a visitor's "Last seen", the new-chat badge beside the view the chat is in, long
names in the thread header, the site settings' fields, headings and Save buttons, the slots-full notice
beside Send, and desktop notifications for chats that arrive while the tab is in the background.

Visitors are real websockets. The stack is shared with the other suites, so each test starts with both
demo agents away and nothing left waiting or open, uses visitors with distinctive names, and gives back
what it took (slots, capacities, site settings). Every wait is bounded.
"""
import datetime
import json
import re
import uuid

import pytest
from browser_helpers import (
    ADMIN,
    AGENT,
    SEEDED_CAPACITY,
    demo_at_rest,
    eventually,
    row,
    seeded_capacities,
    unique,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CAPACITY = SEEDED_CAPACITY  # both demo agents


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet(stack, agent_api, admin_api):
    """Before each test: both demo agents away (routing gives them nothing), capacities as seeded, and
    nothing left waiting or open. After it: the capacities as seeded again."""
    demo_at_rest(stack, agent_api, admin_api)
    yield
    seeded_capacities(admin_api)


def open_conversation(page, conversation_id: str) -> None:
    page.evaluate("id => { location.hash = '#/c/' + id; }", conversation_id)
    expect(page.locator("#thread-main")).to_be_visible()
    expect(page.locator("#thread-status")).not_to_be_empty()


def fact(page, label: str):
    """The value of a fact in the side panel ("Last seen", "Status", ...)."""
    return page.locator("#visitor-facts dt, #conv-facts dt").filter(has_text=re.compile(f"^{label}$")).locator("+ dd")


def nearest_view(page, locator) -> tuple[str, float]:
    """The view in the inbox's view list nearest to the element, and how far its box is (0: touching)."""
    return tuple(locator.evaluate("""node => {
        const b = node.getBoundingClientRect();
        const gap = (r) => Math.hypot(Math.max(r.left - b.right, b.left - r.right, 0),
                                      Math.max(r.top - b.bottom, b.top - r.bottom, 0));
        const views = Array.from(document.querySelectorAll("#views [data-view]"))
            .map((v) => [v.dataset.view, gap(v.getBoundingClientRect())]);
        return views.sort((x, y) => x[1] - y[1])[0];
    }"""))


# --- 1. "Last seen" ---------------------------------------------------------------------------

def test_last_seen_follows_the_visitor_and_the_clock(console, visitors):
    """The fact was read once, when the chat opened: "4m ago" while the visitor was typing. Now every
    frame from the visitor makes it "just now", and it ages as the minutes pass."""
    page = console(before=lambda p: p.clock.install())   # the page's clock, moved forward below
    visitor = visitors(unique("Lotte"))
    cid = visitor.start("Is anyone there?")["id"]
    open_conversation(page, cid)
    seen = fact(page, "Last seen")
    expect(seen).to_have_text("just now")

    # Four minutes pass on the console's clock (no timer runs on the way), then half a minute more,
    # which runs each timer that fell due once.
    later = page.evaluate("Date.now()") / 1000 + 4 * 60
    page.clock.set_system_time(datetime.datetime.fromtimestamp(later, datetime.UTC))
    page.clock.fast_forward(30_000)
    expect(seen).to_have_text(re.compile(r"^[45]m ago$"))

    visitor.typing("I have a question about my")
    expect(page.locator("#typing-preview")).to_have_text("I have a question about my")
    expect(seen).to_have_text("just now")

    page.clock.fast_forward("02:00")
    expect(seen).to_have_text("2m ago")
    visitor.say("I have a question about my order")
    expect(page.locator(".msg--visitor .msg__bubble").last).to_have_text("I have a question about my order")
    expect(seen).to_have_text("just now")
    assert page.errors == []


# --- 2. the new-chat badge --------------------------------------------------------------------

def test_the_new_chat_badge_sits_beside_the_view_the_chat_is_in(console, visitors, agent_api, artifacts):
    """It sat beside the list's title, "Unassigned", while the chat it announced was assigned to the
    agent and waited in Mine."""
    agent_api.free_slots(1)
    page = console(presence="online")
    page.locator('[data-view="unassigned"]').click()
    expect(page.locator("#list-title")).to_have_text("Unassigned")
    visitors(unique("Mina")).start("Hello, can you help with a return?")
    badge = page.locator("#alert-badge")
    expect(badge).to_have_text("1 new chat for you")
    expect(page.locator('[data-view="mine"] .view__new')).to_be_visible()
    view, gap = nearest_view(page, badge)
    assert (view, gap) == ("mine", 0), f"the badge is {gap:.0f}px from the {view!r} view, not in Mine"
    page.locator(".inbox").screenshot(path=str(artifacts / "console-badge-mine.png"))

    # Away, reading a chat of Mine: a chat left waiting is announced beside Unassigned.
    page.get_by_label("Your status").select_option("away")
    eventually(lambda: agent_api.me()["status"] == "away")
    page.locator('[data-view="mine"]').click()
    expect(badge).to_be_hidden()
    mine = page.locator("#conv-list li a").first
    mine.click()
    expect(page.locator("#thread-main")).to_be_visible()
    visitors(unique("Nils")).start("Is the shop open on Sunday?")
    expect(badge).to_have_text("1 new chat")
    view, gap = nearest_view(page, badge)
    assert (view, gap) == ("unassigned", 0), f"the badge is {gap:.0f}px from the {view!r} view, not in Unassigned"
    badge.click()                                    # it leads where it sits
    expect(page.locator("#list-title")).to_have_text("Unassigned")
    expect(badge).to_be_hidden()
    assert page.errors == []


# --- 3. long names and titles in the thread header ---------------------------------------------

def clickable(locator) -> bool:
    """The element is what a click at its centre reaches (nothing lies over it) and is inside the window."""
    return locator.evaluate("""node => {
        const r = node.getBoundingClientRect();
        const x = r.left + r.width / 2, y = r.top + r.height / 2;
        const hit = document.elementFromPoint(x, y);
        return r.width > 0 && r.right <= innerWidth && r.bottom <= innerHeight && !!hit && node.contains(hit);
    }""")


def test_a_long_name_and_title_in_the_thread_header_can_be_read_and_leave_the_actions_be(console, visitors,
                                                                                         agent_api, artifacts):
    """They were cut with an ellipsis and nothing told the rest."""
    name = "Maximiliana Alexandrovna Konstantinopolskaya-Wolkenstein " + uuid.uuid4().hex[:3]
    assert len(name) == 60
    title = ("Refund for a parcel that arrived damaged, the second time this month, and a question about "
             "the replacement's delivery date")
    page = console()
    visitor = visitors(name)
    cid = visitor.start("My parcel arrived damaged again")["id"]
    agent_api.patch(cid, title=title)
    open_conversation(page, cid)
    header_name = page.locator("#thread-visitor")
    expect(header_name).to_have_text(name)
    expect(header_name).to_have_attribute("title", name)
    expect(page.get_by_label("Conversation title")).to_have_value(title)
    expect(page.get_by_label("Conversation title")).to_have_attribute("title", title)
    page.locator(".thread__head").screenshot(path=str(artifacts / "console-long-name-header.png"))

    actions = page.locator(".thread__actions")
    who = header_name.bounding_box()
    assert who["x"] + who["width"] <= actions.bounding_box()["x"], "the name runs under the actions"
    buttons = [page.get_by_role("button", name="Accept", exact=True), page.get_by_role("button", name="Transfer")]
    buttons += [page.locator(f'.seg__btn[data-status="{s}"]') for s in ("open", "pending", "solved")]
    for button in buttons:
        expect(button).to_be_visible()
        assert clickable(button), button
    buttons[0].click()
    expect(page.locator("#thread-status")).to_contain_text("Open")
    assert page.errors == []


# --- 4. and 5. site settings ------------------------------------------------------------------

def site_settings(console, keys: tuple[str, ...]):
    """The admin's Sites settings with a card for each of `keys` (added by key: the API lists no sites)."""
    page = console(ADMIN)
    page.evaluate("() => { location.hash = '#/settings/sites'; }")
    expect(page.locator("#settings-sites")).to_be_visible()
    field = page.get_by_label("Another site of this workspace")
    for key in keys:
        field.fill(key)
        page.get_by_role("button", name="Add site").click()
        expect(page.locator(f'.site-card[data-site="{key}"]')).to_be_visible()
        # Added once the field is empty again: typing the next key before then, the console would clear it.
        expect(field).to_have_value("")
    return page


def placeholder_fits(field) -> dict:
    """Whether the field shows its whole placeholder: a value as wide as the placeholder (digits, which a
    number field takes) is put in for a moment, and must not scroll."""
    return field.evaluate("""input => {
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = getComputedStyle(input).font;
        const wanted = ctx.measureText(input.placeholder).width;
        let digits = "0";
        while (ctx.measureText(digits).width < wanted) digits += "0";
        const kept = input.value;
        input.value = digits;
        const result = {fits: input.scrollWidth <= input.clientWidth, scroll: input.scrollWidth, client: input.clientWidth};
        input.value = kept;
        return result;
    }""")


def test_the_retention_field_shows_its_whole_placeholder(console, artifacts):
    """"forever" read "forev"."""
    page = site_settings(console, ("demo-prechat",))
    keep = page.locator('.site-card[data-site="demo-prechat"]').get_by_label("Keep conversations for")
    expect(keep).to_have_attribute("placeholder", "forever")
    expect(keep).to_have_value("")
    keep.screenshot(path=str(artifacts / "console-site-retention-placeholder.png"))
    assert placeholder_fits(keep)["fits"], placeholder_fits(keep)
    assert page.errors == []


def test_each_site_form_has_its_own_heading_and_save_button(console, artifacts):
    """Two sites of the Demo Shop workspace: two forms both headed "Demo Shop", two "Save Demo Shop"."""
    page = site_settings(console, ("demo", "demo-prechat"))
    section = page.locator("#settings-sites")
    tree = section.aria_snapshot()        # the names assistive technology gives them
    headings = re.findall(r'- heading "([^"]*)"', tree)
    buttons = re.findall(r'- button "([^"]*)"', tree)
    assert len(headings) >= 3 and len(set(headings)) == len(headings), headings
    assert len(buttons) >= 3 and len(set(buttons)) == len(buttons), buttons
    submits = section.locator('button[type="submit"]:visible')
    names = [button.inner_text() for button in submits.all()]
    assert len(set(names)) == len(names), names
    for key in ("demo", "demo-prechat"):
        card = page.locator(f'.site-card[data-site="{key}"]')
        expect(card.get_by_role("heading")).to_contain_text(key)
        expect(card.get_by_role("button", name=re.compile(r"^Save "))).to_contain_text(key)
    assert page.errors == []


# --- 6. the slots-full notice -----------------------------------------------------------------

def overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_the_slots_full_notice_leaves_send_uncovered(console, visitors, agent_api, admin_api, artifacts):
    """The notice (a toast in the corner, 420 px wide) lay over the composer's Send button."""
    admin_api.set_capacity(AGENT, 1)
    me = agent_api.me()
    agent_api.free_slots(1)
    filler = visitors(unique("Filler")).start("Taking the only slot")["id"]
    agent_api.patch(filler, assignee_id=me["id"])
    page = console()
    expect(page.locator("#slots-text")).to_have_text("1 / 1")
    cid = visitors(unique("Wanda")).start("Anyone there? I need help with my order")["id"]
    open_conversation(page, cid)
    page.get_by_role("button", name="Accept", exact=True).click()
    notice = page.locator(".toast--error")
    expect(notice).to_contain_text("All your chat slots are taken (1/1)")
    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_visible()
    page.screenshot(path=str(artifacts / "console-slots-full-notice.png"))
    assert not overlap(notice.bounding_box(), send.bounding_box()), (notice.bounding_box(), send.bounding_box())
    assert clickable(send)
    composer = page.get_by_label("Message", exact=True)
    assert not overlap(notice.bounding_box(), composer.bounding_box())
    assert agent_api.conversation(cid)["status"] == "queued"
    assert page.errors == []


# --- 7. desktop notifications -----------------------------------------------------------------

# The page's Notification, recorded (headless Chromium shows none), with the permission the browser would
# ask for (PERMISSION: "default" until requestPermission() says "granted"). And a tab the test can send
# to the background: document.visibilityState, document.hidden and document.hasFocus() follow window.__away.
NOTIFICATIONS = """(() => {
    window.__notes = [];
    window.__asked = 0;
    let permission = PERMISSION;
    class RecordedNotification {
        constructor(title, options) {
            Object.assign(this, {title: title, body: (options || {}).body, tag: (options || {}).tag, closed: false});
            window.__notes.push(this);
        }
        close() { this.closed = true; }
        static get permission() { return permission; }
        static requestPermission(callback) {
            window.__asked += 1;
            permission = "granted";
            if (callback) callback(permission);
            return Promise.resolve(permission);
        }
    }
    window.Notification = RecordedNotification;
    window.__away = false;
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => window.__away ? "hidden" : "visible"});
    Object.defineProperty(document, "hidden", {configurable: true, get: () => window.__away});
    document.hasFocus = () => !window.__away;
})()"""


def record_notifications(permission: str = "default"):
    """A `before` hook for the console fixture: the stand-in Notification above, the browser's answer so far."""
    return lambda page: page.add_init_script(NOTIFICATIONS.replace("PERMISSION", json.dumps(permission)))


def away(page, gone: bool) -> None:
    """The console's tab goes to the background (another tab in front) or comes back."""
    page.evaluate("gone => { window.__away = gone; document.dispatchEvent(new Event('visibilitychange')); }", gone)


def notes(page) -> list[dict]:
    return page.evaluate("() => window.__notes.map(n => ({title: n.title, body: n.body, tag: n.tag, closed: n.closed}))")


def test_desktop_notifications_for_new_chats_while_the_tab_is_in_the_background(console, visitors, agent_api):
    """There were none: a chat could wait unseen behind another tab."""
    agent_api.free_slots(2)
    page = console(presence="online", permissions=["notifications"], before=record_notifications())
    turn_on = page.get_by_role("button", name="Turn on desktop notifications")
    expect(turn_on).to_be_visible()
    assert page.evaluate("window.__asked") == 0              # never asked without a click
    turn_on.click()
    toggle = page.locator("#notify-toggle")
    expect(toggle).to_have_text("Notifications on")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(turn_on).to_be_hidden()
    assert page.evaluate("window.__asked") == 1
    page.locator('[data-view="mine"]').click()

    # In the background, a chat is routed to this (online) agent, then its visitor writes again.
    away(page, True)
    visitor = visitors(unique("Petra"))
    cid = visitor.start("Hi, my discount code does not work")["id"]
    page.wait_for_function("() => window.__notes.length >= 1")
    first = notes(page)[0]
    assert visitor.name in first["title"] and first["body"] == "Hi, my discount code does not work", first
    assert first["tag"] == cid
    expect(row(page, cid)).to_be_visible()
    visitor.say("It is SPRING25")
    page.wait_for_function("() => window.__notes.length >= 2")
    again = notes(page)[1]
    assert visitor.name in again["title"] and again["body"] == "It is SPRING25" and again["tag"] == cid, again

    # Clicking it brings the console forward with the chat open.
    away(page, False)
    page.evaluate("() => window.__notes[1].onclick(new Event('click'))")
    expect(page.locator("#thread-visitor")).to_have_text(visitor.name)
    assert notes(page)[1]["closed"]

    # Off: nothing more is shown, and the choice is remembered for this agent on this browser.
    toggle.click()
    expect(toggle).to_have_text("Notifications off")
    away(page, True)
    shown = len(notes(page))
    other = visitors(unique("Quirin"))
    other_id = other.start("Do you ship to Iceland?")["id"]
    expect(row(page, other_id)).to_be_visible()
    other.say("Hello?")
    expect(row(page, other_id).locator(".row__unread")).to_have_text("2")
    assert len(notes(page)) == shown, notes(page)
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.locator("#notify-toggle")).to_have_text("Notifications off")
    expect(turn_on).to_be_hidden()
    prefs = page.evaluate("() => JSON.parse(localStorage.getItem('parley.console.prefs'))")
    assert prefs["notifyByAgent"] == {agent_api.agent["id"]: "off"}, prefs
    assert page.errors == []


def test_no_thanks_and_a_browser_that_blocks_notifications_are_respected(console, visitors):
    page = console(ADMIN, before=record_notifications())
    page.get_by_role("button", name="No thanks").click()
    expect(page.locator("#notify-prompt")).to_be_hidden()
    expect(page.locator("#notify-toggle")).to_have_text("Notifications off")
    assert page.evaluate("window.__asked") == 0
    admin_id = page.evaluate("() => JSON.parse(sessionStorage.getItem('parley.console.session')).agent.id")
    prefs = page.evaluate("() => JSON.parse(localStorage.getItem('parley.console.prefs'))")
    assert prefs["notifyByAgent"] == {admin_id: "off"}, prefs    # this agent's choice, no one else's

    blocked = console(before=record_notifications("denied"))
    expect(blocked.locator("#notify-toggle")).to_have_text("Notifications blocked")
    expect(blocked.locator("#notify-prompt")).to_be_hidden()
    blocked.locator("#notify-toggle").click()
    expect(blocked.locator(".toast")).to_contain_text("Your browser blocks notifications for this page")
    away(blocked, True)
    visitors(unique("Rune")).start("Hello, anyone?")
    expect(blocked.locator("#alert-badge")).to_have_text("1 new chat")   # the chat was announced, in the page only
    assert notes(blocked) == [] and blocked.evaluate("window.__asked") == 0
    assert page.errors == [] and blocked.errors == []
