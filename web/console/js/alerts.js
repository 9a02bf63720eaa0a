/* Telling the agent about new chats: the sound, the page title, the badge and the favicon. */
import { BASE_TITLE } from "./constants.js";
import { $, show } from "./dom.js";
import { S } from "./state.js";

let audio = null;
let lastChime = 0;

/** The new-chat sound, when the agent turned it on; once for a burst (a chat queued, then assigned). */
export function chime() {
  if (!S.prefs.sound || Date.now() - lastChime < 1500) return;
  lastChime = Date.now();
  document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
  beep();
}

export function beep() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1175, t + 0.09);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.08, t + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.27);
  } catch (e) {
    /* no audio: the title and badge still tell */
  }
}

export function renderSound() {
  const btn = $("sound-toggle");
  btn.setAttribute("aria-pressed", S.prefs.sound ? "true" : "false");
  btn.textContent = S.prefs.sound ? "Sound on" : "Sound off";
}

function faviconHref(dot) {
  const svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>" +
    "<rect x='2' y='2' width='28' height='28' rx='8' fill='%233b5bdb'/>" +
    "<text x='16' y='22' font-family='system-ui,sans-serif' font-size='17' font-weight='700' fill='white' text-anchor='middle'>P</text>" +
    (dot ? "<circle cx='25' cy='7' r='6.5' fill='%23e8590c' stroke='white' stroke-width='2'/>" : "") + "</svg>";
  return "data:image/svg+xml," + svg.replace(/</g, "%3C").replace(/>/g, "%3E");
}

export function renderAlerts() {
  const n = S.alerts.size;
  let unread = 0;
  for (const [id, seqs] of S.unread) if (id !== S.activeId || document.hidden) unread += seqs.size;
  const total = n + unread;
  if (!S.me) document.title = BASE_TITLE;
  else if (n > 0) document.title = "(" + total + ") New chat · " + BASE_TITLE;
  else if (total > 0) document.title = "(" + total + ") " + BASE_TITLE;
  else document.title = BASE_TITLE;
  renderBadge();
  for (const view of ["unassigned", "mine"]) {
    const dot = document.querySelector('[data-view="' + view + '"] .view__new');
    if (dot) show(dot, Array.from(S.alerts.values()).includes(view));
  }
  const icon = $("favicon");
  const wanted = faviconHref(total > 0);
  if (icon.getAttribute("href") !== wanted) icon.setAttribute("href", wanted);
}

/** "2 new chats for you", inside the view those chats are in (the newest alert's), so it never sits
 * beside a view it does not speak of; clicking it is clicking that view. */
function renderBadge() {
  const badge = $("alert-badge");
  const target = alertTarget();
  const n = Array.from(S.alerts.values()).filter((view) => view === target).length;
  badge.textContent = (n === 1 ? "1 new chat" : n + " new chats") + (target === "mine" ? " for you" : "");
  badge.title = target === "mine" ? "Show the chats assigned to you" : "Show unassigned chats";
  show(badge, n > 0);
  const home = document.querySelector('#views [data-view="' + target + '"]');
  if (!home) return;   // the views are not drawn yet
  if (badge.parentElement !== home) home.appendChild(badge);
  // The view's aria-label names it and its count; the badge is read as its description.
  for (const view of document.querySelectorAll("#views .view")) {
    if (view === home && n > 0) view.setAttribute("aria-describedby", "alert-badge");
    else view.removeAttribute("aria-describedby");
  }
}

/** The view the newest alert belongs to (where the badge leads). */
export function alertTarget() {
  let last = null;
  for (const view of S.alerts.values()) last = view;
  return last || "unassigned";
}

export function clearAlerts(view) {
  let changed = false;
  for (const [id, v] of S.alerts) if (!view || v === view) { S.alerts.delete(id); changed = true; }
  if (changed) renderAlerts();
}
