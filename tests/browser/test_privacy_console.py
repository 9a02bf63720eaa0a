"""Retention and data requests in the console, in headless Chromium against the real local stack: an
admin sets a site's retention period, exports a visitor's data as a JSON download and erases it from
the side panel; an agent sees neither button. Visitors are real websockets (`websockets.sync.client`).

The stack is shared with the other suites: both demo agents are set `away` first (nothing is routed
behind the test's back), the site setting is put back, and every wait is bounded.
"""
import json
import re
import uuid

import pytest
from browser_helpers import ADMIN, AGENT, PASSWORD, VIEWPORT, Socket, call, eventually, set_presence, sign_in, unique
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tokens(stack) -> dict:
    return {email: stack.agent(email, PASSWORD)["token"] for email in (AGENT, ADMIN)}


@pytest.fixture(autouse=True)
def nobody_routed(stack, tokens):
    """Both demo agents away: a new chat waits in the queue until someone accepts it by hand."""
    for token in tokens.values():
        set_presence(stack, token, "away")


def console_as(stack, new_page, email: str):
    """The console signed in as `email`, presence `away` (as this browser chose before)."""
    agent_id = stack.agent(email, PASSWORD)["agent"]["id"]
    page = new_page(viewport=VIEWPORT)
    page.add_init_script(f"""localStorage.setItem("parley.console.prefs",
        JSON.stringify({{presenceByAgent: {{{json.dumps(agent_id)}: "away"}}}}));""")
    page.goto(stack.http + "/console/")
    sign_in(page, email)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    return page


def open_conversation(page, conversation_id: str) -> None:
    page.evaluate("id => { location.hash = '#/c/' + id; }", conversation_id)
    expect(page.locator("#thread-main")).to_be_visible()
    expect(page.locator("#visitor-facts")).to_contain_text("First seen")   # the profile has loaded


def a_visitor_with_a_chat(stack, text: str) -> tuple[Socket, dict, str]:
    name = unique("Greta")
    session = stack.visitor("demo", name=name, email=f"{uuid.uuid4().hex[:8]}@example.com",
                            page_url="https://shop.example/account")
    socket = Socket(stack, session["token"], name)
    conversation_id = socket.request("start", text=text)["conversation"]["id"]
    return socket, session, conversation_id


def test_an_admin_sets_how_long_a_site_keeps_conversations(stack, new_page, tokens, artifacts):
    site = "demo-prechat"
    try:
        page = console_as(stack, new_page, ADMIN)
        page.evaluate("() => { location.hash = '#/settings/sites'; }")
        page.get_by_label("Another site of this workspace").fill(site)
        page.get_by_role("button", name="Add site").click()
        card = page.locator(f'.site-card[data-site="{site}"]')
        keep = card.get_by_label("Keep conversations for")
        expect(keep).to_have_value("")
        expect(keep).to_have_attribute("placeholder", "forever")

        keep.fill("5000")
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".form-error")).to_have_text(
            "The retention period must be 1 to 3650 days (0 or null: keep forever).")
        expect(keep).to_be_focused()
        expect(keep).to_have_attribute("aria-invalid", "true")
        assert call(stack, tokens[ADMIN], "GET", f"/v1/sites/{site}")["settings"]["retention_days"] is None

        keep.fill("30")
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".site-card__saved")).to_have_text("Saved.")
        assert call(stack, tokens[ADMIN], "GET", f"/v1/sites/{site}")["settings"]["retention_days"] == 30
        card.screenshot(path=str(artifacts / "console-site-retention.png"))

        keep.fill("")   # empty: keep forever again
        card.get_by_role("button", name=re.compile(r"^Save ")).click()
        expect(card.locator(".site-card__saved")).to_have_text("Saved.")
        assert call(stack, tokens[ADMIN], "GET", f"/v1/sites/{site}")["settings"]["retention_days"] is None
        assert page.errors == []
    finally:
        call(stack, tokens[ADMIN], "PATCH", f"/v1/sites/{site}", {"retention_days": None})


def test_an_agent_has_no_export_or_erase(stack, new_page, tokens):
    socket, _, conversation_id = a_visitor_with_a_chat(stack, "Can I see what you store about me?")
    try:
        page = console_as(stack, new_page, AGENT)
        open_conversation(page, conversation_id)
        expect(page.locator("#side-main").get_by_role("button", name="Block visitor")).to_be_visible()
        expect(page.locator("#visitor-privacy")).to_be_hidden()
        expect(page.get_by_role("button", name="Export data")).to_have_count(0)
        assert page.errors == []
    finally:
        socket.close()
        call(stack, tokens[ADMIN], "PATCH", f"/v1/conversations/{conversation_id}", {"status": "solved"})


def test_an_admin_exports_then_erases_a_visitor(stack, new_page, tokens, artifacts):
    socket, session, conversation_id = a_visitor_with_a_chat(stack, "Please delete my account and my data.")
    visitor_id = session["visitor_id"]
    page = console_as(stack, new_page, ADMIN)
    open_conversation(page, conversation_id)
    page.get_by_role("button", name="Accept", exact=True).click()   # the chat takes one of Ada's slots
    expect(page.locator("#slots-text")).to_have_text("1 / 3")
    page.locator("#composer-text").fill("Sure, here is your data first.")
    page.locator("#composer-text").press("Enter")
    expect(page.locator(".msg", has_text="here is your data first")).to_be_visible()

    # Export: a JSON download of everything, the note included (flagged).
    side = page.locator("#side-main")
    with page.expect_download() as download:
        side.get_by_role("button", name="Export data").click()
    assert re.fullmatch(rf"parley-{visitor_id}-\d{{4}}-\d\d-\d\d\.json", download.value.suggested_filename)
    export = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert export["visitor"]["id"] == visitor_id and export["visitor"]["name"] == socket.name
    [conversation] = export["conversations"]
    assert [m["text"] for m in conversation["messages"] if not m.get("notice")] == ["Please delete my account and my data.",
                                                             "Sure, here is your data first."]
    expect(page.locator(".toast", has_text="data: 1 conversation")).to_be_visible()
    page.screenshot(path=str(artifacts / "console-visitor-privacy.png"))

    # Erase: asked first; then everything goes, the slot comes back, the visitor's socket closes.
    side.get_by_role("button", name="Erase visitor").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text(f"Erase all data of {socket.name}?")
    confirm.get_by_role("button", name="Cancel").click()
    assert call(stack, tokens[ADMIN], "GET", f"/v1/visitors/{visitor_id}")["visitor"]["id"] == visitor_id
    side.get_by_role("button", name="Erase visitor").click()
    confirm.get_by_role("button", name="Erase visitor").click()
    erased = f"{socket.name}'s data was erased: 1 conversation, 3 messages."  # with Ada's joined notice
    expect(page.locator(".toast", has_text=erased)).to_be_visible()
    expect(page.locator("#thread-main")).to_be_hidden()
    expect(page.locator(f'#conv-list li[data-id="{conversation_id}"]')).to_have_count(0)
    expect(page.locator("#slots-text")).to_have_text("0 / 3")
    assert call(stack, tokens[ADMIN], "GET", "/v1/agents/me")["agent"]["active_chats"] == 0
    call(stack, tokens[ADMIN], "GET", f"/v1/visitors/{visitor_id}", expect_status=404)
    call(stack, tokens[ADMIN], "GET", f"/v1/conversations/{conversation_id}", expect_status=404)
    eventually(lambda: socket.closed)
    assert page.errors == []
