/* DOM helpers: every piece of visitor- or agent-provided text reaches the page as a text node
 * (el()/textContent); nothing here assigns HTML. */
import { linkParts } from "./links.js";
import { hue, initials } from "./text.js";
import { agoText, dateText } from "./time.js";
import { agoWords } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

/** el("div", {class: "x", text: "y", on: {click: fn}, attrs: {...}}, child, "text", ...) */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "attrs") for (const [a, v] of Object.entries(value)) { if (v !== null && v !== undefined && v !== false) node.setAttribute(a, v === true ? "" : String(v)); }
      else node[key] = value;
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** Text with http(s) links made clickable, as text nodes and <a> elements only. */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  for (const part of linkParts(text)) {
    frag.appendChild(typeof part === "string" ? document.createTextNode(part) : externalLink(part.href, part.label));
  }
  return frag;
}

export function externalLink(href, label) {
  return el("a", { href: href, text: label, attrs: { target: "_blank", rel: "noopener noreferrer nofollow" } });
}

export function paintAvatar(node, name, seed) {
  node.textContent = initials(name);
  node.style.setProperty("--avatar-hue", String(hue(seed || name)));
}

export function timeNode(iso, text) {
  return el("time", { text: text, attrs: { datetime: iso, title: dateText(iso) || null } });
}

/** A relative time ("5m ago") that refreshAgo() keeps true as the minutes pass; `translated`: in the
 * console's language (i18n.js), for a page that is translated (elsewhere it stays in English, beside
 * English words). */
export function agoNode(iso, id, translated) {
  const node = el("time", { id: id, dataset: { ago: iso }, attrs: { datetime: iso, title: dateText(iso) || null } });
  if (translated) node.dataset.agoTranslated = "";
  node.textContent = agoOf(node);
  return node;
}

function agoOf(node) {
  return "agoTranslated" in node.dataset ? agoWords(node.dataset.ago) : agoText(node.dataset.ago);
}

/** Point an agoNode at another moment. */
export function setAgo(node, iso) {
  node.dataset.ago = iso;
  node.setAttribute("datetime", iso);
  node.title = dateText(iso);
  node.textContent = agoOf(node);
}

/** Every relative time on the page, as of now (a timer calls it: "just now" becomes "1m ago"). */
export function refreshAgo() {
  for (const node of document.querySelectorAll("time[data-ago]")) node.textContent = agoOf(node);
}

/** A yes/no question in a modal dialog ({title, text, confirm, cancel}: the buttons' words); resolves true
 * when confirmed. */
export function confirmDialog(opts) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = opts.title;
  $("confirm-text").textContent = opts.text || "";
  $("confirm-cancel").textContent = opts.cancel || "Cancel";
  const ok = $("confirm-ok");
  ok.textContent = opts.confirm || "OK";
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.removeEventListener("close", onClose);
      ok.removeEventListener("click", onOk);
      resolve(value);
    };
    const onOk = () => { dialog.close("ok"); };
    const onClose = () => done(dialog.returnValue === "ok");
    dialog.returnValue = "";
    ok.addEventListener("click", onOk);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}
