"""What the browser downloads for the chat widget (and the agent console), gzipped at level 9.

Run from the repository root:  .venv/bin/python bench/widget_size.py   (also part of `make bench`)

The widget has a budget: what a page downloads on load, its JavaScript and CSS together, at most 10 KB
gzipped. The budget is read strictly, as 10,000 bytes (10,240 would also be a fair reading of "KB";
passing the stricter one passes both). What is measured is what is shipped: the minified
web/widget/widget.js and widget.css that `make widget` builds from the readable web/widget/src/; the article
view it loads when a visitor opens an article (widget-kb.js) is measured apart, outside the budget
(infra/widget.py; this script builds them first when they are older than their source). The readable
source is measured too, for information only. The headroom (the budget less the shipped total) is
what the widget's next features may spend, in bytes and as a share of the budget.

Each file is compressed on its own, as a server or CDN sends it (Content-Encoding: gzip, level 9, no
file name, mtime 0), and a total is the sum of its files. The console (web/console/, built by someone
else) is measured the same way, for information: the files its page loads, index.html, config.js,
console.css and the ES modules js/**/*.js (not its Node specs in test/ nor its package.json).

Writes bench/results/widget_size.json and prints a table. Exits 1 when the widget is over budget.
"""
import gzip
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import widget

CONSOLE = ROOT / "web" / "console"
RESULT = ROOT / "bench" / "results" / "widget_size.json"
BUDGET_BYTES = 10_000


def measure(path: Path) -> dict:
    data = path.read_bytes()
    return {"path": path.relative_to(ROOT).as_posix(), "raw_bytes": len(data),
            "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0))}


def group(files: list[Path]) -> dict:
    measured = [measure(f) for f in files]
    return {"files": measured,
            "total": {"raw_bytes": sum(f["raw_bytes"] for f in measured),
                      "gzip_bytes": sum(f["gzip_bytes"] for f in measured)}}


def console_files() -> list[Path]:
    """What the console's page loads: its HTML, config.js, its stylesheet and its modules."""
    if not CONSOLE.is_dir():
        return []
    named = [CONSOLE / name for name in ("index.html", "config.js", "console.css")]
    return [p for p in named if p.is_file()] + sorted((CONSOLE / "js").rglob("*.js"))


def main() -> int:
    if widget.ensure_built():
        print("built the widget (make widget)")
    shipped = group(widget.on_load_paths())
    on_demand = group([path for path in widget.shipped_paths() if path not in widget.on_load_paths()])
    source = group([widget.SOURCE / name for name in widget.SOURCES])
    console = group(console_files())
    total = shipped["total"]["gzip_bytes"]
    headroom = BUDGET_BYTES - total
    budget = {"gzip_bytes": BUDGET_BYTES, "met": total <= BUDGET_BYTES, "headroom_bytes": headroom,
              "headroom_share": round(headroom / BUDGET_BYTES, 4),
              "note": "what a page downloads on load, the shipped (minified) JS + CSS together, at most "
                      "10 KB gzipped, read as 10,000 bytes"}
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": "gzip level 9 per file (Python gzip.compress, mtime 0); totals are sums of the files",
        "widget": {**shipped, "budget": budget,
                   "built_by": "make widget: web/widget/build.mjs, terser (web/widget/package-lock.json)",
                   "on_demand": {**on_demand, "note": "the article view (widget-kb.js), downloaded only when a "
                                                       "visitor opens a suggested article: not in the budget"},
                   "source": {**source, "note": "the readable source (web/widget/src/), never downloaded; "
                                                "for information"}},
        "console": {"present": bool(console["files"]), **console,
                    "note": "index.html, config.js, console.css and js/**/*.js: what its page loads"},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")

    rows = [(f["path"], f["raw_bytes"], f["gzip_bytes"]) for f in shipped["files"]]
    rows.append(("widget as shipped (JS + CSS)", shipped["total"]["raw_bytes"], total))
    rows += [(f["path"] + " (on demand)", f["raw_bytes"], f["gzip_bytes"]) for f in on_demand["files"]]
    rows += [(f["path"], f["raw_bytes"], f["gzip_bytes"]) for f in source["files"]]
    rows.append(("widget source (information)", source["total"]["raw_bytes"], source["total"]["gzip_bytes"]))
    if console["files"]:  # one row: its modules one by one would drown the table (the JSON has them)
        rows.append((f"console: index.html, config.js, console.css, js/**/*.js ({len(console['files'])} files)",
                     console["total"]["raw_bytes"], console["total"]["gzip_bytes"]))
    width = max(len(r[0]) for r in rows)
    print(f"{'file':<{width}}  {'raw bytes':>10}  {'gzip -9':>8}")
    for name, raw, gz in rows:
        print(f"{name:<{width}}  {raw:>10,}  {gz:>8,}")
    if not console["files"]:
        print("(web/console/ has no files yet)")
    verdict = "met" if budget["met"] else "NOT met"
    print(f"\nwidget budget {BUDGET_BYTES:,} B gzipped, on load: {verdict} ({total:,} B shipped, "
          f"headroom {headroom:,} B = {headroom / BUDGET_BYTES:.1%} of the budget)")
    print(f"wrote {RESULT.relative_to(ROOT)} (every file there)")
    return 0 if budget["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
