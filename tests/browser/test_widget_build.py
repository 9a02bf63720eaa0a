"""The widget as shipped: `make widget` builds web/widget/widget.js and widget.css from the readable
web/widget/src/ (infra/widget.py, web/widget/build.mjs). The build is reproducible and is what the local
stack serves, the CSS means what its source means, and what a page downloads on load fits the budget."""
import gzip
import subprocess
import urllib.error
import urllib.request

import pytest

from infra import widget

pytestmark = pytest.mark.browser
BUDGET_BYTES = 10_000  # bench/widget_size.py: JS + CSS, gzip -9 per file, summed


@pytest.fixture(scope="module")
def built():
    widget.ensure_built()
    return {path.name: path.read_bytes() for path in widget.shipped_paths()}


def test_the_build_is_reproducible_and_is_what_is_shipped(built, tmp_path):
    for out in (tmp_path / "a", tmp_path / "b"):
        subprocess.run(["node", str(widget.WIDGET / "build.mjs"), str(out)], check=True, capture_output=True)
        assert {name: (out / name).read_bytes() for name in widget.SHIPPED} == built
    assert built["widget.js"].isascii() and built["widget-kb.js"].isascii()  # non-ASCII text stays \u escapes
    assert b"Parley" in built["widget.js"]  # window.Parley keeps its name
    # the article view carries the console's Markdown rule, as declarations (no module syntax left)
    assert b"ParleyKb" in built["widget-kb.js"] and b"import" not in built["widget-kb.js"]
    assert b"export" not in built["widget-kb.js"]


def test_what_a_page_downloads_on_load_fits_the_budget(built):
    total = sum(len(gzip.compress(built[name], compresslevel=9, mtime=0)) for name in widget.ON_LOAD)
    assert total <= BUDGET_BYTES, f"the shipped widget is {total:,} B gzipped, over {BUDGET_BYTES:,} B"


def test_the_local_stack_serves_the_build_and_not_its_source(stack, built):
    for name, data in built.items():
        with urllib.request.urlopen(f"{stack.http}/widget/{name}", timeout=10) as response:
            assert response.read() == data
            assert response.headers["Content-Type"].startswith(("application/javascript", "text/javascript", "text/css"))
    for path in ("src/widget.js", "src/kb.js", "build.mjs", "package.json", "node_modules/terser/package.json"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{stack.http}/widget/{path}", timeout=10)
        assert refused.value.code == 404, path


def test_the_minified_css_means_what_its_source_means(browser, built):
    """Chromium parses both to the same rules (its serialisation of each rule, in order)."""
    page = browser.new_page()
    try:
        rules = page.evaluate("""(sheets) => sheets.map((css) => {
            const sheet = new CSSStyleSheet();
            sheet.replaceSync(css);
            return [...sheet.cssRules].map((rule) => rule.cssText);
        })""", [(widget.SOURCE / "widget.css").read_text(), built["widget.css"].decode()])
    finally:
        page.close()
    assert len(rules[0]) > 40 and rules[0] == rules[1]
