/* The conversations this console holds: the freshest copy of each, and this socket's subscriptions. */
import { activityOf, addUnread, isMine, S } from "./state.js";
import { ApiError } from "./errors.js";
import { api } from "./api.js";
import { live } from "./live.js";
import { scheduleRender } from "./render.js";
import { refreshMeSoon } from "./agent.js";

/** Keep the freshest version of a conversation and let every view follow it. */
export function upsert(c) {
  if (!c || !c.id) return null;
  if (c.status === "closed" && c.visitor && S.erased.has(c.visitor.id)) return null;
  const old = S.convs.get(c.id);
  if (old && old.updated_at && c.updated_at && old.updated_at > c.updated_at) return old;
  c = keepNewestActivity(old, c);
  S.convs.set(c.id, c);
  if (c.status !== "queued" && S.alerts.get(c.id) === "unassigned") S.alerts.delete(c.id);
  if (!isMine(c) && S.alerts.get(c.id) === "mine") S.alerts.delete(c.id);
  const wasMine = !!old && isMine(old);
  if (isMine(c)) {
    ensureJoined(c.id).catch(() => {});
  } else if (wasMine) {
    S.unread.delete(c.id);
    maybeLeave(c.id);   // solved or handed on: its live events are no longer this console's business
  }
  const meInvolved = S.me && ((old && old.assignee_id === S.me.id) || c.assignee_id === S.me.id);
  if (meInvolved && (!old || old.status !== c.status || old.assignee_id !== c.assignee_id)) refreshMeSoon();
  scheduleRender("list");
  if (c.id === S.activeId) scheduleRender("thread");
  return c;
}

/** A message seen live may be newer than the copy a list or event carries: keep the newest of each. */
function keepNewestActivity(old, c) {
  if (!old) return c;
  const out = Object.assign({}, c);
  if (activityOf(old) > activityOf(c)) out.activity_at = old.activity_at;
  const lo = old.last_message;
  const ln = c.last_message;
  if (lo && (!ln || lo.seq > ln.seq)) out.last_message = lo;
  else if (lo && ln && lo.seq === ln.seq && lo.author_id) out.last_message = Object.assign({}, ln, { author_id: lo.author_id });
  return out;
}

// The system's notices that never become a conversation's preview: who joined, a solve.
const QUIET_NOTICES = new Set(["joined", "solved", "solved_auto"]);

/** The list's preview and order follow every message this console sees. */
export function noteMessage(m) {
  const c = S.convs.get(m.conversation_id);
  if (!c || !m) return;
  const patch = {};
  if (m.created_at && m.created_at > activityOf(c)) patch.activity_at = m.created_at;
  if (!m.internal && !QUIET_NOTICES.has(m.notice) && (!c.last_message || c.last_message.seq < m.seq)) {
    // Never a note, nor a notice the server keeps out of last_message (docs/protocol.md §8.1).
    patch.last_message = { seq: m.seq, text: String(m.text || "").slice(0, 140), kind: (m.author && m.author.kind) || "system",
      at: m.created_at, author_id: m.author && m.author.id };
  }
  if (Object.keys(patch).length) S.convs.set(c.id, Object.assign({}, c, patch));
}

/** Subscribe this socket to a conversation once per connection. */
export function ensureJoined(id) {
  if (S.joined.has(id)) return Promise.resolve(null);
  if (S.joining.has(id)) return S.joining.get(id);
  if (!live.isOpen()) return Promise.reject(new ApiError("disconnected", "not connected", 0));
  // Frames are handled concurrently: a join sent while a leave is on its way could be undone by it.
  const leaving = S.leaving.get(id);
  if (leaving) return leaving.then(() => ensureJoined(id));
  const p = live.request("join", { conversation_id: id })
    .then((ack) => {
      S.joined.add(id);
      if (ack.conversation) upsert(ack.conversation);
      const messages = ack.messages || [];
      if (messages.length) {
        for (const m of messages) noteMessage(m);
        if (id !== S.activeId && ack.conversation) {
          const readSeq = ack.conversation.agent_read_seq || 0;
          addUnread(id, messages.filter((m) => m.seq > readSeq && m.author && m.author.kind === "visitor").map((m) => m.seq));
        }
        scheduleRender("list");
      }
      return ack;
    })
    .finally(() => S.joining.delete(id));
  S.joining.set(id, p);
  return p;
}

/** Stop this socket's live events for a conversation that is neither on screen nor this agent's
 * (the pane was closed, or the chat went to someone else). */
export function maybeLeave(id) {
  if (!id || id === S.activeId) return;
  const c = S.convs.get(id);
  if (c && isMine(c)) return;
  const joining = S.joining.get(id);
  if (joining) { joining.then(() => maybeLeave(id), () => {}); return; }
  if (!S.joined.has(id) || S.leaving.has(id)) return;
  S.joined.delete(id);
  const p = live.request("leave", { conversation_id: id })
    .catch(() => { /* gone or disconnected: nothing to stop */ })
    .finally(() => S.leaving.delete(id));
  S.leaving.set(id, p);
}

export function reloadConversation(id) {
  api("GET", "/v1/conversations/" + encodeURIComponent(id)).then((d) => upsert(d.conversation)).catch((err) => {
    if (err.status === 404 && S.convs.has(id) && id !== S.activeId) { S.convs.delete(id); scheduleRender("list"); }
  });
}
