/* What the server refused in a bot flow, shown in the editor's form (bot/page.js): each of `errors[]` beside
 * the control whose data-field names it (bot/rules.js's errorTarget finds the nearest one), with
 * aria-invalid and its message, and every one of them in the summary above the form, those it could place
 * as links to their field. A node name that cannot be used (a rename) is shown the same way. */
import { $, clear, el, show } from "../dom.js";
import { t, tn } from "../i18n.js";
import { errorTarget, placeErrors, sentence } from "./rules.js";

/** The server's names of every field the form shows now. */
export function knownFields(form) {
  return new Set(Array.from(form.querySelectorAll("[data-field]"), (n) => n.dataset.field));
}

export function controlFor(form, field) {
  return form.querySelector('[data-field="' + CSS.escape(field) + '"]');
}

/** The control itself, or the first one inside a list that takes the list's problems. */
export function focusable(node) {
  return node.matches("input, select, textarea") ? node : node.querySelector("input, select, textarea") || node;
}

function mark(node, message) {
  node.setAttribute("aria-invalid", "true");
  const box = $(node.dataset.errorBox);
  if (box) { box.textContent = message; show(box, true); }
}

/** The problems of a refused PUT: its `errors`, else the one it names. */
export function problemsOf(err) {
  const listed = err && err.details && Array.isArray(err.details.errors) ? err.details.errors : null;
  if (listed && listed.length) return listed;
  return err && err.status === 400 ? [{ field: err.field || "", message: err.message }] : [];
}

/** Every standing problem where it belongs (`renames`: place in the node list → {typed, problem}). */
export function paintProblems(form, errors, renames) {
  for (const node of form.querySelectorAll("#bot-forms [aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const box of form.querySelectorAll("#bot-forms .field-error")) { box.textContent = ""; show(box, false); }
  const known = knownFields(form);
  const { placed, unplaced } = placeErrors(errors, known);
  for (const [field, messages] of placed) mark(controlFor(form, field), messages.join(" "));
  for (const [i, r] of renames) {
    const name = form.querySelector('[data-rename="' + i + '"]');
    if (!name) continue;
    if (document.activeElement !== name) name.value = r.typed;
    mark(name, r.problem);
  }
  const list = $("bot-summary-list");
  clear(list);
  show($("bot-summary"), errors.length > 0);
  if (!errors.length) return;
  $("bot-summary-text").textContent = tn(errors.length, "The server refused the flow: {n} problem to fix.",
    "The server refused the flow: {n} problems to fix.") + (unplaced.length < errors.length ? " " + t("Each is shown beside its field.") : "");
  for (const e of errors) {
    const target = errorTarget(e.field, known);
    const words = (e.field ? e.field + ": " : "") + sentence(e.message);
    list.appendChild(el("li", null, target
      ? el("button", { type: "button", class: "link-btn bot-summary__go", text: words, dataset: { action: "go-to", target: target } })
      : el("span", { text: words })));
  }
}

/** The cursor on the first problem beside a field, else on the summary. */
export function focusFirstProblem(form) {
  const first = form.querySelector("#bot-forms [aria-invalid]");
  if (first) focusable(first).focus();
  else if (!$("bot-summary").hidden) $("bot-summary").focus();
}
