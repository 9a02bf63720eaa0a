/* The console's languages: English as the code and index.html write it, French from catalogues keyed by
 * that English (gettext style: a call site reads as the English, which is also what shows when an entry
 * is missing). Each page registers its own entries (kb/texts.js, thread/texts.js); main.js translates the
 * static parts of the page that have them once, at startup. Nothing here touches the page on load. */
import { ago } from "./time.js";

const entries = new Map();   // English -> French: a string, or [n ≤ 1, n ≥ 2] for a plural (keyed by the singular)
let current = null;          // the console's language, read from the browser on first use

/** "fr" for a browser language of French (fr, fr-FR, fr-CA…), else "en". */
export function localeOf(language) {
  return /^fr\b/i.test(String(language || "")) ? "fr" : "en";
}

/** The console's language, "en" or "fr": the browser's, unless setLocale() chose. */
export function locale() {
  if (current === null) current = localeOf(typeof navigator === "undefined" ? "" : navigator.language);
  return current;
}

/** Choose the language (the specs do; null: the browser's again). */
export function setLocale(value) {
  current = value === null ? null : localeOf(value);
}

/** Add French entries: {"Load more": "Afficher la suite", "{n} answer": ["{n} réponse", "{n} réponses"]}. */
export function register(french) {
  for (const [english, text] of Object.entries(french)) {
    if (entries.has(english) && String(entries.get(english)) !== String(text)) throw new Error("two French entries for " + JSON.stringify(english));
    entries.set(english, text);
  }
}

/** The French entry for an English text, or undefined (for the specs, and translate()). */
export function frenchFor(english) {
  return entries.get(english);
}

/** Every entry, English -> French (for the specs). */
export function catalogue() {
  return new Map(entries);
}

function fill(text, values) {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The text in the console's language, its {name} placeholders filled from `values`. */
export function t(english, values) {
  const french = locale() === "fr" ? entries.get(english) : undefined;
  return fill(typeof french === "string" ? french : english, values);
}

/** A text about `count` things: tn(3, "{n} answer", "{n} answers") is "3 answers", "3 réponses";
 * French takes the singular for 0 and 1. {n} is the count; `values` fills any other placeholder. */
export function tn(count, one, other, values) {
  const n = Number(count) || 0;
  const filled = Object.assign({ n: n }, values);
  const french = locale() === "fr" ? entries.get(one) : undefined;
  if (Array.isArray(french)) return fill(Math.abs(n) < 2 ? french[0] : french[1], filled);
  return fill(n === 1 ? one : other, filled);
}

/** time.js's agoText in the console's language: "just now", "5m ago"; "à l’instant", "il y a 5 min".
 * Older than a week it is the day, which Intl already writes in the browser's language. */
export function agoWords(iso) {
  const short = ago(iso);
  if (short === "now") return t("just now");
  const m = /^(\d+)([mhd])$/.exec(short);
  if (!m) return short;
  const values = { n: m[1] };
  return m[2] === "m" ? t("{n}m ago", values) : m[2] === "h" ? t("{n}h ago", values) : t("{n}d ago", values);
}

const ATTRIBUTES = ["placeholder", "title", "aria-label"];
const key = (text) => text.replace(/\s+/g, " ").trim();

/** In French, every text node under `root` (and the placeholder, title and aria-label attributes) that has
 * a French entry, whitespace aside, becomes that French; `lang="fr"` goes on the root. A subtree marked
 * translate="no" is left as it is. Meant for index.html's static texts, once at startup: what the
 * workspace wrote (an article's title) could happen to match an entry. */
export function translate(root) {
  if (!root || locale() !== "fr") return;
  walk(root);
  root.setAttribute("lang", "fr");
}

function walk(node) {
  if (node.nodeType === 3) {
    const french = entries.get(key(node.nodeValue));
    if (typeof french === "string") {
      const [, lead, , trail] = /^(\s*)([\s\S]*?)(\s*)$/.exec(node.nodeValue);
      node.nodeValue = lead + french + trail;
    }
    return;
  }
  if (node.nodeType !== 1 || node.getAttribute("translate") === "no") return;
  for (const name of ATTRIBUTES) {
    const value = node.getAttribute(name);
    const french = value === null ? undefined : entries.get(key(value));
    if (typeof french === "string") node.setAttribute(name, french);
  }
  for (const child of Array.from(node.childNodes)) walk(child);
}

register({
  "just now": "à l’instant",
  "{n}m ago": "il y a {n} min",
  "{n}h ago": "il y a {n} h",
  "{n}d ago": "il y a {n} j",
});
