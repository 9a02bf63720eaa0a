/* Desktop notifications for chats that come in while the console's tab is in the background. The
 * browser is asked once, from a prompt the agent clicks (browsers refuse to ask without a gesture, and
 * asking on load annoys), and the agent's choice is remembered per agent on this browser. */
import { $, show } from "./dom.js";
import { S, savePrefs } from "./state.js";
import { toast } from "./errors.js";

/** What the console does about notifications, from what the browser allows (`Notification.permission`,
 * or "unsupported") and what the agent chose here ("on", "off" or nothing yet): "on", "off", "ask"
 * (offer the prompt), "blocked" (the browser said no: only its site settings can undo it) or
 * "unsupported". */
export function notifyState(permission, choice) {
  if (permission === "unsupported") return "unsupported";
  if (permission === "denied") return "blocked";
  if (choice === "off") return "off";
  if (choice === "on" && permission === "granted") return "on";
  return "ask";   // no choice yet, or "on" while the browser forgot its permission: ask again
}

function permission() {
  return typeof Notification === "function" ? Notification.permission : "unsupported";
}

function choice() {
  return S.me ? (S.prefs.notifyByAgent || {})[S.me.id] : undefined;
}

function choose(value) {
  if (!S.me) return;
  S.prefs.notifyByAgent = Object.assign({}, S.prefs.notifyByAgent, { [S.me.id]: value });
  savePrefs();
  renderNotify();
}

function current() {
  return notifyState(permission(), choice());
}

/** The prompt above the views (until the agent chooses) and the top bar's switch. */
export function renderNotify() {
  const state = S.me ? current() : "unsupported";
  show($("notify-prompt"), state === "ask");
  const toggle = $("notify-toggle");
  show(toggle, state !== "unsupported");
  toggle.setAttribute("aria-pressed", state === "on" ? "true" : "false");
  toggle.textContent = state === "on" ? "Notifications on" : state === "blocked" ? "Notifications blocked" : "Notifications off";
  toggle.title = state === "blocked"
    ? "Your browser blocks notifications for this page: allow them in its site settings"
    : "Show a desktop notification when a chat comes in while this tab is in the background";
}

/** Turn them on (a click: the gesture the browser wants before it asks). */
export async function turnOnNotify() {
  if (permission() === "default") {
    const answer = await new Promise((resolve) => {
      // Older Safari answers through the callback only.
      const asked = Notification.requestPermission(resolve);
      if (asked && asked.then) asked.then(resolve, () => resolve(permission()));
    });
    if (answer !== "granted") { renderNotify(); return; }   // denied: blocked; dismissed: the prompt stays
  }
  if (permission() === "granted") choose("on");
}

export function turnOffNotify() {
  choose("off");
}

export function toggleNotify() {
  const state = current();
  if (state === "on") turnOffNotify();
  else if (state === "blocked") toast("Your browser blocks notifications for this page. Allow them in its site settings, then turn them on here.", "info");
  else turnOnNotify();
}

/** The agent is elsewhere: another tab or window is in front of this one. */
function inBackground() {
  return document.visibilityState === "hidden" || !document.hasFocus();
}

/** A desktop notification about a conversation, when the agent wants them and is not looking; one per
 * conversation at a time (the tag), and clicking it brings the tab forward with the chat open. */
export function notifyDesktop(conversationId, title, body) {
  if (current() !== "on" || !inBackground()) return;
  try {
    const note = new Notification(title, { body: String(body || "").slice(0, 200), tag: conversationId });
    note.onclick = () => {
      window.focus();
      window.location.hash = "#/c/" + encodeURIComponent(conversationId);
      note.close();
    };
  } catch (e) {
    /* some browsers notify only from a service worker: the title, favicon and sound still tell */
  }
}
