"""Headless Debian Chromium driven by Playwright against the local stack (never a downloaded browser), the
demo agents over REST, and the console signed in. Helpers that are not fixtures: browser_helpers.py."""
import os
import shutil
from pathlib import Path

import pytest
from browser_helpers import ADMIN, AGENT, VIEWPORT, Api, Visitor, eventually, remember_presence, sign_in, unique
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    """Per module: Playwright's sync API keeps an event loop running while it lives, and the
    async tests that run after these (pytest-asyncio: tests/protocol, tests/infra) start event loops of
    their own, which refuse to nest in one."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """new_page(**context_options) → a page in a fresh context (its own storage: a separate person)."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (ignored by git): screenshots from the run, to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def agent_api(stack):
    """Alex Agent (agent@) over REST, signed in once per module."""
    return Api(stack, AGENT)


@pytest.fixture(scope="module")
def admin_api(stack):
    """Ada Admin (admin@) over REST, signed in once per module."""
    return Api(stack, ADMIN)


@pytest.fixture
def console(stack, new_page):
    """console(email=AGENT, presence="away", before=None, **context_options) → a page signed in, its
    socket connected, the agent's presence acknowledged.

    `presence` is what this browser chose last time (so the console never goes online by default
    first); `before(page)` runs before the console loads (to route its websocket, say)."""
    logins = {}

    def open_console(email: str = AGENT, presence: str = "away", before=None, **options):
        if email not in logins:
            logins[email] = stack.agent(email)
        page = new_page(viewport=VIEWPORT, **options)
        remember_presence(page, logins[email]["agent"]["id"], presence)
        if before:
            before(page)
        page.goto(stack.http + "/console/")
        sign_in(page, email)
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        expect(page.locator("#me-name")).not_to_be_empty()
        expect(page.get_by_label("Your status")).to_have_value(presence)
        token = logins[email]["token"]
        eventually(lambda: stack.request("GET", "/v1/agents/me", token=token)[1]["agent"]["status"] == presence)
        return page
    return open_console


@pytest.fixture
def visitors(stack, admin_api):
    """visitors(name, page_url=...) → a connected Visitor (tests/browser/browser_helpers.py). Afterwards the
    sockets close and their chats are solved, whoever holds them (a module may define its own)."""
    made: list[Visitor] = []

    def make(name: str | None = None, page_url: str = "https://shop.example/checkout?step=2") -> Visitor:
        name = name or unique("Visitor")
        session = stack.visitor(name=name, page_url=page_url)
        visitor = Visitor(stack, session["token"], name)
        made.append(visitor)
        return visitor

    yield make
    for visitor in made:
        visitor.close()
    for visitor in made:  # release every slot these chats took
        if visitor.conversation_id:
            admin_api.solve(visitor.conversation_id)
