"""The knowledge base on moto (issue 14): articles' CRUD, the index rebuilt on every change, the public
search a widget calls while its visitor types, and what it costs."""
import json
from collections import Counter

import pytest
from chalice.test import Client

from chalicelib.config import settings
from chalicelib.errors import BadRequestError, ForbiddenError, NotFoundError, RateLimitedError
from chalicelib.kb import articles
from chalicelib.store import tables
from chalicelib.store.models import Site
from tests.integration.test_admin import admin_caller

SHIPPING = {"title": "Shipping times", "locale": "en", "status": "published",
            "body": "We ship within **2 business days**. Delivery takes 3 to 5 days in Europe.",
            "questions": ["when will my order arrive", "how long is delivery"]}
RETURNS = {"title": "Returning an item", "locale": "en", "status": "published",
           "body": "You can return any item within 30 days for a full refund.",
           "questions": ["can i send it back", "how do i get a refund"]}
LIVRAISON = {"title": "Délais de livraison", "locale": "fr", "status": "published",
             "body": "Nous expédions sous 2 jours ouvrés. La livraison prend 3 à 5 jours en Europe.",
             "questions": ["quand vais-je recevoir ma commande", "combien de temps pour la livraison"]}


def site(key="site-a"):
    return Site.get(key)


def test_admins_write_articles_agents_read_them_and_each_change_rebuilds_the_index(world):
    boss = admin_caller(world)
    shipping = articles.create(boss, SHIPPING)
    assert shipping["id"].startswith("a_") and shipping["site_keys"] is None and shipping["status"] == "published"
    draft = articles.create(boss, {**RETURNS, "status": "draft"})
    french = articles.create(boss, LIVRAISON)

    plain = world.agent_connection(world.agent())
    assert [a["id"] for a in articles.list_articles(plain, {})["items"]] == sorted([shipping["id"], draft["id"], french["id"]])
    assert [a["id"] for a in articles.list_articles(plain, {"status": "draft"})["items"]] == [draft["id"]]
    assert [a["id"] for a in articles.list_articles(plain, {"locale": "fr"})["items"]] == [french["id"]]
    assert [a["id"] for a in articles.list_articles(plain, {"q": "shipping"})["items"]] == [shipping["id"]]
    first = articles.list_articles(plain, {"limit": "2"})
    rest = articles.list_articles(plain, {"limit": "2", "cursor": first["next_cursor"]})
    assert len(first["items"]) == 2 and [a["id"] for a in first["items"] + rest["items"]] == sorted(
        [shipping["id"], draft["id"], french["id"]])
    with pytest.raises(ForbiddenError):
        articles.create(plain, SHIPPING)

    found = articles.search(site(), {"q": "how long does delivery take"})
    assert [i["id"] for i in found["items"]][:1] == [shipping["id"]] and found["abstained"] is False
    assert "2 business days" in found["items"][0]["snippet"] and "**" not in found["items"][0]["snippet"]
    assert articles.search(site(), {"q": "refund"})["items"] == []  # a draft is never found

    articles.update(boss, draft["id"], {**RETURNS, "status": "published"})
    assert [i["id"] for i in articles.search(site(), {"q": "refund"})["items"]] == [draft["id"]]
    articles.delete(boss, draft["id"])
    assert articles.search(site(), {"q": "refund"}) == {"items": [], "abstained": True}
    with pytest.raises(NotFoundError):
        articles.get(plain, draft["id"])


def test_french_typed_without_accents_finds_the_same_article(world):
    boss = admin_caller(world)
    french = articles.create(boss, LIVRAISON)
    articles.create(boss, SHIPPING)
    with_accents = articles.search(site(), {"q": "délai de livraison", "locale": "fr-FR"})
    without = articles.search(site(), {"q": "delai de livraison", "locale": "fr"})
    assert [i["id"] for i in with_accents["items"]] == [i["id"] for i in without["items"]] == [french["id"]]


def test_another_workspace_and_another_site_see_nothing_of_it(world):
    boss = admin_caller(world)
    only_b = articles.create(boss, {**RETURNS, "site_keys": ["site-other"]})
    everywhere = articles.create(boss, SHIPPING)
    assert [i["id"] for i in articles.search(site(), {"q": "refund"})["items"]] == []
    assert articles.search(site("site-b"), {"q": "delivery"})["items"] == []  # site-b is another workspace's
    with pytest.raises(NotFoundError):
        articles.public_article(site("site-b"), everywhere["id"])
    with pytest.raises(NotFoundError):
        articles.public_article(site(), only_b["id"])
    assert articles.public_article(site(), everywhere["id"])["title"] == "Shipping times"
    stranger = admin_caller(world, "ws_b")
    with pytest.raises(NotFoundError):
        articles.get(stranger, everywhere["id"])
    with pytest.raises(NotFoundError):
        articles.update(stranger, everywhere["id"], SHIPPING)
    assert articles.list_articles(stranger, {})["items"] == []


@pytest.mark.parametrize("body, field", [
    ({**SHIPPING, "title": ""}, "title"), ({**SHIPPING, "locale": "de"}, "locale"),
    ({**SHIPPING, "status": "live"}, "status"), ({**SHIPPING, "questions": "when"}, "questions"),
    ({**SHIPPING, "questions": ["x" * 301]}, "questions"), ({**SHIPPING, "site_keys": "site-a"}, "site_keys"),
    ({**SHIPPING, "url": "javascript:alert(1)"}, "url"), ({**SHIPPING, "colour": "red"}, "colour"),
    ({**SHIPPING, "body": "x" * 20_001}, "body")])
def test_bad_articles_are_refused_naming_the_field(world, body, field):
    with pytest.raises(BadRequestError) as refused:
        articles.create(admin_caller(world), body)
    assert refused.value.field == field


@pytest.mark.parametrize("query, field", [({}, "q"), ({"q": "x", "limit": "11"}, "limit"),
                                          ({"q": "x", "limit": "many"}, "limit"), ({"q": "x" * 501}, "q")])
def test_bad_searches_are_refused_naming_the_field(world, query, field):
    with pytest.raises(BadRequestError) as refused:
        articles.search(site(), query)
    assert refused.value.field == field


def test_the_public_routes_answer_json_errors_and_honour_the_sites_own_limit(app, world, monkeypatch):
    monkeypatch.setattr(settings, "rate_limit_scale", 1.0)  # the suite scales every limit up
    boss = admin_caller(world)
    shipping = articles.create(boss, SHIPPING)
    Site(site_key="site-a").update(actions=[Site.settings.limits.set({"search_ip": {"count": 3, "window": 60}})])
    with Client(app.app) as client:
        ok = client.http.get("/v1/articles/search?site_key=site-a&q=delivery%20time&limit=2")
        assert ok.status_code == 200 and json.loads(ok.body)["items"][0]["id"] == shipping["id"]
        assert client.http.get("/v1/articles/search?q=delivery").status_code == 400
        assert client.http.get("/v1/articles/search?site_key=nope&q=delivery").status_code == 401
        article = client.http.get(f"/v1/sites/site-a/articles/{shipping['id']}")
        assert article.status_code == 200 and json.loads(article.body)["body"] == SHIPPING["body"]
        assert client.http.get("/v1/sites/site-a/articles/a_nope").status_code == 404
        viewer = {"CloudFront-Viewer-Address": "203.0.113.9:443"}  # the test client has no source address
        for _ in range(4):
            last = client.http.get("/v1/articles/search?site_key=site-a&q=refund", headers=viewer)
        assert last.status_code == 429 and json.loads(last.body)["error"]["code"] == "rate_limited"
    here = site()  # the limit is per address: another one has its own three
    for _ in range(3):
        articles.search(here, {"q": "delivery"}, source_ip="198.51.100.7")
    with pytest.raises(RateLimitedError):
        articles.search(here, {"q": "delivery"}, source_ip="198.51.100.7")

def test_a_warm_search_reads_one_small_item_and_never_scans(world):
    boss = admin_caller(world)
    for n in range(20):
        articles.create(boss, {**SHIPPING, "title": f"Shipping times {n}"})
    here = site()
    articles.search(here, {"q": "delivery"})  # the first in this container loads the index
    calls = Counter()

    def count(model, **_):
        calls[model.name] += 1
    emitters = {id(c.meta.events): c.meta.events for c in
                (m._get_connection().connection.client for m in tables.ALL_MODELS)}
    for emitter in emitters.values():
        emitter.register("before-call.dynamodb", count, unique_id="kb-test-count")
    try:
        assert articles.search(here, {"q": "delivery"})["items"]
    finally:
        for emitter in emitters.values():
            emitter.unregister("before-call.dynamodb", count, unique_id="kb-test-count")
    assert calls.get("Scan", 0) == 0
    assert calls["GetItem"] == 1, calls  # the version; the rate limit's counter is an UpdateItem


def test_two_changes_at_once_both_reach_the_index(world):
    """Two admins saving at the same moment: the index rebuilt last has both articles, and its version
    is the one searches see (rebuilds are serialized on the index item)."""
    import threading
    boss = admin_caller(world)
    made, failures = [], []

    def save(body):
        try:
            made.append(articles.create(boss, body)["id"])
        except Exception as exc:  # reported below
            failures.append(exc)
    threads = [threading.Thread(target=save, args=({**SHIPPING, "title": f"Shipping times {n}"},)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(made) == 4
    found = articles.search(site(), {"q": "shipping times", "limit": "10"})
    assert sorted(i["id"] for i in found["items"]) == sorted(made)


def test_an_index_of_an_older_format_is_built_again_on_first_read(world):
    """A deploy that changes the index format: the stored index is rebuilt by the first search, not misread."""
    import zlib

    from chalicelib.store.models import SearchIndex
    shipping = articles.create(admin_caller(world), SHIPPING)
    stored = SearchIndex.get("idx#ws_a#en")
    old = json.loads(zlib.decompress(stored.data))
    old["format"] = 1
    SearchIndex("idx#ws_a#en", version=stored.version + 1, data=zlib.compress(json.dumps(old).encode()),
                articles=stored.articles, built_at=stored.built_at).save()
    SearchIndex("ver#ws_a#en", version=stored.version + 1, articles=stored.articles, built_at=stored.built_at).save()
    assert [i["id"] for i in articles.search(site(), {"q": "delivery"})["items"]] == [shipping["id"]]
    assert json.loads(zlib.decompress(SearchIndex.get("idx#ws_a#en").data))["format"] != 1
