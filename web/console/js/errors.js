/* Errors from frames and REST calls, the sentences that tell a person what to do, and the toasts. */
import { $, el } from "./dom.js";
import { S } from "./state.js";

export class ApiError extends Error {
  constructor(code, message, status, field, details) {
    super(message);
    this.code = code;
    this.status = status || 0;
    this.field = field || null;
    this.details = details || {};   // the whole error object (e.g. a sign-in `session`)
  }
}

function capacityText() {
  const cap = (S.me && S.me.capacity) || 0;
  const used = Math.max((S.me && S.me.active_chats) || 0, cap);
  return "All your chat slots are taken (" + used + "/" + cap + ")";
}

/** One sentence a person can act on, for an error from a frame or a REST call. */
export function describe(err, what) {
  const code = err && err.code;
  if (code === "capacity") {
    if (what === "transfer") return "That agent has no free chat slot.";
    return capacityText() + ". Solve or transfer one first.";
  }
  if (code === "conflict") {
    if (what === "accept") return "Someone else took this conversation";
    if (/closed/.test(err.message || "")) return "This conversation is closed.";
    return "This conversation just changed; it has been reloaded.";
  }
  if (code === "disconnected" || (code === "unauthorized" && !err.status)) return "Not connected. Reconnecting…";
  if (code === "timeout") return "The server did not answer in time. Try again.";
  if (code === "network") return "Cannot reach Parley. Check your connection.";
  if (code === "not_found") return "This conversation no longer exists.";
  if (code === "rate_limited") return "Slow down a little and try again.";
  const message = (err && err.message) || "Something went wrong.";
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/** The API's own words for a refusal (`error.message`), as a sentence. */
export function apiMessage(err) {
  if (!err || ["network", "timeout", "disconnected"].includes(err.code)) return describe(err);
  const message = err.message || "Something went wrong.";
  return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
}

/** A short message in the corner; `action` = {label, run} adds a button (e.g. "Open"). */
export function toast(text, kind, action) {
  const box = $("toasts");
  for (const old of box.querySelectorAll(".toast__text")) if (old.textContent === text) old.parentElement.remove();
  const node = el("div", { class: "toast toast--" + (kind || "info"), attrs: { role: kind === "error" ? "alert" : "status" } },
    el("span", { class: "toast__text", text: text }),
    action ? el("button", { class: "toast__action", type: "button", text: action.label,
      on: { click: () => { node.remove(); action.run(); } } }) : null,
    el("button", { class: "toast__close", type: "button", text: "×", attrs: { "aria-label": "Dismiss" },
      on: { click: () => node.remove() } }));
  box.appendChild(node);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => node.remove(), kind === "error" ? 9000 : 5000);
}
