import { test } from "node:test";
import assert from "node:assert/strict";
import { linkParts, safeHttpUrl } from "../js/links.js";
import { hue, initials } from "../js/text.js";

const link = (href, label = href) => ({ href: href, label: label });

test("linkParts: plain text stays one run, an empty text none", () => {
  assert.deepEqual(linkParts("no links here"), ["no links here"]);
  assert.deepEqual(linkParts(""), []);
  assert.deepEqual(linkParts(42), ["42"]);
});

test("linkParts: links between runs, trailing punctuation left to the sentence", () => {
  assert.deepEqual(linkParts("see https://shop.example/a?b=1. Thanks"),
    ["see ", link("https://shop.example/a?b=1"), ". Thanks"]);
  assert.deepEqual(linkParts("(http://a.example/x), https://b.example!"),
    ["(", link("http://a.example/x"), "), ", link("https://b.example/", "https://b.example"), "!"]);
  assert.deepEqual(linkParts("https://a.example/one https://a.example/two"),
    [link("https://a.example/one"), " ", link("https://a.example/two")]);
});

test("linkParts: the href is the parsed URL, the label what was written", () => {
  assert.deepEqual(linkParts("HTTPS://Shop.Example/Path"), [link("https://shop.example/Path", "HTTPS://Shop.Example/Path")]);
});

test("linkParts: only http(s), and a link ends at quotes and angle brackets", () => {
  assert.deepEqual(linkParts("javascript:alert(1) data:text/html,x"), ["javascript:alert(1) data:text/html,x"]);
  assert.deepEqual(linkParts('<a href="https://x.example/p">'), ['<a href="', link("https://x.example/p"), '">']);
  assert.deepEqual(linkParts("https://"), ["https://"]);   // not a URL: stays text
});

test("safeHttpUrl keeps http and https only", () => {
  assert.equal(safeHttpUrl("https://a.example/x"), "https://a.example/x");
  assert.equal(safeHttpUrl("http://a.example"), "http://a.example/");
  for (const bad of ["javascript:alert(1)", "ftp://a.example", "not a url", "", null, 7]) assert.equal(safeHttpUrl(bad), null);
});

test("initials: first and last words that start with a letter", () => {
  assert.equal(initials("Ada Lovelace"), "AL");
  assert.equal(initials("ada king lovelace"), "AL");
  assert.equal(initials("Émile"), "É");
  assert.equal(initials("2 Bob"), "B");
  assert.equal(initials("  "), "?");
  assert.equal(initials(null), "?");
});

test("hue is a stable angle", () => {
  assert.equal(hue("a_1"), hue("a_1"));
  assert.notEqual(hue("a_1"), hue("a_2"));
  for (const seed of ["", "x", "agent_42", "Ada Lovelace", "😀"]) assert.ok(hue(seed) >= 0 && hue(seed) < 360);
  assert.equal(hue(""), 0);
});
