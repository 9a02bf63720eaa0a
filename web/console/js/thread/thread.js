/* The open conversation: opening and closing it, its messages in order of seq, older pages, catch-up
 * after a gap, "Seen", read marks, and what the visitor or a colleague is typing. */
import { HISTORY_PAGE, PREVIEW_STALE_MS } from "../constants.js";
import { messageTime } from "../time.js";
import { $, clear, el, linkify, show, timeNode } from "../dom.js";
import { S, visitorName } from "../state.js";
import { describe, toast } from "../errors.js";
import { api } from "../api.js";
import { live } from "../live.js";
import { scheduleRender } from "../render.js";
import { ensureJoined, maybeLeave, noteMessage, upsert } from "../conversations.js";
import { loadProfile, renderThreadChrome } from "./chrome.js";
import { dropFromOutbox, renderPending, restoreDraft, saveDraft, stopTyping } from "./composer.js";
import { closeCanned } from "./canned.js";
import { loadSuggestions, resetSuggestions, suggestionsSoon } from "./suggestions.js";

let openToken = 0;

function newThread(id) {
  return {
    id: id,
    messages: new Map(),      // seq -> message
    nodes: new Map(),         // seq -> element
    hasMore: false,
    loaded: false,
    loadingOlder: false,
    visitorTyping: null,      // {name, preview, at}
    agentTyping: null,
    readSent: 0,
    error: null,
  };
}

export function openConversation(id) {
  if (!id || !S.me) return;
  if (S.activeId === id && S.thread) return;
  saveDraft();
  stopTyping();
  const previous = S.activeId;
  S.activeId = id;
  if (previous && previous !== id) maybeLeave(previous);
  S.thread = newThread(id);
  S.alerts.delete(id);
  S.unread.delete(id);
  document.body.classList.add("has-thread");
  show($("thread-empty"), false);
  show($("thread-main"), true);
  clear($("msg-list"));
  clear($("pending-list"));
  $("msg-list").setAttribute("aria-busy", "true");   // do not read the whole history out on open
  setVisitorTyping(null);
  closeCanned();
  restoreDraft();
  renderThreadChrome();
  renderOlder();
  renderPending();
  resetSuggestions();
  loadSuggestions(id);
  scheduleRender("list");
  const token = ++openToken;
  const thread = S.thread;

  api("GET", "/v1/conversations/" + encodeURIComponent(id))
    .then((data) => {
      if (token !== openToken) return;
      upsert(data.conversation);
      addMessages(data.messages || [], { initial: true });
      if (!thread.loaded) { thread.loaded = true; thread.hasMore = !!data.has_more; }
      else thread.hasMore = thread.hasMore || !!data.has_more;
      $("msg-list").setAttribute("aria-busy", "false");
      renderOlder();
      renderThreadChrome();
      loadProfile(data.conversation.visitor && data.conversation.visitor.id);
      maybeLoadOlder();
    })
    .catch((err) => {
      if (token !== openToken) return;
      thread.error = err;
      $("msg-list").setAttribute("aria-busy", "false");
      renderThreadChrome();
      toast(err.status === 404 ? "This conversation does not exist or belongs to another workspace." : "Could not open the conversation: " + describe(err), "error");
    });
  ensureJoined(id).then((ack) => {
    if (token !== openToken || !ack) return;
    addMessages(ack.messages || []);
  }).catch(() => { /* REST above already shows the history; the join is retried on reconnect */ });
}

export function closeConversation() {
  saveDraft();
  stopTyping();
  openToken++;
  const previous = S.activeId;
  S.activeId = null;
  if (previous) maybeLeave(previous);
  S.thread = null;
  resetSuggestions();
  document.body.classList.remove("has-thread");
  show($("thread-empty"), true);
  show($("thread-main"), false);
  show($("side-main"), false);
  show($("side-empty"), true);
  scheduleRender("list");
}

/** After a reconnect or a gap: every message after the newest we hold. */
export async function catchUp(id) {
  let guard = 0;
  while (S.thread && S.thread.id === id && guard++ < 20) {
    const after = maxSeq();
    const data = await api("GET", "/v1/conversations/" + encodeURIComponent(id) + "/messages?after_seq=" + after + "&limit=100");
    if (!S.thread || S.thread.id !== id) return;
    addMessages(data.messages || []);
    if (!data.has_more) return;
  }
}

function maxSeq() {
  let m = 0;
  if (S.thread) for (const seq of S.thread.messages.keys()) if (seq > m) m = seq;
  return m;
}

function minSeq() {
  let m = Infinity;
  if (S.thread) for (const seq of S.thread.messages.keys()) if (seq < m) m = seq;
  return m === Infinity ? 0 : m;
}

function nearBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

/** Merge messages by seq; keep the reader where they were. */
export function addMessages(messages, opts) {
  const thread = S.thread;
  if (!thread || !messages.length) return;
  const box = $("messages");
  const stick = (opts && opts.initial) || nearBottom(box) || messages.some((m) => isOwn(m) && m.seq > maxSeq());
  const prepend = opts && opts.prepend;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const before = maxSeq();
  let added = 0, fromVisitor = false;
  for (const m of messages) {
    if (!m || typeof m.seq !== "number" || m.conversation_id !== thread.id) continue;
    if (thread.messages.has(m.seq)) continue;
    thread.messages.set(m.seq, m);
    insertMessageNode(m);
    if (m.client_msg_id && isOwn(m)) dropFromOutbox(m.client_msg_id);
    if (m.seq > before && m.author && m.author.kind === "visitor") fromVisitor = true;
    added++;
  }
  if (!added) return;
  // The visitor's last message changed: what the knowledge base suggests may too.
  if (fromVisitor && before && !prepend && !(opts && opts.initial)) suggestionsSoon();
  const last = thread.messages.get(maxSeq());
  if (last) {
    for (const m of messages) if (m && m.seq > before) noteMessage(m);
    scheduleRender("list");
  }
  if (before && !prepend && !(opts && opts.initial) && hasGap(before)) {
    // A gap after what we held: fetch what we missed (agents see every seq, notes included).
    if (!thread.catchingUp) {
      thread.catchingUp = true;
      catchUp(thread.id).catch(() => {}).finally(() => { thread.catchingUp = false; });
    }
  }
  if (prepend) box.scrollTop = box.scrollHeight - fromBottom;
  else if (stick) box.scrollTop = box.scrollHeight;
  renderSeen();
  markRead();
}

function hasGap(from) {
  const top = maxSeq();
  for (let seq = from + 1; seq < top; seq++) if (!S.thread.messages.has(seq)) return true;
  return false;
}

function isOwn(m) {
  return m && m.author && S.me && m.author.kind === "agent" && m.author.id === S.me.id;
}

function insertMessageNode(m) {
  const thread = S.thread;
  const node = messageNode(m);
  thread.nodes.set(m.seq, node);
  const list = $("msg-list");
  // Find the first node with a higher seq (messages may arrive out of order).
  let next = null;
  for (const child of list.children) {
    if (Number(child.dataset.seq) > m.seq) { next = child; break; }
  }
  list.insertBefore(node, next);
}

function messageNode(m) {
  const author = m.author || {};
  const kind = m.internal ? "note" : author.kind === "visitor" ? "visitor" : author.kind === "agent" ? "agent" : author.kind === "bot" ? "bot" : "system";
  const classes = ["msg", "msg--" + kind];
  if (isOwn(m)) classes.push("msg--own");
  if (kind === "system") {
    return el("div", { class: classes.join(" "), dataset: { seq: String(m.seq) } },
      el("span", { class: "msg__system" }, linkify(m.text)), " ", timeNode(m.created_at, messageTime(m.created_at)));
  }
  const name = author.kind === "visitor" ? (author.name || visitorName(S.convs.get(m.conversation_id))) : (author.name || (author.kind === "bot" ? "Bot" : "Agent"));
  return el("div", { class: classes.join(" "), dataset: { seq: String(m.seq) } },
    el("div", { class: "msg__meta" },
      el("span", { class: "msg__author", text: isOwn(m) ? "You" : name }),
      m.internal ? el("span", { class: "msg__tag", text: "Private note" }) : null,
      timeNode(m.created_at, messageTime(m.created_at))),
    el("div", { class: "msg__bubble" }, linkify(m.text)),
    el("div", { class: "msg__seen", hidden: true, text: "Seen" }));
}

/** "Seen" under the newest agent reply the visitor has read. */
export function renderSeen() {
  const thread = S.thread;
  if (!thread) return;
  const c = S.convs.get(thread.id);
  const mark = (c && c.visitor_read_seq) || 0;
  let target = null;
  for (const [seq, m] of thread.messages) {
    if (seq <= mark && m.author && m.author.kind === "agent" && !m.internal && (!target || seq > target)) target = seq;
  }
  for (const [seq, node] of thread.nodes) {
    const seen = node.querySelector(".msg__seen");
    if (seen) seen.hidden = seq !== target;
  }
}

let readTimer = null;

export function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const thread = S.thread;
    if (!thread || document.hidden || S.page !== "inbox") return;
    const seq = maxSeq();
    if (seq > thread.readSent && live.isOpen()) {
      thread.readSent = seq;
      live.notify("read", { conversation_id: thread.id, seq: seq });
    }
  }, 400);
}

function renderOlder() {
  const thread = S.thread;
  if (!thread) return;
  show($("older"), thread.loaded && thread.hasMore && !thread.loadingOlder);
  show($("older-loading"), thread.loadingOlder);
  show($("older-start"), thread.loaded && !thread.hasMore && thread.messages.size > 0);
}

export async function loadOlder() {
  const thread = S.thread;
  if (!thread || !thread.hasMore || thread.loadingOlder) return;
  thread.loadingOlder = true;
  $("msg-list").setAttribute("aria-busy", "true");
  renderOlder();
  const before = minSeq();
  try {
    const data = await api("GET", "/v1/conversations/" + encodeURIComponent(thread.id) + "/messages?before_seq=" + before + "&limit=" + HISTORY_PAGE);
    if (S.thread !== thread) return;
    thread.hasMore = !!data.has_more;
    addMessages(data.messages || [], { prepend: true });
  } catch (err) {
    if (S.thread === thread) toast("Could not load earlier messages: " + describe(err), "error");
  } finally {
    thread.loadingOlder = false;
    if (S.thread === thread) {
      $("msg-list").setAttribute("aria-busy", "false");
      renderOlder();
    }
  }
  maybeLoadOlder();
}

export function maybeLoadOlder() {
  const thread = S.thread;
  if (!thread || !thread.hasMore || thread.loadingOlder) return;
  const box = $("messages");
  if (box.scrollTop < 120 || box.scrollHeight <= box.clientHeight) loadOlder();
}

let typingExpire = null;

export function setVisitorTyping(state) {
  if (!S.thread) return;
  S.thread.visitorTyping = state ? Object.assign({ at: Date.now() }, state) : null;
  clearTimeout(typingExpire);
  if (state) typingExpire = setTimeout(() => { if (S.thread) { S.thread.visitorTyping = null; renderTyping(); } }, PREVIEW_STALE_MS);
  renderTyping();
}

export function renderTyping() {
  const thread = S.thread;
  const box = $("typing");
  const v = thread && thread.visitorTyping;
  const a = thread && thread.agentTyping && Date.now() - thread.agentTyping.at < PREVIEW_STALE_MS ? thread.agentTyping : null;
  if (!v && !a) { show(box, false); return; }
  const messages = $("messages");
  const stick = nearBottom(messages);
  if (v) {
    const name = v.name || visitorName(S.convs.get(thread.id));
    $("typing-who").textContent = name + " is typing";
    $("typing-preview").textContent = v.preview ? v.preview : "";
    box.dataset.kind = "visitor";
    box.title = "What the visitor is typing (not sent yet)";
  } else {
    $("typing-who").textContent = a.name + " is typing";
    $("typing-preview").textContent = "";
    box.dataset.kind = "agent";
    box.title = "";
  }
  show(box, true);
  if (stick) messages.scrollTop = messages.scrollHeight;
}
