import { test } from "node:test";
import assert from "node:assert/strict";
import { articleBody, cleanQuestions, helpfulPercent, insertAt, linkText, listPath, sitesText, statsText, summaryText }
  from "../js/kb/rules.js";
import { setLocale } from "../js/i18n.js";

setLocale("en");   // the words in English (i18n.test.mjs has them in French), whatever this machine's language

test("listPath: only the filters given, the words trimmed, the cursor last", () => {
  assert.equal(listPath({}, null), "/v1/articles?limit=50");
  assert.equal(listPath({ status: "draft", locale: "fr", q: "  retour colis " }, "a_" + "0".repeat(32), 20),
    "/v1/articles?status=draft&locale=fr&q=retour+colis&limit=20&cursor=a_" + "0".repeat(32));
  assert.equal(listPath({ status: "", locale: "", q: "a&b=c" }), "/v1/articles?q=a%26b%3Dc&limit=50");
});

test("cleanQuestions: trimmed, no blanks, no repeats, order kept", () => {
  assert.deepEqual(cleanQuestions([" Where is my parcel? ", "", "  ", "Refund?", "Where is my parcel?"]),
    ["Where is my parcel?", "Refund?"]);
  assert.deepEqual(cleanQuestions(undefined), []);
});

test("articleBody: the whole article; all sites and an empty url are left out", () => {
  const values = { title: "  Returns ", body: "**Free** returns", locale: "en", questions: ["a", " a ", ""], url: " ", site_keys: null };
  assert.deepEqual(articleBody(values, "draft"),
    { title: "Returns", body: "**Free** returns", locale: "en", questions: ["a"], status: "draft" });
  assert.deepEqual(articleBody(Object.assign({}, values, { url: " https://shop.example/r ", site_keys: ["shop", "demo", "shop"] }), "published"),
    { title: "Returns", body: "**Free** returns", locale: "en", questions: ["a"], status: "published",
      url: "https://shop.example/r", site_keys: ["demo", "shop"] });
  assert.deepEqual(articleBody(Object.assign({}, values, { site_keys: [] }), "draft").site_keys, []);
});

test("helpful percent and the stats line", () => {
  assert.equal(helpfulPercent({ helpful: 0, not_helpful: 0 }), null);
  assert.equal(helpfulPercent({ helpful: 2, not_helpful: 1 }), 67);
  assert.equal(helpfulPercent(undefined), null);
  assert.equal(statsText({ shown: 12, opened: 4, helpful: 3, not_helpful: 1 }), "12 shown · 4 opened · 75% helpful (4 answers)");
  assert.equal(statsText({ shown: 1, opened: 1, helpful: 1, not_helpful: 0 }), "1 shown · 1 opened · 100% helpful (1 answer)");
  assert.equal(statsText(null), "0 shown · 0 opened · — helpful");
});

test("sitesText: absent means every site", () => {
  assert.equal(sitesText(null), "All sites");
  assert.equal(sitesText(undefined), "All sites");
  assert.equal(sitesText([]), "No site");
  assert.equal(sitesText(["demo", "shop"]), "demo, shop");
});

test("link and summary texts", () => {
  const withUrl = { title: "Returns", snippet: "Free within 30 days…", url: "https://shop.example/returns" };
  assert.equal(linkText(withUrl), "https://shop.example/returns");
  assert.equal(linkText({ title: "Returns", snippet: "x" }), "Returns");
  assert.equal(summaryText(withUrl), "Returns\nFree within 30 days…\nhttps://shop.example/returns");
  assert.equal(summaryText({ title: "Returns", snippet: "" }), "Returns");
  assert.equal(linkText(null), "");
});

test("insertAt: at the cursor, in place of a selection, spaced from the words around it", () => {
  assert.deepEqual(insertAt("", 0, 0, "X"), { value: "X", caret: 1 });
  assert.deepEqual(insertAt("See", 3, 3, "X"), { value: "See X", caret: 5 });
  assert.deepEqual(insertAt("See here", 3, 3, "X"), { value: "See X here", caret: 5 });
  assert.deepEqual(insertAt("See  here", 4, 4, "X"), { value: "See X here", caret: 5 });
  assert.deepEqual(insertAt("See THAT here", 4, 8, "X"), { value: "See X here", caret: 5 });
  assert.deepEqual(insertAt("abc", undefined, undefined, "X"), { value: "abc X", caret: 5 });
  assert.deepEqual(insertAt("abc", 99, 1, "X"), { value: "abc X", caret: 5 });
});
