"""The knowledge base's search: an index of a site's articles in one language, and BM25F ranking over it.

`build` turns articles into one small JSON-serializable dict (stored as one DynamoDB item or S3 object and
loaded once per warm container); `search` ranks the articles for what a visitor is typing. The dict is
searched as `json.loads` returns it, with nothing to prepare: its vocabulary is a sorted list, so a term is
found by bisection and the last, unfinished word of a query by the range of terms it prefixes.

Ranking is BM25F: a term's frequencies in title, example questions and body are weighted, normalised by
each field's length, summed, then saturated once (Robertson & Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond", 2009). A query that matches too little of what it could (its score over the
best score its terms could reach) abstains: an unrelated question gets no suggestion rather than noise.

The index dict (format 1):
    format    1
    locale    "en" | "fr", what `text.terms` stems with
    ids       article ids; a document is its position in this list
    lengths   per document its title, questions and body lengths in terms, flat: [t0, q0, b0, t1, q1, ...]
    average   the average of each field's length
    terms     the vocabulary, sorted
    postings  per term (same position), flat: [doc, tf_title, tf_questions, tf_body, doc, ...]
"""
import bisect
import math
from dataclasses import dataclass

from chalicelib.kb import text

FORMAT = 1
FIELDS = ("title", "questions", "body")
_WIDTH = len(FIELDS) + 1  # one posting: the document and a frequency per field


@dataclass(frozen=True)
class Params:
    """Ranking's knobs, tuned by bench/kb_search.py on BANKING77's validation rows (never its test rows)."""
    weights: tuple[float, float, float] = (1.0, 1.5, 1.0)  # title, questions, body
    b: tuple[float, float, float] = (0.5, 0.5, 0.75)  # how much each field's length normalises
    k1: float = 3.0  # high: a word the questions repeat keeps counting (an intent's phrasings share their words)
    prefix_weight: float = 0.8  # a word the last one only starts, against the same word typed whole
    max_expansions: int = 20
    min_prefix: int = 3  # characters before an unfinished word is expanded
    abstain_below: float = 0.18  # best score / the query's best possible score


DEFAULT = Params()


def build(articles: list[dict], locale: str) -> dict:
    """The index of articles ({"id", "title", "body", "questions"}) in one locale; the body is Markdown."""
    locale = text.language(locale)
    ids, lengths, found = [], [], {}
    for doc, article in enumerate(articles):
        ids.append(article["id"])
        for field, words in enumerate(_fields(article, locale)):
            lengths.append(len(words))
            for term in words:
                counts = found.setdefault(term, {}).setdefault(doc, [0, 0, 0])
                counts[field] += 1
    vocabulary = sorted(found)
    count = max(len(ids), 1)
    return {
        "format": FORMAT,
        "locale": locale,
        "ids": ids,
        "lengths": lengths,
        "average": [round(sum(lengths[f::3]) / count, 3) for f in range(3)],
        "terms": vocabulary,
        "postings": [[n for doc, tf in found[term].items() for n in (doc, *tf)] for term in vocabulary],
    }


def load(index: dict) -> dict:
    """The index as stored, checked: `search` needs no other preparation."""
    if index.get("format") != FORMAT:
        raise ValueError(f"knowledge base index format {index.get('format')!r}, expected {FORMAT}")
    return index


def search(index: dict, query: str, limit: int = 3, *, params: Params = DEFAULT) -> dict:
    """The best articles for a query, {"items": [{"id", "score"}], "abstained"}; `limit` is clamped to 1..10.

    `score` is the article's share of the best score the query's terms could reach (0..1). The last word is
    a prefix unless the query ends with a space or punctuation: the visitor is still typing it.
    """
    limit = min(max(int(limit), 1), 10)
    slots = _slots(index, query, params)
    reachable = sum(best for _, best in slots)
    if not slots or reachable <= 0:
        return {"items": [], "abstained": True}
    totals: dict[int, float] = {}
    for candidates, _ in slots:
        for doc, score in _slot_scores(index, candidates, params).items():
            totals[doc] = totals.get(doc, 0.0) + score
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]
    if not ranked or ranked[0][1] / reachable < params.abstain_below:
        return {"items": [], "abstained": True}
    ids = index["ids"]
    return {"items": [{"id": ids[doc], "score": round(score / reachable, 4)} for doc, score in ranked],
            "abstained": False}


def snippet(body: str, query: str, locale: str, width: int = 160) -> str:
    """About `width` characters of the body as plain text around the first word the query matches, … at cuts."""
    plain = text.plain(body)
    if len(plain) <= width:
        return plain
    wanted, prefix = _query_words(query, locale)
    start = next((m.start() for m in text.WORD_IN_PLAIN.finditer(plain)
                  if _matches(m.group(), wanted, prefix, locale)), 0)
    begin = max(0, min(start - width // 4, len(plain) - width))
    if begin:
        begin = plain.find(" ", begin) + 1 or begin  # not in the middle of a word
    end = begin + width
    if end < len(plain):
        end = plain.rfind(" ", begin, end) if " " in plain[begin:end] else end
    return f"{'…' if begin else ''}{plain[begin:end].strip()}{'…' if end < len(plain) else ''}"


def _fields(article: dict, locale: str) -> tuple[list[str], list[str], list[str]]:
    return (text.terms(article.get("title", ""), locale),
            text.terms(" \n".join(article.get("questions") or ()), locale),
            text.terms(text.plain(article.get("body", "")), locale))


def _unfinished(query: str) -> bool:
    """The visitor is still typing the last word: the query ends in a letter or digit."""
    return bool(query) and query[-1].isalnum()


def _query_words(query: str, locale: str) -> tuple[set[str], str]:
    """The stems of the query's whole words, and the folded unfinished last word ("" if none)."""
    words = [w for w in text.words(query) if not text.is_stopword(w, locale)]
    prefix = ""
    if words and _unfinished(query) and text.words(query)[-1] == words[-1]:
        prefix = words.pop()
    return {text.stem(w, locale) for w in words}, prefix


def _matches(word: str, wanted: set[str], prefix: str, locale: str) -> bool:
    folded = text.words(word)
    if not folded or text.is_stopword(folded[0], locale):
        return False
    stem = text.stem(folded[0], locale)
    return stem in wanted or bool(prefix) and (stem == text.stem(prefix, locale) or folded[0].startswith(prefix))


def _slots(index: dict, query: str, params: Params) -> list[tuple[list[tuple[int, float]], float]]:
    """One slot per distinct query word: its index terms with a weight each, and the best it could score.

    A whole word is its stem, exactly; a word that matches nothing still counts in what the query could
    reach (with the idf of a term no article has), so a question about something else scores low. The
    unfinished last word is its stem and the terms it or its stem begins, each weighted `prefix_weight`;
    when it matches nothing yet it is left out (the visitor has not finished it).
    """
    locale = index["locale"]
    wanted, prefix = _query_words(query, locale)
    unseen = _idf(len(index["ids"]), 0)
    slots = []
    for stem in sorted(wanted):
        position = _find(index["terms"], stem)
        if position is None:
            slots.append(([], unseen))
        else:
            slots.append(([(position, 1.0)], _idf_at(index, position)))
    if prefix:
        candidates = _expand(index, prefix, params)
        if candidates:
            slots.append((candidates, max(_idf_at(index, p) * w for p, w in candidates)))
    return slots


def _expand(index: dict, prefix: str, params: Params) -> list[tuple[int, float]]:
    """The index terms an unfinished word may become, the most common first, at most `max_expansions`."""
    stem = text.stem(prefix, index["locale"])
    exact = _find(index["terms"], stem)
    found = {exact: 1.0} if exact is not None else {}
    if len(prefix) >= params.min_prefix:
        begun = _begun(index["terms"], prefix) | _begun(index["terms"], stem)
        common = sorted(begun - found.keys(), key=lambda p: (-len(index["postings"][p]), p))
        for position in common[:params.max_expansions - len(found)]:
            found[position] = params.prefix_weight
    return sorted(found.items())


def _begun(vocabulary: list[str], prefix: str, scan: int = 500) -> set[int]:
    """Positions of the terms that begin with prefix (the first `scan` of them: a bound on a short prefix)."""
    start = bisect.bisect_left(vocabulary, prefix)
    stop = min(len(vocabulary), start + scan)
    found = set()
    for position in range(start, stop):
        if not vocabulary[position].startswith(prefix):
            break
        found.add(position)
    return found


def _find(vocabulary: list[str], term: str) -> int | None:
    position = bisect.bisect_left(vocabulary, term)
    return position if position < len(vocabulary) and vocabulary[position] == term else None


def _idf(documents: int, frequency: int) -> float:
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def _idf_at(index: dict, position: int) -> float:
    return _idf(len(index["ids"]), len(index["postings"][position]) // _WIDTH)


def _slot_scores(index: dict, candidates: list[tuple[int, float]], params: Params) -> dict[int, float]:
    """Per document, its best BM25F score among the slot's terms (a prefix counts once, not per expansion)."""
    lengths, average = index["lengths"], index["average"]
    weights, b, k1 = params.weights, params.b, params.k1
    norms = [(1 - b[f], b[f] / average[f] if average[f] else 0.0) for f in range(3)]
    best: dict[int, float] = {}
    for position, weight in candidates:
        idf = _idf_at(index, position) * weight
        postings = index["postings"][position]
        for i in range(0, len(postings), _WIDTH):
            doc = postings[i]
            at = doc * 3
            tf = 0.0
            for f in range(3):
                count = postings[i + 1 + f]
                if count:
                    tf += weights[f] * count / (norms[f][0] + norms[f][1] * lengths[at + f])
            score = idf * tf / (k1 + tf)
            if score > best.get(doc, 0.0):
                best[doc] = score
    return best
