/* One article (#/kb/new, #/kb/{id}): admins write it (title, language, body with a live preview,
 * example questions, sites, address) and save it as a draft, publish, unpublish or delete it; agents
 * read it, every field disabled and no buttons. The preview is markdown.js's nodes, built with el(): an
 * article's text never becomes HTML. */
import { dateText } from "../time.js";
import { $, clear, confirmDialog, el, show } from "../dom.js";
import { isAdmin, S } from "../state.js";
import { apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { markdownNodes } from "../markdown.js";
import { loadSites } from "../admin/sites.js";
import { t } from "../i18n.js";
import { articleBody, statusLabel } from "./rules.js";
import { articleChanged } from "./page.js";

const FIELDS = { title: "kb-field-title", locale: "kb-field-locale", body: "kb-field-body", questions: "kb-questions",
  site_keys: "kb-sites", url: "kb-field-url" };

// article: as the server last gave it (null: a new one); token: counts the articles opened, so an answer
// for one left meanwhile is dropped; busy: a save or a delete on its way.
const editor = { article: null, token: 0, busy: false, saved: null };

/** What the save state says once saved as `status` (from `before`, the status it had), at `time`. */
function savedText(status, before, time) {
  if (status === "published") return t("Published at {time}.", { time: time });
  if (before === "published") return t("Unpublished: visitors no longer see it at {time}.", { time: time });
  return t("Saved as a draft at {time}.", { time: time });
}

/** Open the editor on a new article (id null) or on one of the workspace's. */
export function openArticle(id) {
  const token = ++editor.token;
  editor.article = null;
  editor.busy = false;
  clearErrors();
  setState("", null);
  if (!id) {
    fill({ title: "", body: "", locale: "en", questions: [], site_keys: null, url: "" });
    renderEditor();
    $("kb-field-title").focus();
    return;
  }
  fill({ title: "", body: "", locale: "en", questions: [], site_keys: null, url: "" });
  renderEditor();
  setState(t("Loading the article…"), "loading");
  $("kb-fields").disabled = true;
  api("GET", "/v1/articles/" + encodeURIComponent(id))
    .then((article) => {
      if (token !== editor.token) return;
      editor.article = article;
      fill(article);
      setState("", null);
      renderEditor();
    })
    .catch((err) => {
      if (token !== editor.token) return;
      setState(err.status === 404 ? t("This article does not exist: it may have been deleted.")
        : t("Could not load the article: {error}", { error: apiMessage(err) }), "failed");
      show($("kb-actions"), false);
    });
}

function fill(a) {
  $("kb-field-title").value = a.title || "";
  $("kb-field-locale").value = a.locale || "en";
  $("kb-field-body").value = a.body || "";
  $("kb-field-url").value = a.url || "";
  const list = $("kb-questions");
  clear(list);
  for (const q of a.questions || []) list.appendChild(questionRow(q));
  numberQuestions();
  const all = a.site_keys === null || a.site_keys === undefined;
  $("kb-sites-all").checked = all;
  $("kb-sites-some").checked = !all;
  renderSiteChoices(all ? [] : a.site_keys);
  renderPreview();
  if (isAdmin() && !S.sites.size) loadSites().then(() => renderSiteChoices(chosenSites()));
}

/** The editor's header, buttons and disabled state, from who reads and the article's status. */
function renderEditor() {
  const a = editor.article;
  const admin = isAdmin();
  const status = a ? a.status : null;
  $("kb-editor-title").textContent = !admin ? t("Article") : a ? t("Edit article") : t("New article");
  const pill = $("kb-editor-status");
  pill.textContent = status ? statusLabel(status) : "";
  pill.dataset.status = status || "";
  const date = a && a.updated_at ? dateText(a.updated_at) : "";
  $("kb-editor-meta").textContent = date ? (admin ? t("Updated {date}", { date: date }) : t("Updated {date} · only admins can change it", { date: date }))
    : admin ? "" : t("Only admins can change it.");
  $("kb-fields").disabled = !admin || editor.busy;
  show($("kb-actions"), admin);
  show($("kb-delete"), admin && !!a);
  show($("kb-draft"), status !== "published");
  show($("kb-unpublish"), status === "published");
  $("kb-publish").textContent = status === "published" ? t("Save changes") : t("Publish");
  for (const id of ["kb-delete", "kb-draft", "kb-unpublish", "kb-publish"]) $(id).disabled = editor.busy;
  $("kb-sites").classList.toggle("is-all", $("kb-sites-all").checked);
  for (const box of $("kb-site-list").querySelectorAll("input")) box.disabled = $("kb-sites-all").checked;
}

function questionRow(text) {
  const input = el("input", { type: "text", value: text || "", maxLength: 300, class: "kb-question__input",
    attrs: { autocomplete: "off" } });
  const row = el("li", { class: "kb-question" }, input,
    el("button", { type: "button", class: "link-btn link-btn--danger kb-question__remove", text: t("Remove"),
      on: { click: () => { row.remove(); numberQuestions(); edited(); $("kb-question-add").focus(); } } }));
  return row;
}

/** Each line's label says which it is, counted again after one is added or removed. */
function numberQuestions() {
  Array.from($("kb-questions").children).forEach((row, i) => {
    row.querySelector("input").setAttribute("aria-label", t("Example question {n}", { n: i + 1 }));
    row.querySelector("button").setAttribute("aria-label", t("Remove example question {n}", { n: i + 1 }));
  });
}

export function addQuestion() {
  const row = questionRow("");
  $("kb-questions").appendChild(row);
  numberQuestions();
  row.querySelector("input").focus();
}

function chosenSites() {
  return Array.from($("kb-site-list").querySelectorAll("input:checked")).map((i) => i.value);
}

/** The workspace's sites the console knows (admin/sites.js), and any the article names, as checkboxes. */
function renderSiteChoices(checked) {
  const box = $("kb-site-list");
  const keys = new Set(Array.from(S.sites.keys()));
  for (const k of checked || []) keys.add(k);
  clear(box);
  for (const key of Array.from(keys).sort()) {
    const id = "kb-site-" + key;
    box.appendChild(el("label", { class: "check", attrs: { for: id } },
      el("input", { type: "checkbox", id: id, value: key, checked: (checked || []).includes(key) }),
      " ", el("code", { text: key })));
  }
  if (!keys.size) box.appendChild(el("span", { class: "muted", text: t("No site known yet (Settings → Sites adds one).") }));
  renderEditor();
}

export function renderPreview() {
  $("kb-preview-heading").textContent = $("kb-field-title").value.trim();
  const box = $("kb-preview-text");
  clear(box);
  const create = (tag, attrs, ...children) => el(tag, { attrs: attrs }, ...children);
  for (const node of markdownNodes($("kb-field-body").value, create)) box.appendChild(typeof node === "string" ? document.createTextNode(node) : node);
  if (!box.firstChild) box.appendChild(el("p", { class: "muted", text: t("The body shows here as visitors will read it.") }));
}

/** Something changed in the form (its input events, main.js): the preview follows, and "Saved" is no
 * longer true. */
export function edited(event) {
  if (event && event.target && event.target.removeAttribute) event.target.removeAttribute("aria-invalid");
  renderPreview();
  if (event && event.target && event.target.name === "kb-sites") renderEditor();
  const state = $("kb-save-state");
  if (state.dataset.state === "saved") setState(t("Unsaved changes"), "dirty");
}

function setState(text, state) {
  const node = $("kb-save-state");
  node.textContent = text;
  node.dataset.state = state || "";
}

function clearErrors() {
  show($("kb-form-error"), false);
  for (const [field, id] of Object.entries(FIELDS)) {
    $(id).removeAttribute("aria-invalid");
    const box = $("kb-error-" + field);
    box.textContent = "";
    show(box, false);
  }
}

/** The API's refusal beside the field it names (else above the buttons), the cursor in that field. */
function fieldError(err) {
  const message = apiMessage(err);
  const field = err && err.field && FIELDS[err.field] ? err.field : null;
  if (!field) {
    $("kb-form-error").textContent = message;
    show($("kb-form-error"), true);
    return;
  }
  const box = $("kb-error-" + field);
  box.textContent = message;
  show(box, true);
  const target = $(FIELDS[field]);
  target.setAttribute("aria-invalid", "true");
  const focusable = target.matches("input, select, textarea") ? target : target.querySelector("input");
  if (focusable) focusable.focus();
}

function values() {
  return {
    title: $("kb-field-title").value,
    body: $("kb-field-body").value,
    locale: $("kb-field-locale").value,
    url: $("kb-field-url").value,
    questions: Array.from($("kb-questions").querySelectorAll("input")).map((i) => i.value),
    site_keys: $("kb-sites-all").checked ? null : chosenSites(),
  };
}

/** Save the whole article with that status (POST when new, else PUT). */
export async function saveArticle(status) {
  if (editor.busy || !isAdmin()) return;
  const token = editor.token;
  const before = editor.article;
  const body = articleBody(values(), status);
  clearErrors();
  editor.busy = true;
  setState(status === "published" ? t("Publishing…") : t("Saving…"), "saving");
  renderEditor();
  try {
    const saved = before
      ? await api("PUT", "/v1/articles/" + encodeURIComponent(before.id), body)
      : await api("POST", "/v1/articles", body);
    if (token !== editor.token) return;
    editor.article = Object.assign({ stats: before && before.stats }, saved);
    if (!before) history.replaceState(null, "", "#/kb/" + encodeURIComponent(saved.id));  // no hashchange: stay here
    articleChanged(editor.article);
    const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    setState(savedText(status, before && before.status, time), "saved");
  } catch (err) {
    if (token !== editor.token) return;
    editor.busy = false;
    renderEditor();   // the fields enabled again first: the field the API named takes the cursor
    setState(t("Not saved: {error}", { error: apiMessage(err) }), "failed");
    fieldError(err);
  } finally {
    if (token === editor.token && editor.busy) {
      editor.busy = false;
      renderEditor();
    }
  }
}

export async function deleteArticle() {
  const a = editor.article;
  if (!a || editor.busy || !isAdmin()) return;
  const ok = await confirmDialog({
    title: t("Delete “{title}”?", { title: a.title }),
    text: t("Visitors and agents stop being offered it at once, and its stats go with it. This cannot be undone."),
    confirm: t("Delete article"),
    cancel: t("Cancel"),
  });
  if (!ok || editor.article !== a) return;
  editor.busy = true;
  setState(t("Deleting…"), "saving");
  renderEditor();
  try {
    await api("DELETE", "/v1/articles/" + encodeURIComponent(a.id));
    articleChanged(null, a.id);
    toast(t("“{title}” was deleted.", { title: a.title }), "info");
    editor.busy = false;
    window.location.hash = "#/kb";
  } catch (err) {
    editor.busy = false;
    setState(t("Not deleted: {error}", { error: apiMessage(err) }), "failed");
    renderEditor();
  }
}
