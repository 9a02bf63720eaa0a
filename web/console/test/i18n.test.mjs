// The console's French (js/i18n.js and the pages' texts.js): t, tn and translate, and that nothing the
// translated parts show lacks an entry: every text and placeholder/title/aria-label of index.html's #kb
// and #bot sections, its suggestions section and the top bar's links to those pages, and every literal passed to t()
// or tn() in web/console/js; no entry is left unused, and the French follows French typography.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { agoWords, catalogue, frenchFor, locale, localeOf, register, setLocale, t, tn, translate } from "../js/i18n.js";
import { localeLabel, percentText, sitesText, statsText, statusLabel } from "../js/kb/rules.js";

const CONSOLE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const JS = join(CONSOLE, "js");

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".js") ? [join(dir, entry.name)] : []);
}
const modules = walk(JS).sort();
// Every page's catalogue, as the console loads them (each texts.js registers its entries).
for (const file of modules.filter((f) => f.endsWith("/texts.js"))) await import(pathToFileURL(file).href);

// The specs run in English (whatever this machine's language, which Node 21+ gives as navigator.language)
// unless inLocale() says otherwise.
setLocale("en");

/** Run `fn` with the console in `lang`, then back in English. */
function inLocale(lang, fn) {
  setLocale(lang);
  try {
    return fn();
  } finally {
    setLocale("en");
  }
}

// --- a small DOM, enough for translate(): text nodes, and elements with attributes and children ----------

class Text {
  constructor(value) { this.nodeType = 3; this.nodeValue = value; }
}

class Element {
  constructor(tag, attributes) {
    this.nodeType = 1;
    this.tagName = tag.toUpperCase();
    this.attributes = new Map(Object.entries(attributes || {}));
    this.childNodes = [];
  }
  getAttribute(name) { return this.attributes.has(name) ? this.attributes.get(name) : null; }
  setAttribute(name, value) { this.attributes.set(name, String(value)); }
  append(...nodes) { this.childNodes.push(...nodes); return this; }
}

const VOID = new Set(["input", "br", "img", "hr", "meta", "link", "source", "wbr"]);
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", nbsp: "\u00a0" })[e]);

/** index.html's element that starts at `<tag id="id"`, as a tree of Element and Text (comments dropped). */
function htmlElement(html, tag, id) {
  const start = html.indexOf("<" + tag + ' id="' + id + '"');
  assert.ok(start >= 0, "index.html has no <" + tag + ' id="' + id + '">');
  const stack = [];
  let root = null;
  const token = /<!--[\s\S]*?-->|<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>|([^<]+)/g;
  token.lastIndex = start;
  for (let m; (m = token.exec(html));) {
    const [whole, closing, name, attrs, text] = m;
    const parent = stack[stack.length - 1];
    if (whole.startsWith("<!--")) continue;
    if (text !== undefined) { parent.append(new Text(decode(text))); continue; }
    const lower = name.toLowerCase();
    if (closing) {
      assert.equal(stack.pop().tagName, lower.toUpperCase(), "index.html: </" + lower + "> closes another element");
      if (!stack.length) return root;
      continue;
    }
    const attributes = {};
    for (const [, key, value] of attrs.matchAll(/([^\s=>]+)(?:="([^"]*)")?/g)) attributes[key] = decode(value || "");
    const node = new Element(lower, attributes);
    if (parent) parent.append(node); else root = node;
    if (!VOID.has(lower)) stack.push(node);
  }
  assert.fail("index.html: <" + tag + ' id="' + id + '"> is never closed');
}

const ATTRIBUTES = ["placeholder", "title", "aria-label"];
const key = (s) => s.replace(/\s+/g, " ").trim();

/** How many texts the element has, counted the crude way (its source up to the first closing tag like its
 * own, split on tags): a check that htmlElement() read all of it. */
function naiveCount(tag, id) {
  const start = HTML.indexOf("<" + tag + ' id="' + id + '"');
  const part = HTML.slice(start, HTML.indexOf("</" + tag + ">", start)).replace(/<!--[\s\S]*?-->/g, "");
  const textCount = part.split(/<[^>]*>/).filter((s) => key(s)).length;
  return textCount + Array.from(part.matchAll(/\s(?:placeholder|title|aria-label)="([^"]*)"/g)).filter((m) => key(m[1])).length;
}

/** Every text a person reads or hears in the tree: {what: "text" or the attribute, english, read(): its text now}. */
function texts(node, out = []) {
  if (node.nodeType === 3) {
    if (key(node.nodeValue)) out.push({ what: "text", english: key(node.nodeValue), read: () => key(node.nodeValue) });
    return out;
  }
  for (const name of ATTRIBUTES) {
    const value = node.getAttribute(name);
    if (value !== null && key(value)) out.push({ what: name, english: key(value), read: () => key(node.getAttribute(name)) });
  }
  for (const child of node.childNodes) texts(child, out);
  return out;
}

const HTML = readFileSync(join(CONSOLE, "index.html"), "utf8");
const TRANSLATED = [["a", "kb-open"], ["main", "kb"], ["section", "suggest"], ["a", "bot-open"], ["main", "bot"]];   // main.js translatePage()
// Texts of those parts that need no entry, and why.
const SAME_IN_FRENCH = new Map([
  ["Français", "a language's own name, as the language menus write it in either language"],
  ["6", "the bot's max_turns when none is given: a number"],
]);

// --- t, tn, the locale ------------------------------------------------------------------------------------

test("the locale is French for any French browser language, else English", () => {
  for (const lang of ["fr", "fr-FR", "fr-CA", "FR-be"]) assert.equal(localeOf(lang), "fr", lang);
  for (const lang of ["en-US", "de-DE", "", undefined, "fry", "frisian"]) assert.equal(localeOf(lang), "en", String(lang));
  assert.equal(inLocale(null, locale), localeOf(globalThis.navigator && globalThis.navigator.language));   // none in Node 20: "en"
  assert.equal(inLocale("fr-CH", locale), "fr");
  assert.equal(locale(), "en");
});

test("t: English as written, French from the catalogue, placeholders filled in either", () => {
  assert.equal(t("Load more"), "Load more");
  assert.equal(t("Not saved: {error}", { error: "Title must not be empty." }), "Not saved: Title must not be empty.");
  inLocale("fr", () => {
    assert.equal(t("Load more"), "Afficher la suite");
    assert.equal(t("Not saved: {error}", { error: "Title must not be empty." }), "Non enregistré\u00a0: Title must not be empty.");
    assert.equal(t("Delete “{title}”?", { title: "Retours {n} $& gratuits" }), "Supprimer «\u00a0Retours {n} $& gratuits\u00a0»\u202f?");
    assert.equal(t("A text nobody translated, {who}", { who: "Ada" }), "A text nobody translated, Ada");   // English is the fallback
    assert.equal(t("Published at {time}.", {}), "Publié à {time}.");   // a placeholder without a value stays
  });
});

test("tn: English has one and many; French takes the singular for 0 and 1", () => {
  assert.deepEqual([0, 1, 2].map((n) => tn(n, "{n} answer", "{n} answers")), ["0 answers", "1 answer", "2 answers"]);
  inLocale("fr", () => {
    assert.deepEqual([0, 1, 2, 15].map((n) => tn(n, "{n} answer", "{n} answers")), ["0 réponse", "1 réponse", "2 réponses", "15 réponses"]);
    assert.deepEqual([1, 3].map((n) => tn(n, "{n} thing", "{n} things")), ["1 thing", "3 things"]);   // no entry: English
  });
});

test("register: a second, different French for the same English is refused", () => {
  register({ "A text only this spec uses": "Un texte que seule cette spécification utilise" });
  register({ "A text only this spec uses": "Un texte que seule cette spécification utilise" });   // the same again is fine
  assert.throws(() => register({ "A text only this spec uses": "Autre chose" }), /two French entries/);
});

test("the knowledge base's words in French: statuses, languages, sites, stats, the helpful share", () => {
  assert.equal(statusLabel("draft"), "Draft");
  inLocale("fr", () => {
    assert.deepEqual(["draft", "published", "archived"].map(statusLabel), ["Brouillon", "Publié", "archived"]);
    assert.deepEqual(["en", "fr", "de"].map(localeLabel), ["Anglais", "Français", "de"]);
    assert.deepEqual([null, [], ["demo", "shop"]].map(sitesText), ["Tous les sites", "Aucun site", "demo, shop"]);
    assert.equal(statsText({ shown: 12, opened: 4, helpful: 3, not_helpful: 1 }),
      "12 affichages · 4 ouvertures · utile à 75\u202f% (4 réponses)");
    assert.equal(statsText({ shown: 1, opened: 0, helpful: 1, not_helpful: 0 }),
      "1 affichage · 0 ouverture · utile à 100\u202f% (1 réponse)");
    assert.equal(statsText(null), "0 affichage · 0 ouverture · utile\u00a0: —");
    assert.equal(percentText({ helpful: 2, not_helpful: 1 }), "67\u202f%");
    assert.equal(percentText({}), "—");
  });
  assert.equal(percentText({ helpful: 2, not_helpful: 1 }), "67%");
});

test("agoWords: the relative times in the console's language", () => {
  const before = (seconds) => new Date(Date.now() - seconds * 1000).toISOString();
  assert.deepEqual([10, 300, 7200, 172800].map((s) => agoWords(before(s))), ["just now", "5m ago", "2h ago", "2d ago"]);
  inLocale("fr", () => {
    assert.deepEqual([10, 300, 7200, 172800].map((s) => agoWords(before(s))), ["à l’instant", "il y a 5 min", "il y a 2 h", "il y a 2 j"]);
  });
});

// --- translate --------------------------------------------------------------------------------------------

test("translate: text nodes and the three attributes, whitespace kept, translate=no left alone, lang set", () => {
  const build = () => new Element("section").append(
    new Element("h3").append(new Text("\n  Suggested   articles\n")),
    new Element("input", { placeholder: "Words of the title", title: "Not in any catalogue", value: "Load more" }),
    new Element("button", { "aria-label": "Filter the articles" }).append(new Text("Load more")),
    new Element("label").append(new Element("input", { type: "radio" }), new Text(" Every site of the workspace")),
    new Element("p", { translate: "no" }).append(new Text("Load more")));
  const english = build();
  translate(english);
  assert.equal(english.getAttribute("lang"), null);   // in English nothing changes
  assert.equal(english.childNodes[2].childNodes[0].nodeValue, "Load more");

  const french = build();
  inLocale("fr", () => translate(french));
  const [h3, input, button, label, untouched] = french.childNodes;
  assert.equal(french.getAttribute("lang"), "fr");
  assert.equal(h3.childNodes[0].nodeValue, "\n  Articles suggérés\n");
  assert.equal(input.getAttribute("placeholder"), "Mots du titre");
  assert.equal(input.getAttribute("title"), "Not in any catalogue");
  assert.equal(input.getAttribute("value"), "Load more");   // not a text anyone reads as a label
  assert.equal(button.getAttribute("aria-label"), "Filtrer les articles");
  assert.equal(button.childNodes[0].nodeValue, "Afficher la suite");
  assert.equal(label.childNodes[1].nodeValue, " Tous les sites de l’espace de travail");
  assert.equal(untouched.childNodes[0].nodeValue, "Load more");
});

test("index.html: every text of the KB page, the suggestions and the KB link has French, and translate() puts it there", () => {
  for (const [tag, id] of TRANSLATED) {
    const root = htmlElement(HTML, tag, id);
    const found = texts(root);
    assert.equal(found.length, naiveCount(tag, id), "#" + id + ": the parser and a plain split on tags disagree");
    const missing = found.filter((x) => !SAME_IN_FRENCH.has(x.english) && typeof frenchFor(x.english) !== "string");
    assert.deepEqual(missing.map((x) => x.what + ": " + x.english), [], "#" + id + " has texts without a French entry");
    inLocale("fr", () => translate(root));
    assert.equal(root.getAttribute("lang"), "fr");
    for (const x of found) assert.equal(x.read(), SAME_IN_FRENCH.has(x.english) ? x.english : key(frenchFor(x.english)), x.english);
  }
});

// --- t() and tn() at their call sites ---------------------------------------------------------------------

/** The double-quoted string literal at `source[i]` (JSON's escapes are JavaScript's, for these): [text, end]. */
function literalAt(source, i) {
  const m = /^"(?:[^"\\\n]|\\.)*"/.exec(source.slice(i));
  return m ? [JSON.parse(m[0]), i + m[0].length] : [null, i];
}

/** Every t("…") and tn(count, "…", "…") in the modules: {file, call, english, plural}; a call whose text is not a
 * literal is reported too (english null), since no spec could check what it shows. Comments are left out. */
function calls() {
  const out = [];
  for (const file of modules) {
    const source = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
      .replace(/^\s*\/\/.*$/gm, "");
    const name = relative(JS, file);
    for (const m of source.matchAll(/(?<![\w$.])(tn?)\(/g)) {
      if (/function\s+$/.test(source.slice(Math.max(0, m.index - 9), m.index))) continue;
      let i = m.index + m[0].length;
      if (m[1] === "t") {
        out.push({ file: name, call: "t", english: literalAt(source, i)[0] });
        continue;
      }
      for (let depth = 0; i < source.length && !(depth === 0 && source[i] === ","); i++) depth += "([{".includes(source[i]) ? 1 : ")]}".includes(source[i]) ? -1 : 0;
      const [one, end] = literalAt(source, source.slice(i + 1).search(/\S/) + i + 1);
      const rest = source.slice(end);
      const other = /^\s*,\s*/.exec(rest) ? literalAt(source, end + /^\s*,\s*/.exec(rest)[0].length)[0] : null;
      out.push({ file: name, call: "tn", english: one, plural: other });
    }
  }
  return out;
}

test("every t() and tn() in web/console/js passes literal English with a French entry", () => {
  const found = calls();
  assert.ok(found.filter((c) => c.file.startsWith("kb/")).length >= 40, "the kb modules' calls were not found");
  assert.ok(found.some((c) => c.file === "thread/suggestions.js"), "thread/suggestions.js's calls were not found");
  assert.ok(found.filter((c) => c.file.startsWith("bot/")).length >= 100, "the bot modules' calls were not found");
  const notLiteral = found.filter((c) => c.english === null || (c.call === "tn" && c.plural === null));
  assert.deepEqual(notLiteral.map((c) => c.file + ": " + c.call + "(…)"), [], "calls whose text is not a double-quoted literal");
  const missing = found.filter((c) => c.call === "t" ? typeof frenchFor(c.english) !== "string" : !Array.isArray(frenchFor(c.english)));
  assert.deepEqual(missing.map((c) => c.file + ": " + c.call + "(" + JSON.stringify(c.english) + ")"), [],
    "texts without a French entry (tn wants [singular, plural])");
});

test("no entry is left unused, and each French keeps its English's placeholders", () => {
  const used = new Set(calls().map((c) => c.english));
  for (const [tag, id] of TRANSLATED) for (const x of texts(htmlElement(HTML, tag, id))) used.add(x.english);
  const placeholders = (s) => Array.from(new Set(s.match(/\{\w+\}/g) || [])).sort();
  for (const [english, french] of catalogue()) {
    if (english === "A text only this spec uses") continue;
    assert.ok(used.has(english), "nothing shows the entry " + JSON.stringify(english));
    for (const form of [].concat(french)) assert.deepEqual(placeholders(form), placeholders(english), english);
    if (Array.isArray(french)) assert.equal(french.length, 2, english + ": a plural is [singular, plural]");
  }
});

test("the French follows French typography", () => {
  for (const [english, french] of catalogue()) {
    for (const form of [].concat(french)) {
      const where = JSON.stringify(english) + " → " + JSON.stringify(form);
      assert.ok(!form.includes("'"), where + ": the apostrophe is ’");
      assert.ok(!/(?<!\u202f)[;!?%]/.test(form), where + ": a narrow no-break space (U+202F) goes before ; ! ? %");
      assert.ok(!/(?<!\u00a0):(\s|$)/.test(form), where + ": a no-break space (U+00A0) goes before a colon");
      assert.ok(!/«(?!\u00a0)|(?<!\u00a0)»/.test(form), where + ": no-break spaces (U+00A0) go inside « »");
      assert.ok(!/[“”"]/.test(form), where + ": French quotes are « »");
      assert.ok(!form.includes("..."), where + ": the ellipsis is …");
    }
  }
});
