"""What the browser downloads for the chat widget (and the agent console), gzipped at level 9.

Run from the repository root:  .venv/bin/python bench/widget_size.py

The widget has a budget: its JavaScript and CSS together at most 10 KB gzipped. The budget is read
strictly, as 10,000 bytes (10,240 would also be a fair reading of "KB"; passing the stricter one
passes both). Each file is compressed on its own, as a server or CDN sends it (Content-Encoding:
gzip, level 9, no file name, mtime 0), and the total is the sum of the files. The console (built by
someone else, web/console/) is measured the same way, every file under it, for information only;
it may be absent or half-built.

Writes bench/results/widget_size.json and prints a table. Exits 1 when the widget is over budget.
"""
import gzip
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDGET = ROOT / "web" / "widget"
CONSOLE = ROOT / "web" / "console"
RESULT = ROOT / "bench" / "results" / "widget_size.json"
BUDGET_BYTES = 10_000


def measure(path: Path) -> dict:
    data = path.read_bytes()
    return {"path": path.relative_to(ROOT).as_posix(), "raw_bytes": len(data),
            "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0))}


def group(files: list[Path]) -> dict:
    measured = [measure(f) for f in sorted(files)]
    return {"files": measured,
            "total": {"raw_bytes": sum(f["raw_bytes"] for f in measured),
                      "gzip_bytes": sum(f["gzip_bytes"] for f in measured)}}


def main() -> int:
    widget_files = [p for p in WIDGET.glob("*") if p.is_file() and p.suffix in (".js", ".css")] if WIDGET.is_dir() else []
    console_files = [p for p in CONSOLE.rglob("*") if p.is_file()] if CONSOLE.is_dir() else []
    widget, console = group(widget_files), group(console_files)
    total = widget["total"]["gzip_bytes"]
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": "gzip level 9 per file (Python gzip.compress, mtime 0); totals are sums of the files",
        "widget": {**widget, "budget": {"gzip_bytes": BUDGET_BYTES, "met": bool(widget_files) and total <= BUDGET_BYTES,
                                        "headroom_bytes": BUDGET_BYTES - total,
                                        "note": "JS + CSS together at most 10 KB gzipped, read as 10,000 bytes"}},
        "console": {"present": bool(console_files), **console},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")

    rows = [(f["path"], f["raw_bytes"], f["gzip_bytes"]) for f in widget["files"]]
    rows.append(("widget total (JS + CSS)", widget["total"]["raw_bytes"], total))
    rows += [(f["path"], f["raw_bytes"], f["gzip_bytes"]) for f in console["files"]]
    if console_files:
        rows.append(("console total", console["total"]["raw_bytes"], console["total"]["gzip_bytes"]))
    width = max(len(r[0]) for r in rows)
    print(f"{'file':<{width}}  {'raw bytes':>10}  {'gzip -9':>8}")
    for name, raw, gz in rows:
        print(f"{name:<{width}}  {raw:>10,}  {gz:>8,}")
    if not console_files:
        print("(web/console/ has no files yet)")
    budget = result["widget"]["budget"]
    verdict = "met" if budget["met"] else "NOT met"
    print(f"\nwidget budget {BUDGET_BYTES:,} B gzipped: {verdict} ({total:,} B, headroom {budget['headroom_bytes']:,} B)")
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0 if budget["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
