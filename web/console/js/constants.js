/* The console's fixed values: its views, labels, timings and storage keys, and where Parley is. */

/** Where this console finds Parley: the `api` and `ws` of config.js (the deploy writes it), else this
 * page's own origin, as on the local stack. */
export function resolveConfig(raw, location) {
  const api = (raw.api || location.origin).replace(/\/+$/, "");
  let ws = raw.ws || "";
  if (!ws) ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  return { api: api, ws: ws };
}

let resolved = null;

/** The endpoints, read from window.PARLEY_CONFIG the first time they are needed. */
export function config() {
  if (!resolved) resolved = resolveConfig(window.PARLEY_CONFIG || {}, window.location);
  return resolved;
}

export const VIEWS = [
  { id: "unassigned", label: "Unassigned", empty: "No one is waiting. New chats appear here live." },
  { id: "mine", label: "Mine", empty: "Nothing assigned to you right now." },
  { id: "open", label: "Open", empty: "No open conversations." },
  { id: "pending", label: "Pending", empty: "No pending conversations." },
  { id: "solved", label: "Solved", empty: "No solved conversations yet." },
  { id: "all", label: "All", empty: "No conversations yet." },
];

export const ACTIVE_STATUSES = ["open", "pending"];
export const STATUS_LABELS = { bot: "Bot", queued: "Unassigned", open: "Open", pending: "Pending", solved: "Solved", closed: "Closed" };
export const PAGE_SIZE = 50;           // conversations per list request

export const PRESENCE = {
  online: { label: "Online", hint: "Chats come to you automatically", empty: "You are online: new chats are assigned to you automatically and appear in <Mine>." },
  away: { label: "Away", hint: "No new chats; accept by hand", empty: "You are away: new chats wait in <Unassigned> for you to accept by hand." },
  offline: { label: "Offline", hint: "No chats come to you", empty: "You are offline: new chats wait in <Unassigned>." },
};

export const HISTORY_PAGE = 50;
export const QUEUE_SETTLE_MS = 1200;   // a new chat still queued after this is news for the whole team
export const LIST_REFRESH_MS = 30000;  // lists carry last messages of chats this console is not joined to
export const REQUEST_TIMEOUT_MS = 15000;
export const PING_EVERY_MS = 4 * 60 * 1000;   // API Gateway drops sockets idle for 10 minutes
// Is the socket still alive? A `ping` (no database work on the server) this often, answered within the
// timeout, or the console says it is disconnected and reconnects: an agent must never be shown
// "Connected" while chats cannot reach them.
export const HEARTBEAT_EVERY_MS = 20000;  // one Lambda call each: about 3 per agent-minute
export const HEARTBEAT_TIMEOUT_MS = 8000;
export const TYPING_IDLE_MS = 3000;
export const PREVIEW_STALE_MS = 12000;
export const SESSION_KEY = "parley.console.session";
export const PREFS_KEY = "parley.console.prefs";
export const BASE_TITLE = "Parley console";
