import { test } from "node:test";
import assert from "node:assert/strict";
import { markdownInline, markdownText, markdownTree } from "../js/markdown.js";

const p = (...children) => ({ tag: "p", children });

test("paragraphs split on blank lines; lines of one paragraph join with a space", () => {
  assert.deepEqual(markdownTree("One\ntwo\n\nThree"), [p("One two"), p("Three")]);
  assert.deepEqual(markdownTree(""), []);
  assert.deepEqual(markdownTree("  \n\n "), []);
});

test("bold, italic and inline code, nested where it makes sense", () => {
  assert.deepEqual(markdownInline("a **b _c_** d"), ["a ", { tag: "strong", children: ["b ", { tag: "em", children: ["c"] }] }, " d"]);
  assert.deepEqual(markdownInline("_x_ and __y__"), [{ tag: "em", children: ["x"] }, " and ", { tag: "strong", children: ["y"] }]);
  assert.deepEqual(markdownInline("run `**not bold**` now"), ["run ", { tag: "code", children: ["**not bold**"] }, " now"]);
  assert.deepEqual(markdownInline("snake_case_name stays"), ["snake_case_name stays"]);
  assert.deepEqual(markdownInline("2 * 3 * 4"), ["2 * 3 * 4"]);
});

test("links: http(s) only, anything else stays text; bare URLs become links", () => {
  assert.deepEqual(markdownInline("[Returns](https://shop.example/returns)"),
    [{ tag: "a", href: "https://shop.example/returns", children: ["Returns"] }]);
  assert.deepEqual(markdownInline("[click](javascript:alert(1))"), ["[click](javascript:alert(1))"]);
  assert.deepEqual(markdownInline("[x](data:text/html,hi)"), ["[x](data:text/html,hi)"]);
  assert.deepEqual(markdownInline("see https://a.example/x."),
    ["see ", { tag: "a", href: "https://a.example/x", children: ["https://a.example/x"] }, "."]);
});

test("HTML is text: tags come out as the characters they are", () => {
  assert.deepEqual(markdownTree("<img src=x onerror=alert(1)> <b>hi</b>"), [p("<img src=x onerror=alert(1)> <b>hi</b>")]);
});

test("lists: bullets and numbers, an indented line continues the item", () => {
  assert.deepEqual(markdownTree("Steps:\n1. Pack it\n2. Print the label\n   from your account\n\n- a\n* b"), [
    p("Steps:"),
    { tag: "ol", children: [{ tag: "li", children: ["Pack it"] }, { tag: "li", children: ["Print the label from your account"] }] },
    { tag: "ul", children: [{ tag: "li", children: ["a"] }, { tag: "li", children: ["b"] }] },
  ]);
});

test("markdownText: the words without the marks", () => {
  assert.equal(markdownText("**Free** returns within *30 days*.\n\n- keep the `box`\n- [label](https://a.example)"),
    "Free returns within 30 days.\n\n- keep the box\n- label");
});
