"""The widget on a page of another website (a second 127.0.0.1 port, not among the site's allowed
origins) in headless Chromium against the real local stack: refused, and it says so; once an admin
lists that origin through the admin REST, the same page chats."""
import http.server
import re
import threading
import uuid

import pytest
from browser_helpers import Api
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)

SITE = "demo-prechat"  # the demo workspace's second site: the shared `demo` site's list stays as seeded


@pytest.fixture
def other_website(stack):
    """A static server on another port serving one shop page with the widget pointed at the stack."""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Another shop</title></head><body>"
            f"<h1>Another shop</h1><script src='{stack.http}/widget/widget.js' data-site-key='{SITE}' async>"
            "</script></body></html>").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def admin(stack):
    """Ada Admin over REST; the site's list of origins is put back as it was afterwards."""
    api = Api(stack, "admin@example.com")
    before = api.call("GET", f"/v1/sites/{SITE}")["settings"]["allowed_origins"]
    yield api
    api.call("PATCH", f"/v1/sites/{SITE}", {"allowed_origins": before})


def open_widget(new_page, url: str, **context):
    page = new_page(**context)
    page.sockets = []
    page.on("websocket", lambda socket: page.sockets.append(socket.url))
    page.goto(url)
    page.locator(".parley-launcher").click()
    expect(page.locator(".parley-panel")).to_be_visible()
    return page


@pytest.mark.parametrize("locale, says", [("en-US", "Chat is unavailable on this website."),
                                          ("fr-FR", "Discussion indisponible sur ce site.")])
def test_a_page_of_a_website_the_site_does_not_list_is_refused_and_the_widget_says_so(
        stack, new_page, other_website, locale, says):
    listed = Api(stack, "admin@example.com").call("GET", f"/v1/sites/{SITE}")["settings"].get("allowed_origins")
    assert other_website not in (listed or [])  # as seeded: the stack's own two origins
    page = open_widget(new_page, other_website + "/", locale=locale)
    expect(page.locator(".parley-sub")).to_have_text(says)
    expect(page.locator(".parley-composer")).to_be_hidden()
    expect(page.locator(".parley-body .parley-form")).to_have_count(0)  # no pre-chat form to fill for nothing
    expect(page.locator(".parley-status")).to_have_text("")  # not "Reconnecting…": nothing will follow
    # The widget decided before it was built, so it never even tried a socket.
    assert page.sockets == [] and page.errors == []


def test_once_an_admin_lists_that_website_its_page_chats(stack, new_page, other_website, admin):
    saved = admin.call("PATCH", f"/v1/sites/{SITE}", {"allowed_origins": [
        f"http://127.0.0.1:{stack.port}", f"http://localhost:{stack.port}", other_website + "/"]})
    assert other_website in saved["settings"]["allowed_origins"]  # normalized: no trailing slash
    page = open_widget(new_page, other_website + "/")
    expect(page.locator(".parley-name")).to_have_text("Demo Shop")  # the site's settings, read across origins
    expect(page.locator(".parley-sub")).not_to_have_text("Chat is unavailable on this website.")
    marker = uuid.uuid4().hex[:8]
    form = page.locator(".parley-body .parley-form")
    form.locator("input[type=email]").fill(f"other-{marker}@example.com")
    form.locator("textarea").fill(f"Hello from another website {marker}")
    form.locator("button.parley-primary").click()
    expect(page.locator(".parley-log .parley-msg:not(.parley-system) .parley-bubble")).to_have_text([f"Hello from another website {marker}"])
    expect(page.locator(".parley-msg.parley-pending")).to_have_count(0)  # the server acknowledged it
    conversation_id = page.evaluate(f"JSON.parse(localStorage.getItem('parley:{SITE}')).conv")
    conversation = admin.conversation(conversation_id)
    assert conversation["visitor"]["page_url"] == other_website + "/"
    admin.solve(conversation_id)
    assert page.errors == []


def _sites_card(page):
    page.evaluate("() => { location.hash = '#/settings/sites'; }")
    page.get_by_label(re.compile("Another site of this workspace")).fill(SITE)
    page.get_by_role("button", name="Add site").click()
    card = page.locator(f'.site-card[data-site="{SITE}"]')
    expect(card).to_be_visible()
    return card


def test_the_console_edits_a_sites_origins_and_warns_while_any_website_may_embed_it(
        console, stack, admin, other_website):
    admin.call("PATCH", f"/v1/sites/{SITE}", {"allowed_origins": None})
    page = console("admin@example.com", "away")
    card = _sites_card(page)
    field = card.get_by_label("Websites that may show the chat")
    warning = card.locator(".origins-warning")
    expect(field).to_have_value("")
    expect(warning).to_have_text("Any website can embed this chat until you list your website's addresses here.")

    field.fill("https://shop.example/cart")
    card.get_by_role("button", name=re.compile(r"^Save ")).click()
    expect(card.locator(".form-error")).to_contain_text("is not an origin")
    expect(field).to_be_focused()
    field.fill(f"{other_website}/\nhttps://*.Shop.example")
    card.get_by_role("button", name=re.compile(r"^Save ")).click()
    expect(card.locator(".site-card__saved")).to_have_text("Saved.")
    expect(field).to_have_value(f"{other_website}\nhttps://*.shop.example")  # as stored
    expect(warning).to_be_hidden()
    stored = admin.call("GET", f"/v1/sites/{SITE}")["settings"]["allowed_origins"]
    assert stored == [other_website, "https://*.shop.example"] and page.errors == []


def test_the_console_says_it_in_french_too(console, stack, admin):
    admin.call("PATCH", f"/v1/sites/{SITE}", {"allowed_origins": None})
    french = "Object.defineProperty(navigator, 'language', { get: () => 'fr-FR' })"
    page = console("admin@example.com", "away", before=lambda p: p.add_init_script(french))
    card = _sites_card(page)
    expect(card.get_by_label("Sites web autorisés à afficher la discussion")).to_have_value("")
    expect(card.locator(".origins-warning")).to_have_text(
        "N’importe quel site web peut intégrer cette discussion tant que vous n’indiquez pas ici les adresses de votre site.")
