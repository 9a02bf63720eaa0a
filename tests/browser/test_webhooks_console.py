"""Webhooks in the console, in headless Chromium against the real local stack: an admin adds endpoints,
copies the secret shown once, and watches real deliveries of a visitor's chat reach a local receiver
(signed with that secret) or fail after the stack's quick retries (3 tries, 1 s then 4 s apart), then
retries a failed one. The endpoints live in the demo workspace for the test only."""
import hashlib
import hmac
import json

import pytest
from browser_helpers import ADMIN, Socket, eventually, sign_in, unique
from playwright.sync_api import expect
from standardwebhooks import Webhook

from tests.fakes import WebhookReceiver

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1440, "height": 1100}
RETRIES = 20.0  # seconds for three tries 1 s and 4 s apart, with every poll in between


def posts_of(receiver: WebhookReceiver, event_type: str, conversation_id: str) -> list[dict]:
    """The receiver's posts of `event_type` about the conversation."""
    return [p for p in receiver.posts if p["json"]["type"] == event_type
            and p["json"]["data"].get("conversation", {}).get("id") == conversation_id]


@pytest.fixture
def receivers():
    made = []

    def make(status: int) -> WebhookReceiver:
        """A local endpoint answering `status` (its `default`), at a URL of its own."""
        made.append(WebhookReceiver(default=status, path=f"/parley/{unique('hook').split()[1]}"))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def signed(secret: str, post: dict) -> bool:
    """The check docs/protocol.md §18.5 describes, on what the receiver got."""
    fields = dict(item.split("=", 1) for item in post["headers"]["parley-signature"].split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + post["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def visitor_chat(stack, text: str) -> str:
    """A visitor of the demo site opens a chat over a real websocket; returns its conversation id."""
    session = stack.visitor("demo", name=unique("Hooked"))
    with Socket(stack, session["token"], "the visitor") as socket:
        return socket.request("start", text=text)["conversation"]["id"]


def webhooks_tab(stack, new_page, before=None, **context):
    """The admin's console on the Webhooks tab, `away` (as the other suites leave the demo agents);
    `before(page)` runs before the console loads (to route its requests, say)."""
    agent_id = stack.agent(ADMIN)["agent"]["id"]
    page = new_page(viewport=VIEWPORT, **context)
    if before:
        before(page)
    page.add_init_script(f"""(() => {{
        const key = "parley.console.prefs";
        const prefs = JSON.parse(localStorage.getItem(key) || "{{}}");
        prefs.presenceByAgent = Object.assign({{}}, prefs.presenceByAgent, {{{json.dumps(agent_id)}: "away"}});
        localStorage.setItem(key, JSON.stringify(prefs));
    }})()""")
    page.goto(stack.http + "/console/")
    sign_in(page, ADMIN)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    page.evaluate("() => { location.hash = '#/settings/webhooks'; }")
    expect(page.locator("#settings-webhooks")).to_be_visible()
    return page


def add_endpoint(page, url: str, events: list[str] | None = None, screenshot=None) -> tuple[str, str]:
    """Fill the form; returns the secret the console shows once, and its Standard Webhooks form."""
    page.get_by_role("button", name="Add endpoint").first.click()
    form = page.locator("#webhook-form")
    form.get_by_label("URL").fill(url)
    if events is not None:
        for box in form.locator("#webhook-event-list input").all():
            box.set_checked(box.get_attribute("value") in events)
    form.get_by_role("button", name="Add endpoint").click()
    secret_box = page.locator("#webhook-secret")
    expect(secret_box).to_be_visible()
    expect(page.locator("#webhook-secret-url")).to_have_text(url)
    secret = page.locator("#webhook-secret-value").inner_text()
    standard = page.locator("#webhook-standard-secret-value").inner_text()
    assert secret.startswith("whsec_") and standard.startswith("whsec_") and standard != secret
    if screenshot:
        page.screenshot(path=str(screenshot))
    secret_box.locator("#webhook-secret-done").click()
    expect(secret_box).to_be_hidden()
    return secret, standard


def card(page, url: str):
    return page.locator(".webhook-card").filter(has=page.locator(".webhook-card__url", has_text=url))


def test_an_admin_sees_deliveries_succeed_fail_after_retries_and_retries_one(stack, new_page, receivers, artifacts):
    good, bad = receivers(204), receivers(500)
    page = webhooks_tab(stack, new_page)
    admin_token = stack.agent(ADMIN)["token"]
    cid = None
    try:
        # Bad input is refused, naming the field.
        page.get_by_role("button", name="Add endpoint").first.click()
        page.locator("#webhook-form").get_by_label("URL").fill("http://example.com/hook")
        page.locator("#webhook-form").get_by_role("button", name="Add endpoint").click()
        expect(page.locator("#webhook-error")).to_have_text("Url must be an https:// URL.")
        expect(page.locator("#webhook-url")).to_have_attribute("aria-invalid", "true")
        page.locator("#webhook-cancel").click()

        good_secret, good_standard = add_endpoint(page, good.url, screenshot=artifacts / "console-webhook-secret.png")
        add_endpoint(page, bad.url, ["message.created"])
        good_card, bad_card = card(page, good.url), card(page, bad.url)
        expect(good_card).to_be_visible()
        expect(bad_card.locator(".webhook-card__events li")).to_have_text(["message.created"])

        text = unique("Webhooks, please")
        cid = visitor_chat(stack, text)

        # The good endpoint gets the chat's events, signed with the secret the console showed.
        created = eventually(lambda: posts_of(good, "conversation.created", cid))
        message = eventually(lambda: posts_of(good, "message.created", cid))
        assert message[0]["json"]["data"]["message"]["text"] == text
        for post in created + message:
            assert signed(good_secret, post)
            # and the Standard Webhooks form the console showed verifies it with the reference package
            assert Webhook(good_standard).verify(post["body"], post["headers"]) == post["json"]
            assert post["headers"]["parley-event-id"] == post["headers"]["webhook-id"] == post["json"]["id"]
        delivered = good_card.locator('.delivery-row[data-status="delivered"]')
        expect(delivered.filter(has_text="message.created").first).to_be_visible()
        expect(delivered.filter(has_text="message.created").first.locator(".delivery-code")).to_have_text("204")

        # The failing one is tried three times, then shows as failed with its last answer.
        failed = bad_card.locator('.delivery-row[data-status="failed"]').filter(has_text="message.created")
        expect(failed).to_have_count(1, timeout=RETRIES * 1000)
        expect(failed.locator(".delivery-code")).to_have_text("500")
        expect(failed.locator(".delivery-attempts")).to_have_text("3")
        expect(failed.locator(".delivery-detail")).to_have_text("HTTP 500")
        assert len(posts_of(bad, "message.created", cid)) == 3
        page.locator("#settings").evaluate("box => { box.scrollTop = 0; }")
        page.screenshot(path=str(artifacts / "console-settings-webhooks.png"), full_page=True)

        # Fixed: Retry delivers it.
        bad.default = 200
        failed.get_by_role("button", name="Retry message.created").click()
        row = bad_card.locator(".delivery-row").filter(has_text="message.created")
        expect(row).to_have_attribute("data-status", "delivered", timeout=RETRIES * 1000)
        expect(row.locator(".delivery-attempts")).to_have_text("4")
        expect(row.locator(".delivery-code")).to_have_text("200")
        assert posts_of(bad, "message.created", cid)[-1]["headers"]["parley-delivery-attempt"] == "4"

        # A test event, then disabling: the toggle and the pill follow.
        good_card.get_by_role("button", name="Send test").click()
        expect(good_card.locator('.delivery-row[data-status="delivered"]').filter(has_text="webhook.test")).to_have_count(1)
        assert good.types().count("webhook.test") == 1
        bad_card.get_by_role("button", name="Disable").click()
        expect(bad_card.locator(".status-pill")).to_have_text("Disabled")
        expect(bad_card.get_by_role("button", name="Enable")).to_be_visible()

        # Deleting asks first, then the endpoint is gone.
        for url in (good.url, bad.url):
            card(page, url).get_by_role("button", name="Delete").click()
            page.locator("#confirm-ok").click()
            expect(card(page, url)).to_have_count(0)
        assert page.errors == []
    finally:
        status, listed = stack.request("GET", "/v1/webhooks", token=admin_token)
        for hook in listed.get("items", []):
            if hook["url"] in (good.url, bad.url):
                stack.request("DELETE", f"/v1/webhooks/{hook['id']}", token=admin_token)
        if cid:
            stack.request("PATCH", f"/v1/conversations/{cid}", {"status": "solved"}, token=admin_token)


def test_the_secret_box_speaks_french_to_a_french_browser(stack, new_page, receivers):
    hook = receivers(204)
    page = webhooks_tab(stack, new_page, locale="fr-FR")
    admin_token = stack.agent(ADMIN)["token"]
    try:
        page.get_by_role("button", name="Add endpoint").first.click()
        form = page.locator("#webhook-form")
        form.get_by_label("URL").fill(hook.url)
        form.get_by_role("button", name="Add endpoint").click()
        box = page.locator("#webhook-secret")
        expect(box.locator("#webhook-secret-title")).to_have_text("Secret de signature pour")
        expect(box.locator("#webhook-secret-help")).to_contain_text("il ne sera plus affiché")
        expect(box.locator("#webhook-standard-help")).to_contain_text("Secret Standard Webhooks : la même clé")
        expect(box.get_by_role("button", name="Copier")).to_have_count(2)
        box.get_by_role("button", name="Terminé").click()
        expect(box).to_be_hidden()
        assert page.errors == []
    finally:
        _, listed = stack.request("GET", "/v1/webhooks", token=admin_token)
        for item in listed.get("items", []):
            if item["url"] == hook.url:
                stack.request("DELETE", f"/v1/webhooks/{item['id']}", token=admin_token)


def test_an_endpoint_added_while_the_list_is_still_loading_is_listed(stack, new_page, receivers):
    """Issue 13, defect 6: the list's first answer, read before the endpoint was added, arrives after it:
    the new endpoint must still be listed (else the admin adds it twice)."""
    receiver, held = receivers(204), []

    def hold_first_list(route):
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))  # the answer as it is now, handed to the page later
        else:
            route.continue_()

    page = webhooks_tab(stack, new_page, before=lambda p: p.route("**/v1/webhooks", hold_first_list))
    admin_token = stack.agent(ADMIN)["token"]
    try:
        for _ in range(50):
            if held:
                break
            page.wait_for_timeout(100)
        assert held, "the console should have asked for the list"
        add_endpoint(page, receiver.url)
        route, stale = held[0]
        route.fulfill(response=stale)
        page.wait_for_timeout(1000)
        expect(card(page, receiver.url)).to_be_visible()
        assert page.errors == []
    finally:
        _, hooks = stack.request("GET", "/v1/webhooks", token=admin_token)
        for hook in hooks["items"]:
            if hook["url"] == receiver.url:
                stack.request("DELETE", f"/v1/webhooks/{hook['id']}", token=admin_token)
