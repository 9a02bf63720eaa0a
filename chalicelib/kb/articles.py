"""The knowledge base's articles: admin REST, the search index rebuilt when one changes, and the public
search visitors use as they type (docs/protocol.md §6.1).

One index per workspace and language, holding its published articles with the sites each applies to,
so a search filters by site. It is stored as one DynamoDB item (zlib-compressed JSON) with its version
beside it in an item of its own: a warm container keeps the index it loaded, and a search costs one
small read (the version) unless an article changed since.
"""
import json
import logging
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.aws import bus
from chalicelib.core import locales, validate
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso, new_id, now
from chalicelib.errors import BadRequestError, ConflictError, NotFoundError
from chalicelib.kb import index as search_index
from chalicelib.store import limits
from chalicelib.store.dynamo import save_if
from chalicelib.store.models import Article, ArticleStats, SearchIndex

log = logging.getLogger(__name__)

STATUSES = ("draft", "published")
MAX_ARTICLES = 2000  # per workspace
MAX_QUESTIONS, MAX_QUESTION = 30, 300
MAX_BODY = 20_000
MAX_INDEX_BYTES = 350_000  # a DynamoDB item holds 400 KB
REBUILD_TRIES = 5
PAGE = 50
# What a visitor did with a suggestion (POST /v1/articles/events), each an `article.{event}` on the bus.
EVENTS = ("shown", "opened", "helpful", "not_helpful")
COUNTERS = ("shown", "opened", "helpful", "not_helpful", "resolved")
MAX_SHOWN = 10  # one event names the suggestions shown together; the others name one article
_SITE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARTICLE_ID = re.compile(r"^a_[0-9a-f]{32}$")


# --- admin REST ---------------------------------------------------------------------------------

def serialize(a: Article) -> dict:
    return {"id": a.id, "title": a.title, "body": a.body, "locale": a.locale,
            "site_keys": list(a.site_keys) if a.site_keys is not None else None, "url": a.url,
            "questions": list(a.questions or []), "status": a.status, "created_at": a.created_at,
            "updated_at": a.updated_at}


def _fields(body: dict) -> dict:
    """The article's fields from a request body, each checked, errors naming the field."""
    body = validate.obj(body)
    validate.known_fields(body, {"title", "body", "locale", "site_keys", "url", "questions", "status"})
    fields = {"title": validate.string(body, "title", max_len=200),
              "body": validate.string(body, "body", max_len=MAX_BODY),
              "locale": validate.choice(body, "locale", locales.SUPPORTED),
              "status": validate.choice(body, "status", STATUSES, required=False) or "draft"}
    url = validate.string(body, "url", required=False, max_len=2048)
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise BadRequestError("url must be an http(s) address", field="url")
    fields["url"] = url
    fields["questions"] = _questions(body.get("questions", []))
    site_keys = body.get("site_keys")
    if site_keys is not None and (not isinstance(site_keys, list) or not all(
            isinstance(k, str) and _SITE_KEY.match(k) for k in site_keys) or len(site_keys) > 100):
        raise BadRequestError("site_keys must be a list of site keys, or absent for every site", field="site_keys")
    fields["site_keys"] = sorted(set(site_keys)) if site_keys is not None else None
    return fields


def _questions(value) -> list[str]:
    """Example phrasings: trimmed, blanks and repeats dropped, order kept."""
    if not isinstance(value, list) or len(value) > MAX_QUESTIONS or not all(isinstance(q, str) for q in value):
        raise BadRequestError(f"questions must be a list of at most {MAX_QUESTIONS} strings", field="questions")
    out = []
    for i, question in enumerate(value):
        text = question.strip()
        if not text:
            continue
        if len(text) > MAX_QUESTION:
            raise BadRequestError(f"questions[{i}] must be at most {MAX_QUESTION} characters", field="questions")
        if not validate.is_text(text):
            raise BadRequestError(f"questions[{i}] is not valid text", field="questions")
        if text not in out:
            out.append(text)
    return out


def create(caller: Caller, body: dict) -> dict:
    require_admin(caller)
    fields = _fields(body)
    if Article.count(caller.workspace_id) >= MAX_ARTICLES:
        raise BadRequestError(f"a workspace holds at most {MAX_ARTICLES} articles", field="title")
    stamp = iso()
    article = Article(caller.workspace_id, new_id("a"), created_by=caller.id, created_at=stamp, updated_at=stamp,
                      **fields)
    article.save()
    rebuild(caller.workspace_id, article.locale)
    return serialize(article)


def get(caller: Caller, article_id: str) -> dict:
    return _with_stats(caller.workspace_id, [serialize(_own(caller, article_id))])[0]


def update(caller: Caller, article_id: str, body: dict) -> dict:
    """PUT: the whole article, as on create."""
    require_admin(caller)
    fields = _fields(body)
    article = _own(caller, article_id)
    before = article.locale
    for name, value in fields.items():
        setattr(article, name, value)
    article.updated_at = iso()
    article.save()
    for lang in {before, article.locale}:  # an article that changed language leaves the other index
        rebuild(caller.workspace_id, lang)
    return serialize(article)


def delete(caller: Caller, article_id: str) -> None:
    require_admin(caller)
    article = _own(caller, article_id)
    article.delete()
    rebuild(caller.workspace_id, article.locale)
    ArticleStats(caller.workspace_id, article.id).delete()  # what visitors did with it goes with it


def list_articles(caller: Caller, query: dict) -> dict:
    """Agents too: every article of the workspace (drafts included), filtered by status, locale, site, and
    words of the title; a page at a time by `cursor` (the last id of the page before)."""
    query = query or {}
    status = validate.choice(query, "status", STATUSES, required=False)
    locale = validate.choice(query, "locale", locales.SUPPORTED, required=False)
    site_key = validate.string(query, "site_key", required=False, max_len=64)
    words = (validate.string(query, "q", required=False, max_len=200) or "").lower().split()
    limit = validate.integer(query, "limit", minimum=1, maximum=100, default=PAGE)
    cursor = validate.string(query, "cursor", required=False, max_len=64)
    if cursor and not _ARTICLE_ID.match(cursor):
        raise BadRequestError("cursor is not an article id", field="cursor")
    items, last = [], None
    start = {"workspace_id": {"S": caller.workspace_id}, "id": {"S": cursor}} if cursor else None
    for article in Article.query(caller.workspace_id, last_evaluated_key=start):
        last = article.id
        if status and article.status != status or locale and article.locale != locale:
            continue
        if site_key and article.site_keys is not None and site_key not in article.site_keys:
            continue
        if words and not all(w in article.title.lower() for w in words):
            continue
        items.append(serialize(article))
        if len(items) == limit:
            break
    more = len(items) == limit and last is not None
    return {"items": _with_stats(caller.workspace_id, items), "next_cursor": last if more else None}


def _with_stats(workspace_id: str, items: list[dict]) -> list[dict]:
    """Each serialized article with its counters (`stats`, zeros before any visitor saw it): one
    BatchGetItem per page."""
    held = {s.article_id: s for s in ArticleStats.batch_get([(workspace_id, i["id"]) for i in items])} if items else {}
    for item in items:
        stats = held.get(item["id"])
        item["stats"] = {name: int(getattr(stats, name) or 0) if stats else 0 for name in COUNTERS}
    return items


def _own(caller: Caller, article_id: str) -> Article:
    return _article(caller.workspace_id, article_id)


def _article(workspace_id: str, article_id: str) -> Article:
    """The workspace's article, or 404: keyed by workspace, another workspace's is simply not there."""
    if not isinstance(article_id, str) or not _ARTICLE_ID.match(article_id):
        raise NotFoundError("no such article")
    try:
        return Article.get(workspace_id, article_id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("no such article") from None


# --- the index ----------------------------------------------------------------------------------

def _keys(workspace_id: str, locale: str) -> tuple[str, str]:
    return f"idx#{workspace_id}#{locale}", f"ver#{workspace_id}#{locale}"


def rebuild(workspace_id: str, locale: str) -> int:
    """Build the language's index from the workspace's published articles (one Query) and store it, then its
    version; returns the version. A search that read the old version meanwhile keeps the old index a moment.

    Two changes at once (two admins saving) are serialized on the index item: each write is conditioned on
    the version it was built after, and the one that lost builds again from a Query that sees both. The
    version item only moves forward. Versions are at least the time in milliseconds, so a version is never
    seen twice for different indexes, even by a container that outlives a table (a test's moto reset)."""
    index_key, version_key = _keys(workspace_id, locale)
    for _ in range(REBUILD_TRIES):
        try:
            before = int(SearchIndex.get(index_key, consistent_read=True, attributes_to_get=["version"]).version)
        except DoesNotExist:
            before = None
        published = [a for a in Article.query(workspace_id, consistent_read=True)
                     if a.status == "published" and a.locale == locale]
        data = _index_data(published, locale)
        version, stamp = max((before or 0) + 1, int(now() * 1000)), iso()
        unchanged = SearchIndex.version.does_not_exist() if before is None else SearchIndex.version == before
        if save_if(SearchIndex(index_key, version=version, data=data, articles=len(published), built_at=stamp),
                   unchanged):
            save_if(SearchIndex(version_key, version=version, articles=len(published), built_at=stamp),
                    SearchIndex.version.does_not_exist() | (SearchIndex.version < version))  # else a newer won
            return version
        time.sleep(random.uniform(0.02, 0.2))  # another change is being indexed: build again after it
    raise ConflictError("the knowledge base is being changed by someone else; save again")


def _index_data(published: list[Article], locale: str) -> bytes:
    docs = [{"id": a.id, "title": a.title, "body": a.body, "questions": list(a.questions or [])} for a in published]
    built = search_index.build(docs, locale)
    built["sites"] = {a.id: list(a.site_keys) if a.site_keys is not None else None for a in published}
    built["meta"] = {a.id: {"title": a.title, "url": a.url, "body": a.body} for a in published}
    data = zlib.compress(json.dumps(built, separators=(",", ":")).encode(), 6)
    if len(data) > MAX_INDEX_BYTES:
        raise BadRequestError(f"the {locale} knowledge base is too large to index ({len(data):,} bytes compressed; "
                              f"at most {MAX_INDEX_BYTES:,})", field="body")
    return data


_cache: dict[str, tuple[int, dict]] = {}  # per warm container: index key -> (version, index)
_cache_lock = threading.Lock()


def loaded(workspace_id: str, locale: str) -> dict | None:
    """The language's index: the one this container holds while its version is current (one small read),
    else read again. None when the workspace has none (no published article in that language yet)."""
    index_key, version_key = _keys(workspace_id, locale)
    try:
        version = int(SearchIndex.get(version_key, attributes_to_get=["version"]).version)
    except DoesNotExist:
        return None
    held = _cache.get(index_key)
    if held and held[0] == version:
        return held[1]
    try:
        item = SearchIndex.get(index_key, consistent_read=True)
    except DoesNotExist:
        return None
    index = json.loads(zlib.decompress(item.data))
    if index.get("format") != search_index.FORMAT:  # built by an older release: build it again, once
        log.info("knowledge base index rebuilt for a new format", extra={"index": index_key})
        rebuild(workspace_id, locale)
        return _read_current(index_key)
    with _cache_lock:
        _cache[index_key] = (int(item.version), index)
    return index


def _read_current(index_key: str) -> dict | None:
    try:
        item = SearchIndex.get(index_key, consistent_read=True)
    except DoesNotExist:
        return None
    index = search_index.load(json.loads(zlib.decompress(item.data)))
    with _cache_lock:
        _cache[index_key] = (int(item.version), index)
    return index


# --- what visitors read -------------------------------------------------------------------------

def search(site, query: dict, *, visitor_id: str | None = None, source_ip: str | None = None) -> dict:
    """GET /v1/articles/search: the site's published articles best matching what the visitor typed so far,
    or none (`abstained`) when nothing is close enough. Limited per address and per visitor."""
    query = query or {}
    q = validate.string(query, "q", max_len=500)
    locale = locales.language(validate.string(query, "locale", required=False, max_len=35))
    limit = validate.integer(query, "limit", minimum=1, maximum=10, default=3)
    _limit_visitor(site, visitor_id, source_ip)
    items = [{k: v for k, v in item.items() if k != "body"}
             for item in matches(site.workspace_id, site.site_key, locale, q, limit)]
    return {"items": items, "abstained": not items}


def matches(workspace_id: str, site_key: str, locale: str, q: str, limit: int = 3) -> list[dict]:
    """The published articles of that language applying to the site, best first: {id, title, snippet, url?,
    score, body}; none when nothing is close enough (or the workspace has no index in that language)."""
    index = loaded(workspace_id, locale)
    if index is None:
        return []
    sites = index.get("sites", {})
    # Ask for more than needed: articles of other sites of the workspace are dropped afterwards.
    found = search_index.search(index, q, limit=10)
    items = []
    for hit in found["items"]:
        applies = sites.get(hit["id"], [])
        if applies is not None and site_key not in applies:
            continue
        meta = index["meta"][hit["id"]]
        item = {"id": hit["id"], "title": meta["title"], "snippet": search_index.snippet(meta["body"], q, locale),
                "score": round(hit["score"], 3), "body": meta["body"]}
        if meta.get("url"):
            item["url"] = meta["url"]
        items.append(item)
        if len(items) == limit:
            break
    return items


def published(workspace_id: str, site_key: str, locale: str, ids: list[str]) -> list[dict]:
    """These articles, in this order, those of them published in that language and applying to the site
    (from the search index: no read of the articles themselves): {id, title, snippet, url?}."""
    index = loaded(workspace_id, locale)
    if index is None:
        return []
    sites, items = index.get("sites", {}), []
    for article_id in ids:
        meta = index["meta"].get(article_id)
        applies = sites.get(article_id, [])
        if meta is None or (applies is not None and site_key not in applies):
            continue
        item = {"id": article_id, "title": meta["title"], "snippet": search_index.snippet(meta["body"], "", locale)}
        if meta.get("url"):
            item["url"] = meta["url"]
        items.append(item)
    return items


def _limit_visitor(site, visitor_id: str | None, source_ip: str | None) -> None:
    """Searches and article events share the site's search limits, per address and per visitor."""
    limits.hit(limits.for_site("search_ip", site.settings), limits.per_site(site.site_key, source_ip))
    if visitor_id:
        limits.hit(limits.for_site("search_visitor", site.settings), limits.per_site(site.site_key, visitor_id))


def public_article(site, article_id: str) -> dict:
    """GET /v1/sites/{site_key}/articles/{id}: a published article that applies to the site; else 404."""
    article = _article(site.workspace_id, article_id)
    if article.status != "published" or (article.site_keys is not None and site.site_key not in article.site_keys):
        raise NotFoundError("no such article")
    out = {"id": article.id, "title": article.title, "body": article.body, "locale": article.locale,
           "updated_at": article.updated_at}
    if article.url:
        out["url"] = article.url
    return out


# --- what visitors did with the suggestions ------------------------------------------------------

@dataclass(frozen=True)
class ArticleEvent:
    """POST /v1/articles/events, checked: what happened to which published articles of the site."""
    event: str
    articles: list[Article]
    conversation_id: str | None = None
    query: str | None = None


def article_event(site, body: dict, *, visitor_id: str | None = None, source_ip: str | None = None) -> ArticleEvent:
    """The event a widget reports, each field checked and each article one the site's visitors may read
    (else 404, as GET /v1/sites/{site_key}/articles/{id} would say); limited like searches."""
    body = validate.obj(body)
    validate.known_fields(body, {"site_key", "event", "article_ids", "conversation_id", "query"})
    event = validate.choice(body, "event", EVENTS)
    most = MAX_SHOWN if event == "shown" else 1
    ids = body.get("article_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= most or not all(isinstance(i, str) for i in ids):
        what = f"a list of 1 to {most} article ids" if most > 1 else "a list of one article id"
        raise BadRequestError(f"article_ids must be {what} for {event}", field="article_ids")
    conversation_id = validate.string(body, "conversation_id", required=False, max_len=64)
    query = validate.string(body, "query", required=False, max_len=500)
    _limit_visitor(site, visitor_id, source_ip)
    wanted = list(dict.fromkeys(ids))
    if not all(_ARTICLE_ID.match(i) for i in wanted):
        raise NotFoundError("no such article")
    found = {a.id: a for a in Article.batch_get([(site.workspace_id, i) for i in wanted])}
    readable = [found[i] for i in wanted if i in found and _applies(found[i], site.site_key)]
    if len(readable) != len(wanted):
        raise NotFoundError("no such article")
    return ArticleEvent(event, readable, conversation_id, query)


def _applies(article: Article, site_key: str) -> bool:
    return article.status == "published" and (article.site_keys is None or site_key in article.site_keys)


def record(site, happened: ArticleEvent, *, visitor_id: str | None = None, resolved: bool = False) -> None:
    """Count it on each article (`resolved` too when a Yes solved a conversation or spared one), then put
    `article.{event}` on the bus for the reports. The counters are stored first: an event the bus refused is
    logged, and the visitor is not told of it."""
    stamp = iso()
    names = [happened.event] + (["resolved"] if resolved and happened.event == "helpful" else [])
    for article in happened.articles:
        ArticleStats(site.workspace_id, article.id).update(
            actions=[getattr(ArticleStats, name).add(1) for name in names] + [ArticleStats.updated_at.set(stamp)])
    data = {"site_key": site.site_key, "visitor_id": visitor_id, "conversation_id": happened.conversation_id,
            "query": happened.query}
    if happened.event == "helpful":
        data["resolved"] = resolved
    out = [bus.envelope(new_id("evt"), f"article.{happened.event}", stamp, site.workspace_id,
                        {"article": {"id": a.id, "title": a.title, "locale": a.locale}, **data})
           for a in happened.articles]
    try:
        failed = bus.publish(out)
    except Exception:  # the counts are kept: the reports lose this one event, the visitor nothing
        log.exception("article events not published", extra={"events": len(out)})
        return
    if failed:
        log.warning("article events refused by the bus", extra={"events": len(failed)})
