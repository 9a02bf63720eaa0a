"""Offline and email, end to end on the local stack: the visitor leaves, the agent answers, the digest
lands in the local SES outbox (/_local/outbox), and its link reopens the chat with the answer, in a
browser that has never seen the visitor (the email read on another device). Every wait is bounded."""
import time
import uuid

import pytest
from browser_helpers import AgentSocket, bubbles, stack_outbox, visit, write
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)


@pytest.fixture
def agent(stack):
    socket = AgentSocket(stack)
    socket.request("presence", status="online")
    yield socket
    socket.close()


def wait_for_email(stack, to: str, containing: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in stack_outbox(stack) if m["headers"].get("To") == to and containing in m["text"]]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no email to {to} with {containing!r} in the outbox"
        time.sleep(0.25)


def test_an_answer_to_a_visitor_who_left_is_emailed_and_its_link_reopens_the_chat(stack, new_page, agent):
    address = f"erin.{uuid.uuid4().hex[:8]}@example.com"
    page = visit(new_page, stack)
    page.evaluate("email => Parley('identify', {email})", address)
    write(page, "Is the blue teapot in stock?")
    conversation_id = agent.conversation_of(page)["id"]
    # join, not accept: routing may assign it to whoever is online first; any agent may answer
    agent.request("join", conversation_id=conversation_id)
    expect(page.locator(".parley-pending")).to_have_count(0)
    page.context.close()  # the visitor leaves: their socket closes, nobody is left to hear the answer
    time.sleep(1)  # the gateway's $disconnect runs on its own thread

    answer = f"Yes, two left. Shall I reserve one? <b>{uuid.uuid4().hex[:6]}</b>"
    agent.say(conversation_id, answer)
    email = wait_for_email(stack, address, answer)
    assert email["headers"]["Subject"] == "New reply from Demo Shop"
    assert email["headers"]["Reply-To"].split("<")[1].startswith(f"reply+{conversation_id}.")
    assert "Is the blue teapot in stock?" in email["text"]
    assert "&lt;b&gt;" in email["html"] and "<b>" not in email["html"]

    # the outbox page shows it; its link opens the demo page, which reopens the chat with the answer
    reader = new_page()
    reader.goto(stack.http + "/_local/outbox")
    card = reader.locator(f"article.mail[data-index='{email['index']}']")
    expect(card).to_contain_text("New reply from Demo Shop")
    expect(card.locator("iframe")).to_have_attribute("sandbox", "allow-popups allow-popups-to-escape-sandbox")
    card.locator("pre.text a[href*='parley_resume=']").click()
    expect(reader.locator(".parley-panel")).to_be_visible()
    expect(reader.locator(".parley-log")).to_contain_text(answer)
    assert "Is the blue teapot in stock?" in " ".join(bubbles(reader))
    assert "parley_resume" not in reader.url  # the token does not linger in the address bar

    # and the visitor can answer from there, in the same conversation
    write(reader, "Yes please!")
    agent.wait(lambda f: f["type"] == "message" and f["message"]["text"] == "Yes please!"
               and f["conversation_id"] == conversation_id, "the visitor's answer after the email link")
    assert reader.errors == []
