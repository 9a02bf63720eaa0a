"""The knowledge base's search: an index of a site's articles in one language, and its ranking.

`build` turns articles into one small JSON-serializable dict (stored as one DynamoDB item or S3 object and
loaded once per warm container); `search` ranks the articles for what a visitor is typing. The dict is
searched as `json.loads` returns it, with nothing to prepare: its vocabulary is a sorted list, so a term is
found by bisection and the last, unfinished word of a query by the range of terms it prefixes.

An article's score is the mean of two shares, each 0..1:
- BM25F: a term's frequencies in title, example questions and body are weighted, normalised by each
  field's length, summed, then saturated once (Robertson & Zaragoza, "The Probabilistic Relevance
  Framework: BM25 and Beyond", 2009), over the best score the query's terms could reach;
- the cosine of the query with the article's centroid (Rocchio): its title and each example question a
  unit tf-idf vector, summed, so a short question weighs as much as a long one.
A word no article has counts in what the query could reach (`unseen_weight` times the idf of a term no
article has), unless it is one edit from a word of the articles (a typo: "shiping", "vaiselle"), which then
counts, discounted. A query whose best score is too low abstains: an unrelated question gets no suggestion
rather than noise.

The index dict (format 2):
    format      2
    locale      "en" | "fr", what `text.terms` stems with
    ids         article ids; a document is its position in this list
    lengths     per document its title, questions and body lengths in terms, flat: [t0, q0, b0, t1, q1, ...]
    average     the average of each field's length
    terms       the vocabulary, sorted
    postings    per term (same position), flat: [doc, tf_title, tf_questions, tf_body, centroid ‰, doc, ...]
    forms       the articles' words (folded, 5 letters or more) that are not their own stem, sorted
    form_terms  per form, the position of its term (for typos: "shiping" is one edit from "shipping")
"""
import bisect
import math
from dataclasses import dataclass

from chalicelib.kb import text

FORMAT = 2
FIELDS = ("title", "questions", "body")
FORM_MIN = 5  # the shortest word kept as written, for typos (`Params.typo_min` may ask longer, not shorter)
_WIDTH = len(FIELDS) + 2  # one posting: the document, a frequency per field, the term's centroid weight in ‰


@dataclass(frozen=True)
class Params:
    """Ranking's knobs, tuned by bench/kb_search.py on BANKING77's validation rows (never its test rows)."""
    weights: tuple[float, float, float] = (1.0, 1.5, 1.0)  # title, questions, body
    b: tuple[float, float, float] = (0.5, 0.5, 0.75)  # how much each field's length normalises
    k1: float = 3.0  # high: a word the questions repeat keeps counting (an intent's phrasings share their words)
    centroid_weight: float = 1.0  # the centroid's cosine, against the BM25F share
    prefix_weight: float = 0.8  # a word the last one only starts, against the same word typed whole
    max_expansions: int = 20
    min_prefix: int = 3  # characters before an unfinished word is expanded
    typo_weight: float = 0.7  # a term one edit from a word no article has, against the word typed right
    typo_min: int = 5  # letters of a word before it may be a typo (not below FORM_MIN)
    unseen_weight: float = 3.0  # a word no article has weighs this many times the idf of a term no one has
    abstain_below: float = 0.045  # the best score under which the search abstains


DEFAULT = Params()


def build(articles: list[dict], locale: str) -> dict:
    """The index of articles ({"id", "title", "body", "questions"}) in one locale; the body is Markdown."""
    locale = text.language(locale)
    ids, lengths, found, forms, parts = [], [], {}, {}, []
    for doc, article in enumerate(articles):
        ids.append(article["id"])
        title, questions, body = _parts(article, locale, forms)
        parts.append([title, *questions])
        for field, words in enumerate((title, [t for q in questions for t in q], body)):
            lengths.append(len(words))
            for term in words:
                counts = found.setdefault(term, {}).setdefault(doc, [0, 0, 0, 0])
                counts[field] += 1
    idf = {term: _idf(len(ids), len(docs)) for term, docs in found.items()}
    for doc, asked in enumerate(parts):
        for term, weight in _centroid(asked, idf).items():
            found[term][doc][3] = round(weight * 1000)
    vocabulary = sorted(found)
    count = max(len(ids), 1)
    written = sorted(form for form, stem in forms.items() if form != stem)
    return {
        "format": FORMAT,
        "locale": locale,
        "ids": ids,
        "lengths": lengths,
        "average": [round(sum(lengths[f::3]) / count, 3) for f in range(3)],
        "terms": vocabulary,
        "postings": [[n for doc, tf in found[term].items() for n in (doc, *tf)] for term in vocabulary],
        "forms": written,
        "form_terms": [_find(vocabulary, forms[form]) for form in written],
    }


def _parts(article: dict, locale: str, forms: dict[str, str]) -> tuple[list[str], list[list[str]], list[str]]:
    """The terms of the title, of each question and of the body; the words of FORM_MIN letters or more
    go into forms with their stem."""
    lang = text.language(locale)

    def terms(part: str) -> list[str]:
        found = []
        for word in text.words(part):
            if not text.is_stopword(word, lang):
                stem = text.stem(word, lang)
                found.append(stem)
                if len(word) >= FORM_MIN:
                    forms.setdefault(word, stem)
        return found

    return (terms(article.get("title", "")), [terms(q) for q in article.get("questions") or ()],
            terms(text.plain(article.get("body", ""))))


def _centroid(asked: list[list[str]], idf: dict[str, float]) -> dict[str, float]:
    """The terms of a title and questions as unit tf-idf vectors (1 + log tf), summed, made a unit vector."""
    total: dict[str, float] = {}
    for terms in asked:
        counts: dict[str, int] = {}
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
        vector = {term: (1 + math.log(n)) * idf[term] for term, n in counts.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        for term, w in vector.items():
            total[term] = total.get(term, 0.0) + w / norm
    norm = math.sqrt(sum(w * w for w in total.values())) or 1.0
    return {term: w / norm for term, w in total.items()}


def load(index: dict) -> dict:
    """The index as stored, checked: `search` needs no other preparation."""
    if index.get("format") != FORMAT:
        raise ValueError(f"knowledge base index format {index.get('format')!r}, expected {FORMAT}")
    return index


def search(index: dict, query: str, limit: int = 3, *, params: Params = DEFAULT) -> dict:
    """The best articles for a query, {"items": [{"id", "score"}], "abstained"}; `limit` is clamped to 1..10.

    `score` (0..1) is the mean of the article's BM25F share (of the best score the query's terms could
    reach) and of its centroid's cosine with the query, `centroid_weight` weighing the second. The last
    word is a prefix unless the query ends with a space or punctuation: the visitor is still typing it.
    """
    limit = min(max(int(limit), 1), 10)
    slots = _slots(index, query, params)
    reachable = sum(best for _, best in slots)
    if not slots or reachable <= 0:
        return {"items": [], "abstained": True}
    totals: dict[int, float] = {}
    cosines: dict[int, float] = {}
    norm = math.sqrt(sum(best * best for _, best in slots))
    for candidates, best in slots:
        scores, centroid = _slot_scores(index, candidates, params)
        for doc, score in scores.items():
            totals[doc] = totals.get(doc, 0.0) + score
        for doc, weight in centroid.items():
            cosines[doc] = cosines.get(doc, 0.0) + best * weight / norm
    mix = params.centroid_weight
    shares = {doc: (score / reachable + mix * cosines.get(doc, 0.0)) / (1 + mix) for doc, score in totals.items()}
    ranked = sorted(shares.items(), key=lambda item: (-item[1], item[0]))[:limit]
    if not ranked or ranked[0][1] < params.abstain_below:
        return {"items": [], "abstained": True}
    ids = index["ids"]
    return {"items": [{"id": ids[doc], "score": round(score, 4)} for doc, score in ranked], "abstained": False}


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


def _unfinished(query: str) -> bool:
    """The visitor is still typing the last word: the query ends in a letter or digit."""
    return bool(query) and query[-1].isalnum()


def _query_words(query: str, locale: str) -> tuple[dict[str, str], str]:
    """The stems of the query's whole words (each with the folded word it came from), and the folded
    unfinished last word ("" if none)."""
    words = [w for w in text.words(query) if not text.is_stopword(w, locale)]
    prefix = ""
    if words and _unfinished(query) and text.words(query)[-1] == words[-1]:
        prefix = words.pop()
    stems: dict[str, str] = {}
    for word in words:
        stems.setdefault(text.stem(word, locale), word)
    return stems, prefix


def _matches(word: str, wanted: dict[str, str], prefix: str, locale: str) -> bool:
    folded = text.words(word)
    if not folded or text.is_stopword(folded[0], locale):
        return False
    stem = text.stem(folded[0], locale)
    return stem in wanted or bool(prefix) and (stem == text.stem(prefix, locale) or folded[0].startswith(prefix))


def _slots(index: dict, query: str, params: Params) -> list[tuple[list[tuple[int, float]], float]]:
    """One slot per distinct query word: its index terms with a weight each, and the best it could score.

    A whole word is its stem, exactly. A word no article has is the terms it is one edit from (a typo),
    weighted `typo_weight`; if none, it still counts in what the query could reach (`unseen_weight` times
    the idf of a term no article has), so a question about something else scores low. The unfinished last
    word is its stem and the terms it or its stem begins, each weighted `prefix_weight`; when no term
    begins with it, it is a word no article has (the visitor has more likely finished it than not).
    """
    locale = index["locale"]
    wanted, prefix = _query_words(query, locale)
    unseen = _idf(len(index["ids"]), 0) * params.unseen_weight
    slots = []
    for stem in sorted(wanted):
        position = _find(index["terms"], stem)
        if position is None:
            slots.append(_unknown(index, wanted[stem], unseen, params))
        else:
            slots.append(([(position, 1.0)], _idf_at(index, position)))
    if prefix:
        candidates = _expand(index, prefix, params)
        if candidates:
            slots.append((candidates, max(_idf_at(index, p) * w for p, w in candidates)))
        elif len(prefix) >= params.min_prefix:  # no article has a word it begins: most likely a whole word
            slots.append(_unknown(index, prefix, unseen, params))
    return slots


def _unknown(index: dict, word: str, unseen: float, params: Params) -> tuple[list[tuple[int, float]], float]:
    """The slot of a word no article has: the terms it may be a typo of, or none, and what it could reach."""
    near = _typos(index, word, params) if params.typo_weight else []
    return [(p, params.typo_weight) for p in near], max((_idf_at(index, p) for p in near), default=unseen)


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


def _typos(index: dict, word: str, params: Params) -> list[int]:
    """The terms a word no article has may be a typo of: the word one edit from a word of the articles as
    written ("shiping" from "shipping", whose term is "ship"), or from a term that is such a word."""
    found = set(_near(index["terms"], word, params.typo_min))
    found.update(index["form_terms"][p] for p in _near(index["forms"], word, params.typo_min))
    return sorted(found)


def _near(vocabulary: list[str], term: str, shortest: int) -> list[int]:
    """Positions of the terms one edit from term (a letter more, less, changed, or two swapped): a typo.

    Both must have at least `shortest` characters ("cart" is not a typo of "card") and the same first
    letter, which typos seldom touch ("honey" is not "money"). A scan of the terms of that first letter,
    done only for a word no article has.
    """
    if len(term) < shortest:
        return []
    size, first = len(term), term[0]
    start = bisect.bisect_left(vocabulary, first)
    stop = bisect.bisect_left(vocabulary, chr(ord(first) + 1), start)
    return [p for p in range(start, stop)
            if abs(len(vocabulary[p]) - size) <= 1 and len(vocabulary[p]) >= shortest
            and _one_edit(term, vocabulary[p])]


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by exactly one insertion, deletion, substitution or swap of two neighbouring letters."""
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) < len(b):
        return a[start:] == b[start + 1:]
    if start == len(a):
        return False  # the same term
    return a[start + 1:] == b[start + 1:] or a[start + 2:] == b[start + 2:] and a[start] == b[start + 1] \
        and a[start + 1] == b[start]


def _find(vocabulary: list[str], term: str) -> int | None:
    position = bisect.bisect_left(vocabulary, term)
    return position if position < len(vocabulary) and vocabulary[position] == term else None


def _idf(documents: int, frequency: int) -> float:
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def _idf_at(index: dict, position: int) -> float:
    return _idf(len(index["ids"]), len(index["postings"][position]) // _WIDTH)


def _slot_scores(index: dict, candidates: list[tuple[int, float]],
                 params: Params) -> tuple[dict[int, float], dict[int, float]]:
    """Per document, its best BM25F score among the slot's terms (a prefix counts once, not per expansion),
    and its best weight in the article's centroid."""
    lengths, average = index["lengths"], index["average"]
    weights, b, k1 = params.weights, params.b, params.k1
    norms = [(1 - b[f], b[f] / average[f] if average[f] else 0.0) for f in range(3)]
    best: dict[int, float] = {}
    centroid: dict[int, float] = {}
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
            share = weight * postings[i + 4] / 1000
            if share > centroid.get(doc, 0.0):
                centroid[doc] = share
    return best, centroid
