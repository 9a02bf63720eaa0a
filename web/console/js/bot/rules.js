/* The bot flow editor's pure rules (bot/page.js, bot/forms.js; the flow's schema is docs/bot.md): the
 * editor's draft (what the forms hold, as text) from a saved flow and the PUT body back from it, the
 * references between nodes, renaming and removing a node, where each of the server's `errors[].field`
 * goes in the forms, and what the lookup's request looks like. No DOM here. */
import { t } from "../i18n.js";
import "./texts.js";

export const KINDS = ["message", "options", "articles", "ask", "lookup", "branch", "handoff"];
export const FIELD_TYPES = ["text", "email", "number", "phone"];
export const BRANCH_ON = ["locale", "page_url", "identified", "field"];
export const CASE_TESTS = ["equals", "prefix", "contains"];
export const MAX_OPTIONS = 10, MAX_FIELDS = 5, MAX_CASES = 20, MAX_NODES = 100;
const NODE_ID = /^[a-z0-9_-]{1,40}$/;
// The draft's keys that name another node, one per node (`options[].next` and `cases[].next` aside).
const REFS = ["next", "solved", "unsolved", "fallback", "default"];

/** A kind's name as the editor shows it; one the console does not know, as written. */
export function kindLabel(kind) {
  switch (kind) {
    case "message": return t("Message");
    case "options": return t("Choices");
    case "articles": return t("Articles");
    case "ask": return t("Questions");
    case "lookup": return t("Lookup");
    case "branch": return t("Branch");
    case "handoff": return t("Handoff");
    default: return kind;
  }
}

const text = () => ({ en: "", fr: "" });
export const newOption = () => ({ id: "", label: text(), next: "" });
export const newField = () => ({ name: "", type: "text", required: true, pattern: "", label: text(), retry: text() });
export const newCase = () => ({ test: "equals", value: "", next: "" });

/** A new row of a node's list: "options", "fields" (an ask's questions) or "cases". */
export function newRow(list) {
  return list === "options" ? newOption() : list === "fields" ? newField() : newCase();
}

/** A node whose kind lists things (choices, questions, cases) gets one to fill in, if it has none. */
export function withFirstRow(node) {
  const list = { options: "options", ask: "fields", branch: "cases" }[node.kind];
  if (list && !node[list].length) node[list].push(newRow(list));
  return node;
}

/** A node of the draft: every kind's fields (as text), so switching kinds back and forth keeps what was typed. */
export function newNode(kind, id) {
  return {
    id: id, kind: kind, text: text(), delay_ms: "", end: false, next: "",
    options: kind === "options" ? [newOption()] : [], article_ids: "", solved: "", unsolved: "",
    fields: kind === "ask" ? [newField()] : [], url: "", lookup_fields: "", template: text(), fallback: "",
    on: "locale", field: "", cases: kind === "branch" ? [newCase()] : [], default: "", group: "",
  };
}

/** What the editor starts from on a site without a flow: one greeting, to be written. */
export function starterDraft() {
  return { enabled: true, start: "welcome", max_turns: "", human_group: "", nodes: [newNode("message", "welcome")] };
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
const list = (v) => (Array.isArray(v) ? v : []);

function textDraft(value) {
  if (typeof value === "string") return { en: value, fr: "" };
  const v = isObject(value) ? value : {};
  return { en: str(v.en), fr: str(v.fr) };
}

function nodeDraft(id, node) {
  const n = isObject(node) ? node : {};
  const out = newNode(str(n.kind), id);
  Object.assign(out, {
    text: textDraft(n.text), delay_ms: n.delay_ms === undefined ? "" : str(n.delay_ms), end: n.end === true,
    next: str(n.next), solved: str(n.solved), unsolved: str(n.unsolved), fallback: str(n.fallback),
    default: str(n.default), url: str(n.url), template: textDraft(n.template), group: str(n.group),
    on: n.on === undefined ? "locale" : str(n.on), field: str(n.field),
    article_ids: list(n.article_ids).map(str).join(", "),
    options: list(n.options).map((o) => {
      const option = isObject(o) ? o : {};
      return { id: str(option.id), label: textDraft(option.label), next: str(option.next) };
    }),
    cases: list(n.cases).map((c) => {
      const item = isObject(c) ? c : {};
      const test = CASE_TESTS.find((k) => k in item) || "equals";
      return { test: test, value: str(item[test]), next: str(item.next) };
    }),
  });
  if (out.kind === "lookup") out.lookup_fields = list(n.fields).map(str).join(", ");
  else out.fields = list(n.fields).map((f) => {
    const field = isObject(f) ? f : {};
    return { name: str(field.name), type: field.type === undefined ? "text" : str(field.type), required: field.required !== false,
      pattern: str(field.pattern), label: textDraft(field.label), retry: textDraft(field.retry) };
  });
  return out;
}

/** The draft of a flow as GET /v1/sites/{site_key}/bot gives it (or as imported: whatever is not a flow's
 * shape becomes empty, and the server says what is missing). */
export function draftFromFlow(flow) {
  const f = isObject(flow) ? flow : {};
  const nodes = isObject(f.nodes) ? Object.entries(f.nodes).map(([id, node]) => nodeDraft(id, node)) : [];
  return { enabled: f.enabled !== false, start: str(f.start), max_turns: f.max_turns === undefined ? "" : str(f.max_turns),
    human_group: str(f.human_group), nodes: nodes };
}

/** A number field's text: a number when it is a whole one, left out when empty, else the text (the server says why). */
function number(value) {
  const raw = str(value).trim();
  if (!raw) return undefined;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** A text in English and French, the blank ones left out (none at all: the key is left out). */
function textBody(value) {
  const out = {};
  for (const lang of ["en", "fr"]) if (str(value && value[lang]).trim()) out[lang] = value[lang];
  return Object.keys(out).length ? out : undefined;
}

const ref = (value) => str(value).trim() || undefined;
const words = (value) => str(value).split(/[\s,]+/).filter(Boolean);

function compact(obj) {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

function caseValue(c, on) {
  if (on === "identified" && (c.value === "true" || c.value === "false")) return c.value === "true";
  return c.value;
}

function nodeBody(n) {
  const out = { kind: n.kind };
  switch (n.kind) {
    case "message":
      Object.assign(out, { text: textBody(n.text), delay_ms: number(n.delay_ms) || undefined });
      if (n.end) out.end = true; else out.next = ref(n.next);
      break;
    case "options":
      Object.assign(out, { text: textBody(n.text), options: n.options.map((o) =>
        compact({ id: str(o.id).trim(), label: textBody(o.label), next: ref(o.next) })) });
      break;
    case "articles": {
      const ids = words(n.article_ids);
      Object.assign(out, { text: textBody(n.text), article_ids: ids.length ? ids : undefined,
        solved: ref(n.solved), unsolved: ref(n.unsolved) });
      break;
    }
    case "ask":
      Object.assign(out, { fields: n.fields.map((f) => compact({ name: str(f.name).trim(), type: f.type,
        required: !!f.required, pattern: str(f.pattern) || undefined, label: textBody(f.label), retry: textBody(f.retry) })),
      next: ref(n.next) });
      break;
    case "lookup":
      Object.assign(out, { url: str(n.url).trim() || undefined, fields: words(n.lookup_fields), template: textBody(n.template),
        next: ref(n.next), fallback: ref(n.fallback) });
      break;
    case "branch":
      Object.assign(out, { on: n.on, field: n.on === "field" ? str(n.field).trim() : undefined,
        cases: n.cases.map((c) => ({ [c.test]: caseValue(c, n.on), next: ref(c.next) })), default: ref(n.default) });
      for (const c of out.cases) compact(c);
      break;
    case "handoff":
      Object.assign(out, { group: str(n.group).trim() || undefined, text: textBody(n.text) });
      break;
    default:
      break;   // a kind the server does not know: it says so
  }
  return compact(out);
}

/** The body of PUT /v1/sites/{site_key}/bot (the whole flow) from the draft: each node with its kind's fields
 * only, in the draft's order. */
export function flowBody(draft) {
  const body = compact({ enabled: !!draft.enabled, start: ref(draft.start), max_turns: number(draft.max_turns),
    human_group: str(draft.human_group).trim() || undefined, nodes: {} });
  for (const node of draft.nodes) body.nodes[node.id] = nodeBody(node);
  return body;
}

/** Every reference a node makes to another, as its kind uses them: [{node, key, target}], `key` as the
 * server names it under nodes.{node}. (`options[1].next`). */
export function references(draft) {
  const out = [];
  const add = (node, key, target) => { if (str(target)) out.push({ node: node.id, key: key, target: target }); };
  for (const n of draft.nodes) {
    if (n.kind === "message" && !n.end) add(n, "next", n.next);
    if (n.kind === "options") n.options.forEach((o, i) => add(n, "options[" + i + "].next", o.next));
    if (n.kind === "articles") { add(n, "solved", n.solved); add(n, "unsolved", n.unsolved); }
    if (n.kind === "ask") add(n, "next", n.next);
    if (n.kind === "lookup") { add(n, "next", n.next); add(n, "fallback", n.fallback); }
    if (n.kind === "branch") { n.cases.forEach((c, i) => add(n, "cases[" + i + "].next", c.next)); add(n, "default", n.default); }
  }
  return out;
}

/** Where the flow names node `id`: the start (node null, key "start") and the references to it. */
export function referencesTo(draft, id) {
  const out = draft.start === id ? [{ node: null, key: "start", target: id }] : [];
  return out.concat(references(draft).filter((r) => r.target === id));
}

/** Why `id` cannot be node `current`'s new name ("" when it can). */
export function nodeIdProblem(draft, id, current) {
  if (!NODE_ID.test(id)) return t("Node names are 1 to 40 lowercase letters, digits, - and _.");
  if (id !== current && draft.nodes.some((n) => n.id === id)) return t("Another node is already named “{id}”.", { id: id });
  return "";
}

/** The first of base_1, base_2… that no node has. */
export function uniqueId(draft, base) {
  const taken = new Set(draft.nodes.map((n) => n.id));
  for (let i = 1; ; i++) if (!taken.has(base + "_" + i)) return base + "_" + i;
}

/** A copy of the draft with node `from` named `to`, and every reference to it (the start included) with it. */
export function renameNode(draft, from, to) {
  const out = structuredClone(draft);
  const swap = (v) => (v === from ? to : v);
  out.start = swap(out.start);
  for (const n of out.nodes) {
    if (n.id === from) n.id = to;
    for (const key of REFS) n[key] = swap(n[key]);
    for (const o of n.options) o.next = swap(o.next);
    for (const c of n.cases) c.next = swap(c.next);
  }
  return out;
}

/** A copy of the draft without node `id`; references to it stay, naming a node that is gone, for the
 * editor to show and the server to refuse until they name another. */
export function removeNode(draft, id) {
  const out = structuredClone(draft);
  out.nodes = out.nodes.filter((n) => n.id !== id);
  return out;
}

/** The server's problems with node `from` said of node `to` (after a rename). */
export function renameErrors(errors, from, to) {
  const prefix = "nodes." + from;
  return errors.map((e) => (e.field === prefix || String(e.field).startsWith(prefix + ".") || String(e.field).startsWith(prefix + "[")
    ? Object.assign({}, e, { field: "nodes." + to + String(e.field).slice(prefix.length) }) : e));
}

/** The field that holds `field`'s, going up: nodes.menu.options[1].next, nodes.menu.options[1], nodes.menu.options… */
function parentField(field) {
  return field.replace(/(\[\d+\]|\.[^.[\]]*)$/, "");
}

/** Which of the forms' fields (`known`: their server names) shows the server's problem with `field`: that
 * one; a text's English when the text is missing; else the nearest field that holds it; null: none does. */
export function errorTarget(field, known) {
  const has = (f) => (known instanceof Set ? known.has(f) : known.includes(f));
  const name = str(field);
  if (!name) return null;
  if (has(name)) return name;
  if (has(name + ".en")) return name + ".en";
  for (let f = name; ;) {
    const up = parentField(f);
    if (!up || up === f) return null;
    if (has(up)) return up;
    f = up;
  }
}

/** The server's `errors` sorted for the forms: {placed: Map(field → [messages]), unplaced: [errors]}. */
export function placeErrors(errors, known) {
  const placed = new Map();
  const unplaced = [];
  for (const e of errors || []) {
    const target = errorTarget(e.field, known);
    if (target === null) { unplaced.push(e); continue; }
    if (!placed.has(target)) placed.set(target, []);
    placed.get(target).push(sentence(e.message));
  }
  return { placed: placed, unplaced: unplaced };
}

/** The server's words as a sentence: a capital first, a full stop last. */
export function sentence(message) {
  const m = str(message).trim();
  if (!m) return m;
  return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? "" : ".");
}

/** The lookup secret as Standard Webhooks libraries take one: whsec_ and the base64 of the same key bytes. */
export function standardSecret(secret) {
  if (!secret) return "";
  const bytes = new TextEncoder().encode(secret);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return "whsec_" + btoa(binary);
}

/** What a lookup node posts (docs/bot.md), for the draft's first lookup node (else an example), as text. */
export function lookupRequest(draft, siteKey) {
  const node = draft.nodes.find((n) => n.kind === "lookup");
  const url = (node && str(node.url).trim()) || "https://shop.example/parley/orders";
  const names = node ? words(node.lookup_fields) : ["order_number"];
  const fields = {};
  for (const name of names) fields[name] = "…";
  const body = { site_key: siteKey || "…", conversation_id: "c_…", locale: "en", fields: fields };
  return ["POST " + url, "Content-Type: application/json", "User-Agent: Parley-Bot/1", "webhook-id: lk_…",
    "webhook-timestamp: 1767225600", "webhook-signature: v1,…", "", JSON.stringify(body, null, 2)].join("\n");
}

/** Put `value` in the draft at `path`, a control's data-path ("nodes.2.options.0.label.en"). */
export function setAt(draft, path, value) {
  const keys = String(path).split(".");
  const last = keys.pop();
  const holder = keys.reduce((obj, key) => (obj === undefined || obj === null ? obj : obj[key]), draft);
  if (holder === undefined || holder === null) return false;
  holder[last] = value;
  return true;
}
