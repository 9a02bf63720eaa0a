/* Canned responses: the "/shortcut" suggestions in the composer, and their manager
 * (GET/POST/PUT/DELETE /v1/canned-responses). */
import { $, clear, el, show } from "../dom.js";
import { S } from "../state.js";
import { describe, toast } from "../errors.js";
import { api } from "../api.js";
import { noteTyping } from "./composer.js";

const canned = { open: false, items: [], index: 0, start: 0, end: 0 };

export async function loadCanned() {
  try {
    S.canned = (await api("GET", "/v1/canned-responses")).items || [];
  } catch (e) {
    S.canned = [];
  }
}

function fillPlaceholders(text) {
  const c = S.convs.get(S.activeId);
  const vname = (c && c.visitor && c.visitor.name) || "there";
  const first = vname === "there" ? vname : vname.split(/\s+/)[0];
  const aname = (S.me && S.me.name) || "your agent";
  const values = {
    "visitor.name": vname, "visitor.first_name": first, "visitor.email": (c && c.visitor && c.visitor.email) || "",
    "agent.name": aname, "agent.first_name": aname.split(/\s+/)[0], "agent.email": (S.me && S.me.email) || "",
  };
  return String(text).replace(/\{\{\s*([a-z_.]+)\s*\}\}/gi, (all, key) => (key.toLowerCase() in values ? values[key.toLowerCase()] : all));
}

/** The "/word" the caret is in, if any: at the start or after whitespace. */
function slashWord(input) {
  const pos = input.selectionStart;
  if (pos !== input.selectionEnd) return null;
  const before = input.value.slice(0, pos);
  const m = before.match(/(^|\s)\/([a-z0-9_-]*)$/i);
  if (!m) return null;
  const start = pos - m[2].length - 1;
  const after = input.value.slice(pos).match(/^[a-z0-9_-]*/i)[0];
  return { query: (m[2] + after).toLowerCase(), start: start, end: pos + after.length };
}

export function updateCanned() {
  const input = $("composer-text");
  const word = slashWord(input);
  if (!word || !S.canned.length) { closeCanned(); return; }
  const q = word.query;
  const starts = S.canned.filter((c) => c.shortcut.startsWith(q));
  const contains = S.canned.filter((c) => !c.shortcut.startsWith(q) && (c.shortcut.includes(q) || (q.length > 1 && c.text.toLowerCase().includes(q))));
  const items = starts.concat(contains).slice(0, 8);
  if (!items.length) { closeCanned(); return; }
  const sameList = canned.open && canned.items.length === items.length && canned.items.every((c, i) => c.id === items[i].id);
  canned.items = items;
  canned.start = word.start;
  canned.end = word.end;
  if (!sameList) canned.index = 0;
  canned.open = true;
  renderCanned();
}

function renderCanned() {
  const popup = $("canned-popup");
  const input = $("composer-text");
  clear(popup);
  canned.items.forEach((item, i) => {
    const id = "canned-opt-" + i;
    popup.appendChild(el("li", {
      id: id, class: "canned-opt" + (i === canned.index ? " is-selected" : ""),
      attrs: { role: "option", "aria-selected": i === canned.index ? "true" : "false" },
      on: { mousedown: (e) => { e.preventDefault(); pickCanned(i); } },
    }, el("span", { class: "canned-opt__shortcut", text: "/" + item.shortcut }),
    el("span", { class: "canned-opt__text", text: fillPlaceholders(item.text) })));
  });
  show(popup, true);
  input.setAttribute("aria-expanded", "true");
  input.setAttribute("aria-activedescendant", "canned-opt-" + canned.index);
  const selected = popup.children[canned.index];
  if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
}

export function closeCanned() {
  canned.open = false;
  canned.items = [];
  const popup = $("canned-popup");
  if (!popup) return;
  show(popup, false);
  clear(popup);
  const input = $("composer-text");
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
}

function pickCanned(i) {
  const item = canned.items[i];
  if (!item) return;
  const input = $("composer-text");
  const text = fillPlaceholders(item.text);
  const value = input.value;
  input.value = value.slice(0, canned.start) + text + value.slice(canned.end);
  const caret = canned.start + text.length;
  closeCanned();
  input.focus();
  input.setSelectionRange(caret, caret);
  noteTyping();
}

/** The composer's keys while the suggestions are open; true when the key was theirs. */
export function cannedKeydown(event) {
  if (!canned.open) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const n = canned.items.length;
    canned.index = (canned.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
    renderCanned();
    event.preventDefault();
    return true;
  }
  if (event.key === "Enter" || event.key === "Tab") {
    pickCanned(canned.index);
    event.preventDefault();
    return true;
  }
  if (event.key === "Escape") {
    closeCanned();
    event.preventDefault();
    event.stopPropagation();
    return true;
  }
  return false;
}

// The canned responses manager (GET/POST/PUT/DELETE /v1/canned-responses).
let cannedEditing = null;

export async function openCannedDialog() {
  const dialog = $("canned-dialog");
  resetCannedForm();
  dialog.showModal();
  await loadCanned();
  renderCannedList();
}

function renderCannedList() {
  const list = $("canned-list");
  clear(list);
  if (!S.canned.length) list.appendChild(el("li", { class: "muted", text: "No canned responses yet." }));
  for (const item of S.canned) {
    list.appendChild(el("li", { class: "canned-item" },
      el("div", { class: "canned-item__main" },
        el("span", { class: "canned-opt__shortcut", text: "/" + item.shortcut }),
        el("span", { class: "canned-item__text", text: item.text })),
      el("div", { class: "canned-item__actions" },
        el("button", { type: "button", class: "link-btn", text: "Edit", attrs: { "aria-label": "Edit /" + item.shortcut },
          on: { click: () => editCanned(item) } }),
        el("button", { type: "button", class: "link-btn link-btn--danger", text: "Delete", attrs: { "aria-label": "Delete /" + item.shortcut },
          on: { click: () => deleteCanned(item) } }))));
  }
}

export function resetCannedForm() {
  cannedEditing = null;
  $("canned-shortcut").value = "";
  $("canned-text").value = "";
  $("canned-form-title").textContent = "New canned response";
  $("canned-save").textContent = "Add";
  show($("canned-error"), false);
}

function editCanned(item) {
  cannedEditing = item;
  $("canned-shortcut").value = "/" + item.shortcut;
  $("canned-text").value = item.text;
  $("canned-form-title").textContent = "Edit /" + item.shortcut;
  $("canned-save").textContent = "Save";
  show($("canned-error"), false);
  $("canned-text").focus();
}

export async function saveCanned(event) {
  event.preventDefault();
  const body = { shortcut: $("canned-shortcut").value.trim().replace(/^\/+/, ""), text: $("canned-text").value.trim() };
  const error = $("canned-error");
  if (!body.shortcut || !body.text) { error.textContent = "A shortcut and a text are both needed."; show(error, true); return; }
  try {
    if (cannedEditing) await api("PUT", "/v1/canned-responses/" + encodeURIComponent(cannedEditing.id), body);
    else await api("POST", "/v1/canned-responses", body);
    resetCannedForm();
    await loadCanned();
    renderCannedList();
  } catch (err) {
    error.textContent = describe(err);
    show(error, true);
  }
}

async function deleteCanned(item) {
  if (!window.confirm("Delete /" + item.shortcut + "?")) return;
  try {
    await api("DELETE", "/v1/canned-responses/" + encodeURIComponent(item.id));
    await loadCanned();
    renderCannedList();
  } catch (err) {
    toast("Could not delete: " + describe(err), "error");
  }
}
