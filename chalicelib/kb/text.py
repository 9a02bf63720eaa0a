"""Words to search terms, the same way for the articles and for what a visitor types.

A French visitor types "delai" for "délai", "l'article" for "article", "oeuvre" for "œuvre": the text is
folded first (case, accents, ligatures, apostrophes, French elisions), then cut into words, stopwords
dropped, and each word stemmed with Snowball for its language ("livraisons" and "livraison" are one
term). Index and query go through `terms`, so they always agree.

Only the two Snowball stemmers used are imported, not the package's thirty-odd (see `_stemmer_class`):
this module is on the public search route's cold start.
"""
import functools
import importlib
import importlib.util
import re
import sys
import types
import unicodedata

from chalicelib.core import locales

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})
# A French elision at the start of a word ("l'article", "qu'il"), split off from the word it leans on.
_ELISION = re.compile(r"\b(qu|[ldjnscmt])'(?=\w)")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# An English clitic at the end of a word ("where's", "I've", "we'll"), dropped so the word before it is
# what counts (and "where" is a stopword); "n't" stays: a negation tells questions apart.
_CLITIC = re.compile(r"'(?:s|re|ve|ll|d|m)$")

_LANGUAGES = {"en": "english", "fr": "french"}
_PRIVATE = "_parley_snowballstemmer"

# Small on purpose: only words that never tell two questions apart. Negations ("not", "pas") stay.
_STOPWORDS_TEXT = {
    "en": """a an the and or but of to in on at by for from with about into as is are was were be been being
        am do does did i i'm me my mine you your yours it it's its this that these those there here he she
        we they them their our us can could would should will shall may might must how what when where why
        which who whom whose if then so than too very just also any some hi hello hey please thanks thank""",
    "fr": """le la les l un une des du de d et ou où a à au aux en dans par pour sur avec sans sous chez ce
        ces cet cette c ça ca je j tu il elle on nous vous ils elles me m te t se s qu que qui quoi quel
        quelle quels quelles est sont suis es êtes sommes ai as avez avons ont mon ma mes ton ta tes son sa
        ses notre nos votre vos leur leurs y ne n été être était comment quand pourquoi combien bonjour merci
        svp stp""",
}


def fold(text: str) -> str:
    """Lower case, no accents, no ligatures, straight apostrophes, French elisions split off ("l' article")."""
    text = text.translate(_APOSTROPHES).lower().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _ELISION.sub(r"\1' ", bare)


def words(text: str) -> list[str]:
    """The folded words of a text, apostrophes inside a word kept ("don't"), elided articles alone ("l").

    An English clitic is dropped ("where's" is "where").
    """
    return [_CLITIC.sub("", w.rstrip("'")) for w in _WORD.findall(fold(text))]


def language(locale: str | None) -> str:
    """The stemmer's language of a locale: "en" or "fr", English for anything else."""
    lang = locales.language(locale)
    return lang if lang in _LANGUAGES else "en"


def stem(word: str, locale: str) -> str:
    """The Snowball stem of one folded word in the locale's language."""
    return _stem(word, language(locale))


def is_stopword(word: str, locale: str) -> bool:
    return word in _stopwords(language(locale))


def terms(text: str, locale: str) -> list[str]:
    """The search terms of a text: folded, cut into words, stopwords dropped, stemmed; in order, repeats kept."""
    lang = language(locale)
    stop = _stopwords(lang)
    return [_stem(w, lang) for w in words(text) if w not in stop]


@functools.cache
def _stopwords(lang: str) -> frozenset[str]:
    return frozenset(fold(w) for w in _STOPWORDS_TEXT[lang].split())


@functools.lru_cache(maxsize=65536)
def _stem(word: str, lang: str) -> str:
    return _stemmer(lang).stemWord(word)


@functools.cache
def _stemmer(lang: str):
    """One stemmer per language, made on first use."""
    return _stemmer_class(_LANGUAGES[lang])()


def _stemmer_class(name: str) -> type:
    """`snowballstemmer.<name>_stemmer`'s class, without running the package's `__init__`.

    `import snowballstemmer` imports all of its stemmers to fill its `stemmer()` lookup (bench/cold_start.py
    measures what that costs); we need two. Their directory is loaded as a private package of ours, so a
    stemmer module and the `basestemmer` and `among` it imports load alone, and `snowballstemmer` itself is
    left untouched for anyone else.
    """
    package = sys.modules.get(_PRIVATE)
    if package is None:
        spec = importlib.util.find_spec("snowballstemmer")
        package = types.ModuleType(_PRIVATE)
        package.__path__ = list(spec.submodule_search_locations)
        package.__package__ = _PRIVATE
        sys.modules[_PRIVATE] = package
    module = importlib.import_module(f"{_PRIVATE}.{name}_stemmer")
    return getattr(module, f"{name.capitalize()}Stemmer")


# The small Markdown subset of an article's body (paragraphs, lists, bold/italic, inline code, links).
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_CODE = re.compile(r"`([^`]*)`")
_MD_LINE_START = re.compile(r"^[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d+[.)][ \t]+)", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"\*+|(?<!\w)_+|_+(?!\w)")
_SPACES = re.compile(r"\s+")
# A word of plain, unfolded text, apostrophes splitting ("l’article" is "l" and "article"): where a snippet may start.
WORD_IN_PLAIN = re.compile(r"[^\W_]+")


def plain(markdown: str) -> str:
    """The text of a Markdown body, on one line: link texts kept, their addresses and the punctuation dropped."""
    text = _MD_LINK.sub(r"\1", markdown)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_LINE_START.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    return _SPACES.sub(" ", text).strip()
