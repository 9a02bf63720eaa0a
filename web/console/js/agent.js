/* The signed-in agent: who they are, their presence and slots, and the team they belong to. */
import { PRESENCE, SESSION_KEY } from "./constants.js";
import { sessionStore } from "./storage.js";
import { $, clear, el, paintAvatar } from "./dom.js";
import { isAdmin, S, savePrefs } from "./state.js";
import { describe, toast } from "./errors.js";
import { api } from "./api.js";
import { live } from "./live.js";
import { renderSettingsAccess } from "./pages.js";
import { renderTeam } from "./admin/team.js";

let meTimer = null;

export function updateMe(agent) {
  if (!agent) return;
  S.me = Object.assign({}, S.me || {}, agent);
  const i = S.team.findIndex((a) => a.id === agent.id);
  if (i >= 0) S.team[i] = Object.assign({}, S.team[i], agent);
  if (S.session) {
    S.session.agent = S.me;
    sessionStore.set(SESSION_KEY, S.session);
  }
  renderMe();
  renderSettingsAccess();
  if (!isAdmin() && (S.page === "settings" || S.page === "bot")) window.location.hash = "#";
}

export function refreshMeSoon() {
  clearTimeout(meTimer);
  meTimer = setTimeout(() => {
    api("GET", "/v1/agents/me").then((d) => updateMe(d.agent)).catch(() => {});
  }, 150);
}

export async function fetchMe() {
  try { updateMe((await api("GET", "/v1/agents/me")).agent); } catch (e) { /* keep the last known */ }
}

/** The socket's keep-alive (live.js decides when): it re-states the agent's presence rather than
 * pinging. A ping is answered even for a connection the server no longer knows, a presence is not,
 * and it also heals a status the server changed meanwhile. */
export function keepAlive() {
  const frame = S.me ? live.request("presence", { status: wantedPresence() }, 10000) : live.request("ping", {}, 10000);
  return frame.then((ack) => { if (ack && ack.agent) updateMe(ack.agent); });
}

/** The status this agent chose last on this browser; away the first time (chats wait in Unassigned
 * until the agent says they are ready: a fresh browser must not make anyone routable by itself). */
export function wantedPresence() {
  const chosen = (S.prefs.presenceByAgent || {})[S.me && S.me.id];
  return ["online", "away", "offline"].includes(chosen) ? chosen : "away";
}

export async function setPresence(status, opts) {
  S.prefs.presenceByAgent = Object.assign({}, S.prefs.presenceByAgent, { [S.me.id]: status });
  savePrefs();
  renderPresence();
  try {
    const ack = await live.request("presence", { status: status });
    S.presence = ack.status || status;
    if (ack.agent) updateMe(ack.agent);
    else if (S.me) S.me.status = S.presence;
    if (S.page === "settings") renderTeam();
  } catch (err) {
    if (!(opts && opts.quiet) && err.code !== "disconnected") toast("Could not change your status: " + describe(err), "error");
    if (err.code === "disconnected" && !(opts && opts.quiet)) toast("Your status will be set when the connection is back.", "info");
  }
  renderPresence();
}

export function renderPresence() {
  const select = $("presence");
  const wanted = wantedPresence();
  if (select.value !== wanted) select.value = wanted;
  const shown = live.isOpen() ? wanted : "offline";
  $("presence-dot").dataset.status = shown;
  const hint = live.isOpen() ? PRESENCE[wanted].hint : "Not connected: no chats come to you";
  $("presence-hint").textContent = hint;
  $("presence-hint").dataset.status = shown;
  select.title = PRESENCE[wanted].label + ": " + hint;
  // The empty pane says where new chats go for this agent now.
  const empty = $("thread-empty-text");
  const parts = PRESENCE[wanted].empty.split(/<([^>]+)>/);
  clear(empty);
  parts.forEach((part, i) => empty.appendChild(i % 2 ? el("strong", { text: part }) : document.createTextNode(part)));
}

export function renderMe() {
  if (!S.me) return;
  $("me-name").textContent = S.me.name || S.me.email || "";
  $("me-name").parentElement.title = S.me.email || S.me.name || "";   // narrow screens show the avatar only
  paintAvatar($("me-avatar"), S.me.name, S.me.id);
  const cap = S.me.capacity || 0;
  const used = S.me.active_chats || 0;
  $("slots-text").textContent = used + " / " + cap;
  $("slots").dataset.full = used >= cap && cap > 0 ? "true" : "false";
  $("slots").setAttribute("aria-label", "Slots used " + used + " of " + cap);
  $("slots-bar").style.width = cap ? Math.min(100, (used / cap) * 100) + "%" : "0";
}

export async function loadTeam() {
  try {
    S.team = (await api("GET", "/v1/agents")).items || [];
    const me = S.team.find((a) => S.me && a.id === S.me.id);
    if (me) updateMe(me);
  } catch (e) { /* names fall back to "Another agent" */ }
}

/** The groups (teams) of the workspace, as the team list tells them. */
export function teamGroups() {
  const groups = new Set();
  for (const a of S.team) for (const g of a.groups || []) groups.add(g);
  return Array.from(groups).sort();
}
