/* The one state object and the selectors that read it (names, views, unread counts, previews). */
import { ACTIVE_STATUSES, PREFS_KEY, STATUS_LABELS, VIEWS } from "./constants.js";
import { prefsStore } from "./storage.js";
import { parseTime } from "./time.js";

/** The console's state: one object that every module reads and changes. */
export const S = {
  session: null,              // {token, refresh_token, expires_at, agent}
  me: null,                   // Agent
  team: [],                   // [Agent]
  canned: [],                 // [{id, shortcut, text}]
  convs: new Map(),           // id -> Conversation (freshest known)
  viewMeta: freshViewMeta(),  // view -> {cursor, complete, loaded, loading}
  view: "unassigned",
  activeId: null,
  thread: null,               // the open conversation's messages and UI state
  unread: new Map(),          // conversation id -> Set of seqs of visitor messages not yet seen
  counts: null,               // GET /v1/inbox/counts: view -> number
  joined: new Set(),          // conversations this socket is subscribed to
  joining: new Map(),         // conversation id -> pending join promise
  leaving: new Map(),         // conversation id -> pending leave promise
  claiming: new Set(),        // conversations this console is taking itself (accept, status): no "assigned" notice
  alerts: new Map(),          // conversation id -> view ("unassigned" | "mine"): new chats not looked at yet
  page: "inbox",              // inbox | settings | kb | bot
  settingsTab: "team",        // team | sites | webhooks: the settings tab shown last
  sites: new Map(),           // site key -> site settings (admins)
  drafts: new Map(),          // conversation id -> {text, mode}
  outbox: [],                 // messages waiting for their ack
  profiles: new Map(),        // visitor id -> {visitor, conversations}
  seenAt: new Map(),          // visitor id -> when this console last heard from them (ISO): fresher than the profile
  erased: new Set(),          // visitor ids erased from here: their closing events must not bring them back
  prefs: defaultPrefs(),      // this browser's copy replaces it at start (loadPrefs)
  presence: "offline",        // what the server acknowledged last
};

function freshViewMeta() {
  const meta = {};
  for (const v of VIEWS) meta[v.id] = { cursor: null, complete: false, loaded: false, loading: null };
  return meta;
}

function defaultPrefs() {
  return { presenceByAgent: {}, sound: false, view: "unassigned" };
}

/** This browser's preferences: the presence chosen per agent, the sound, the last view, the sites, the
 * site the bot page opened last (botSite). */
export function loadPrefs() {
  S.prefs = Object.assign(defaultPrefs(), prefsStore.get(PREFS_KEY) || {});
}

export function savePrefs() {
  prefsStore.set(PREFS_KEY, S.prefs);
}

export function visitorName(c) {
  const v = (c && c.visitor) || {};
  if (v.name) return v.name;
  return "Visitor " + String(v.id || "").replace(/^v_/, "").slice(0, 4);
}

export function agentName(id) {
  if (!id) return "";
  if (S.me && id === S.me.id) return S.me.name + " (you)";
  const agent = S.team.find((a) => a.id === id);
  return agent ? agent.name : "Another agent";
}

export function inView(c, view) {
  switch (view) {
    case "unassigned": return c.status === "queued";
    case "mine": return !!S.me && c.assignee_id === S.me.id && ACTIVE_STATUSES.includes(c.status);
    case "open": case "pending": case "solved": return c.status === view;
    default: return true;
  }
}

export function isMine(c) {
  return inView(c, "mine");
}

export function isAdmin() {
  return !!S.me && S.me.role === "admin";
}

/** When the conversation last moved (its list's sort key). */
export function activityOf(c) {
  return (c && (c.activity_at || c.updated_at || c.created_at)) || "";
}

/** "Waiting 3 min" for a queued conversation, from queued_at. */
export function waitText(c) {
  if (!c || c.status !== "queued") return "";
  const since = parseTime(c.queued_at || c.created_at);
  if (!since) return "";
  const minutes = Math.floor(Math.max(0, Date.now() - since.getTime()) / 60000);
  if (minutes < 1) return "Waiting <1 min";
  if (minutes < 60) return "Waiting " + minutes + " min";
  const hours = Math.floor(minutes / 60);
  return "Waiting " + hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
}

// Unread messages are kept as seqs, so a message seen both live and in a join's history counts once.
export function addUnread(id, seqs) {
  if (!seqs.length) return;
  const set = S.unread.get(id) || new Set();
  for (const seq of seqs) if (typeof seq === "number") set.add(seq);
  S.unread.set(id, set);
}

export function unreadCount(id) {
  const set = S.unread.get(id);
  return set ? set.size : 0;
}

/** A view's conversations in the order to work them: Unassigned, the longest waiting first (the
 * queue's order: since it was queued); every other view, the last activity first. Ties: by id. */
export function sortedIn(view) {
  const items = [];
  for (const c of S.convs.values()) if (inView(c, view)) items.push(c);
  if (view === "unassigned") {
    const since = (c) => c.queued_at || c.created_at || activityOf(c);
    return items.sort((a, b) => (since(a) < since(b) ? -1 : since(a) > since(b) ? 1 : a.id < b.id ? -1 : 1));
  }
  items.sort((a, b) => {
    const ka = activityOf(a);
    const kb = activityOf(b);
    return ka < kb ? 1 : ka > kb ? -1 : a.id < b.id ? 1 : -1;
  });
  return items;
}

/** The list's one-line preview: the last message (never a note), with who wrote it. */
export function previewText(c) {
  const last = c.last_message;
  if (c.title) return c.title;
  if (last && last.text) {
    let who = "";
    if (last.kind === "agent") {
      const own = last.author_id ? S.me && last.author_id === S.me.id : S.me && c.assignee_id === S.me.id;
      who = own ? "You: " : "Agent: ";
    } else if (last.kind === "bot") who = "Bot: ";
    return who + last.text;
  }
  if (!c.last_seq) return "No messages yet";
  return (STATUS_LABELS[c.status] || c.status) + (c.assignee_id ? " · " + agentName(c.assignee_id) : "");
}

/** Forget what the last agent's session held (sign-in and sign-out start from here). */
export function resetState() {
  S.me = null;
  S.team = [];
  S.canned = [];
  S.convs.clear();
  S.unread.clear();
  S.counts = null;
  S.claiming.clear();
  S.leaving.clear();
  S.sites.clear();
  S.page = "inbox";
  S.joined.clear();
  S.joining.clear();
  S.alerts.clear();
  S.drafts.clear();
  S.outbox = [];
  S.profiles.clear();
  S.seenAt.clear();
  S.activeId = null;
  S.thread = null;
  for (const v of VIEWS) S.viewMeta[v.id] = { cursor: null, complete: false, loaded: false, loading: null };
}
