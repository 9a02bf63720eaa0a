"""The chat widget as pages download it.

web/widget/src/ holds the readable source (widget.js, widget.css, and kb.js: the article view a page loads
only when its visitor opens an article), the files people edit. `make widget`
builds what is shipped from it: web/widget/build.mjs (terser, its version pinned in
web/widget/package-lock.json; `npm ci` first when node_modules is missing or older than the lock) writes
the minified web/widget/widget.js, widget.css and widget-kb.js, which git ignores. Pages keep loading
/widget/widget.js, which fetches widget.css beside it.

The local stack serves those two files (and builds them first when they are older than their source),
infra/deploy.py builds them and uploads them, and bench/widget_size.py measures them.
"""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDGET = ROOT / "web" / "widget"
SOURCE = WIDGET / "src"
ON_LOAD = ("widget.js", "widget.css")  # what a page downloads on load, beside each other
SHIPPED = (*ON_LOAD, "widget-kb.js")  # and the article view, loaded when a visitor opens an article
SOURCES = ("widget.js", "widget.css", "kb.js")  # in src/
BUILT_FROM = (*(SOURCE / name for name in SOURCES), WIDGET / "build.mjs", WIDGET / "package.json",
              WIDGET / "package-lock.json",
              ROOT / "web" / "console" / "js" / "links.js",  # the link rule the console shares
              ROOT / "web" / "console" / "js" / "markdown.js")  # and its Markdown subset (the article view)


class BuildError(RuntimeError):
    pass


def shipped_paths() -> list[Path]:
    return [WIDGET / name for name in SHIPPED]


def on_load_paths() -> list[Path]:
    """What a page downloads when it loads the widget (its 10 KB budget, bench/widget_size.py)."""
    return [WIDGET / name for name in ON_LOAD]


def stale() -> bool:
    """A shipped file is missing, or older than something it is built from."""
    newest = max(path.stat().st_mtime for path in BUILT_FROM)
    return any(not path.exists() or path.stat().st_mtime < newest for path in shipped_paths())


def build() -> str:
    """`make widget` (make decides what is out of date); returns what it printed, raises BuildError."""
    try:
        result = subprocess.run(["make", "--no-print-directory", "widget"], cwd=ROOT, capture_output=True,
                                text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"`make widget` could not run: {exc}") from exc
    if result.returncode != 0:
        raise BuildError(f"`make widget` failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def ensure_built() -> bool:
    """Build when stale; True if it built."""
    if not stale():
        return False
    build()
    return True
