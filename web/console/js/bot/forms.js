/* The bot editor's node forms (bot/page.js draws them from the draft, bot/rules.js): one fieldset per
 * node, with the fields of its kind. Every control carries `data-path` (where its value goes in the
 * draft: "nodes.2.options.0.label.en") and `data-field` (what the server calls it in `errors[].field`:
 * "nodes.menu.options[0].label.en"), and `data-error-box`, the id of the line that shows that error.
 * Buttons say what they do in `data-action`; page.js listens once, on the form. */
import { el } from "../dom.js";
import { t } from "../i18n.js";
import { BRANCH_ON, CASE_TESTS, FIELD_TYPES, KINDS, kindLabel, MAX_CASES, MAX_FIELDS, MAX_OPTIONS } from "./rules.js";

let serial = 0;
const nextId = () => "bot-c" + (++serial);

/** One labelled control with its help and error lines: {box, control}. `make(id, describedBy)` builds the control. */
function field(label, server, path, make, help) {
  const id = nextId();
  const errorId = id + "-error";
  const helpId = help ? id + "-help" : null;
  const control = make(id, [helpId, errorId].filter(Boolean).join(" "));
  control.dataset.field = server;
  control.dataset.errorBox = errorId;
  if (path !== null) control.dataset.path = path;
  const box = el("div", { class: "field" },
    el("label", { attrs: { for: id }, text: label }), control,
    help ? el("small", { id: helpId, class: "field__help", text: help }) : null,
    el("p", { id: errorId, class: "field-error", hidden: true }));
  return box;
}

const input = (value, attrs) => (id, describedBy) => el("input", { id: id, type: "text", value: value || "",
  attrs: Object.assign({ autocomplete: "off", "aria-describedby": describedBy }, attrs) });
const area = (value, attrs) => (id, describedBy) => el("textarea", { id: id, rows: 2, value: value || "",
  attrs: Object.assign({ "aria-describedby": describedBy }, attrs) });

function select(choices, value, attrs) {
  return (id, describedBy) => {
    const node = el("select", { id: id, attrs: Object.assign({ "aria-describedby": describedBy }, attrs) });
    for (const [v, label] of choices) node.appendChild(el("option", { value: v, text: label }));
    if (!choices.some(([v]) => v === value)) node.appendChild(el("option", { value: value, text: value }));
    node.value = value;
    return node;
  };
}

/** A `next` picker: the flow's nodes, and a node that is gone shown as such (the server will refuse it). */
export function nodeChoices(draft, value, none) {
  const choices = [["", none || t("— choose a node —")]].concat(draft.nodes.map((n) => [n.id, n.id + " · " + kindLabel(n.kind)]));
  if (value && !draft.nodes.some((n) => n.id === value)) choices.push([value, t("{id} (no such node)", { id: value })]);
  return choices;
}

function picker(label, server, path, draft, value, opts) {
  const o = opts || {};
  return field(label, server, path, select(nodeChoices(draft, value, o.none), value, { disabled: o.disabled || null }), o.help);
}

function check(label, server, path, checked) {
  const id = nextId();
  const errorId = id + "-error";
  const box = el("input", { id: id, type: "checkbox", checked: !!checked, attrs: { "aria-describedby": errorId } });
  Object.assign(box.dataset, { field: server, path: path, errorBox: errorId });
  return el("div", { class: "field field--check" },
    el("label", { class: "check", attrs: { for: id } }, box, " " + label),
    el("p", { id: errorId, class: "field-error", hidden: true }));
}

/** A text in English (required unless `optional`) and French. */
function texts(labels, server, path, value, opts) {
  const o = opts || {};
  const rows = o.rows || 2;
  const make = o.line ? input : (v, a) => area(v, Object.assign({ rows: rows }, a));
  return el("div", { class: "bot-texts" },
    field(labels[0], server + ".en", path + ".en", make(value.en, { lang: "en", maxlength: o.max || 1000 }), o.help),
    field(labels[1], server + ".fr", path + ".fr", make(value.fr, { lang: "fr", maxlength: o.max || 1000 })));
}

/** A list of rows (options, questions, cases) with its Add button; the list itself takes the list's errors. */
function rows(server, items, row, add) {
  const errorId = nextId() + "-error";
  const listNode = el("ol", { class: "bot-rows", dataset: { field: server, errorBox: errorId }, attrs: { "aria-describedby": errorId } },
    ...items.map(row));
  return el("div", { class: "bot-rows__wrap" },
    el("p", { id: errorId, class: "field-error", hidden: true }), listNode,
    el("button", { type: "button", class: "link-btn bot-rows__add", text: add.label, disabled: items.length >= add.max,
      dataset: add.data }));
}

function rowBox(server, title, remove, ...children) {
  const errorId = nextId() + "-error";
  return el("li", { class: "bot-row" },
    el("fieldset", { class: "fieldset bot-row__box", dataset: { field: server, errorBox: errorId }, attrs: { "aria-describedby": errorId } },
      el("legend", { text: title }),
      el("p", { id: errorId, class: "field-error", hidden: true }),
      ...children,
      el("button", { type: "button", class: "link-btn link-btn--danger bot-row__remove", text: t("Remove"),
        dataset: remove, attrs: { "aria-label": t("Remove {what}", { what: title }) } })));
}

function messageFields(n, at, f, draft) {
  return [
    texts([t("Text in English"), t("Text in French")], f + ".text", at + ".text", n.text, { rows: 3 }),
    field(t("Pause before it (milliseconds)"), f + ".delay_ms", at + ".delay_ms", input(n.delay_ms, { inputmode: "numeric", maxlength: 5, placeholder: "0" })),
    check(t("End here: the bot waits for the visitor"), f + ".end", at + ".end", n.end),
    picker(t("Then"), f + ".next", at + ".next", draft, n.next, { disabled: n.end }),
  ];
}

function optionsFields(n, at, i, f, draft) {
  return [
    texts([t("Question in English"), t("Question in French")], f + ".text", at + ".text", n.text),
    rows(f + ".options", n.options, (o, j) => {
      const of = f + ".options[" + j + "]", oa = at + ".options." + j;
      return rowBox(of, t("Choice {n}", { n: j + 1 }), { action: "remove-row", node: i, list: "options", row: j },
        field(t("Choice id"), of + ".id", oa + ".id", input(o.id, { maxlength: 40, spellcheck: "false", placeholder: "order" })),
        texts([t("Label in English"), t("Label in French")], of + ".label", oa + ".label", o.label, { line: true, max: 80 }),
        picker(t("Goes to"), of + ".next", oa + ".next", draft, o.next));
    }, { label: t("Add a choice"), max: MAX_OPTIONS, data: { action: "add-row", node: i, list: "options" } }),
  ];
}

function articlesFields(n, at, f, draft) {
  return [
    texts([t("Text in English"), t("Text in French")], f + ".text", at + ".text", n.text),
    field(t("Fixed articles (optional)"), f + ".article_ids", at + ".article_ids", input(n.article_ids, { spellcheck: "false" }),
      t("Up to 3 article ids, separated by commas. Empty: the 3 that best match the visitor's last words.")),
    picker(t("If it solved it"), f + ".solved", at + ".solved", draft, n.solved),
    picker(t("If not, or no article matches"), f + ".unsolved", at + ".unsolved", draft, n.unsolved),
  ];
}

function askFields(n, at, i, f, draft) {
  return [
    rows(f + ".fields", n.fields, (q, j) => {
      const qf = f + ".fields[" + j + "]", qa = at + ".fields." + j;
      return rowBox(qf, t("Question {n}", { n: j + 1 }), { action: "remove-row", node: i, list: "fields", row: j },
        el("div", { class: "bot-row__grid" },
          field(t("Field name"), qf + ".name", qa + ".name", input(q.name, { maxlength: 40, spellcheck: "false", placeholder: "order_number" })),
          field(t("Type"), qf + ".type", qa + ".type", select(FIELD_TYPES.map((k) => [k, typeLabel(k)]), q.type))),
        check(t("Required"), qf + ".required", qa + ".required", q.required),
        field(t("Pattern (optional)"), qf + ".pattern", qa + ".pattern", input(q.pattern, { maxlength: 200, spellcheck: "false", placeholder: "^[0-9]{4,10}$" }),
          t("A regular expression the answer must match.")),
        texts([t("Question in English"), t("Question in French")], qf + ".label", qa + ".label", q.label, { line: true }),
        texts([t("If refused, in English (optional)"), t("If refused, in French (optional)")], qf + ".retry", qa + ".retry", q.retry, { line: true }));
    }, { label: t("Add a question"), max: MAX_FIELDS, data: { action: "add-row", node: i, list: "fields" } }),
    picker(t("Then"), f + ".next", at + ".next", draft, n.next),
  ];
}

function lookupFields(n, at, f, draft) {
  return [
    field(t("Your server's address"), f + ".url", at + ".url", input(n.url, { type: "url", maxlength: 2048, spellcheck: "false",
      placeholder: "https://shop.example/parley/orders" })),
    field(t("Fields sent"), f + ".fields", at + ".lookup_fields", input(n.lookup_fields, { spellcheck: "false", placeholder: "order_number" }),
      t("Names of fields asked before, separated by commas.")),
    texts([t("Answer in English"), t("Answer in French")], f + ".template", at + ".template", n.template,
      { help: t("{key} is replaced by the answer's value of that name, or by a field asked before.") }),
    picker(t("Then"), f + ".next", at + ".next", draft, n.next),
    picker(t("If the lookup fails"), f + ".fallback", at + ".fallback", draft, n.fallback),
  ];
}

function branchFields(n, at, i, f, draft) {
  const identified = n.on === "identified";
  return [
    field(t("Branch on"), f + ".on", at + ".on", select(BRANCH_ON.map((k) => [k, onLabel(k)]), n.on)),
    n.on === "field" ? field(t("Field name"), f + ".field", at + ".field", input(n.field, { maxlength: 40, spellcheck: "false" })) : null,
    rows(f + ".cases", n.cases, (c, j) => {
      const cf = f + ".cases[" + j + "]", ca = at + ".cases." + j;
      const value = identified
        ? field(t("Value"), cf + "." + c.test, ca + ".value", select([["true", t("Identified")], ["false", t("Not identified")]], c.value || "true"))
        : field(t("Value"), cf + "." + c.test, ca + ".value", input(c.value, { maxlength: 2000 }));
      return rowBox(cf, t("Case {n}", { n: j + 1 }), { action: "remove-row", node: i, list: "cases", row: j },
        el("div", { class: "bot-row__grid" },
          identified ? null : field(t("Test"), cf, ca + ".test", select(CASE_TESTS.map((k) => [k, testLabel(k)]), c.test)),
          value),
        picker(t("Goes to"), cf + ".next", ca + ".next", draft, c.next));
    }, { label: t("Add a case"), max: MAX_CASES, data: { action: "add-row", node: i, list: "cases" } }),
    picker(t("Otherwise"), f + ".default", at + ".default", draft, n.default),
  ];
}

function handoffFields(n, at, f) {
  return [
    field(t("Group (optional)"), f + ".group", at + ".group", input(n.group, { maxlength: 40, spellcheck: "false", placeholder: "support" }),
      t("Empty: the workspace's whole queue.")),
    texts([t("Text in English (optional)"), t("Text in French (optional)")], f + ".text", at + ".text", n.text),
  ];
}

export function typeLabel(type) {
  return { text: t("Text"), email: t("Email"), number: t("Number"), phone: t("Phone") }[type] || type;
}

function onLabel(on) {
  return { locale: t("The visitor's language"), page_url: t("The page's address"), identified: t("Whether the visitor is identified"),
    field: t("A field asked before") }[on] || on;
}

function testLabel(test) {
  return { equals: t("Is"), prefix: t("Starts with"), contains: t("Contains") }[test] || test;
}

/** One node's form. `i`: its place in the draft's list. */
export function nodeForm(draft, n, i) {
  const f = "nodes." + n.id, at = "nodes." + i;
  const body = n.kind === "message" ? messageFields(n, at, f, draft)
    : n.kind === "options" ? optionsFields(n, at, i, f, draft)
      : n.kind === "articles" ? articlesFields(n, at, f, draft)
        : n.kind === "ask" ? askFields(n, at, i, f, draft)
          : n.kind === "lookup" ? lookupFields(n, at, f, draft)
            : n.kind === "branch" ? branchFields(n, at, i, f, draft)
              : n.kind === "handoff" ? handoffFields(n, at, f) : [];
  const name = field(t("Name"), f, null, input(n.id, { maxlength: 40, spellcheck: "false", class: "bot-node__name" }));
  name.querySelector("input").dataset.rename = String(i);
  return el("li", { class: "bot-node-item" },
    el("fieldset", { class: "fieldset bot-node", dataset: { node: n.id, kind: n.kind } },
      el("legend", { class: "bot-node__legend" }, el("code", { text: n.id, attrs: { translate: "no" } }), " · " + kindLabel(n.kind),
        draft.start === n.id ? el("span", { class: "status-pill status-pill--small bot-node__start", dataset: { status: "open" }, text: t("Start") }) : null),
      el("div", { class: "bot-node__head" },
        name,
        field(t("Kind"), f + ".kind", at + ".kind", select(KINDS.map((k) => [k, kindLabel(k)]), n.kind)),
        el("button", { type: "button", class: "btn btn--small btn--danger-ghost bot-node__remove", text: t("Remove node"),
          dataset: { action: "remove-node", node: i }, attrs: { "aria-label": t("Remove node {id}", { id: n.id }) } })),
      el("div", { class: "bot-node__body" }, ...body)));
}
