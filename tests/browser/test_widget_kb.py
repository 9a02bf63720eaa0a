"""The widget's article suggestions (issue 14) in headless Chromium against the real local stack: the
demo shop's seeded knowledge base suggested while the visitor types, an article opened in the view the
widget loads on demand, and "Did this answer your question?" answered Yes (a resolution: no conversation,
or the open one solved by self-service) and No (back to the composer, on to a human), in English and
French, by mouse and by keyboard."""
import re
import urllib.parse

import pytest
from browser_helpers import AgentSocket, eventually, quiet_workspace, visit, write
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)

SUGGESTIONS = ".parley-suggest .parley-chip"


@pytest.fixture
def agent(stack):
    """Alex Agent online (routing gives him each new chat), Ada Admin away, nothing left open."""
    quiet_workspace(stack)
    socket = AgentSocket(stack)
    socket.request("presence", status="online")
    yield socket
    socket.close()


def stats(stack, token: str, article_id: str) -> dict:
    status, article = stack.request("GET", f"/v1/articles/{article_id}", token=token)
    assert status == 200, article
    return article["stats"]


def article_id_of(stack, title: str, locale: str) -> str:
    query = urllib.parse.urlencode({"site_key": "demo", "q": title, "locale": locale})
    status, found = stack.request("GET", f"/v1/articles/search?{query}")
    assert status == 200 and found["items"] and found["items"][0]["title"] == title, found
    return found["items"][0]["id"]


def type_question(page, text: str) -> None:
    """Typed as a person types (input events, key by key), not sent."""
    box = page.locator(".parley-composer textarea")
    box.click()
    box.press_sequentially(text, delay=15)


def test_suggestions_while_typing_an_article_and_yes_spares_a_conversation(stack, new_page, agent, artifacts):
    shipping = article_id_of(stack, "Shipping times", "en")
    before = stats(stack, agent.token, shipping)
    page = visit(new_page, stack, locale="en-US")
    searches = []
    page.on("request", lambda r: "/v1/articles/search" in r.url and searches.append(r.url))
    scripts = []
    page.on("request", lambda r: r.url.endswith("/widget/widget-kb.js") and scripts.append(r.url))

    type_question(page, "ho")
    page.wait_for_timeout(500)
    assert page.locator(SUGGESTIONS).count() == 0 and searches == []  # under 3 characters: nothing asked
    type_question(page, "w long does deliv")  # the last word still being typed
    expect(page.locator(".parley-suggest .parley-label")).to_have_text("Suggested articles")
    chips = page.locator(SUGGESTIONS)
    expect(chips.first).to_have_text("Shipping times")
    assert 1 <= chips.count() <= 3
    assert len(searches) <= 3, searches  # debounced: one search per pause, not one per key
    assert scripts == []  # the article view is not loaded before it is needed

    chips.first.click()
    article = page.locator(".parley-article")
    expect(article.locator(".parley-atitle")).to_have_text("Shipping times")
    expect(article.locator(".parley-abody strong").first).to_have_text("2 working days")  # Markdown as nodes
    expect(article.get_by_text("Did this answer your question?")).to_be_visible()
    expect(page.locator(".parley-composer")).to_be_hidden()
    assert len(scripts) == 1
    page.screenshot(path=str(artifacts / "widget-article-en.png"))
    article.get_by_role("button", name="Yes").click()
    expect(article.get_by_role("status")).to_contain_text("Glad it helped")
    after = eventually(lambda: (s := stats(stack, agent.token, shipping))["helpful"] > before["helpful"] and s)
    assert after["shown"] == before["shown"] + 1 and after["opened"] == before["opened"] + 1
    assert after["resolved"] == before["resolved"] + 1  # answered before any conversation: one spared

    article.get_by_role("button", name=re.compile("Back to the chat")).click()
    expect(page.locator(".parley-composer textarea")).to_have_value("")  # the answered question is not sent
    expect(page.locator(".parley-composer textarea")).to_be_focused()
    assert page.evaluate("JSON.parse(localStorage.getItem('parley:demo') || '{}').conv || null") is None
    assert agent.given() == []  # no conversation reached the team

    # The same article suggested again in this page view is not counted as shown twice.
    type_question(page, "when will my order arrive")
    expect(page.locator(SUGGESTIONS).first).to_be_visible()
    page.wait_for_timeout(400)
    assert stats(stack, agent.token, shipping)["shown"] == after["shown"]


def test_in_french_by_keyboard_no_goes_back_and_the_question_reaches_a_human(stack, new_page, agent, artifacts):
    delais = article_id_of(stack, "Délais de livraison", "fr")
    before = stats(stack, agent.token, delais)
    page = visit(new_page, stack, locale="fr-FR")
    type_question(page, "delai de livraison")  # typed without its accent
    expect(page.locator(".parley-suggest .parley-label")).to_have_text("Articles suggérés")
    expect(page.locator(SUGGESTIONS).first).to_have_text("Délais de livraison")

    page.locator(SUGGESTIONS).first.focus()  # a suggestion is a button: focusable, Enter opens it
    page.keyboard.press("Enter")
    article = page.locator(".parley-article")
    expect(article.locator(".parley-atitle")).to_be_focused()  # a screen reader starts at the title
    expect(article.get_by_text("Cet article répond-il à votre question\u00a0?")).to_be_visible()
    page.screenshot(path=str(artifacts / "widget-article-fr.png"))
    page.keyboard.press("Escape")  # Escape goes back to the chat, with the question as it was
    expect(page.locator(".parley-composer textarea")).to_have_value("delai de livraison")
    page.locator(SUGGESTIONS).first.click()
    article.get_by_role("button", name="Non, j’ai encore besoin d’aide").click()
    expect(page.locator(".parley-composer textarea")).to_have_value("delai de livraison")
    expect(page.locator(".parley-composer textarea")).to_be_focused()
    after = eventually(lambda: (s := stats(stack, agent.token, delais))["not_helpful"] > before["not_helpful"] and s)
    assert after["opened"] == before["opened"] + 2 and after["helpful"] == before["helpful"]

    page.locator(".parley-composer textarea").press("Enter")  # writing on: to a human, as always
    conversation = agent.conversation_of(page)
    agent.assigned(conversation["id"])
    assert [m["text"] for m in agent.messages(conversation["id"]) if m["author"]["kind"] == "visitor"] == [
        "delai de livraison"]


def test_yes_with_a_conversation_open_solves_it_by_self_service(stack, new_page, agent):
    page = visit(new_page, stack, locale="en-US")
    write(page, "Hello, I have a question about my parcel")
    conversation = agent.conversation_of(page)
    agent.assigned(conversation["id"])
    expect(page.locator(".parley-pending")).to_have_count(0)

    type_question(page, "my parcel arrived broken")  # no one of the team has written: still suggested
    expect(page.locator(SUGGESTIONS).first).to_have_text("Damaged parcel")
    page.locator(SUGGESTIONS).first.click()
    page.locator(".parley-article").get_by_role("button", name="Yes").click()

    def solved():
        status, body = stack.request("GET", f"/v1/conversations/{conversation['id']}", token=agent.token)
        return status == 200 and body["conversation"]["status"] == "solved" and body["conversation"]
    done = eventually(solved)
    assert done["resolution"] == "self_service" and done["auto_solved"] is True
    page.locator(".parley-article").get_by_role("button", name=re.compile("Back to the chat")).click()
    expect(page.locator(".parley-msg.parley-system").last).to_contain_text("an article answered your question")

    # Once an agent has written, the chat is theirs: no more suggestions.
    agent.say(conversation["id"], "Glad it's sorted!")
    expect(page.locator(".parley-msg.parley-agent")).to_have_count(1)
    page.locator(".parley-composer textarea").fill("")
    type_question(page, "shipping costs")
    page.wait_for_timeout(700)
    assert page.locator(SUGGESTIONS).count() == 0
