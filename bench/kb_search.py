"""How well and how fast the knowledge base's search (chalicelib/kb) finds the article a visitor asks for.

Run from the repository root:  .venv/bin/python bench/kb_search.py [--tune]   (also part of `make bench`)

Data: BANKING77 (I. Casanueva et al., "Efficient Intent Detection with Dual Sentence Encoders", NLP for
ConvAI 2020; PolyAI-LDN/task-specific-datasets), its train split in ../shared/data/banking77/, licensed
Creative Commons Attribution 4.0 International (CC BY 4.0). Each intent becomes one article: its title the
intent's name made readable ("card_arrival" → "Card arrival"), its body a sentence made from that title, its
questions K phrasings of the intent (K = 1, 3, 10). Each intent's rows are shuffled once with a fixed seed and
cut by row: the first 10 may be an article's questions; of the others, the first half are validation rows
(what `--tune` chooses the ranking's weights and the abstain threshold on, with every other
out-of-scope question) and the second half test rows
(what is reported). No query is ever in an article.

Reported, on the test rows: hit@1, hit@3 and MRR per K (an abstained query is a miss); suggest-as-you-type
hit@3 at K = 10 with 30 %, 50 % and 70 % of each query's characters typed (its last word unfinished); the
abstain rate on bench/data/out_of_scope.txt (questions about weather, sport, cooking, travel, jokes...) and
the false-abstain rate on the in-scope test queries; query time p50/p99 in this process on a 1,000-article
index (BANKING77's intents repeated with other phrasings as their questions), its build time, JSON size and
json.loads time. Also tests/data/kb_fixture.json, a bilingual ceramics shop written for Parley: hit@1, hit@3
and MRR per language. Bounded: at most 40 test and 20 validation queries per intent.

Writes bench/results/kb_search.json and prints a summary. `--tune` prints the validation grid's best instead.
"""
import argparse
import csv
import dataclasses
import itertools
import json
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.kb import index

DATA = ROOT.parent / "shared" / "data" / "banking77"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/banking77")
OUT_OF_SCOPE = ROOT / "bench" / "data" / "out_of_scope.txt"
FIXTURE = ROOT / "tests" / "data" / "kb_fixture.json"
RESULT = ROOT / "bench" / "results" / "kb_search.json"
SEED = 14
POOL, VALIDATION, TEST = 10, 20, 40  # per intent: article questions, validation queries, test queries
KS = (1, 3, 10)
TYPED = (0.3, 0.5, 0.7)
TARGETS = {"banking77_k10_hit3": 0.88, "banking77_k10_mrr": 0.80, "fixture_hit3": 0.85,
           "out_of_scope_abstain": 0.8, "false_abstain_max": 0.1, "p99_ms_1000_articles": 5.0}


def load_banking77() -> dict[str, dict[str, list[str]]]:
    """Per intent, its rows shuffled and cut into pool (article questions), validation and test."""
    intents = json.loads((DATA / "categories.json").read_text())
    rows: dict[str, list[str]] = {name: [] for name in intents}
    with (DATA / "train.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            rows[row["category"]].append(row["text"].strip())
    rng = random.Random(SEED)
    split = {}
    for name in intents:
        texts = rows[name][:]
        rng.shuffle(texts)
        rest = texts[POOL:]
        half = len(rest) // 2
        split[name] = {"pool": texts[:POOL], "validation": rest[:half][:VALIDATION], "test": rest[half:][:TEST]}
    return split


def readable(intent: str) -> str:
    words = intent.replace("_", " ")
    return words[:1].upper() + words[1:]


def article(intent: str, questions: list[str], suffix: str = "") -> dict:
    title = readable(intent)
    return {"id": intent + suffix, "title": title, "questions": questions,
            "body": f"What to know about **{title.lower()}**, and what you can do about it."}


def banking_articles(split: dict, k: int) -> list[dict]:
    return [article(name, parts["pool"][:k]) for name, parts in split.items()]


def queries(split: dict, part: str) -> list[tuple[str, str]]:
    return [(q, name) for name, parts in split.items() for q in parts[part]]


def typed(query: str, share: float) -> str:
    """The first share of a query's characters, as the visitor has typed them (the last word likely unfinished)."""
    return query[:max(1, round(len(query) * share))].rstrip()


def rank_metrics(built: dict, pairs: list[tuple[str, str]], params: index.Params = index.DEFAULT) -> dict:
    hit1 = hit3 = rr = abstained = 0
    for query, expected in pairs:
        result = index.search(built, query, 10, params=params)
        abstained += result["abstained"]
        found = [item["id"] for item in result["items"]]
        if expected in found:
            rank = found.index(expected) + 1
            hit1 += rank == 1
            hit3 += rank <= 3
            rr += 1 / rank
    n = len(pairs) or 1
    return {"queries": len(pairs), "hit_at_1": round(hit1 / n, 4), "hit_at_3": round(hit3 / n, 4),
            "mrr": round(rr / n, 4), "abstained": round(abstained / n, 4)}


def abstain_rate(built: dict, questions: list[str], params: index.Params = index.DEFAULT) -> float:
    return round(sum(index.search(built, q, 3, params=params)["abstained"] for q in questions) / len(questions), 4)


def out_of_scope() -> list[str]:
    lines = (line.strip() for line in OUT_OF_SCOPE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def thousand_articles(split: dict) -> list[dict]:
    """1,000 articles: the 77 intents again and again, each copy with other phrasings of the pool and validation rows."""
    articles = []
    for n in range(1000):
        name = list(split)[n % len(split)]
        copy = n // len(split)
        phrasings = split[name]["pool"] + split[name]["validation"]
        start = (copy * 3) % len(phrasings)
        questions = (phrasings[start:] + phrasings[:start])[:5]
        articles.append(article(name, questions, suffix=f"-{copy}"))
    return articles


def timings(split: dict, pairs: list[tuple[str, str]]) -> dict:
    articles = thousand_articles(split)
    started = time.perf_counter()
    built = index.build(articles, "en")
    build_ms = (time.perf_counter() - started) * 1000
    stored = json.dumps(built, separators=(",", ":"))
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        loaded = index.load(json.loads(stored))
        loads.append((time.perf_counter() - started) * 1000)
    asked = [q for q, _ in pairs[:1000]] + [typed(q, 0.5) for q, _ in pairs[:1000]]
    for q in asked[:50]:  # warm the stem cache a little, as a warm container would be
        index.search(loaded, q)
    spent = []
    for q in asked:
        started = time.perf_counter_ns()
        index.search(loaded, q)
        spent.append((time.perf_counter_ns() - started) / 1e6)
    spent.sort()
    return {"articles": len(articles), "terms": len(built["terms"]), "queries_timed": len(spent),
            "query_p50_ms": round(spent[len(spent) // 2], 3), "query_p99_ms": round(spent[int(len(spent) * 0.99)], 3),
            "query_max_ms": round(spent[-1], 3), "build_ms": round(build_ms, 1),
            "json_bytes": len(stored.encode()), "json_loads_ms_median": round(statistics.median(loads), 2)}


def fixture_metrics() -> dict:
    fixture = json.loads(FIXTURE.read_text())
    figures = {}
    for lang in ("en", "fr"):
        built = index.build(fixture[lang]["articles"], lang)
        pairs = [(q["query"], q["expected"]) for q in fixture[lang]["queries"]]
        figures[lang] = {"articles": len(fixture[lang]["articles"]), **rank_metrics(built, pairs)}
    return figures


def tune(split: dict) -> None:
    """A small grid on the validation rows at K = 10, then the abstain threshold on half the out-of-scope
    questions: per setting, the threshold with the best hit@3 that abstains on at least 82 % of that half
    and wrongly on at most 9 % of the validation rows (the highest such threshold when several tie).
    Prints the defaults' line, then the best settings."""
    built = index.build(banking_articles(split, 10), "en")
    pairs = queries(split, "validation")
    half = out_of_scope()[::2]  # tune the threshold on half the out-of-scope questions; all are reported
    d = index.DEFAULT
    scored = []
    grid = itertools.product([0.0, 0.5, 1.0, 2.0], [1.5, 3.0], [2.0, 3.0, 5.0], [0.5, 0.7])
    for centroid, unseen, k1, typo in [(d.centroid_weight, d.unseen_weight, d.k1, d.typo_weight), *grid]:
        params = dataclasses.replace(index.DEFAULT, centroid_weight=centroid, unseen_weight=unseen, k1=k1,
                                     typo_weight=typo, abstain_below=0.0)
        tops = [_top(built, q, params) for q, _ in pairs]
        others = [_top(built, q, params)[0] for q in half]
        best = None
        for threshold in (n / 200 for n in range(40)):
            kept = [(score >= threshold, found[:3], expected) for (score, found), (_, expected) in zip(tops, pairs, strict=True)]
            false_abstain = sum(not keep for keep, _, _ in kept) / len(kept)
            abstain = sum(score < threshold for score in others) / len(others)
            if abstain < 0.82 or false_abstain > 0.09:
                continue
            hit3 = sum(keep and expected in found for keep, found, expected in kept) / len(kept)
            if best is None or hit3 >= best[0]:  # a tie goes to the higher threshold
                best = (hit3, threshold, false_abstain, abstain)
        if best:
            scored.append((best, params))
    scored.sort(key=lambda s: -s[0][0])
    default = [s for s in scored if s[1] == dataclasses.replace(d, abstain_below=0.0)][:1]
    for n, ((hit3, threshold, false_abstain, abstain), params) in enumerate(default + scored[:8]):
        print(f"{'default ' if n == 0 and default else ''}hit@3 {hit3:.4f}  threshold {threshold:.3f}  false abstain {false_abstain:.3f}  "
              f"out-of-scope abstain {abstain:.3f}  centroid {params.centroid_weight} unseen {params.unseen_weight} "
              f"k1 {params.k1} typo {params.typo_weight}")


def _top(built: dict, query: str, params: index.Params) -> tuple[float, list[str]]:
    result = index.search(built, query, 10, params=params)
    return (result["items"][0]["score"] if result["items"] else -1.0), [item["id"] for item in result["items"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="search the validation grid instead of reporting")
    args = parser.parse_args()
    split = load_banking77()
    if args.tune:
        tune(split)
        return 0
    test = queries(split, "test")
    banking = {}
    for k in KS:
        banking[f"k{k}"] = rank_metrics(index.build(banking_articles(split, k), "en"), test)
    built10 = index.build(banking_articles(split, 10), "en")
    as_you_type = {f"{round(share * 100)}%": rank_metrics(built10, [(typed(q, share), e) for q, e in test])["hit_at_3"]
                   for share in TYPED}
    others = out_of_scope()
    result = {
        "benchmark": "kb_search",
        "what": "knowledge base search (chalicelib/kb): BANKING77 held-out rows, out-of-scope questions, a bilingual fixture",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "params": dataclasses.asdict(index.DEFAULT),
        "data": {"banking77": "PolyAI BANKING77 train split, CC BY 4.0", "intents": len(split), "seed": SEED,
                 "test_queries": len(test), "split": "per intent by row: 10 article questions, then validation, test"},
        "banking77": banking,
        "as_you_type_hit_at_3_k10": as_you_type,
        "abstain": {"out_of_scope_questions": len(others),
                    "out_of_scope_abstain_rate": abstain_rate(built10, others),
                    "in_scope_false_abstain_rate_k10": banking["k10"]["abstained"]},
        "speed_1000_articles": timings(split, test),
        "fixture": fixture_metrics(),
        "targets": TARGETS,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    return 0


def print_summary(result: dict) -> None:
    for k, m in result["banking77"].items():
        print(f"BANKING77 {k:>3}: hit@1 {m['hit_at_1']:.3f}  hit@3 {m['hit_at_3']:.3f}  MRR {m['mrr']:.3f}  "
              f"abstained {m['abstained']:.3f}  ({m['queries']} queries)")
    print("as you type, hit@3 at K=10: " + "  ".join(f"{s} {v:.3f}" for s, v in result["as_you_type_hit_at_3_k10"].items()))
    a = result["abstain"]
    print(f"out of scope abstained {a['out_of_scope_abstain_rate']:.3f} of {a['out_of_scope_questions']}; "
          f"false abstain {a['in_scope_false_abstain_rate_k10']:.3f}")
    s = result["speed_1000_articles"]
    print(f"1,000 articles: query p50 {s['query_p50_ms']} ms, p99 {s['query_p99_ms']} ms; build {s['build_ms']} ms, "
          f"{s['json_bytes']:,} bytes of JSON, json.loads {s['json_loads_ms_median']} ms")
    for lang, m in result["fixture"].items():
        print(f"fixture {lang}: hit@1 {m['hit_at_1']:.3f}  hit@3 {m['hit_at_3']:.3f}  MRR {m['mrr']:.3f}  "
              f"({m['queries']} queries, {m['articles']} articles)")
    print(f"\nwritten to {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
