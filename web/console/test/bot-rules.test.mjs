// The bot editor's pure rules (js/bot/rules.js, js/bot/embed.js): the draft from a flow and the PUT body back
// from it (docs/bot.md's example flow comes back as it was written), references, renaming and removing a
// node, where the server's errors[].field go, the lookup's request and secret, and the preview's addresses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setLocale } from "../js/i18n.js";
import {
  draftFromFlow, errorTarget, flowBody, lookupRequest, newNode, nodeIdProblem, placeErrors, references, referencesTo,
  removeNode, renameErrors, renameNode, sentence, setAt, standardSecret, starterDraft, uniqueId, withFirstRow,
} from "../js/bot/rules.js";
import { previewAddress, previewParams, widgetTag } from "../js/bot/embed.js";

setLocale("en");   // the words in English, whatever this machine's language

const DOCS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../docs/bot.md");
/** The flow document docs/bot.md shows (its first ```json block). */
const documented = () => JSON.parse(/```json\n([\s\S]*?)\n```/.exec(readFileSync(DOCS, "utf8"))[1]);

const BRANCHES = {
  by_language: { kind: "branch", on: "locale", cases: [{ prefix: "fr", next: "menu" }], default: "welcome" },
  by_login: { kind: "branch", on: "identified", cases: [{ equals: true, next: "menu" }, { equals: false, next: "bye" }], default: "bye" },
  by_field: { kind: "branch", on: "field", field: "order_number", cases: [{ contains: "99", next: "to_support" }], default: "menu" },
};

test("docs/bot.md's flow, and branches of every kind, come back from the draft as they were written", () => {
  const flow = documented();
  assert.deepEqual(flowBody(draftFromFlow(flow)), flow);
  const more = Object.assign(documented(), { human_group: "support" });
  Object.assign(more.nodes, BRANCHES);
  more.nodes.faq.article_ids = ["a_1", "a_2"];
  more.nodes.welcome.delay_ms = 800;
  assert.deepEqual(flowBody(draftFromFlow(more)), more);
  assert.deepEqual(Object.keys(flowBody(draftFromFlow(more)).nodes), Object.keys(more.nodes));   // the order kept
});

test("flowBody: blanks left out for the server to name, numbers as numbers, other text as typed", () => {
  const draft = starterDraft();
  assert.deepEqual(flowBody(draft), { enabled: true, start: "welcome", nodes: { welcome: { kind: "message" } } });
  Object.assign(draft, { max_turns: " 8 ", human_group: " sales " });
  Object.assign(draft.nodes[0], { delay_ms: "0", next: " menu " });
  draft.nodes[0].text.fr = "Bonjour";   // French only: the server asks for the English
  assert.deepEqual(flowBody(draft), { enabled: true, start: "welcome", max_turns: 8, human_group: "sales",
    nodes: { welcome: { kind: "message", text: { fr: "Bonjour" }, next: "menu" } } });
  draft.max_turns = "eight";
  draft.nodes[0].delay_ms = "1.5";
  assert.equal(flowBody(draft).max_turns, "eight");
  assert.equal(flowBody(draft).nodes.welcome.delay_ms, "1.5");
  draft.nodes[0].end = true;   // an end has no next
  assert.deepEqual(flowBody(draft).nodes.welcome, { kind: "message", text: { fr: "Bonjour" }, delay_ms: "1.5", end: true });
  draft.start = "";
  assert.equal("start" in flowBody(draft), false);
});

test("a node keeps every kind's fields in the draft, and sends only its own kind's", () => {
  const node = newNode("options", "menu");
  node.text.en = "Pick one";
  node.options[0] = { id: "order", label: { en: "My order", fr: "" }, next: "ask" };
  node.next = "ignored";
  assert.deepEqual(flowBody({ enabled: false, start: "menu", max_turns: "", human_group: "", nodes: [node] }).nodes.menu,
    { kind: "options", text: { en: "Pick one" }, options: [{ id: "order", label: { en: "My order" }, next: "ask" }] });
  node.kind = "handoff";
  assert.deepEqual(flowBody({ enabled: true, start: "menu", nodes: [node] }).nodes.menu, { kind: "handoff", text: { en: "Pick one" } });
  node.kind = "lookup";
  Object.assign(node, { url: " https://shop.example/o ", lookup_fields: "order_number, email  zip", fallback: "" });
  assert.deepEqual(flowBody({ enabled: true, start: "menu", nodes: [node] }).nodes.menu,
    { kind: "lookup", url: "https://shop.example/o", fields: ["order_number", "email", "zip"], next: "ignored" });
  node.kind = "teleport";   // not a kind: sent as it is, for the server to refuse
  assert.deepEqual(flowBody({ enabled: true, start: "menu", nodes: [node] }).nodes.menu, { kind: "teleport" });
});

test("withFirstRow: a node turned into a kind that lists things gets its first row, once", () => {
  const node = newNode("message", "m");
  assert.deepEqual([node.options, node.fields, node.cases], [[], [], []]);
  node.kind = "options";
  assert.equal(withFirstRow(node).options.length, 1);
  assert.equal(withFirstRow(node).options.length, 1);
  node.kind = "ask";
  assert.deepEqual(withFirstRow(node).fields[0], { name: "", type: "text", required: true, pattern: "", label: { en: "", fr: "" }, retry: { en: "", fr: "" } });
  node.kind = "branch";
  assert.deepEqual(withFirstRow(node).cases, [{ test: "equals", value: "", next: "" }]);
  node.kind = "handoff";
  assert.deepEqual(withFirstRow(node), node);
});

test("draftFromFlow: whatever is not a flow's shape becomes empty, never an exception", () => {
  for (const junk of [null, 3, "flow", [], { nodes: [] }, { nodes: { a: null, b: "x", c: { kind: "options", options: "no" } } }]) {
    const draft = draftFromFlow(junk);
    assert.ok(Array.isArray(draft.nodes));
    flowBody(draft);
  }
  const odd = draftFromFlow({ enabled: "yes", max_turns: 7, start: 5, nodes: { a: { kind: "message", text: "Hi", next: 5 } } });
  assert.deepEqual([odd.enabled, odd.max_turns, odd.start, odd.nodes[0].text, odd.nodes[0].next], [true, "7", "5", { en: "Hi", fr: "" }, "5"]);
  assert.equal(draftFromFlow({ enabled: false }).enabled, false);
});

function sample() {
  return draftFromFlow(Object.assign(documented(), { nodes: Object.assign(documented().nodes, BRANCHES) }));
}

test("references: each node's, as its kind uses them, named as the server names them", () => {
  const refs = references(sample());
  assert.deepEqual(refs.filter((r) => r.node === "menu").map((r) => [r.key, r.target]),
    [["options[0].next", "order_number"], ["options[1].next", "faq"], ["options[2].next", "to_sales"]]);
  assert.deepEqual(refs.filter((r) => r.node === "order_status").map((r) => r.key), ["next", "fallback"]);
  assert.deepEqual(refs.filter((r) => r.node === "by_login").map((r) => r.key), ["cases[0].next", "cases[1].next", "default"]);
  assert.equal(refs.some((r) => r.node === "bye"), false);   // an end goes nowhere
  assert.deepEqual(referencesTo(sample(), "welcome").map((r) => [r.node, r.key]), [[null, "start"], ["by_language", "default"]]);
  assert.deepEqual(referencesTo(sample(), "to_support").map((r) => r.node), ["order_status", "faq", "by_field"]);
});

test("renameNode: the node, the start and every reference to it; the draft given is left alone", () => {
  const before = sample();
  const after = renameNode(before, "menu", "main_menu");
  assert.equal(after.nodes.find((n) => n.id === "main_menu").kind, "options");
  assert.equal(after.nodes.some((n) => n.id === "menu"), false);
  assert.deepEqual(referencesTo(after, "main_menu").map((r) => r.node), ["welcome", "order_status", "by_language", "by_login", "by_field"]);
  assert.deepEqual(referencesTo(after, "menu"), []);
  assert.equal(renameNode(before, "welcome", "hello").start, "hello");
  assert.ok(before.nodes.some((n) => n.id === "menu"));
  assert.deepEqual(flowBody(renameNode(renameNode(before, "menu", "x"), "x", "menu")), flowBody(before));
});

test("removeNode: the node goes, references to it stay for the server to name", () => {
  const after = removeNode(sample(), "to_sales");
  assert.equal(after.nodes.some((n) => n.id === "to_sales"), false);
  assert.equal(flowBody(after).nodes.menu.options[2].next, "to_sales");
  assert.equal(sample().nodes.length, after.nodes.length + 1);
});

test("node names: the schema's pattern, one name per node; new nodes get a free one", () => {
  const draft = sample();
  assert.equal(nodeIdProblem(draft, "main_menu", "menu"), "");
  assert.equal(nodeIdProblem(draft, "menu", "menu"), "");
  assert.equal(nodeIdProblem(draft, "faq", "menu"), "Another node is already named “faq”.");
  for (const bad of ["", "Menu", "main menu", "a".repeat(41), "é"]) assert.match(nodeIdProblem(draft, bad, "menu"), /^Node names are/);
  assert.equal(uniqueId(draft, "message"), "message_1");
  draft.nodes.push(newNode("message", "message_1"), newNode("message", "message_3"));
  assert.equal(uniqueId(draft, "message"), "message_2");
});

test("errorTarget: the field itself, a text's English, else the nearest field that holds it", () => {
  const known = new Set(["start", "nodes", "nodes.menu", "nodes.menu.text.en", "nodes.menu.options", "nodes.menu.options[1]",
    "nodes.menu.options[1].next", "nodes.menu.options[1].label.en"]);
  assert.equal(errorTarget("nodes.menu.options[1].next", known), "nodes.menu.options[1].next");
  assert.equal(errorTarget("nodes.menu.text", known), "nodes.menu.text.en");
  assert.equal(errorTarget("nodes.menu.options[1].label", known), "nodes.menu.options[1].label.en");
  assert.equal(errorTarget("nodes.menu.options[1].id", known), "nodes.menu.options[1]");
  assert.equal(errorTarget("nodes.menu.options[7].id", known), "nodes.menu.options");
  assert.equal(errorTarget("nodes.menu.text.de", known), "nodes.menu");
  assert.equal(errorTarget("nodes.Bad Id", known), "nodes");
  assert.equal(errorTarget("flow", known), null);
  assert.equal(errorTarget("", known), null);
  assert.equal(errorTarget(undefined, known), null);
  assert.equal(errorTarget("start", ["start"]), "start");   // a list will do too
});

test("placeErrors: messages by the field that shows them, as sentences; the rest for the summary", () => {
  const known = new Set(["start", "nodes.menu.options[0].next", "nodes.menu.text.en"]);
  const { placed, unplaced } = placeErrors([
    { field: "nodes.menu.options[0].next", message: "names no node ('menux')" },
    { field: "nodes.menu.text", message: "is required: {\"en\": \"…\", \"fr\": \"…\"}" },
    { field: "nodes.menu.options[0].next", message: "Twice." },
    { field: "flow", message: "must be a JSON object" },
  ], known);
  assert.deepEqual(Array.from(placed), [["nodes.menu.options[0].next", ["Names no node ('menux').", "Twice."]],
    ["nodes.menu.text.en", ["Is required: {\"en\": \"…\", \"fr\": \"…\"}."]]]);
  assert.deepEqual(unplaced, [{ field: "flow", message: "must be a JSON object" }]);
  assert.deepEqual(placeErrors(undefined, known), { placed: new Map(), unplaced: [] });
  assert.equal(sentence("at most 80 characters"), "At most 80 characters.");
  assert.equal(sentence(""), "");
});

test("renameErrors: a renamed node's problems follow it, the others stay", () => {
  const errors = [{ field: "nodes.menu.options[0].next", message: "a" }, { field: "nodes.menu", message: "b" },
    { field: "nodes.menu_2.text", message: "c" }, { field: "start", message: "d" }];
  assert.deepEqual(renameErrors(errors, "menu", "main").map((e) => e.field),
    ["nodes.main.options[0].next", "nodes.main", "nodes.menu_2.text", "start"]);
});

test("setAt: a control's data-path into the draft", () => {
  const draft = sample();
  assert.equal(setAt(draft, "nodes.1.options.2.label.fr", "Ventes"), true);
  assert.equal(draft.nodes[1].options[2].label.fr, "Ventes");
  assert.equal(setAt(draft, "enabled", false), true);
  assert.equal(draft.enabled, false);
  assert.equal(setAt(draft, "nodes.99.text.en", "x"), false);
});

test("the lookup's secret for Standard Webhooks libraries, and its request", () => {
  // chalicelib/webhooks/endpoints.py standard_secret: whsec_ + base64 of the key's bytes
  assert.equal(standardSecret("bot_abc-_09"), "whsec_" + Buffer.from("bot_abc-_09").toString("base64"));
  assert.equal(standardSecret(null), "");
  const request = lookupRequest(sample(), "shop");
  assert.match(request, /^POST https:\/\/shop\.example\.com\/parley\/orders\n/);
  assert.match(request, /\nwebhook-signature: v1,…\n/);
  assert.deepEqual(JSON.parse(request.slice(request.indexOf("\n{") + 1)),
    { site_key: "shop", conversation_id: "c_…", locale: "en", fields: { order_number: "…" } });
  assert.match(lookupRequest(starterDraft(), "shop"), /^POST https:\/\/shop\.example\/parley\/orders\n/);   // no lookup node yet
});

test("the preview page's address carries the ticket in its fragment, and the widget's tag", () => {
  const address = previewAddress("demo-bot", "tk.a+b/c=", "fr");
  assert.match(address, /^bot-preview\.html#/);
  assert.deepEqual(previewParams(address.slice(address.indexOf("#"))), { site: "demo-bot", ticket: "tk.a+b/c=", locale: "fr" });
  assert.equal(previewParams("#site=demo"), null);
  assert.equal(previewParams(""), null);
  assert.equal(previewParams("#site=a&ticket=b&locale=de").locale, "en");
  const page = "http://127.0.0.1:8000/console/bot-preview.html#site=a";
  const params = { site: "a", ticket: "t", locale: "en" };
  assert.deepEqual(widgetTag({ api: "", ws: "" }, page, params),
    { src: "http://127.0.0.1:8000/widget/widget.js", data: { siteKey: "a", preview: "t", locale: "en" } });
  assert.deepEqual(widgetTag({ api: "https://parley.example/", widget: "https://cdn.example/w.js" }, page, params),
    { src: "https://cdn.example/w.js", data: { siteKey: "a", preview: "t", locale: "en", api: "https://parley.example" } });
});
