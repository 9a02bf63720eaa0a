"""The knowledge base in the console, in headless Chromium against the real local stack: an admin writes an
article in the editor (its preview renders the Markdown subset as nodes, HTML shown as text), publishes,
edits, is told beside the field what the API refused, unpublishes and deletes it; an agent reads the list
and an article with no editor buttons; and beside a visitor's chat the suggested articles offer a published
article for the visitor's question, whose link goes into the reply composer without being sent. In a browser
whose language is French, the page, the editor and the suggestions read in French (what the server says stays
as it says it).

Articles are made in the demo workspace (which the stack seeds with two dozen) under unique titles, found
through the list's title filter, and deleted afterwards.
"""
import re

import pytest
from browser_helpers import ADMIN, AGENT, PASSWORD, Socket, call, console_as, english_left, set_presence, unique
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BODY = ("Returns are **free within 30 days**.\n\n- pack it in the box\n- print the label\n\n"
        "Read [our returns page](https://shop.example/returns) <script>alert(1)</script>")


@pytest.fixture(scope="module")
def tokens(stack) -> dict:
    return {email: stack.agent(email, PASSWORD)["token"] for email in (AGENT, ADMIN)}


@pytest.fixture(autouse=True)
def nobody_routed(stack, tokens):
    """Both demo agents away: a visitor's chat waits in the queue, nobody's slots are taken."""
    for token in tokens.values():
        set_presence(stack, token, "away")


@pytest.fixture
def articles(stack, tokens):
    """made(title=..., **fields) → an article created over REST; every article the test names is deleted after."""
    ids: list[str] = []

    def made(**fields) -> dict:
        body = {"body": "A body.", "locale": "en", "status": "published", **fields}
        article = call(stack, tokens[ADMIN], "POST", "/v1/articles", body, expect_status=201)
        ids.append(article["id"])
        return article

    made.ids = ids
    yield made
    for article_id in ids:
        stack.request("DELETE", f"/v1/articles/{article_id}", token=tokens[ADMIN])


def find(page, words: str):
    """The list filtered by words of the title."""
    page.locator("#kb-filters").get_by_label("Title contains").fill(words)
    return page.locator("#kb-body .kb-row")


def test_an_admin_writes_previews_publishes_edits_and_deletes_an_article(stack, new_page, tokens, articles, artifacts):
    title = unique("Returns guide")
    page = console_as(stack, new_page, ADMIN)
    expect(page.locator("#kb-list-section")).to_be_visible()
    expect(page.locator("#kb-open")).to_have_attribute("aria-current", "page")
    expect(page.locator("#kb")).not_to_have_attribute("lang", "fr")
    assert "text: Knowledge base" in english_left(page, "#kb")   # in English, the French tests' check finds English
    page.get_by_role("link", name="New article").click()
    expect(page.locator("#kb-editor-title")).to_have_text("New article")
    form = page.locator("#kb-form")

    form.get_by_label("Title", exact=True).fill(title)
    form.get_by_label("Language", exact=True).select_option(label="English")
    form.get_by_label("Body", exact=True).fill(BODY)
    preview = page.locator("#kb-preview-text")
    expect(page.locator("#kb-preview-heading")).to_have_text(title)
    expect(preview.locator("strong")).to_have_text("free within 30 days")
    expect(preview.locator("ul > li")).to_have_text(["pack it in the box", "print the label"])
    link = preview.locator("a")
    expect(link).to_have_text("our returns page")
    expect(link).to_have_attribute("href", "https://shop.example/returns")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(preview).to_contain_text("<script>alert(1)</script>")   # shown as the characters it is
    assert preview.locator("script").count() == 0
    page.get_by_role("button", name="Add a question", exact=True).click()
    form.get_by_label("Example question 1", exact=True).fill("how do I send something back")
    page.get_by_role("button", name="Add a question", exact=True).click()
    form.get_by_label("Example question 2", exact=True).fill("return label")
    page.get_by_role("button", name="Remove example question 2").click()
    form.get_by_label("Address on your website").fill("https://shop.example/returns")

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#kb-save-state")).to_have_text(re.compile(r"^Published at "))
    expect(page.locator("#kb-editor-status")).to_have_text("Published")
    article_id = page.evaluate("() => location.hash").split("/")[-1]
    articles.ids.append(article_id)
    stored = call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")
    assert (stored["title"], stored["body"], stored["status"], stored["questions"], stored["site_keys"], stored["url"]) == \
        (title, BODY, "published", ["how do I send something back"], None, "https://shop.example/returns")
    page.locator("#kb-editor").screenshot(path=str(artifacts / "console-kb-editor.png"))

    # An empty title: the API's refusal beside the title, which gets the cursor; nothing is stored.
    form.get_by_label("Title", exact=True).fill("  ")
    expect(page.locator("#kb-save-state")).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Save changes", exact=True).click()
    expect(page.locator("#kb-error-title")).to_have_text("Title must not be empty.")
    expect(form.get_by_label("Title", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Title", exact=True)).to_be_focused()
    expect(page.locator("#kb-save-state")).to_have_text("Not saved: Title must not be empty.")
    assert call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")["title"] == title

    edited = title + " (updated)"
    form.get_by_label("Title", exact=True).fill(edited)
    expect(form.get_by_label("Title", exact=True)).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save changes", exact=True).click()
    expect(page.locator("#kb-save-state")).to_have_text(re.compile(r"^Published at "))
    expect(page.locator("#kb-error-title")).to_be_hidden()
    assert call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")["title"] == edited

    page.get_by_role("button", name="Unpublish", exact=True).click()
    expect(page.locator("#kb-save-state")).to_have_text(re.compile(r"^Unpublished: visitors no longer see it"))
    expect(page.locator("#kb-editor-status")).to_have_text("Draft")
    assert call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")["status"] == "draft"

    # The list: the article with its language, status, sites and stats; the status filter applies.
    page.get_by_role("link", name="All articles").click()
    rows = find(page, title.split()[-1])
    expect(rows).to_have_count(1)
    expect(rows.locator(".kb-row__title")).to_have_text(edited)
    expect(rows.locator(".kb-row__locale")).to_have_text("English")
    expect(rows.locator(".kb-row__status")).to_have_text("Draft")
    expect(rows.locator(".kb-row__sites")).to_have_text("All sites")
    expect(rows.locator(".kb-row__shown")).to_have_text("0")
    expect(rows.locator(".kb-row__helpful")).to_have_text("—")
    page.locator("#kb-filters").get_by_label("Status").select_option("published")
    expect(rows).to_have_count(0)
    expect(page.locator("#kb-empty")).to_have_text("No article matches these filters.")
    page.locator("#kb-filters").get_by_label("Status").select_option("draft")
    expect(rows).to_have_count(1)
    page.locator("#kb").screenshot(path=str(artifacts / "console-kb-list.png"))

    # Delete: asked first; Cancel keeps it.
    rows.locator(".kb-row__title").click()
    expect(form.get_by_label("Title", exact=True)).to_have_value(edited)
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text(f"Delete “{edited}”?")
    confirm.get_by_role("button", name="Cancel", exact=True).click()
    call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm.get_by_role("button", name="Delete article", exact=True).click()
    expect(page.locator(".toast", has_text="was deleted")).to_be_visible()
    expect(page.locator("#kb-list-section")).to_be_visible()
    expect(find(page, title.split()[-1])).to_have_count(0)
    call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}", expect_status=404)
    assert page.errors == []


def test_the_list_loads_more_with_the_cursor(stack, new_page, articles):
    tag = unique("Paged").split()[-1]
    for i in range(3):
        articles(title=f"Paged {tag} {i}")
    page = console_as(stack, new_page, ADMIN)
    page.route(re.compile(r".*/v1/articles\?.*"), lambda route: route.continue_(
        url=re.sub(r"limit=\d+", "limit=2", route.request.url)))   # pages of 2, to see the cursor work
    rows = find(page, tag)
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Load more", exact=True).click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("button", name="Load more", exact=True)).to_be_hidden()
    assert page.errors == []


def test_an_agent_reads_the_articles_without_editor_buttons(stack, new_page, articles):
    title = unique("Gift wrapping")
    article = articles(title=title, body="We wrap it **for free**.", questions=["can you wrap it"], site_keys=["demo"])
    page = console_as(stack, new_page, AGENT)
    expect(page.locator("#kb-list-section")).to_be_visible()
    expect(page.locator("#kb-readonly")).to_be_visible()
    expect(page.get_by_role("link", name="New article")).to_be_hidden()
    rows = find(page, title.split()[-1])
    expect(rows).to_have_count(1)
    expect(rows.locator(".kb-row__status")).to_have_text("Published")
    expect(rows.locator(".kb-row__sites")).to_have_text("demo")
    rows.locator(".kb-row__title").click()
    expect(page.locator("#kb-editor-title")).to_have_text("Article")
    form = page.locator("#kb-form")
    expect(form.get_by_label("Title", exact=True)).to_have_value(title)
    expect(form.get_by_label("Title", exact=True)).to_be_disabled()
    expect(form.get_by_label("Body", exact=True)).to_be_disabled()
    expect(page.locator("#kb-preview-text strong")).to_have_text("for free")
    for name in ("Publish", "Save as draft", "Unpublish", "Save changes", "Delete", "Add a question"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_hidden()
    # and the address of the editor for a new article sends the agent back to the list
    page.evaluate("() => { location.hash = '#/kb/new'; }")
    expect(page.locator(".toast", has_text="Only admins can write articles.")).to_be_visible()
    expect(page.locator("#kb-list-section")).to_be_visible()
    assert article["id"]
    assert page.errors == []


def test_suggested_articles_beside_a_chat_and_insert_link(stack, new_page, tokens, articles, artifacts):
    """GET /v1/conversations/{id}/articles answers the visitor's last message: nothing for a greeting, the
    article once they ask its question."""
    word = "kintsugi" + unique("x").split()[-1]
    article = articles(title=f"Repairing a cracked bowl with {word}", url="https://shop.example/help/repair",
                       body=f"We repair cracked bowls with {word}, the gold seam, for a small fee.",
                       questions=[f"can you repair my bowl with {word}", f"{word} repair"])
    session = stack.visitor("demo", name=unique("Hana"), page_url="https://shop.example/bowls")
    with Socket(stack, session["token"], "the visitor") as visitor:
        conversation_id = visitor.request("start", text="Hello there")["conversation"]["id"]
        try:
            page = console_as(stack, new_page, ADMIN, f"#/c/{conversation_id}")
            panel = page.locator("#suggest")
            expect(panel.locator("#suggest-status")).to_have_text("No matching article")
            # The visitor asks: the panel reads again and offers the article.
            visitor.request("send", conversation_id=conversation_id, client_msg_id=unique("m").split()[-1],
                            text=f"Can you repair my cracked bowl with {word}?")
            item = panel.locator(f'.suggest-item[data-article="{article["id"]}"]')
            expect(item).to_be_visible()
            expect(item.locator(".suggest-item__title")).to_have_text(article["title"])
            expect(item.locator(".suggest-item__snippet")).to_contain_text(word)
            expect(panel.locator("#suggest-query")).to_contain_text(word)
            assert panel.locator(".suggest-item").count() <= 3
            page.locator("#side").screenshot(path=str(artifacts / "console-suggested-articles.png"))

            composer = page.locator("#composer-text")
            composer.fill("Yes! See")
            item.get_by_role("button", name="Insert link").click()
            expect(composer).to_have_value("Yes! See https://shop.example/help/repair")
            expect(composer).to_be_focused()
            item.get_by_role("button", name="Insert summary").click()
            expect(composer).to_have_value(re.compile(r"^Yes! See https://shop\.example/help/repair " + re.escape(article["title"])))
            # Nothing was sent: the visitor got no message from an agent.
            visitor.drain()
            assert not [f for f in visitor.frames if f.get("type") == "message"
                        and (f.get("message") or {}).get("author", {}).get("kind") == "agent"]
            assert page.errors == []
        finally:
            call(stack, tokens[ADMIN], "PATCH", f"/v1/conversations/{conversation_id}", {"status": "solved"})


def test_suggestions_that_fail_say_so_quietly_and_leave_the_pane_alone(stack, new_page, tokens):
    session = stack.visitor("demo", name=unique("Ines"), page_url="https://shop.example/cups")
    with Socket(stack, session["token"], "the visitor") as visitor:
        conversation_id = visitor.request("start", text="Do you ship cups to Canada?")["conversation"]["id"]
        try:
            page = console_as(stack, new_page, ADMIN, f"#/c/{conversation_id}", prepare=lambda p: p.route(
                re.compile(r".*/v1/conversations/[^/]+/articles.*"),
                lambda route: route.fulfill(status=500, content_type="application/json",
                                            body='{"error": {"code": "internal", "message": "boom"}}')))
            expect(page.locator("#suggest-status")).to_have_text("Suggestions are unavailable right now.")
            expect(page.locator("#suggest-list li")).to_have_count(0)
            expect(page.locator("#visitor-facts")).to_contain_text("First seen")   # the rest of the pane is there
            expect(page.locator(".msg", has_text="Do you ship cups to Canada?")).to_be_visible()
            expect(page.locator(".toast--error")).to_have_count(0)                 # quiet: no toast
            assert page.errors == []
        finally:
            call(stack, tokens[ADMIN], "PATCH", f"/v1/conversations/{conversation_id}", {"status": "solved"})


# --- in French -----------------------------------------------------------------------------------------

NBSP, NNBSP = "\u00a0", "\u202f"   # French puts them before : and before ? ! ; % (and inside « »)


def test_the_kb_page_and_editor_read_in_french(stack, new_page, tokens, articles, artifacts):
    tag = unique("Emballage").split()[-1]
    articles(title=f"Emballage cadeau {tag}", body="Nous l’emballons **gratuitement**.", locale="fr", site_keys=["demo"])
    page = console_as(stack, new_page, ADMIN, locale="fr-FR")

    # The list and its filters
    kb = page.locator("#kb")
    expect(kb).to_have_attribute("lang", "fr")
    expect(page.locator("#kb-open")).to_have_text("Base de connaissances")
    expect(page.locator("#kb-title")).to_have_text("Base de connaissances")
    filters = page.get_by_role("search", name="Filtrer les articles")
    words = filters.get_by_label("Le titre contient")
    expect(words).to_have_attribute("placeholder", "Mots du titre")
    expect(filters.get_by_label("Statut").locator("option")).to_have_text(["Tous les statuts", "Publié", "Brouillon"])
    expect(filters.get_by_label("Langue").locator("option")).to_have_text(["Toutes les langues", "Anglais", "Français"])
    expect(kb.locator("thead th")).to_have_text(["Titre", "Langue", "Statut", "Sites", "Modifié", "Affichages",
                                                  "Ouvertures", "Utile"])
    words.fill(tag)
    rows = page.locator("#kb-body .kb-row")
    expect(rows).to_have_count(1)
    expect(rows.locator(".kb-row__locale")).to_have_text("Français")
    expect(rows.locator(".kb-row__status")).to_have_text("Publié")
    expect(rows.locator(".kb-row__sites")).to_have_text("demo")
    expect(rows.locator(".kb-row__updated time")).to_have_text("à l’instant")
    expect(rows.locator(".kb-row__helpful")).to_have_text("—")
    expect(rows).to_have_attribute("title", f"0 affichage · 0 ouverture · utile{NBSP}: —")
    filters.get_by_label("Statut").select_option("draft")
    expect(rows).to_have_count(0)
    expect(page.locator("#kb-empty")).to_have_text("Aucun article ne correspond à ces filtres.")
    assert english_left(page, "#kb, #kb-open") == []
    page.locator("#kb").screenshot(path=str(artifacts / "console-kb-list-fr.png"))

    # The editor: a new article, saved as a draft
    page.get_by_role("link", name="Nouvel article").click()
    expect(page.locator("#kb-editor-title")).to_have_text("Nouvel article")
    expect(page.locator("#kb-preview-text")).to_have_text("Le texte s’affiche ici tel que les visiteurs le liront.")
    form = page.locator("#kb-form")
    title = f"Retours gratuits {tag}"
    form.get_by_label("Titre", exact=True).fill(title)
    form.get_by_label("Langue", exact=True).select_option(label="Français")
    form.get_by_label("Texte", exact=True).fill("Les retours sont **gratuits** pendant 30 jours.")
    expect(page.locator("#kb-preview-text strong")).to_have_text("gratuits")
    page.get_by_role("button", name="Ajouter une question", exact=True).click()
    form.get_by_label("Exemple de question 1", exact=True).fill("comment renvoyer un colis")
    expect(form.get_by_role("button", name="Retirer l’exemple de question 1")).to_have_text("Retirer")
    expect(form.get_by_label("Tous les sites de l’espace de travail")).to_be_checked()
    expect(form.get_by_label("Adresse sur votre site web")).to_have_attribute("placeholder", "https://boutique.example/aide/retours")
    assert english_left(page, "#kb") == []
    page.get_by_role("button", name="Enregistrer comme brouillon", exact=True).click()
    save_state = page.locator("#kb-save-state")
    expect(save_state).to_have_text(re.compile(r"^Enregistré comme brouillon à \d\d:\d\d\.$"))
    article_id = page.evaluate("() => location.hash").split("/")[-1]
    articles.ids.append(article_id)
    expect(page.locator("#kb-editor-title")).to_have_text("Modifier l’article")
    expect(page.locator("#kb-editor-status")).to_have_text("Brouillon")
    expect(page.locator("#kb-editor-meta")).to_have_text(re.compile(r"^Modifié le \d{1,2} \S+ \d{4}"))
    stored = call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}")
    assert (stored["title"], stored["locale"], stored["status"], stored["questions"]) == \
        (title, "fr", "draft", ["comment renvoyer un colis"])

    # What the server refuses is shown in its own words, inside the French
    form.get_by_label("Titre", exact=True).fill("  ")
    expect(save_state).to_have_text("Modifications non enregistrées")
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(page.locator("#kb-error-title")).to_have_text("Title must not be empty.")
    expect(save_state).to_have_text(f"Non enregistré{NBSP}: Title must not be empty.")

    form.get_by_label("Titre", exact=True).fill(title)
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(save_state).to_have_text(re.compile(r"^Publié à \d\d:\d\d\.$"))
    expect(page.locator("#kb-editor-status")).to_have_text("Publié")
    expect(page.get_by_role("button", name="Enregistrer les modifications", exact=True)).to_be_visible()
    page.get_by_role("button", name="Dépublier", exact=True).click()
    expect(save_state).to_have_text(re.compile(f"^Dépublié à \\d\\d:\\d\\d{NBSP}: les visiteurs ne le voient plus\\.$"))
    assert english_left(page, "#kb") == []
    page.locator("#kb-editor").screenshot(path=str(artifacts / "console-kb-editor-fr.png"))

    # Deleting asks in French; the toast says it in French
    page.get_by_role("button", name="Supprimer", exact=True).click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm.locator("#confirm-title")).to_have_text(f"Supprimer «{NBSP}{title}{NBSP}»{NNBSP}?")
    expect(confirm).to_contain_text("Cette action est irréversible.")
    confirm.get_by_role("button", name="Annuler", exact=True).click()
    page.get_by_role("button", name="Supprimer", exact=True).click()
    confirm.get_by_role("button", name="Supprimer l’article", exact=True).click()
    expect(page.locator(".toast", has_text=f"«{NBSP}{title}{NBSP}» a été supprimé.")).to_be_visible()
    expect(page.locator("#kb-list-section")).to_be_visible()
    call(stack, tokens[ADMIN], "GET", f"/v1/articles/{article_id}", expect_status=404)
    assert page.errors == []


def test_an_agent_reads_an_article_in_french(stack, new_page, articles):
    title = unique("Délais de livraison")
    articles(title=title, body="Nous livrons en **3 jours**.", locale="fr", site_keys=[])
    page = console_as(stack, new_page, AGENT, locale="fr")
    expect(page.locator("#kb-readonly")).to_have_text(f"Seuls les administrateurs écrivent les articles{NNBSP}; vous pouvez les lire ici.")
    rows = page.locator("#kb-body .kb-row")
    page.get_by_label("Le titre contient").fill(title.split()[-1])
    expect(rows).to_have_count(1)
    expect(rows.locator(".kb-row__sites")).to_have_text("Aucun site")
    rows.locator(".kb-row__title").click()
    expect(page.locator("#kb-editor-title")).to_have_text("Article")
    expect(page.locator("#kb-editor-meta")).to_have_text(re.compile(r"^Modifié le .+ · seuls les administrateurs peuvent le modifier$"))
    expect(page.locator("#kb-site-list")).to_have_text("Aucun site connu pour l’instant (Settings → Sites en ajoute un).")
    page.evaluate("() => { location.hash = '#/kb/new'; }")
    expect(page.locator(".toast", has_text="Seuls les administrateurs peuvent écrire des articles.")).to_be_visible()
    assert english_left(page, "#kb") == []
    assert page.errors == []


def test_suggested_articles_read_in_french(stack, new_page, tokens, articles, artifacts):
    word = "kintsugi" + unique("x").split()[-1]
    article = articles(title=f"Réparer un bol fêlé au {word}", url="https://boutique.example/aide/reparation", locale="fr",
                       body=f"Nous réparons les bols fêlés au {word}, la couture d’or, pour une petite somme.",
                       questions=[f"pouvez-vous réparer mon bol au {word}", f"réparation {word}"])
    session = stack.visitor("demo", name=unique("Hana"), page_url="https://shop.example/bols", locale="fr")
    with Socket(stack, session["token"], "the visitor") as visitor:
        conversation_id = visitor.request("start", text="Bonjour")["conversation"]["id"]
        try:
            page = console_as(stack, new_page, ADMIN, f"#/c/{conversation_id}", locale="fr-FR")
            panel = page.locator("#suggest")
            expect(panel).to_have_attribute("lang", "fr")
            expect(panel.get_by_role("heading")).to_have_text("Articles suggérés")
            expect(panel.locator("#suggest-status")).to_have_text("Aucun article correspondant")
            expect(page.get_by_role("link", name="Base de connaissances")).to_be_visible()
            visitor.request("send", conversation_id=conversation_id, client_msg_id=unique("m").split()[-1],
                            text=f"Pouvez-vous réparer mon bol fêlé au {word}{NNBSP}?")
            item = panel.locator(f'.suggest-item[data-article="{article["id"]}"]')
            expect(item).to_be_visible()
            expect(panel.locator("#suggest-query")).to_have_text(re.compile(f"^Pour «{NBSP}.*{word}.*{NBSP}»$"))
            expect(panel.locator("#suggest-status")).to_have_text("")
            link = item.get_by_role("button", name=f"Insérer le lien vers «{NBSP}{article['title']}{NBSP}» dans votre réponse")
            expect(link).to_have_text("Insérer le lien")
            expect(item.get_by_role("button", name=f"Insérer le résumé de «{NBSP}{article['title']}{NBSP}» dans votre réponse")) \
                .to_have_text("Insérer le résumé")
            assert english_left(page, "#suggest, #kb-open") == []
            page.locator("#side").screenshot(path=str(artifacts / "console-suggested-articles-fr.png"))
            link.click()
            expect(page.locator("#composer-text")).to_have_value("https://boutique.example/aide/reparation")

            # A read that fails says so in French too
            page.route(re.compile(r".*/v1/conversations/[^/]+/articles.*"), lambda route: route.fulfill(
                status=500, content_type="application/json", body='{"error": {"code": "internal", "message": "boom"}}'))
            visitor.request("send", conversation_id=conversation_id, client_msg_id=unique("m").split()[-1], text="Merci")
            expect(panel.locator("#suggest-status")).to_have_text("Les suggestions sont indisponibles pour le moment.")
            assert page.errors == []
        finally:
            call(stack, tokens[ADMIN], "PATCH", f"/v1/conversations/{conversation_id}", {"status": "solved"})
