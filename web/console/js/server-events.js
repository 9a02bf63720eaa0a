/* The socket's side of the console: its state on screen, what a (re)connect resynchronises, and
 * the events the server sends. */
import { PREVIEW_STALE_MS, QUEUE_SETTLE_MS } from "./constants.js";
import { $, show } from "./dom.js";
import { addUnread, isMine, S, visitorName } from "./state.js";
import { toast } from "./errors.js";
import { live } from "./live.js";
import { scheduleRender } from "./render.js";
import { ensureJoined, noteMessage, upsert } from "./conversations.js";
import { renderPresence, setPresence, wantedPresence } from "./agent.js";
import { chime, renderAlerts } from "./alerts.js";
import { notifyDesktop } from "./notify.js";
import { countsSoon, reloadViews } from "./inbox.js";
import { addMessages, catchUp, renderSeen, renderTyping, setVisitorTyping } from "./thread/thread.js";
import { renderThreadBanner, visitorSeenNow } from "./thread/chrome.js";
import { flushOutbox } from "./thread/composer.js";
import { teamSoon } from "./admin/team.js";

export function renderConnection() {
  const box = $("conn");
  if (!box) return;
  const text = $("conn-text");
  const retry = $("conn-retry");
  let label = "Connecting…";
  let state = "connecting";
  if (live.state === "open") { label = "Connected"; state = "open"; }
  else if (live.state === "waiting") {
    const s = Math.max(0, Math.ceil((live.retryAt - Date.now()) / 1000));
    label = "Disconnected · retrying in " + s + "s";
    state = "down";
  } else if (live.state === "offline") { label = "Offline · waiting for the network"; state = "down"; }
  if (box.dataset.state !== state) {
    // Announce changes of state once; the visible countdown ticks without being read out.
    $("conn-live").textContent = state === "open" ? "Connected" : state === "down" ? "Connection lost. Reconnecting." : "";
  }
  box.dataset.state = state;
  text.textContent = label;
  show(retry, live.state === "waiting");
  renderThreadBanner();
  if (S.me) renderPresence();
}

export function onSocketOpen() {
  S.joined.clear();
  S.joining.clear();
  S.leaving.clear();
  // Presence is per agent, and the server makes the agent unavailable when the last socket closes.
  setPresence(wantedPresence(), { quiet: true });
  // Resynchronise what may have changed while we were away.
  reloadViews();
  if (S.activeId) {
    ensureJoined(S.activeId).then(() => catchUp(S.activeId)).catch(() => {});
  }
  for (const c of S.convs.values()) if (isMine(c)) ensureJoined(c.id).catch(() => {});
  flushOutbox();
}

export function onSocketClosed() {
  S.joined.clear();
  S.joining.clear();
  S.leaving.clear();
}

export function onEvent(frame) {
  switch (frame.type) {
    case "inbox": onInbox(frame.conversation); break;
    case "conversation": if (frame.conversation) { upsert(frame.conversation); countsSoon(); } break;
    case "message": onMessage(frame.conversation_id, frame.message); break;
    case "typing": onTyping(frame); break;
    case "read": onRead(frame); break;
    default: break;   // pong, unsolicited errors: nothing to show
  }
}

function onInbox(c) {
  if (!c || !c.id) return;
  const old = S.convs.get(c.id);
  countsSoon();
  teamSoon(500);
  if (old && old.updated_at && c.updated_at && old.updated_at > c.updated_at) return;   // an older version
  const wasQueued = !!old && old.status === "queued";
  const wasMine = !!old && isMine(old);
  upsert(c);
  if (c.status === "queued" && !wasQueued) newUnassigned(c);
  else if (isMine(c) && !wasMine && !S.claiming.has(c.id)) assignedToMe(c);
}

/** What the visitor wrote last, for a notification's body. */
function lastWords(c) {
  const last = c.last_message;
  return last && last.kind === "visitor" ? last.text : "";
}

/** A chat joined the queue. Routing usually hands it to an online agent within moments: tell
 * this agent only if it is still waiting a little later (then it needs someone to accept it). */
function newUnassigned(c) {
  setTimeout(() => {
    const now = S.convs.get(c.id);
    if (!S.me || !now || now.status !== "queued") return;
    chime();
    notifyDesktop(c.id, "New chat waiting: " + visitorName(now), lastWords(now) || "In Unassigned");
    const busyElsewhere = S.activeId && S.activeId !== c.id;
    if (document.hidden || busyElsewhere || S.page !== "inbox") {
      S.alerts.set(c.id, "unassigned");
      renderAlerts();
      scheduleRender("list");
    }
  }, QUEUE_SETTLE_MS);
}

/** Routing (or a colleague, or an admin) gave this agent a chat: say so like a new chat. */
function assignedToMe(c) {
  S.alerts.delete(c.id);
  chime();
  notifyDesktop(c.id, "New chat for you: " + visitorName(c), lastWords(c) || "Assigned to you");
  const looking = S.activeId === c.id && !document.hidden && S.page === "inbox";
  if (!looking && (document.hidden || S.activeId || S.view !== "mine" || S.page !== "inbox")) S.alerts.set(c.id, "mine");
  if (!looking) {
    toast("New chat assigned to you: " + visitorName(c), "info",
      { label: "Open", run: () => { window.location.hash = "#/c/" + encodeURIComponent(c.id); } });
  }
  renderAlerts();
}

function onMessage(conversationId, message) {
  if (!conversationId || !message) return;
  noteMessage(Object.assign({ conversation_id: conversationId }, message));
  if (message.author && message.author.kind === "visitor") visitorSeenNow(conversationId);
  const looking = conversationId === S.activeId && !document.hidden && S.page === "inbox";
  if (conversationId === S.activeId && S.thread) {
    addMessages([message]);
    if (message.author && message.author.kind === "visitor") setVisitorTyping(null);
  }
  if (!looking && message.author && message.author.kind === "visitor") {
    addUnread(conversationId, [message.seq]);
    if (document.hidden) chime();
    const c = S.convs.get(conversationId);
    if (c && (isMine(c) || conversationId === S.activeId)) notifyDesktop(conversationId, visitorName(c), message.text);
  }
  scheduleRender("list");
}

function onTyping(frame) {
  const author = frame.author || {};
  if (author.kind === "visitor") visitorSeenNow(frame.conversation_id);
  if (frame.conversation_id !== S.activeId || !S.thread) return;
  if (author.kind === "visitor") {
    if (frame.state === "on") setVisitorTyping({ name: author.name, preview: typeof frame.preview === "string" ? frame.preview : null });
    else setVisitorTyping(null);
  } else if (author.kind === "agent" && (!S.me || author.id !== S.me.id)) {
    S.thread.agentTyping = frame.state === "on" ? { name: author.name || "A colleague", at: Date.now() } : null;
    renderTyping();
    if (S.thread.agentTyping) setTimeout(renderTyping, PREVIEW_STALE_MS + 50);   // fades if "off" never comes
  }
}

function onRead(frame) {
  const c = S.convs.get(frame.conversation_id);
  if (c && frame.author && frame.author.kind === "visitor") {
    visitorSeenNow(c.id);
    S.convs.set(c.id, Object.assign({}, c, { visitor_read_seq: Math.max(c.visitor_read_seq || 0, frame.seq || 0) }));
    if (c.id === S.activeId) renderSeen();
  }
}
