/* Parley agent console: static, no framework, no build step.
 *
 * Speaks the wire contract (docs/protocol.md): REST under /v1 for lists, history and edits, one
 * WebSocket for everything live. Every piece of visitor- or agent-provided text reaches the DOM as
 * a text node (el()/textContent); nothing here assigns HTML.
 */
(function () {
  "use strict";

  // --- configuration --------------------------------------------------------------------------

  const CONFIG = (function resolveConfig(raw) {
    const api = (raw.api || window.location.origin).replace(/\/+$/, "");
    let ws = raw.ws || "";
    if (!ws) ws = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws";
    return { api: api, ws: ws };
  })(window.PARLEY_CONFIG || {});

  const VIEWS = [
    { id: "unassigned", label: "Unassigned", empty: "No one is waiting. New chats appear here live." },
    { id: "mine", label: "Mine", empty: "Nothing assigned to you right now." },
    { id: "open", label: "Open", empty: "No open conversations." },
    { id: "pending", label: "Pending", empty: "No pending conversations." },
    { id: "solved", label: "Solved", empty: "No solved conversations yet." },
    { id: "all", label: "All", empty: "No conversations yet." },
  ];
  const ACTIVE_STATUSES = ["open", "pending"];
  const STATUS_LABELS = { bot: "Bot", queued: "Unassigned", open: "Open", pending: "Pending", solved: "Solved", closed: "Closed" };
  const PAGE_SIZE = 50;           // conversations per list request
  const PRESENCE = {
    online: { label: "Online", hint: "Chats come to you automatically", empty: "You are online: new chats are assigned to you automatically and appear in <Mine>." },
    away: { label: "Away", hint: "No new chats; accept by hand", empty: "You are away: new chats wait in <Unassigned> for you to accept by hand." },
    offline: { label: "Offline", hint: "No chats come to you", empty: "You are offline: new chats wait in <Unassigned>." },
  };
  const HISTORY_PAGE = 50;
  const QUEUE_SETTLE_MS = 1200;   // a new chat still queued after this is news for the whole team
  const LIST_REFRESH_MS = 30000;  // lists carry last messages of chats this console is not joined to
  const REQUEST_TIMEOUT_MS = 15000;
  const PING_EVERY_MS = 4 * 60 * 1000;   // API Gateway drops sockets idle for 10 minutes
  const TYPING_IDLE_MS = 3000;
  const PREVIEW_STALE_MS = 12000;
  const SESSION_KEY = "parley.console.session";
  const PREFS_KEY = "parley.console.prefs";
  const BASE_TITLE = "Parley console";

  // --- storage with a memory fallback (storage may be blocked) --------------------------------

  function makeStore(kind) {
    const memory = new Map();
    let backend = null;
    try {
      backend = window[kind];
      const probe = "parley.console.probe";
      backend.setItem(probe, "1");
      backend.removeItem(probe);
    } catch (e) {
      backend = null;
    }
    return {
      get(key) {
        try {
          const raw = backend ? backend.getItem(key) : memory.get(key);
          return raw ? JSON.parse(raw) : null;
        } catch (e) {
          return null;
        }
      },
      set(key, value) {
        const raw = JSON.stringify(value);
        try {
          if (backend) backend.setItem(key, raw); else memory.set(key, raw);
        } catch (e) {
          memory.set(key, raw);
        }
      },
      remove(key) {
        try { if (backend) backend.removeItem(key); } catch (e) { /* ignore */ }
        memory.delete(key);
      },
    };
  }
  const sessionStore = makeStore("sessionStorage");
  const prefsStore = makeStore("localStorage");

  // --- DOM helpers ----------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** el("div", {class: "x", text: "y", on: {click: fn}, attrs: {...}}, child, "text", ...) */
  function el(tag, props, ...children) {
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

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  /** Text with http(s) links made clickable, as text nodes and <a> elements only. */
  const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function linkify(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    const source = String(text);
    for (const match of source.matchAll(URL_RE)) {
      let url = match[0];
      // Trailing punctuation belongs to the sentence, not the link.
      const trail = url.match(/[.,;:!?)\]}]+$/);
      if (trail) url = url.slice(0, -trail[0].length);
      const start = match.index;
      const safe = safeHttpUrl(url);
      if (!safe) continue;
      if (start > last) frag.appendChild(document.createTextNode(source.slice(last, start)));
      frag.appendChild(externalLink(safe, url));
      last = start + url.length;
    }
    if (last < source.length) frag.appendChild(document.createTextNode(source.slice(last)));
    return frag;
  }

  function safeHttpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function externalLink(href, label) {
    return el("a", { href: href, text: label, attrs: { target: "_blank", rel: "noopener noreferrer nofollow" } });
  }

  function initials(name) {
    const words = String(name || "").trim().split(/\s+/).filter((w) => /^\p{L}/u.test(w));
    if (!words.length) return "?";
    const first = Array.from(words[0])[0];
    const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : "";
    return (first + last).toUpperCase();
  }

  function hue(seed) {
    let h = 0;
    for (const ch of String(seed || "")) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  function paintAvatar(node, name, seed) {
    node.textContent = initials(name);
    node.style.setProperty("--avatar-hue", String(hue(seed || name)));
  }

  // --- time -----------------------------------------------------------------------------------

  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayClock = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const shortDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

  function parseTime(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : new Date(t);
  }

  function messageTime(iso) {
    const d = parseTime(iso);
    if (!d) return "";
    return d.toDateString() === new Date().toDateString() ? clock.format(d) : dayClock.format(d);
  }

  function ago(iso) {
    const d = parseTime(iso);
    if (!d) return "";
    const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (s < 45) return "now";
    if (s < 3600) return Math.round(s / 60) + "m";
    if (s < 86400) return Math.round(s / 3600) + "h";
    if (s < 7 * 86400) return Math.round(s / 86400) + "d";
    return shortDay.format(d);
  }

  function dateText(iso) {
    const d = parseTime(iso);
    return d ? fullDate.format(d) : "";
  }

  function timeNode(iso, text) {
    const d = parseTime(iso);
    return el("time", { text: text, attrs: { datetime: iso, title: d ? fullDate.format(d) : null } });
  }

  // --- state ----------------------------------------------------------------------------------

  const S = {
    session: null,              // {token, refresh_token, expires_at, agent}
    me: null,                   // Agent
    team: [],                   // [Agent]
    canned: [],                 // [{id, shortcut, text}]
    convs: new Map(),           // id -> Conversation (freshest known)
    viewMeta: {},               // view -> {cursor, complete, loaded, loading}
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
    page: "inbox",              // inbox | settings
    sites: new Map(),           // site key -> site settings (admins)
    drafts: new Map(),          // conversation id -> {text, mode}
    outbox: [],                 // messages waiting for their ack
    profiles: new Map(),        // visitor id -> {visitor, conversations}
    erased: new Set(),          // visitor ids erased from here: their closing events must not bring them back
    prefs: Object.assign({ presenceByAgent: {}, sound: false, view: "unassigned" }, prefsStore.get(PREFS_KEY) || {}),
    presence: "offline",        // what the server acknowledged last
  };
  for (const v of VIEWS) S.viewMeta[v.id] = { cursor: null, complete: false, loaded: false, loading: null };

  function savePrefs() {
    prefsStore.set(PREFS_KEY, S.prefs);
  }

  function visitorName(c) {
    const v = (c && c.visitor) || {};
    if (v.name) return v.name;
    return "Visitor " + String(v.id || "").replace(/^v_/, "").slice(0, 4);
  }

  function agentName(id) {
    if (!id) return "";
    if (S.me && id === S.me.id) return S.me.name + " (you)";
    const agent = S.team.find((a) => a.id === id);
    return agent ? agent.name : "Another agent";
  }

  function inView(c, view) {
    switch (view) {
      case "unassigned": return c.status === "queued";
      case "mine": return !!S.me && c.assignee_id === S.me.id && ACTIVE_STATUSES.includes(c.status);
      case "open": case "pending": case "solved": return c.status === view;
      default: return true;
    }
  }

  function isMine(c) {
    return inView(c, "mine");
  }

  function isAdmin() {
    return !!S.me && S.me.role === "admin";
  }

  /** When the conversation last moved (its list's sort key). */
  function activityOf(c) {
    return (c && (c.activity_at || c.updated_at || c.created_at)) || "";
  }

  /** "Waiting 3 min" for a queued conversation, from queued_at. */
  function waitText(c) {
    if (!c || c.status !== "queued") return "";
    const since = parseTime(c.queued_at || c.created_at);
    if (!since) return "";
    const minutes = Math.floor(Math.max(0, Date.now() - since.getTime()) / 60000);
    if (minutes < 1) return "Waiting <1 min";
    if (minutes < 60) return "Waiting " + minutes + " min";
    const hours = Math.floor(minutes / 60);
    return "Waiting " + hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
  }

  // --- errors and toasts ----------------------------------------------------------------------

  class ApiError extends Error {
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
  function describe(err, what) {
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

  /** A short message in the corner; `action` = {label, run} adds a button (e.g. "Open"). */
  function toast(text, kind, action) {
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

  // --- REST -----------------------------------------------------------------------------------

  async function rawFetch(method, path, body, token) {
    const headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(CONFIG.api + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError("network", "Cannot reach Parley", 0);
    }
    let data = {};
    const text = await res.text().catch(() => "");
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = {}; }
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(err.code || "http_" + res.status, err.message || data.message || data.Message || "Request failed (" + res.status + ")", res.status, err.field, err);
    }
    return data;
  }

  async function api(method, path, body) {
    if (!S.session) throw new ApiError("unauthorized", "Signed out", 401);
    await refreshIfDue();
    try {
      return await rawFetch(method, path, body, S.session.token);
    } catch (err) {
      if (err.status !== 401 || !S.session) throw err;
      await refreshToken();             // the token may have expired while we slept
      return rawFetch(method, path, body, S.session.token);
    }
  }

  // --- session and token refresh --------------------------------------------------------------

  let refreshTimer = null;
  let refreshing = null;

  function storeSession(data, previous) {
    S.session = {
      token: data.token,
      refresh_token: data.refresh_token || (previous && previous.refresh_token),
      expires_at: Date.now() + Math.max(60, Number(data.expires_in) || 3600) * 1000,
      agent: data.agent || (previous && previous.agent),
    };
    sessionStore.set(SESSION_KEY, S.session);
    scheduleRefresh();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!S.session) return;
    const lifetime = S.session.expires_at - Date.now();
    // Renew when 80% of the lifetime has passed, at least a minute before expiry.
    const delay = Math.max(5000, Math.min(lifetime * 0.8, lifetime - 60000));
    refreshTimer = setTimeout(() => refreshToken().catch(() => {}), delay);
  }

  async function refreshIfDue() {
    if (S.session && S.session.expires_at - Date.now() < 60000) await refreshToken();
  }

  function refreshToken() {
    if (refreshing) return refreshing;
    const current = S.session;
    if (!current || !current.refresh_token) return Promise.reject(new ApiError("unauthorized", "Signed out", 401));
    refreshing = rawFetch("POST", "/v1/agents/refresh", { refresh_token: current.refresh_token })
      .then((data) => {
        if (S.session !== current) return;
        storeSession(data, current);
        if (data.agent) updateMe(data.agent);
      })
      .catch((err) => {
        if (err.status === 401 || err.status === 403) {
          signOut("Your session has expired. Please sign in again.");
        } else {
          // Network trouble: try again soon; the token may still be valid for a while.
          clearTimeout(refreshTimer);
          refreshTimer = setTimeout(() => refreshToken().catch(() => {}), 15000);
        }
        throw err;
      })
      .finally(() => { refreshing = null; });
    return refreshing;
  }

  // --- the WebSocket --------------------------------------------------------------------------

  const live = {
    ws: null,
    state: "idle",          // idle | connecting | open | waiting | offline
    attempts: 0,
    retryAt: 0,
    retryTimer: null,
    countdown: null,
    pingTimer: null,
    pending: new Map(),     // ref -> {resolve, reject, timer}
    nextRef: 1,
    stopped: true,
    connecting: false,
    openedAt: 0,

    start() {
      this.stopped = false;
      this.connect();
    },

    stop() {
      this.stopped = true;
      clearTimeout(this.retryTimer);
      clearInterval(this.countdown);
      clearInterval(this.pingTimer);
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        try { ws.close(1000, "signed out"); } catch (e) { /* ignore */ }
      }
      this.failAll("disconnected");
      this.setState("idle");
    },

    async connect() {
      if (this.stopped) return;
      clearTimeout(this.retryTimer);
      clearInterval(this.countdown);
      if (this.ws || this.connecting) return;
      this.connecting = true;
      this.setState("connecting");
      try {
        await refreshIfDue();
      } catch (e) {
        /* try with the token we have; a refused socket ends in onclose and a retry */
      } finally {
        this.connecting = false;
      }
      if (this.stopped || !S.session || this.ws) return;
      let ws;
      try {
        ws = new WebSocket(CONFIG.ws + "?token=" + encodeURIComponent(S.session.token));
      } catch (e) {
        this.scheduleRetry();
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        if (this.ws !== ws) return;
        opened = true;
        this.openedAt = Date.now();
        this.setState("open");
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
        onSocketOpen();
      };
      ws.onmessage = (event) => {
        if (this.ws !== ws) return;
        let frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        if (!frame || typeof frame !== "object") return;
        if ((frame.type === "ack" || frame.type === "error" || frame.type === "pong") && frame.ref != null && this.pending.has(String(frame.ref))) {
          const waiter = this.pending.get(String(frame.ref));
          this.pending.delete(String(frame.ref));
          clearTimeout(waiter.timer);
          if (frame.type === "error") waiter.reject(new ApiError(frame.code || "internal", frame.message || "error", 0, frame.field));
          else waiter.resolve(frame);
          if (frame.type === "error" && frame.code === "unauthorized") this.forgotten(ws);
          return;
        }
        if (frame.type === "error" && frame.code === "unauthorized") { this.forgotten(ws); return; }
        onEvent(frame);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.pingTimer);
        this.failAll("disconnected");
        onSocketClosed();
        // Back off from the first retry again only after a socket that lived a while; one that never
        // opened, or died at once, keeps backing off (and may hold an expired token: see scheduleRetry).
        if (opened && Date.now() - this.openedAt > 30000) this.attempts = 0;
        this.scheduleRetry();
      };
      ws.onerror = () => { /* onclose follows */ };
    },

    scheduleRetry() {
      if (this.stopped) return;
      if (!navigator.onLine) {
        this.setState("offline");
        return;
      }
      const base = Math.min(30000, 1000 * Math.pow(2, this.attempts));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      this.attempts += 1;
      if (this.attempts >= 3) refreshToken().catch(() => {});
      this.retryAt = Date.now() + delay;
      this.setState("waiting");
      clearInterval(this.countdown);
      this.countdown = setInterval(() => renderConnection(), 1000);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    },

    retryNow() {
      this.attempts = 0;
      clearTimeout(this.retryTimer);
      this.connect();
    },

    setState(state) {
      this.state = state;
      if (state !== "waiting") clearInterval(this.countdown);
      renderConnection();
    },

    isOpen() {
      return !!this.ws && this.ws.readyState === WebSocket.OPEN;
    },

    /** Send a frame that gets exactly one reply; resolves with the ack, rejects with the error. */
    request(action, fields, timeoutMs) {
      if (!this.isOpen()) return Promise.reject(new ApiError("disconnected", "not connected", 0));
      const ref = "r" + this.nextRef++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(ref);
          reject(new ApiError("timeout", "no reply", 0));
        }, timeoutMs || REQUEST_TIMEOUT_MS);
        this.pending.set(ref, { resolve: resolve, reject: reject, timer: timer });
        try {
          this.ws.send(JSON.stringify(Object.assign({ action: action, ref: ref }, fields)));
        } catch (e) {
          clearTimeout(timer);
          this.pending.delete(ref);
          reject(new ApiError("disconnected", "not connected", 0));
        }
      });
    },

    /** Frames with no reply (typing, read). */
    notify(action, fields) {
      if (!this.isOpen()) return;
      try { this.ws.send(JSON.stringify(Object.assign({ action: action }, fields))); } catch (e) { /* ignore */ }
    },

    /** The keep-alive (API Gateway drops sockets idle for 10 minutes). It re-states the agent's
     * presence rather than pinging: a ping is answered even for a connection the server no longer
     * knows, a presence is not, and it also heals a status the server changed meanwhile. */
    ping() {
      const frame = S.me ? this.request("presence", { status: wantedPresence() }, 10000) : this.request("ping", {}, 10000);
      frame.then((ack) => { if (ack && ack.agent) updateMe(ack.agent); }).catch((err) => {
        // No answer: the socket is dead even if the browser has not noticed. Start over.
        if (err.code === "timeout" && this.ws) { try { this.ws.close(); } catch (e) { /* ignore */ } }
      });
    },

    /** The server answered "unknown connection; reconnect": this socket is open but no longer
     * registered (no events reach it). Open a new one. */
    forgotten(ws) {
      if (this.ws !== ws) return;
      this.attempts = 0;
      try { ws.close(4000, "unknown connection"); } catch (e) { /* onclose reconnects */ }
    },

    failAll(code) {
      for (const [, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new ApiError(code, "not connected", 0));
      }
      this.pending.clear();
    },
  };

  function renderConnection() {
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

  function onSocketOpen() {
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

  function onSocketClosed() {
    S.joined.clear();
    S.joining.clear();
    S.leaving.clear();
  }

  // --- events from the server -----------------------------------------------------------------

  function onEvent(frame) {
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

  /** A chat joined the queue. Routing usually hands it to an online agent within moments: tell
   * this agent only if it is still waiting a little later (then it needs someone to accept it). */
  function newUnassigned(c) {
    setTimeout(() => {
      const now = S.convs.get(c.id);
      if (!S.me || !now || now.status !== "queued") return;
      chime();
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
    const looking = S.activeId === c.id && !document.hidden && S.page === "inbox";
    if (!looking && (document.hidden || S.activeId || S.view !== "mine" || S.page !== "inbox")) S.alerts.set(c.id, "mine");
    if (!looking) {
      toast("New chat assigned to you: " + visitorName(c), "info",
        { label: "Open", run: () => { window.location.hash = "#/c/" + encodeURIComponent(c.id); } });
    }
    renderAlerts();
  }

  /** Keep the freshest version of a conversation and let every view follow it. */
  function upsert(c) {
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

  /** The list's preview and order follow every message this console sees. */
  function noteMessage(m) {
    const c = S.convs.get(m.conversation_id);
    if (!c || !m) return;
    const patch = {};
    if (m.created_at && m.created_at > activityOf(c)) patch.activity_at = m.created_at;
    if (!m.internal && (!c.last_message || c.last_message.seq < m.seq)) {
      // Never a note: the server keeps notes out of last_message too.
      patch.last_message = { seq: m.seq, text: String(m.text || "").slice(0, 140), kind: (m.author && m.author.kind) || "system",
        at: m.created_at, author_id: m.author && m.author.id };
    }
    if (Object.keys(patch).length) S.convs.set(c.id, Object.assign({}, c, patch));
  }

  function onMessage(conversationId, message) {
    if (!conversationId || !message) return;
    noteMessage(Object.assign({ conversation_id: conversationId }, message));
    const looking = conversationId === S.activeId && !document.hidden && S.page === "inbox";
    if (conversationId === S.activeId && S.thread) {
      addMessages([message]);
      if (message.author && message.author.kind === "visitor") setVisitorTyping(null);
    }
    if (!looking && message.author && message.author.kind === "visitor") {
      addUnread(conversationId, [message.seq]);
      if (document.hidden) chime();
    }
    scheduleRender("list");
  }

  // Unread messages are kept as seqs, so a message seen both live and in a join's history counts once.
  function addUnread(id, seqs) {
    if (!seqs.length) return;
    const set = S.unread.get(id) || new Set();
    for (const seq of seqs) if (typeof seq === "number") set.add(seq);
    S.unread.set(id, set);
  }

  function unreadCount(id) {
    const set = S.unread.get(id);
    return set ? set.size : 0;
  }

  function onTyping(frame) {
    if (frame.conversation_id !== S.activeId || !S.thread) return;
    const author = frame.author || {};
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
      S.convs.set(c.id, Object.assign({}, c, { visitor_read_seq: Math.max(c.visitor_read_seq || 0, frame.seq || 0) }));
      if (c.id === S.activeId) renderSeen();
    }
  }

  // --- the agent: me, presence, slots ---------------------------------------------------------

  let meTimer = null;

  function updateMe(agent) {
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
    if (!isAdmin() && S.page === "settings") window.location.hash = "#";
  }

  function refreshMeSoon() {
    clearTimeout(meTimer);
    meTimer = setTimeout(() => {
      api("GET", "/v1/agents/me").then((d) => updateMe(d.agent)).catch(() => {});
    }, 150);
  }

  /** The status this agent chose last on this browser (online the first time). */
  function wantedPresence() {
    const chosen = (S.prefs.presenceByAgent || {})[S.me && S.me.id];
    return ["online", "away", "offline"].includes(chosen) ? chosen : "online";
  }

  async function setPresence(status, opts) {
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

  function renderPresence() {
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

  function renderMe() {
    if (!S.me) return;
    $("me-name").textContent = S.me.name || S.me.email || "";
    paintAvatar($("me-avatar"), S.me.name, S.me.id);
    const cap = S.me.capacity || 0;
    const used = S.me.active_chats || 0;
    $("slots-text").textContent = used + " / " + cap;
    $("slots").dataset.full = used >= cap && cap > 0 ? "true" : "false";
    $("slots").setAttribute("aria-label", "Slots used " + used + " of " + cap);
    $("slots-bar").style.width = cap ? Math.min(100, (used / cap) * 100) + "%" : "0";
  }

  // --- sound ----------------------------------------------------------------------------------

  let audio = null;
  let lastChime = 0;

  /** The new-chat sound, when the agent turned it on; once for a burst (a chat queued, then assigned). */
  function chime() {
    if (!S.prefs.sound || Date.now() - lastChime < 1500) return;
    lastChime = Date.now();
    document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    beep();
  }

  function beep() {
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

  function renderSound() {
    const btn = $("sound-toggle");
    btn.setAttribute("aria-pressed", S.prefs.sound ? "true" : "false");
    btn.textContent = S.prefs.sound ? "Sound on" : "Sound off";
  }

  // --- title, badge, favicon ------------------------------------------------------------------

  function faviconHref(dot) {
    const svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>" +
      "<rect x='2' y='2' width='28' height='28' rx='8' fill='%233b5bdb'/>" +
      "<text x='16' y='22' font-family='system-ui,sans-serif' font-size='17' font-weight='700' fill='white' text-anchor='middle'>P</text>" +
      (dot ? "<circle cx='25' cy='7' r='6.5' fill='%23e8590c' stroke='white' stroke-width='2'/>" : "") + "</svg>";
    return "data:image/svg+xml," + svg.replace(/</g, "%3C").replace(/>/g, "%3E");
  }

  function renderAlerts() {
    const n = S.alerts.size;
    let unread = 0;
    for (const [id, seqs] of S.unread) if (id !== S.activeId || document.hidden) unread += seqs.size;
    const total = n + unread;
    if (!S.me) document.title = BASE_TITLE;
    else if (n > 0) document.title = "(" + total + ") New chat · " + BASE_TITLE;
    else if (total > 0) document.title = "(" + total + ") " + BASE_TITLE;
    else document.title = BASE_TITLE;
    const badge = $("alert-badge");
    const target = alertTarget();
    badge.textContent = (n === 1 ? "1 new chat" : n + " new chats") + (target === "mine" ? " for you" : "");
    badge.title = target === "mine" ? "Show the chats assigned to you" : "Show unassigned chats";
    show(badge, n > 0);
    for (const view of ["unassigned", "mine"]) {
      const dot = document.querySelector('[data-view="' + view + '"] .view__new');
      if (dot) show(dot, Array.from(S.alerts.values()).includes(view));
    }
    const icon = $("favicon");
    const wanted = faviconHref(total > 0);
    if (icon.getAttribute("href") !== wanted) icon.setAttribute("href", wanted);
  }

  /** The view the newest alert belongs to (where the badge leads). */
  function alertTarget() {
    let last = null;
    for (const view of S.alerts.values()) last = view;
    return last || "unassigned";
  }

  function clearAlerts(view) {
    let changed = false;
    for (const [id, v] of S.alerts) if (!view || v === view) { S.alerts.delete(id); changed = true; }
    if (changed) renderAlerts();
  }

  // --- counts: GET /v1/inbox/counts ---------------------------------------------------------------

  let countsTimer = null;
  let countsFollowUp = null;
  let countsAsked = 0;

  /** Read the counts again shortly (events come in bursts); once more a little later, as the
   * server's lists may lag a write by a moment. */
  function countsSoon(delay) {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(loadCounts, delay === undefined ? 250 : delay);
    clearTimeout(countsFollowUp);
    countsFollowUp = setTimeout(loadCounts, 3000);
  }

  async function loadCounts() {
    if (!S.session || !S.me) return;
    const asked = ++countsAsked;
    try {
      const data = await api("GET", "/v1/inbox/counts");
      if (asked !== countsAsked) return;   // a newer answer is on its way
      S.counts = data;
      renderViews();
    } catch (e) { /* the last known counts stay */ }
  }

  // --- views and the list ---------------------------------------------------------------------

  /** One more page of a view (the first one again when `fresh`). */
  async function loadView(view, fresh) {
    const meta = S.viewMeta[view];
    if (meta.loading && !fresh) return meta.loading;
    const run = (async () => {
      if (meta.loading) await meta.loading.catch(() => {});
      const cursor = fresh ? null : meta.cursor;
      if (!fresh && meta.loaded && !cursor) return;
      const q = "/v1/conversations?view=" + view + "&limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const data = await api("GET", q);
      const items = data.items || [];
      for (const c of items) upsert(c);
      meta.loaded = true;
      meta.cursor = data.next_cursor || null;
      meta.complete = !meta.cursor;
      if (fresh) recheckMissing(view, items, meta.complete);
    })();
    meta.loading = run;
    try {
      await run;
    } finally {
      if (meta.loading === run) meta.loading = null;
      scheduleRender("list");
    }
  }

  /** After a fresh first page: conversations we hold for this view that the server no longer lists
   * there (changed while this console was away) are read again, so no stale row stays. */
  function recheckMissing(view, items, complete) {
    const listed = new Set(items.map((c) => c.id));
    const oldest = items.length ? activityOf(items[items.length - 1]) : "";
    const suspects = [];
    for (const c of S.convs.values()) {
      if (!inView(c, view) || listed.has(c.id)) continue;
      if (complete || activityOf(c) >= oldest) suspects.push(c.id);
    }
    for (const id of suspects.slice(0, 20)) reloadConversation(id);
  }

  let reloadRunning = null;
  /** On (re)connect: counts, the view on screen, and the two views that drive the work (Mine joins
   * this agent's chats; Unassigned is the queue). Others load when picked. */
  function reloadViews() {
    if (reloadRunning) return reloadRunning;
    const first = S.view;
    countsSoon(0);
    for (const v of VIEWS) if (![first, "mine", "unassigned"].includes(v.id)) Object.assign(S.viewMeta[v.id], { loaded: false, cursor: null, complete: false });
    reloadRunning = loadView(first, true)
      .catch((err) => { if (S.session) toast("Could not load the list: " + describe(err), "error"); })
      .then(() => Promise.all(["mine", "unassigned"].filter((v) => v !== first).map((v) => loadView(v, true).catch(() => {}))))
      .finally(() => { reloadRunning = null; });
    return reloadRunning;
  }

  function renderViews() {
    const box = $("views");
    if (!box.firstChild) {
      for (const v of VIEWS) {
        box.appendChild(el("button", {
          type: "button", class: "view", dataset: { view: v.id },
          on: { click: () => selectView(v.id) },
        }, el("span", { class: "view__top" },
          el("span", { class: "view__label", text: v.label }),
          v.id === "unassigned" || v.id === "mine" ? el("span", { class: "view__new", hidden: true, attrs: { "aria-hidden": "true" } }) : null),
        el("span", { class: "view__count" })));
      }
    }
    for (const node of box.children) {
      const view = node.dataset.view;
      const known = S.counts && typeof S.counts[view] === "number";
      const n = known ? S.counts[view] : 0;
      const count = node.querySelector(".view__count");
      count.textContent = known ? String(n) : "…";
      node.setAttribute("aria-pressed", view === S.view ? "true" : "false");
      node.setAttribute("aria-label", VIEWS.find((v) => v.id === view).label + ", " + (known ? n + " conversations" : "loading"));
      node.classList.toggle("view--active", view === S.view);
      node.classList.toggle("view--hot", view === "unassigned" && n > 0);
    }
    renderAlerts();
  }

  function selectView(view) {
    if (!S.viewMeta[view]) return;
    S.view = view;
    S.prefs.view = view;
    savePrefs();
    clearAlerts(view);
    const meta = S.viewMeta[view];
    if (!meta.loaded && !meta.loading) loadView(view, true).catch((err) => toast(describe(err), "error"));
    $("conv-list").scrollTop = 0;
    scheduleRender("list");
  }

  function sortedIn(view) {
    const items = [];
    for (const c of S.convs.values()) if (inView(c, view)) items.push(c);
    items.sort((a, b) => {
      const ka = activityOf(a);
      const kb = activityOf(b);
      return ka < kb ? 1 : ka > kb ? -1 : a.id < b.id ? 1 : -1;
    });
    return items;
  }

  const rowCache = new Map();   // conversation id -> <li>

  function renderList() {
    renderViews();
    const view = S.view;
    const meta = S.viewMeta[view];
    $("list-title").textContent = VIEWS.find((v) => v.id === view).label;
    const list = $("conv-list");
    const items = sortedIn(view);
    const wanted = [];
    for (const c of items) wanted.push(renderRow(c));
    // Reorder with the fewest moves so focus and scroll survive live updates.
    let cursor = list.firstChild;
    for (const li of wanted) {
      if (li === cursor) { cursor = cursor.nextSibling; continue; }
      list.insertBefore(li, cursor);
    }
    while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
    for (const id of rowCache.keys()) if (!S.convs.has(id)) rowCache.delete(id);
    const empty = $("list-empty");
    empty.textContent = meta.loaded || meta.complete ? VIEWS.find((v) => v.id === view).empty : "Loading…";
    show(empty, items.length === 0);
    const more = $("load-more");
    show(more, meta.loaded && !meta.complete);
    more.disabled = !!meta.loading;
    more.textContent = meta.loading ? "Loading…" : "Load more";
    renderAlerts();
  }

  /** The list's one-line preview: the last message (never a note), with who wrote it. */
  function previewText(c) {
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

  function renderRow(c) {
    let li = rowCache.get(c.id);
    if (!li) {
      const link = el("a", { class: "row", href: "#/c/" + encodeURIComponent(c.id), on: { keydown: rowKeydown } });
      link.append(
        el("span", { class: "avatar row__avatar", attrs: { "aria-hidden": "true" } }),
        el("span", { class: "row__main" },
          el("span", { class: "row__top" },
            el("span", { class: "row__name" }),
            el("span", { class: "status-pill status-pill--small row__status" }),
            el("span", { class: "row__time" })),
          el("span", { class: "row__sub" },
            el("span", { class: "row__preview" }),
            el("span", { class: "row__wait" }),
            el("span", { class: "row__unread" }))),
      );
      li = el("li", { class: "conv-list__item", dataset: { id: c.id } }, link);
      rowCache.set(c.id, li);
    }
    const link = li.firstChild;
    const name = visitorName(c);
    paintAvatar(link.querySelector(".row__avatar"), name, c.visitor && c.visitor.id);
    link.querySelector(".row__name").textContent = name;
    const time = link.querySelector(".row__time");
    const active = activityOf(c);
    time.textContent = ago(active);
    time.dataset.iso = active;
    time.title = active ? "Last activity " + dateText(active) : "";
    link.querySelector(".row__preview").textContent = previewText(c);
    const wait = link.querySelector(".row__wait");
    wait.textContent = waitText(c);
    wait.title = c.status === "queued" && c.queued_at ? "In the queue since " + dateText(c.queued_at) : "";
    show(wait, !!wait.textContent);
    const unread = unreadCount(c.id);
    const badge = link.querySelector(".row__unread");
    badge.textContent = unread ? String(unread) : "";
    show(badge, unread > 0);
    badge.setAttribute("aria-label", unread + " unread");
    const status = STATUS_LABELS[c.status] || c.status;
    const assignee = c.assignee_id ? " · " + agentName(c.assignee_id) : "";
    const waiting = waitText(c);
    link.setAttribute("aria-label", name + ", " + status + assignee + (waiting ? ", " + waiting.toLowerCase() : "") + (unread ? ", " + unread + " unread" : "") + (c.title ? ", " + c.title : ""));
    link.title = status + assignee;
    link.dataset.status = c.status;
    const pill = link.querySelector(".row__status");
    pill.dataset.status = c.status;
    pill.textContent = STATUS_LABELS[c.status] || c.status;
    show(pill, S.view === "all");
    li.classList.toggle("is-active", c.id === S.activeId);
    li.classList.toggle("is-unread", unread > 0);
    li.classList.toggle("is-new", S.alerts.has(c.id));
    if (c.id === S.activeId) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
    return li;
  }

  function rowKeydown(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const li = event.currentTarget.parentElement;
    const next = event.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
    if (next) { next.firstChild.focus(); event.preventDefault(); }
  }

  // --- render scheduling ----------------------------------------------------------------------

  const dirty = new Set();
  let renderQueued = false;

  function scheduleRender(part) {
    dirty.add(part);
    if (renderQueued) return;
    renderQueued = true;
    // A timeout, not requestAnimationFrame: the title must change in a hidden tab too.
    setTimeout(() => {
      renderQueued = false;
      const parts = new Set(dirty);
      dirty.clear();
      if (!S.me) return;
      if (parts.has("list")) renderList();
      if (parts.has("thread")) renderThreadChrome();
    }, 0);
  }

  // --- the open conversation ------------------------------------------------------------------

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

  function openConversation(id) {
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

  function closeConversation() {
    saveDraft();
    stopTyping();
    openToken++;
    const previous = S.activeId;
    S.activeId = null;
    if (previous) maybeLeave(previous);
    S.thread = null;
    document.body.classList.remove("has-thread");
    show($("thread-empty"), true);
    show($("thread-main"), false);
    show($("side-main"), false);
    show($("side-empty"), true);
    scheduleRender("list");
  }

  /** Subscribe this socket to a conversation once per connection. */
  function ensureJoined(id) {
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
  function maybeLeave(id) {
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

  /** After a reconnect or a gap: every message after the newest we hold. */
  async function catchUp(id) {
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
  function addMessages(messages, opts) {
    const thread = S.thread;
    if (!thread || !messages.length) return;
    const box = $("messages");
    const stick = (opts && opts.initial) || nearBottom(box) || messages.some((m) => isOwn(m) && m.seq > maxSeq());
    const prepend = opts && opts.prepend;
    const fromBottom = box.scrollHeight - box.scrollTop;
    const before = maxSeq();
    let added = 0;
    for (const m of messages) {
      if (!m || typeof m.seq !== "number" || m.conversation_id !== thread.id) continue;
      if (thread.messages.has(m.seq)) continue;
      thread.messages.set(m.seq, m);
      insertMessageNode(m);
      if (m.client_msg_id && isOwn(m)) dropFromOutbox(m.client_msg_id);
      added++;
    }
    if (!added) return;
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
  function renderSeen() {
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
  function markRead() {
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

  async function loadOlder() {
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

  function maybeLoadOlder() {
    const thread = S.thread;
    if (!thread || !thread.hasMore || thread.loadingOlder) return;
    const box = $("messages");
    if (box.scrollTop < 120 || box.scrollHeight <= box.clientHeight) loadOlder();
  }

  // --- typing (theirs) ------------------------------------------------------------------------

  let typingExpire = null;

  function setVisitorTyping(state) {
    if (!S.thread) return;
    S.thread.visitorTyping = state ? Object.assign({ at: Date.now() }, state) : null;
    clearTimeout(typingExpire);
    if (state) typingExpire = setTimeout(() => { if (S.thread) { S.thread.visitorTyping = null; renderTyping(); } }, PREVIEW_STALE_MS);
    renderTyping();
  }

  function renderTyping() {
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

  // --- thread chrome: header, banner, side panel ----------------------------------------------

  function renderThreadChrome() {
    const thread = S.thread;
    if (!thread) return;
    const c = S.convs.get(thread.id);
    const name = c ? visitorName(c) : "…";
    $("thread-visitor").textContent = name;
    const title = $("thread-title");
    if (document.activeElement !== title) title.value = (c && c.title) || "";
    title.disabled = !c;
    const pill = $("thread-status");
    pill.textContent = c ? (STATUS_LABELS[c.status] || c.status) + (c.assignee_id ? " · " + agentName(c.assignee_id) : "") : "";
    pill.dataset.status = c ? c.status : "";
    const mine = c && isMine(c);
    const canAccept = c && c.status !== "closed" && !mine && !(c.assignee_id && ACTIVE_STATUSES.includes(c.status));
    show($("accept"), !!canAccept);
    for (const btn of document.querySelectorAll(".seg__btn")) {
      const on = !!c && c.status === btn.dataset.status;
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      btn.disabled = !c || c.status === "closed";
    }
    $("transfer-open").disabled = !c || c.status === "closed";
    const composerName = name;
    const mode = $("composer").dataset.mode;
    $("composer-text").placeholder = mode === "note" ? "Write a private note: only your team sees it…" : "Reply to " + composerName + "…";
    renderThreadBanner();
    renderSide();
  }

  function renderThreadBanner() {
    const banner = $("thread-banner");
    if (!banner || !S.thread) return;
    const c = S.convs.get(S.thread.id);
    clear(banner);
    let text = null;
    let kind = "info";
    if (live.state !== "open" && live.state !== "idle") {
      text = "You are offline. Messages you send wait here and go out when the connection is back.";
      kind = "warn";
    } else if (c && c.status === "queued") {
      const waited = waitText(c).replace(/^Waiting /, "");
      text = visitorName(c) + " is waiting for an agent" + (c.group ? " of the " + c.group + " team" : "") + (waited ? " (" + waited + " so far)." : ".");
    } else if (c && c.assignee_id && S.me && c.assignee_id !== S.me.id && ACTIVE_STATUSES.includes(c.status)) {
      text = agentName(c.assignee_id) + " is handling this conversation. You can still write here.";
    } else if (c && c.status === "closed") {
      text = "This conversation is closed.";
    }
    banner.dataset.kind = kind;
    if (text) banner.appendChild(document.createTextNode(text));
    if (text && c && c.status === "queued") {
      banner.appendChild(el("button", { type: "button", class: "link-btn", text: "Accept it", on: { click: accept } }));
    }
    show(banner, !!text);
  }

  async function loadProfile(visitorId) {
    if (!visitorId) return;
    const cached = S.profiles.get(visitorId);
    if (cached) renderSide();
    try {
      const data = await api("GET", "/v1/visitors/" + encodeURIComponent(visitorId));
      S.profiles.set(visitorId, data);
      for (const c of data.conversations || []) {
        const known = S.convs.get(c.id);
        if (known) upsert(c);
      }
      renderSide();
    } catch (err) {
      if (!cached) {
        S.profiles.set(visitorId, { error: err });
        renderSide();
      }
    }
  }

  function fact(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", { class: "facts__label", text: label }));
    dl.appendChild(el("dd", { class: "facts__value" }, value));
  }

  function renderSide() {
    const thread = S.thread;
    if (!thread) return;
    const c = S.convs.get(thread.id);
    if (!c) return;
    show($("side-empty"), false);
    show($("side-main"), true);
    const visitor = c.visitor || {};
    const profile = S.profiles.get(visitor.id) || {};
    const pv = profile.visitor || {};
    const name = visitorName(c);
    paintAvatar($("visitor-avatar"), name, visitor.id);
    $("visitor-heading").textContent = name;
    $("visitor-email").textContent = visitor.email || pv.email || "No email given";

    const facts = $("visitor-facts");
    clear(facts);
    const page = visitor.page_url || pv.page_url;
    if (page) {
      const safe = safeHttpUrl(page);
      fact(facts, "Page", safe ? externalLink(safe, page) : document.createTextNode(page));
    }
    if (pv.locale) fact(facts, "Language", document.createTextNode(pv.locale));
    if (pv.user_id) fact(facts, "User id", document.createTextNode(pv.user_id));
    if (pv.created_at) fact(facts, "First seen", timeNode(pv.created_at, dateText(pv.created_at)));
    if (pv.last_seen_at) fact(facts, "Last seen", timeNode(pv.last_seen_at, ago(pv.last_seen_at) === "now" ? "just now" : ago(pv.last_seen_at) + " ago"));
    if (pv.blocked) fact(facts, "Blocked", el("span", { class: "status-pill status-pill--small status-pill--danger", text: "Blocked" }));
    if (profile.error) fact(facts, "Profile", document.createTextNode("Could not load the visitor's profile."));
    renderBlock(visitor.id, profile);
    renderPrivacy(visitor.id, profile);

    const conv = $("conv-facts");
    clear(conv);
    fact(conv, "Status", document.createTextNode(STATUS_LABELS[c.status] || c.status));
    fact(conv, "Assignee", document.createTextNode(c.assignee_id ? agentName(c.assignee_id) : "Nobody"));
    if (c.group) fact(conv, "Team", document.createTextNode(c.group));
    if (c.status === "queued" && c.queued_at) fact(conv, "In queue", timeNode(c.queued_at, waitText(c).replace(/^Waiting /, "") + " (since " + messageTime(c.queued_at) + ")"));
    if (c.created_at) fact(conv, "Started", timeNode(c.created_at, dateText(c.created_at)));
    if (c.first_response_at) fact(conv, "First reply", timeNode(c.first_response_at, dateText(c.first_response_at)));
    if (c.csat) fact(conv, "Rating", document.createTextNode("★".repeat(c.csat.rating || 0) + "☆".repeat(5 - (c.csat.rating || 0)) + (c.csat.comment ? " “" + c.csat.comment + "”" : "")));
    if (c.site_key) fact(conv, "Site", document.createTextNode(c.site_key));

    renderTags(c);

    const past = $("past-list");
    clear(past);
    const others = (profile.conversations || []).filter((p) => p.id !== c.id);
    if (!profile.conversations && !profile.error) {
      past.appendChild(el("li", { class: "muted", text: "Loading…" }));
    } else if (!others.length) {
      past.appendChild(el("li", { class: "muted", text: "No other conversations." }));
    }
    for (const p of others) {
      past.appendChild(el("li", null,
        el("a", { class: "past", href: "#/c/" + encodeURIComponent(p.id) },
          el("span", { class: "past__title", text: p.title || "Conversation of " + shortDay.format(parseTime(p.created_at) || new Date()) }),
          el("span", { class: "status-pill status-pill--small", dataset: { status: p.status }, text: STATUS_LABELS[p.status] || p.status }))));
    }
  }

  function renderTags(c) {
    const list = $("tag-list");
    clear(list);
    for (const tag of c.tags || []) {
      list.appendChild(el("li", { class: "tag" },
        el("span", { text: tag }),
        el("button", { type: "button", class: "tag__remove", text: "×", attrs: { "aria-label": "Remove tag " + tag },
          on: { click: () => saveTags((c.tags || []).filter((t) => t !== tag)) } })));
    }
  }

  // --- editing: title, tags (PATCH) -----------------------------------------------------------

  async function patchConversation(fields) {
    const id = S.activeId;
    if (!id) return null;
    const data = await api("PATCH", "/v1/conversations/" + encodeURIComponent(id), fields);
    return upsert(data.conversation);
  }

  async function saveTitle() {
    const input = $("thread-title");
    const c = S.convs.get(S.activeId);
    if (!c) return;
    const value = input.value.trim();
    if (value === (c.title || "")) return;
    input.classList.add("is-saving");
    try {
      await patchConversation({ title: value || null });
      toast(value ? "Title saved." : "Title removed.", "info");
    } catch (err) {
      input.value = c.title || "";
      toast("Could not save the title: " + describe(err), "error");
    } finally {
      input.classList.remove("is-saving");
    }
  }

  async function saveTags(tags) {
    const c = S.convs.get(S.activeId);
    if (!c) return;
    try {
      await patchConversation({ tags: tags });
    } catch (err) {
      toast("Could not save the tags: " + describe(err), "error");
    }
    renderSide();
  }

  function addTagFromInput() {
    const input = $("tag-input");
    const c = S.convs.get(S.activeId);
    if (!c) return;
    const fresh = input.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
    if (!fresh.length) return;
    if (fresh.some((t) => t.length > 40)) { toast("A tag is at most 40 characters.", "error"); return; }
    const tags = Array.from(new Set((c.tags || []).concat(fresh)));
    if (tags.length > 20) { toast("A conversation holds at most 20 tags.", "error"); return; }
    input.value = "";
    saveTags(tags);
  }

  // --- actions: accept, status, transfer ------------------------------------------------------

  /** This console is about to take the conversation itself: no "assigned to you" notice for it. */
  function claim(id) {
    S.claiming.add(id);
    setTimeout(() => S.claiming.delete(id), 5000);
  }

  async function accept() {
    const id = S.activeId;
    if (!id) return;
    const btn = $("accept");
    btn.disabled = true;
    claim(id);
    try {
      const ack = await live.request("accept", { conversation_id: id });
      S.joined.add(id);   // accept subscribes this socket
      upsert(ack.conversation);
      refreshMeSoon();
    } catch (err) {
      if (err.code === "capacity") await fetchMe();
      toast(describe(err, "accept"), "error");
      if (err.code === "conflict") reloadConversation(id);
    } finally {
      btn.disabled = false;
    }
  }

  async function fetchMe() {
    try { updateMe((await api("GET", "/v1/agents/me")).agent); } catch (e) { /* keep the last known */ }
  }

  async function setStatus(status) {
    const id = S.activeId;
    const c = S.convs.get(id);
    if (!c || c.status === status) return;
    claim(id);
    try {
      const ack = await live.request("set_status", { conversation_id: id, status: status });
      upsert(ack.conversation);
      refreshMeSoon();
      if (status === "solved") toast("Marked as solved.", "info");
    } catch (err) {
      if (err.code === "capacity") await fetchMe();
      toast(describe(err, "status"), "error");
      if (err.code === "conflict") reloadConversation(id);
    }
  }

  function reloadConversation(id) {
    api("GET", "/v1/conversations/" + encodeURIComponent(id)).then((d) => upsert(d.conversation)).catch((err) => {
      if (err.status === 404 && S.convs.has(id) && id !== S.activeId) { S.convs.delete(id); scheduleRender("list"); }
    });
  }

  async function loadTeam() {
    try {
      S.team = (await api("GET", "/v1/agents")).items || [];
      const me = S.team.find((a) => S.me && a.id === S.me.id);
      if (me) updateMe(me);
    } catch (e) { /* names fall back to "Another agent" */ }
  }

  /** The groups (teams) of the workspace, as the team list tells them. */
  function teamGroups() {
    const groups = new Set();
    for (const a of S.team) for (const g of a.groups || []) groups.add(g);
    return Array.from(groups).sort();
  }

  const STATUS_WORDS = { online: "online", away: "away", offline: "offline" };

  async function openTransfer() {
    const c = S.convs.get(S.activeId);
    if (!c) return;
    const dialog = $("transfer-dialog");
    const select = $("transfer-agent");
    $("transfer-note").value = "";
    show($("transfer-error"), false);
    clear(select);
    select.appendChild(el("option", { value: "", text: "Loading the team…" }));
    dialog.showModal();
    await loadTeam();
    clear(select);
    const choices = S.team.filter((a) => a.id !== c.assignee_id);
    const people = el("optgroup", { label: "A colleague (takes it now)" });
    for (const a of choices) {
      const full = (a.active_chats || 0) >= (a.capacity || 0);
      const label = a.name + (S.me && a.id === S.me.id ? " (you)" : "") + " · " + (a.active_chats || 0) + "/" + (a.capacity || 0) + " chats · " +
        (STATUS_WORDS[a.status] || "offline") + (full ? " · full" : "");
      people.appendChild(el("option", { value: a.id, text: label, dataset: { email: a.email || "" } }));
    }
    if (!choices.length) people.appendChild(el("option", { value: "", text: "Nobody else in the team", disabled: true }));
    select.appendChild(people);
    const groups = teamGroups();
    if (groups.length) {
      const queues = el("optgroup", { label: "A team's queue (first free agent of the team)" });
      for (const g of groups) {
        const members = S.team.filter((a) => (a.groups || []).includes(g));
        const online = members.filter((a) => a.status === "online").length;
        queues.appendChild(el("option", { value: "group:" + g, text: g + " team · " + members.length + " agent" + (members.length === 1 ? "" : "s") + ", " + online + " online" }));
      }
      select.appendChild(queues);
    }
    $("transfer-hint").textContent = groups.length
      ? "A team's queue gives the chat to the least busy online agent of that team, or keeps it waiting for them."
      : "No teams yet: an admin can put agents in groups (Settings → Team) to transfer to a team's queue.";
    const firstFree = choices.find((a) => (a.active_chats || 0) < (a.capacity || 0) && (!S.me || a.id !== S.me.id));
    if (firstFree) select.value = firstFree.id;
    select.focus();
  }

  async function submitTransfer(event) {
    event.preventDefault();
    const id = S.activeId;
    const to = $("transfer-agent").value;
    const note = $("transfer-note").value.trim();
    const error = $("transfer-error");
    if (!id || !to) { error.textContent = "Pick a colleague or a team."; show(error, true); return; }
    const group = to.startsWith("group:") ? to.slice(6) : null;
    const submit = $("transfer-submit");
    submit.disabled = true;
    if (S.me && to === S.me.id) claim(id);
    try {
      const fields = { conversation_id: id };
      if (group) fields.to_group = group; else fields.to_agent_id = to;
      if (note) fields.note = note;
      const ack = await live.request("transfer", fields);
      upsert(ack.conversation);
      // The note comes back in the ack (this socket gets no event for its own note); the system
      // message arrives as an event like any message.
      if (ack.note && S.thread && S.thread.id === id) addMessages([ack.note]);
      refreshMeSoon();
      $("transfer-dialog").close();
      toast(group ? "Sent to the " + group + " team's queue." : "Transferred to " + agentName(to) + ".", "info");
    } catch (err) {
      const target = S.team.find((a) => a.id === to);
      error.textContent = err.code === "capacity" ? (target ? target.name : "That agent") + " has no free chat slot." : describe(err, "transfer");
      show(error, true);
    } finally {
      submit.disabled = false;
    }
  }

  // --- blocking (any agent of the workspace) ---------------------------------------------------

  function renderBlock(visitorId, profile) {
    const box = $("visitor-block");
    clear(box);
    if (!visitorId || !profile || !profile.visitor) { show(box, false); return; }
    const blocked = !!profile.visitor.blocked;
    box.appendChild(el("button", {
      type: "button", class: "btn btn--small " + (blocked ? "btn--ghost" : "btn--danger-ghost"),
      text: blocked ? "Unblock visitor" : "Block visitor",
      on: { click: () => setBlocked(visitorId, !blocked) },
    }));
    if (blocked) box.appendChild(el("span", { class: "muted block-note", text: "They cannot write or start a chat." }));
    show(box, true);
  }

  async function setBlocked(visitorId, block) {
    const c = S.convs.get(S.activeId);
    const name = c && c.visitor && c.visitor.id === visitorId ? visitorName(c) : "this visitor";
    if (block) {
      const ok = await confirmDialog({
        title: "Block " + name + "?",
        text: "Their chat is cut off now, and they cannot write or start a new chat until someone unblocks them.",
        confirm: "Block visitor",
      });
      if (!ok) return;
    }
    try {
      const path = "/v1/contacts/" + encodeURIComponent(visitorId) + "/block";
      const data = block ? await api("POST", path, {}) : await api("DELETE", path);
      const profile = S.profiles.get(visitorId) || {};
      S.profiles.set(visitorId, Object.assign({}, profile, { visitor: Object.assign({}, profile.visitor, { blocked: !!data.blocked }) }));
      renderSide();
      toast(block ? name + " is blocked." : name + " can write again.", "info");
    } catch (err) {
      toast((block ? "Could not block: " : "Could not unblock: ") + apiMessage(err), "error");
    }
  }

  // --- data requests (admins): export and erase a visitor's data ------------------------------

  function renderPrivacy(visitorId, profile) {
    const box = $("visitor-privacy");
    clear(box);
    if (!isAdmin() || !visitorId || !profile || (!profile.visitor && !profile.error)) { show(box, false); return; }
    const erasing = !!(profile.visitor && profile.visitor.erasing);
    box.appendChild(el("button", {
      type: "button", class: "btn btn--small btn--ghost", text: "Export data",
      attrs: { title: "Download everything stored about this visitor (JSON)" },
      on: { click: (e) => exportVisitor(visitorId, e.currentTarget) },
    }));
    box.appendChild(el("button", {
      type: "button", class: "btn btn--small btn--danger-ghost", text: erasing ? "Finish erasing" : "Erase visitor",
      on: { click: (e) => eraseVisitor(visitorId, e.currentTarget) },
    }));
    if (erasing) box.appendChild(el("span", { class: "muted block-note", text: "An erasure started and did not finish." }));
    show(box, true);
  }

  function nameOf(visitorId) {
    const c = S.convs.get(S.activeId);
    return c && c.visitor && c.visitor.id === visitorId ? visitorName(c) : "this visitor";
  }

  async function exportVisitor(visitorId, button) {
    button.disabled = true;
    try {
      const data = await api("GET", "/v1/visitors/" + encodeURIComponent(visitorId) + "/export");
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const day = new Date().toISOString().slice(0, 10);
      const link = el("a", { href: url, attrs: { download: "parley-" + visitorId.replace(/[^\w-]/g, "") + "-" + day + ".json" } });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      const n = (data.conversations || []).length;
      toast("Exported " + nameOf(visitorId) + "'s data: " + n + " conversation" + (n === 1 ? "" : "s") + ".", "info");
    } catch (err) {
      toast("Could not export: " + apiMessage(err), "error");
    } finally {
      button.disabled = false;
    }
  }

  async function eraseVisitor(visitorId, button) {
    const name = nameOf(visitorId);
    const ok = await confirmDialog({
      title: "Erase all data of " + name + "?",
      text: "Their profile, every conversation and every message (internal notes included) are deleted for good. " +
        "Open chats are closed and their agent's slot is freed. This cannot be undone.",
      confirm: "Erase visitor",
    });
    if (!ok) return;
    button.disabled = true;
    const path = "/v1/visitors/" + encodeURIComponent(visitorId) + "?confirm=erase";
    const total = { conversations: 0, messages: 0 };
    try {
      S.erased.add(visitorId);
      let result = null;
      for (let round = 0; round < 10 && !(result && result.complete); round++) {
        result = await api("DELETE", path);   // a long history takes several calls: each goes on from the last
        total.conversations += result.erased.conversations || 0;
        total.messages += result.erased.messages || 0;
      }
      if (!result.complete) throw new ApiError("incomplete", "the erasure is not finished yet; try again", 0);
      forgetVisitor(visitorId);
      toast(name.charAt(0).toUpperCase() + name.slice(1) + "'s data was erased: " + total.conversations + " conversation" +
        (total.conversations === 1 ? "" : "s") + ", " + total.messages + " message" + (total.messages === 1 ? "" : "s") + ".", "info");
    } catch (err) {
      if (err.status === 404) { forgetVisitor(visitorId); toast("Nothing is stored about " + name + " any more.", "info"); return; }
      S.erased.delete(visitorId);
      button.disabled = false;
      toast("Could not erase: " + apiMessage(err), "error");
      loadProfile(visitorId);
    }
  }

  /** The console lets go of an erased visitor: their conversations leave the lists and the open pane. */
  function forgetVisitor(visitorId) {
    S.profiles.delete(visitorId);
    let open = false;
    for (const [id, c] of Array.from(S.convs)) {
      if (!c.visitor || c.visitor.id !== visitorId) continue;
      S.convs.delete(id);
      S.joined.delete(id);
      S.unread.delete(id);
      S.alerts.delete(id);
      if (id === S.activeId) open = true;
    }
    if (open) window.location.hash = "";
    scheduleRender("list");
    countsSoon(0);
    refreshMeSoon();   // an open chat of theirs held a slot: it is free again
  }

  /** A yes/no question in a modal dialog; resolves true when confirmed. */
  function confirmDialog(opts) {
    const dialog = $("confirm-dialog");
    $("confirm-title").textContent = opts.title;
    $("confirm-text").textContent = opts.text || "";
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

  /** The API's own words for a refusal (`error.message`), as a sentence. */
  function apiMessage(err) {
    if (!err || ["network", "timeout", "disconnected"].includes(err.code)) return describe(err);
    const message = err.message || "Something went wrong.";
    return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
  }

  // --- composer: sending, notes, typing, drafts -----------------------------------------------

  function setMode(mode) {
    const form = $("composer");
    form.dataset.mode = mode;
    for (const tab of form.querySelectorAll(".composer__tab")) tab.setAttribute("aria-pressed", tab.dataset.mode === mode ? "true" : "false");
    $("send").textContent = mode === "note" ? "Add note" : "Send";
    if (mode === "note") stopTyping();
    renderThreadChrome();
  }

  function saveDraft() {
    if (!S.activeId) return;
    const text = $("composer-text").value;
    const mode = $("composer").dataset.mode;
    if (text || mode === "note") S.drafts.set(S.activeId, { text: text, mode: mode });
    else S.drafts.delete(S.activeId);
  }

  function restoreDraft() {
    const draft = S.drafts.get(S.activeId) || { text: "", mode: "reply" };
    $("composer-text").value = draft.text;
    setMode(draft.mode);
  }

  let typingOn = false;
  let typingTimer = null;

  function noteTyping() {
    const id = S.activeId;
    if (!id || $("composer").dataset.mode !== "reply") return;
    if (!$("composer-text").value.trim()) { stopTyping(); return; }
    if (!typingOn) {
      typingOn = true;
      live.notify("typing", { conversation_id: id, state: "on" });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn && S.activeId) live.notify("typing", { conversation_id: S.activeId, state: "off" });
    typingOn = false;
  }

  function newClientMsgId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function submitComposer(event) {
    if (event) event.preventDefault();
    const id = S.activeId;
    const input = $("composer-text");
    const text = input.value.trim();
    if (!id || !text) return;
    if (text.length > 4000) { toast("A message is at most 4,000 characters.", "error"); return; }
    const internal = $("composer").dataset.mode === "note";
    stopTyping();
    const entry = { client_msg_id: newClientMsgId(), conversation_id: id, text: text, internal: internal, state: "sending", error: null };
    S.outbox.push(entry);
    input.value = "";
    S.drafts.delete(id);
    closeCanned();
    renderPending();
    const box = $("messages");
    box.scrollTop = box.scrollHeight;
    deliver(entry);
  }

  async function deliver(entry) {
    entry.state = "sending";
    entry.error = null;
    renderPending();
    if (!live.isOpen()) { entry.state = "waiting"; renderPending(); return; }
    try {
      const fields = { conversation_id: entry.conversation_id, client_msg_id: entry.client_msg_id, text: entry.text };
      if (entry.internal) fields.internal = true;
      const ack = await live.request("send", fields);
      dropFromOutbox(entry.client_msg_id);
      if (ack.message && S.thread && S.thread.id === ack.message.conversation_id) addMessages([ack.message]);
      else if (ack.message) noteMessage(ack.message);
      scheduleRender("list");
    } catch (err) {
      if (err.code === "disconnected" || err.code === "timeout") {
        entry.state = "waiting";   // sent again, with the same client_msg_id, when the socket is back
      } else {
        entry.state = "failed";
        entry.error = describe(err, "send");
      }
      renderPending();
    }
  }

  function flushOutbox() {
    for (const entry of S.outbox) if (entry.state === "waiting" || entry.state === "sending") deliver(entry);
  }

  function dropFromOutbox(clientMsgId) {
    const i = S.outbox.findIndex((e) => e.client_msg_id === clientMsgId);
    if (i >= 0) { S.outbox.splice(i, 1); renderPending(); }
  }

  function renderPending() {
    const list = $("pending-list");
    clear(list);
    if (!S.thread) return;
    for (const entry of S.outbox) {
      if (entry.conversation_id !== S.thread.id) continue;
      const status = entry.state === "failed" ? "Not sent: " + entry.error : entry.state === "waiting" ? "Waiting for the connection…" : "Sending…";
      list.appendChild(el("div", { class: "msg msg--own msg--pending " + (entry.internal ? "msg--note" : "msg--agent") + (entry.state === "failed" ? " msg--failed" : "") },
        el("div", { class: "msg__meta" },
          el("span", { class: "msg__author", text: "You" }),
          entry.internal ? el("span", { class: "msg__tag", text: "Private note" }) : null),
        el("div", { class: "msg__bubble" }, linkify(entry.text)),
        el("div", { class: "msg__status" },
          el("span", { text: status }),
          entry.state === "failed" ? el("button", { type: "button", class: "link-btn", text: "Retry", on: { click: () => deliver(entry) } }) : null,
          entry.state === "failed" ? el("button", { type: "button", class: "link-btn", text: "Discard", on: { click: () => dropFromOutbox(entry.client_msg_id) } }) : null)));
    }
  }

  // --- canned responses -----------------------------------------------------------------------

  const canned = { open: false, items: [], index: 0, start: 0, end: 0 };

  async function loadCanned() {
    try {
      S.canned = (await api("GET", "/v1/canned-responses")).items || [];
    } catch (e) {
      S.canned = [];
    }
  }

  function fillPlaceholders(text) {
    const c = S.convs.get(S.activeId);
    const vname = (c && c.visitor && c.visitor.name) || "there";
    const first = vname === "there" ? vname : vname.split(/\s+/)[0];
    const aname = (S.me && S.me.name) || "your agent";
    const values = {
      "visitor.name": vname, "visitor.first_name": first, "visitor.email": (c && c.visitor && c.visitor.email) || "",
      "agent.name": aname, "agent.first_name": aname.split(/\s+/)[0], "agent.email": (S.me && S.me.email) || "",
    };
    return String(text).replace(/\{\{\s*([a-z_.]+)\s*\}\}/gi, (all, key) => (key.toLowerCase() in values ? values[key.toLowerCase()] : all));
  }

  /** The "/word" the caret is in, if any: at the start or after whitespace. */
  function slashWord(input) {
    const pos = input.selectionStart;
    if (pos !== input.selectionEnd) return null;
    const before = input.value.slice(0, pos);
    const m = before.match(/(^|\s)\/([a-z0-9_-]*)$/i);
    if (!m) return null;
    const start = pos - m[2].length - 1;
    const after = input.value.slice(pos).match(/^[a-z0-9_-]*/i)[0];
    return { query: (m[2] + after).toLowerCase(), start: start, end: pos + after.length };
  }

  function updateCanned() {
    const input = $("composer-text");
    const word = slashWord(input);
    if (!word || !S.canned.length) { closeCanned(); return; }
    const q = word.query;
    const starts = S.canned.filter((c) => c.shortcut.startsWith(q));
    const contains = S.canned.filter((c) => !c.shortcut.startsWith(q) && (c.shortcut.includes(q) || (q.length > 1 && c.text.toLowerCase().includes(q))));
    const items = starts.concat(contains).slice(0, 8);
    if (!items.length) { closeCanned(); return; }
    const sameList = canned.open && canned.items.length === items.length && canned.items.every((c, i) => c.id === items[i].id);
    canned.items = items;
    canned.start = word.start;
    canned.end = word.end;
    if (!sameList) canned.index = 0;
    canned.open = true;
    renderCanned();
  }

  function renderCanned() {
    const popup = $("canned-popup");
    const input = $("composer-text");
    clear(popup);
    canned.items.forEach((item, i) => {
      const id = "canned-opt-" + i;
      popup.appendChild(el("li", {
        id: id, class: "canned-opt" + (i === canned.index ? " is-selected" : ""),
        attrs: { role: "option", "aria-selected": i === canned.index ? "true" : "false" },
        on: { mousedown: (e) => { e.preventDefault(); pickCanned(i); } },
      }, el("span", { class: "canned-opt__shortcut", text: "/" + item.shortcut }),
      el("span", { class: "canned-opt__text", text: fillPlaceholders(item.text) })));
    });
    show(popup, true);
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-activedescendant", "canned-opt-" + canned.index);
    const selected = popup.children[canned.index];
    if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
  }

  function closeCanned() {
    canned.open = false;
    canned.items = [];
    const popup = $("canned-popup");
    if (!popup) return;
    show(popup, false);
    clear(popup);
    const input = $("composer-text");
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function pickCanned(i) {
    const item = canned.items[i];
    if (!item) return;
    const input = $("composer-text");
    const text = fillPlaceholders(item.text);
    const value = input.value;
    input.value = value.slice(0, canned.start) + text + value.slice(canned.end);
    const caret = canned.start + text.length;
    closeCanned();
    input.focus();
    input.setSelectionRange(caret, caret);
    noteTyping();
  }

  function composerKeydown(event) {
    if (canned.open) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const n = canned.items.length;
        canned.index = (canned.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
        renderCanned();
        event.preventDefault();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        pickCanned(canned.index);
        event.preventDefault();
        return;
      }
      if (event.key === "Escape") {
        closeCanned();
        event.preventDefault();
        event.stopPropagation();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      submitComposer();
    }
  }

  // The canned responses manager (GET/POST/PUT/DELETE /v1/canned-responses).
  let cannedEditing = null;

  async function openCannedDialog() {
    const dialog = $("canned-dialog");
    resetCannedForm();
    dialog.showModal();
    await loadCanned();
    renderCannedList();
  }

  function renderCannedList() {
    const list = $("canned-list");
    clear(list);
    if (!S.canned.length) list.appendChild(el("li", { class: "muted", text: "No canned responses yet." }));
    for (const item of S.canned) {
      list.appendChild(el("li", { class: "canned-item" },
        el("div", { class: "canned-item__main" },
          el("span", { class: "canned-opt__shortcut", text: "/" + item.shortcut }),
          el("span", { class: "canned-item__text", text: item.text })),
        el("div", { class: "canned-item__actions" },
          el("button", { type: "button", class: "link-btn", text: "Edit", attrs: { "aria-label": "Edit /" + item.shortcut },
            on: { click: () => editCanned(item) } }),
          el("button", { type: "button", class: "link-btn link-btn--danger", text: "Delete", attrs: { "aria-label": "Delete /" + item.shortcut },
            on: { click: () => deleteCanned(item) } }))));
    }
  }

  function resetCannedForm() {
    cannedEditing = null;
    $("canned-shortcut").value = "";
    $("canned-text").value = "";
    $("canned-form-title").textContent = "New canned response";
    $("canned-save").textContent = "Add";
    show($("canned-error"), false);
  }

  function editCanned(item) {
    cannedEditing = item;
    $("canned-shortcut").value = "/" + item.shortcut;
    $("canned-text").value = item.text;
    $("canned-form-title").textContent = "Edit /" + item.shortcut;
    $("canned-save").textContent = "Save";
    show($("canned-error"), false);
    $("canned-text").focus();
  }

  async function saveCanned(event) {
    event.preventDefault();
    const body = { shortcut: $("canned-shortcut").value.trim().replace(/^\/+/, ""), text: $("canned-text").value.trim() };
    const error = $("canned-error");
    if (!body.shortcut || !body.text) { error.textContent = "A shortcut and a text are both needed."; show(error, true); return; }
    try {
      if (cannedEditing) await api("PUT", "/v1/canned-responses/" + encodeURIComponent(cannedEditing.id), body);
      else await api("POST", "/v1/canned-responses", body);
      resetCannedForm();
      await loadCanned();
      renderCannedList();
    } catch (err) {
      error.textContent = describe(err);
      show(error, true);
    }
  }

  async function deleteCanned(item) {
    if (!window.confirm("Delete /" + item.shortcut + "?")) return;
    try {
      await api("DELETE", "/v1/canned-responses/" + encodeURIComponent(item.id));
      await loadCanned();
      renderCannedList();
    } catch (err) {
      toast("Could not delete: " + describe(err), "error");
    }
  }

  // --- settings (admins): the team and the sites ------------------------------------------------

  const settingsState = { tab: "team", editing: null };
  const AGENT_FIELDS = { name: "agent-name", email: "agent-email", role: "agent-role", capacity: "agent-capacity",
    groups: "agent-groups", password: "agent-password", temporary_password: "agent-password" };

  function showPage(page) {
    S.page = page;
    document.body.dataset.page = page;
    show($("inbox-page"), page === "inbox");
    show($("settings"), page === "settings");
    const button = $("settings-open");
    if (page === "settings") button.setAttribute("aria-current", "page"); else button.removeAttribute("aria-current");
    renderAlerts();
  }

  function renderSettingsAccess() {
    show($("settings-open"), isAdmin());
  }

  function openSettings(tab) {
    if (!isAdmin()) {
      toast("Only admins can change the settings.", "error");
      history.replaceState(null, "", window.location.pathname + window.location.search);
      showPage("inbox");
      return;
    }
    const fresh = S.page !== "settings";
    showPage("settings");
    settingsState.tab = ["sites", "webhooks"].includes(tab) ? tab : "team";
    for (const link of document.querySelectorAll(".settings-nav__link")) {
      if (link.dataset.tab === settingsState.tab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
    }
    show($("settings-team"), settingsState.tab === "team");
    show($("settings-sites"), settingsState.tab === "sites");
    show($("settings-webhooks"), settingsState.tab === "webhooks");
    document.title = "Settings · " + BASE_TITLE;
    if (settingsState.tab === "team") {
      renderTeam();
      loadTeam().then(renderTeam);
    } else if (settingsState.tab === "sites") {
      renderSites();
      if (fresh || !S.sites.size) loadSites();
    } else {
      renderWebhooks();
      loadWebhooks();
    }
  }

  // The team has no events of its own: while its table is on screen it is read again now and then,
  // and soon after any chat changes hands (slots move).
  let teamTimer = null;
  function teamSoon(delay) {
    if (S.page !== "settings" || settingsState.tab !== "team") return;
    clearTimeout(teamTimer);
    teamTimer = setTimeout(() => {
      if (S.page === "settings" && settingsState.tab === "team") loadTeam().then(renderTeam);
    }, delay);
  }

  function closeSettings() {
    if (S.page !== "inbox") showPage("inbox");
  }

  const PRESENCE_TEAM = {
    online: "Online · gets chats automatically",
    away: "Away · accepts by hand",
    offline: "Offline",
  };

  function renderTeam() {
    const body = $("team-body");
    if (!body) return;
    clear(body);
    show($("team-empty"), !S.team.length);
    for (const a of S.team) {
      const self = !!S.me && a.id === S.me.id;
      const used = a.active_chats || 0;
      const cap = a.capacity || 0;
      const avatar = el("span", { class: "avatar avatar--sm", attrs: { "aria-hidden": "true" } });
      paintAvatar(avatar, a.name, a.id);
      const status = a.status || "offline";
      const meter = el("span");
      meter.style.width = (cap ? Math.min(100, (used / cap) * 100) : 0) + "%";   // CSSOM: allowed by the CSP
      const groups = el("ul", { class: "tag-list tag-list--static" });
      for (const g of a.groups || []) groups.appendChild(el("li", { class: "tag tag--static", text: g }));
      body.appendChild(el("tr", { dataset: { agentId: a.id, email: a.email || "" } },
        el("td", null, el("div", { class: "person" }, avatar,
          el("div", { class: "person__text" },
            el("div", { class: "person__name", text: (a.name || a.email) + (self ? " (you)" : "") }),
            el("div", { class: "person__email muted", text: a.email || "" })))),
        el("td", null, el("span", { class: "role-pill", dataset: { role: a.role }, text: a.role === "admin" ? "Admin" : "Agent" })),
        el("td", null, el("span", { class: "team-status", dataset: { status: status } },
          el("span", { class: "team-status__dot", attrs: { "aria-hidden": "true" } }), PRESENCE_TEAM[status] || status)),
        el("td", null, el("span", { class: "team-slots", dataset: { full: used >= cap && cap > 0 ? "true" : "false" }, attrs: { title: used + " of " + cap + " slots used" } },
          el("span", { class: "team-slots__value", text: used + " / " + cap }),
          el("span", { class: "slots__meter", attrs: { "aria-hidden": "true" } }, meter))),
        el("td", { class: "num", text: String(cap) }),
        el("td", null, (a.groups || []).length ? groups : el("span", { class: "muted", text: "—" })),
        el("td", { class: "team-actions" },
          el("button", { type: "button", class: "link-btn", text: "Edit", attrs: { "aria-label": "Edit " + (a.name || a.email) },
            on: { click: () => openAgentDialog(a) } }),
          self ? null : el("button", { type: "button", class: "link-btn link-btn--danger", text: "Remove",
            attrs: { "aria-label": "Remove " + (a.name || a.email) }, on: { click: () => removeAgent(a) } }))));
    }
  }

  function openAgentDialog(agent) {
    settingsState.editing = agent || null;
    const editing = !!agent;
    $("agent-dialog-title").textContent = editing ? "Edit " + (agent.name || agent.email) : "Add an agent";
    $("agent-save").textContent = editing ? "Save" : "Add agent";
    $("agent-name").value = editing ? agent.name || "" : "";
    $("agent-email").value = editing ? agent.email || "" : "";
    $("agent-email").disabled = editing;
    $("agent-role").value = editing ? agent.role || "agent" : "agent";
    $("agent-capacity").value = String(editing ? agent.capacity || 3 : 3);
    $("agent-groups").value = editing ? (agent.groups || []).join(", ") : "";
    $("agent-password").value = "";
    $("agent-temporary").checked = false;
    show($("agent-password-field"), !editing);
    show($("agent-error"), false);
    for (const id of Object.values(AGENT_FIELDS)) $(id).removeAttribute("aria-invalid");
    $("agent-dialog").showModal();
    $(editing ? "agent-capacity" : "agent-name").focus();
  }

  /** A number field's value: a number when it is one, null when empty, else the text (the server says why). */
  function numberField(input) {
    const raw = input.value.trim();
    if (!raw) return null;
    return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }

  function splitList(text) {
    return text.split(",").map((t) => t.trim()).filter(Boolean);
  }

  /** Show the API's refusal in the form and put the cursor in the field it names. */
  function formError(box, err, fields) {
    box.textContent = apiMessage(err);
    show(box, true);
    const id = err && err.field && fields[err.field];
    const input = id && $(id);
    if (input && !input.disabled) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      if (typeof input.select === "function" && input.type !== "checkbox") { try { input.select(); } catch (e) { /* not selectable */ } }
    }
  }

  async function saveAgent(event) {
    event.preventDefault();
    const editing = settingsState.editing;
    const error = $("agent-error");
    show(error, false);
    for (const id of Object.values(AGENT_FIELDS)) $(id).removeAttribute("aria-invalid");
    const body = {
      name: $("agent-name").value.trim(),
      role: $("agent-role").value,
      capacity: numberField($("agent-capacity")),
      groups: splitList($("agent-groups").value),
    };
    if (!editing) {
      body.email = $("agent-email").value.trim();
      const password = $("agent-password").value;
      if (password && password.length < 8) {
        formError(error, { message: "The password needs at least 8 characters.", field: "password" }, AGENT_FIELDS);
        return;
      }
      if (password) body[$("agent-temporary").checked ? "temporary_password" : "password"] = password;
    }
    const save = $("agent-save");
    save.disabled = true;
    try {
      const agent = editing
        ? await api("PATCH", "/v1/agents/" + encodeURIComponent(editing.id), body)
        : await api("POST", "/v1/agents", body);
      $("agent-dialog").close();
      if (agent && agent.id && S.me && agent.id === S.me.id) updateMe(agent);
      await loadTeam();
      renderTeam();
      toast(editing ? "Saved " + (agent.name || agent.email) + "." : (agent.name || agent.email) + " can now sign in.", "info");
    } catch (err) {
      formError(error, err, AGENT_FIELDS);
    } finally {
      save.disabled = false;
    }
  }

  async function removeAgent(agent) {
    const chats = agent.active_chats || 0;
    const ok = await confirmDialog({
      title: "Remove " + (agent.name || agent.email) + "?",
      text: "They can no longer sign in." + (chats ? " Their " + chats + " open chat" + (chats === 1 ? "" : "s") + " go back to the queue at once." : ""),
      confirm: "Remove",
    });
    if (!ok) return;
    try {
      await api("DELETE", "/v1/agents/" + encodeURIComponent(agent.id));
      toast((agent.name || agent.email) + " was removed from the team.", "info");
    } catch (err) {
      toast("Could not remove " + (agent.name || agent.email) + ": " + apiMessage(err), "error");
    }
    await loadTeam();
    renderTeam();
  }

  // Sites: the API has no list of a workspace's sites, so the console knows the sites its
  // conversations came from, plus the ones an admin added here by key (remembered in this browser).

  function rememberedSites() {
    const all = S.prefs.sitesByAgent || {};
    return (S.me && all[S.me.id]) || [];
  }

  function rememberSites(keys) {
    if (!S.me) return;
    S.prefs.sitesByAgent = Object.assign({}, S.prefs.sitesByAgent, { [S.me.id]: Array.from(new Set(keys)) });
    savePrefs();
  }

  let sitesLoading = null;
  async function loadSites() {
    if (sitesLoading) return sitesLoading;
    sitesLoading = (async () => {
      const keys = new Set(rememberedSites());
      for (const c of S.convs.values()) if (c.site_key) keys.add(c.site_key);
      try {
        const data = await api("GET", "/v1/conversations?view=all&limit=100");
        for (const c of data.items || []) if (c.site_key) keys.add(c.site_key);
      } catch (e) { /* the sites known so far */ }
      await Promise.all(Array.from(keys).map(async (key) => {
        try {
          S.sites.set(key, await api("GET", "/v1/sites/" + encodeURIComponent(key)));
        } catch (err) {
          if (err.status === 401 || err.status === 404) S.sites.delete(key);
        }
      }));
      rememberSites(Array.from(S.sites.keys()));
      renderSites();
    })().finally(() => { sitesLoading = null; });
    return sitesLoading;
  }

  async function addSite(event) {
    event.preventDefault();
    const input = $("site-add-key");
    const error = $("site-add-error");
    const key = input.value.trim();
    show(error, false);
    if (!key) { error.textContent = "Enter a site key (it is in the widget's script tag: data-site-key)."; show(error, true); input.focus(); return; }
    try {
      const site = await api("GET", "/v1/sites/" + encodeURIComponent(key));
      S.sites.set(site.site_key, site);
      rememberSites(rememberedSites().concat(site.site_key));
      input.value = "";
      renderSites();
      const card = document.querySelector('.site-card[data-site="' + CSS.escape(site.site_key) + '"]');
      if (card) card.scrollIntoView({ block: "nearest" });
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 404 ? "No site with the key “" + key + "” in your workspace." : apiMessage(err);
      show(error, true);
      input.focus();
    }
  }

  function renderSites() {
    const list = $("site-list");
    if (!list) return;
    const keys = Array.from(S.sites.keys()).sort();
    const cards = new Map(Array.from(list.querySelectorAll(".site-card")).map((n) => [n.dataset.site, n]));
    for (const [key, node] of cards) if (!S.sites.has(key)) node.remove();
    keys.forEach((key, i) => {
      if (!cards.has(key)) list.appendChild(siteCard(S.sites.get(key), i));
    });
    show($("site-empty"), !keys.length);
    $("site-empty").textContent = sitesLoading ? "Loading the sites…" : "No sites known yet. Add one by its key below.";
  }

  // Which websites may show a site's chat (allowed_origins); these texts in English and French, by
  // the browser's language (the page itself is marked lang="en").
  const ORIGIN_TEXTS = {
    en: {
      label: "Websites that may show the chat",
      help: "One per line: https://shop.example (no path), or https://*.shop.example for its subdomains. Pages of other websites are refused. Empty: any website.",
      any: "Any website can embed this chat until you list your website's addresses here.",
      none: "No website can show this chat: the list is empty.",
    },
    fr: {
      label: "Sites web autorisés à afficher la discussion",
      help: "Une adresse par ligne : https://boutique.example (sans chemin), ou https://*.boutique.example pour ses sous-domaines. Les pages des autres sites sont refusées. Vide : n’importe quel site.",
      any: "N’importe quel site web peut intégrer cette discussion tant que vous n’indiquez pas ici les adresses de votre site.",
      none: "Aucun site web ne peut afficher cette discussion : la liste est vide.",
    },
  };
  const originText = (key) => ORIGIN_TEXTS[/^fr\b/i.test(navigator.language) ? "fr" : "en"][key];

  /** The warning under the list: null means any website may embed the chat, [] that none may. */
  function paintOriginsWarning(form, n, allowed) {
    const warning = form.querySelector("#" + n + "-origins-warning");
    warning.textContent = allowed == null ? originText("any") : allowed.length ? "" : originText("none");
    show(warning, !!warning.textContent);
  }

  /** The textarea's origins, one per line (commas and spaces also separate); none: any website (null). */
  function originsField(textarea) {
    const list = textarea.value.split(/[\s,]+/).filter(Boolean);
    return list.length ? list : null;
  }

  let siteSerial = 0;
  function siteCard(site, _index) {
    const n = "site-" + (++siteSerial);
    const s = site.settings || {};
    const fields = {
      greeting: n + "-greeting", color: n + "-color", rate_limit_count: n + "-count", rate_limit_window: n + "-window",
      prechat_enabled: n + "-prechat", prechat_fields: n + "-ask-email", prechat_required: n + "-req-email",
      retention_days: n + "-retention", allowed_origins: n + "-origins",
    };
    const check = (id, label, checked) => el("label", { class: "check", attrs: { for: id } },
      el("input", { type: "checkbox", id: id, checked: !!checked }), " " + label);
    const asks = s.prechat_fields || [];
    const needs = s.prechat_required || [];
    const preview = el("div", { class: "site-preview", attrs: { "aria-hidden": "true" } },
      el("div", { class: "site-preview__head" }, el("strong", { text: site.name || site.site_key }), el("span", { text: "We reply in a few minutes" })),
      el("div", { class: "site-preview__body" }, el("p", { class: "site-preview__greeting" })),
      el("div", { class: "site-preview__launcher" }));
    const form = el("form", { class: "site-card", dataset: { site: site.site_key }, attrs: { novalidate: true, "aria-labelledby": n + "-title" } },
      el("header", { class: "site-card__head" },
        el("h3", { id: n + "-title", class: "site-card__title", text: site.name || site.site_key }),
        el("code", { text: site.site_key }),
        site.identity_verification ? el("span", { class: "status-pill status-pill--small", dataset: { status: "open" }, text: "Identity verification on" }) : null),
      el("div", { class: "site-card__grid" },
        el("div", { class: "site-card__fields" },
          el("div", { class: "field" },
            el("label", { attrs: { for: fields.greeting }, text: "Greeting" }),
            el("textarea", { id: fields.greeting, rows: 2, maxLength: 500, value: s.greeting || "" }),
            el("small", { class: "field__help", text: "The first thing visitors read in the chat." })),
          el("div", { class: "field" },
            el("label", { attrs: { for: fields.color }, text: "Colour" }),
            el("div", { class: "color-row" },
              el("input", { type: "color", id: n + "-picker", value: /^#[0-9a-f]{6}$/i.test(s.color || "") ? s.color : "#1f6feb", attrs: { "aria-label": "Pick the colour" } }),
              el("input", { id: fields.color, type: "text", maxLength: 7, value: s.color || "", attrs: { placeholder: "#1f6feb", spellcheck: "false" } }))),
          el("fieldset", { class: "field fieldset" },
            el("legend", { text: "Flood limit" }),
            el("div", { class: "inline-fields" },
              el("input", { id: fields.rate_limit_count, type: "number", min: 1, max: 1000, value: String(s.rate_limit_count || ""), attrs: { "aria-label": "Messages allowed" } }),
              el("span", { text: "messages every" }),
              el("input", { id: fields.rate_limit_window, type: "number", min: 1, max: 3600, value: String(s.rate_limit_window || ""), attrs: { "aria-label": "Window in seconds" } }),
              el("span", { text: "seconds" })),
            el("small", { class: "field__help", text: "A visitor writing faster is asked to slow down. New chats pick up a change." })),
          el("div", { class: "field" },
            el("label", { attrs: { for: fields.retention_days }, text: "Keep conversations for" }),
            el("div", { class: "inline-fields" },
              el("input", { id: fields.retention_days, type: "number", min: 1, max: 3650, value: s.retention_days ? String(s.retention_days) : "", attrs: { placeholder: "forever" } }),
              el("span", { text: "days" })),
            el("small", { class: "field__help", text: "After a conversation's last activity, it is deleted with its messages. Empty: keep forever. Applies to chats started from now on." })),
          el("div", { class: "field" },
            el("label", { attrs: { for: fields.allowed_origins }, text: originText("label") }),
            el("textarea", { id: fields.allowed_origins, rows: 3, value: (s.allowed_origins || []).join("\n"),
              attrs: { placeholder: "https://shop.example\nhttps://*.shop.example", spellcheck: "false",
                "aria-describedby": n + "-origins-warning " + n + "-origins-help" } }),
            el("p", { id: n + "-origins-warning", class: "thread-banner origins-warning", attrs: { role: "status" }, hidden: true }),
            el("small", { id: n + "-origins-help", class: "field__help", text: originText("help") })),
          el("fieldset", { class: "field fieldset" },
            el("legend", { text: "Pre-chat form" }),
            check(fields.prechat_enabled, "Ask for details before the first message", s.prechat_enabled),
            el("div", { class: "prechat-grid" },
              check(n + "-ask-name", "Ask for the name", asks.includes("name")),
              check(n + "-req-name", "Name required", needs.includes("name")),
              check(fields.prechat_fields, "Ask for the email", asks.includes("email")),
              check(fields.prechat_required, "Email required", needs.includes("email"))))),
        preview),
      el("p", { class: "form-error", attrs: { role: "alert" }, hidden: true }),
      el("div", { class: "site-card__actions" },
        el("span", { class: "site-card__saved muted", attrs: { role: "status" } }),
        el("button", { type: "submit", class: "btn btn--primary", text: "Save " + (site.name || site.site_key) })));
    const $in = (suffix) => form.querySelector("#" + n + suffix);
    const paintPreview = () => {
      const color = $in("-color").value.trim();
      const valid = /^#[0-9a-f]{6}$/i.test(color);
      preview.style.setProperty("--site-color", valid ? color : "#1f6feb");
      preview.querySelector(".site-preview__greeting").textContent = $in("-greeting").value.trim() || "…";
    };
    // "Required" implies "asked"; not asking clears "required".
    for (const what of ["name", "email"]) {
      const ask = $in("-ask-" + what);
      const req = $in("-req-" + what);
      req.addEventListener("change", () => { if (req.checked) ask.checked = true; });
      ask.addEventListener("change", () => { if (!ask.checked) req.checked = false; });
    }
    $in("-picker").addEventListener("input", () => { $in("-color").value = $in("-picker").value; paintPreview(); });
    $in("-color").addEventListener("input", () => {
      const v = $in("-color").value.trim();
      if (/^#[0-9a-f]{6}$/i.test(v)) $in("-picker").value = v.toLowerCase();
      paintPreview();
    });
    $in("-greeting").addEventListener("input", paintPreview);
    const prechatOn = () => form.querySelector(".prechat-grid").classList.toggle("is-off", !$in("-prechat").checked);
    $in("-prechat").addEventListener("change", prechatOn);
    prechatOn();
    form.addEventListener("input", () => { form.querySelector(".site-card__saved").textContent = ""; });
    form.addEventListener("submit", (event) => saveSite(event, form, site.site_key, n, fields));
    paintPreview();
    paintOriginsWarning(form, n, s.allowed_origins);
    return form;
  }

  async function saveSite(event, form, key, n, fields) {
    event.preventDefault();
    const error = form.querySelector(".form-error");
    const saved = form.querySelector(".site-card__saved");
    show(error, false);
    saved.textContent = "";
    for (const id of Object.values(fields)) { const input = $(id); if (input) input.removeAttribute("aria-invalid"); }
    const get = (suffix) => form.querySelector("#" + n + suffix);
    const asked = ["name", "email"].filter((w) => get("-ask-" + w).checked);
    const body = {
      greeting: get("-greeting").value.trim(),
      color: get("-color").value.trim(),
      rate_limit_count: numberField(get("-count")),
      rate_limit_window: numberField(get("-window")),
      prechat_enabled: get("-prechat").checked,
      prechat_fields: asked,
      prechat_required: ["name", "email"].filter((w) => get("-req-" + w).checked),
      retention_days: numberField(get("-retention")),
      allowed_origins: originsField(get("-origins")),
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const site = await api("PATCH", "/v1/sites/" + encodeURIComponent(key), body);
      S.sites.set(key, site);
      saved.textContent = "Saved.";
      get("-origins").value = (site.settings.allowed_origins || []).join("\n");  // as stored: normalized
      paintOriginsWarning(form, n, site.settings.allowed_origins);
    } catch (err) {
      formError(error, err, fields);
    } finally {
      button.disabled = false;
    }
  }

  // --- settings (admins): webhooks ---------------------------------------------------------------
  // Endpoints of the workspace and their recent deliveries. Deliveries change on their own (tries,
  // retries), so while this tab is on screen they are read again every few seconds.

  const WEBHOOK_FIELDS = { url: "webhook-url", description: "webhook-description", events: "webhook-events" };
  const EVENT_LABELS = {
    "conversation.created": "A conversation starts",
    "conversation.assigned": "A conversation is assigned (or goes back to the queue)",
    "conversation.status_changed": "A conversation's status changes",
    "message.created": "A message is sent (internal notes included, marked internal)",
    "csat.submitted": "A visitor rates a conversation",
  };
  const DELIVERY_LABELS = { pending: "Queued", retrying: "Retrying", delivered: "Delivered", failed: "Failed" };
  const WEBHOOK_REFRESH_MS = 3000;
  const hooksState = { hooks: [], types: Object.keys(EVENT_LABELS), deliveries: new Map(), loaded: false, loading: null };

  function onWebhooksTab() {
    return S.page === "settings" && settingsState.tab === "webhooks";
  }

  function loadWebhooks() {
    if (hooksState.loading) return hooksState.loading;
    hooksState.loading = (async () => {
      try {
        const data = await api("GET", "/v1/webhooks");
        hooksState.hooks = data.items || [];
        if (data.event_types && data.event_types.length) hooksState.types = data.event_types;
        hooksState.loaded = true;
        renderWebhooks();
        await loadDeliveries();
      } catch (err) {
        if (onWebhooksTab()) toast("Could not load the webhooks: " + apiMessage(err), "error");
      }
    })().finally(() => { hooksState.loading = null; });
    return hooksState.loading;
  }

  async function loadDeliveries() {
    await Promise.all(hooksState.hooks.map(async (hook) => {
      try {
        const data = await api("GET", "/v1/webhooks/" + encodeURIComponent(hook.id) + "/deliveries?limit=10");
        hooksState.deliveries.set(hook.id, data.items || []);
        renderDeliveries(hook.id);
      } catch (err) {
        if (err.status === 404) hooksState.deliveries.delete(hook.id);
      }
    }));
  }

  function renderEventChoices(selected) {
    const box = $("webhook-event-list");
    clear(box);
    for (const type of hooksState.types) {
      const id = "webhook-event-" + type.replace(/[^a-z]/g, "-");
      box.appendChild(el("label", { class: "check", attrs: { for: id } },
        el("input", { type: "checkbox", id: id, value: type, checked: selected.includes(type) }),
        " ", el("code", { text: type }), " ", el("span", { class: "muted", text: EVENT_LABELS[type] || "" })));
    }
  }

  function openWebhookForm() {
    $("webhook-url").value = "";
    $("webhook-description").value = "";
    renderEventChoices(hooksState.types);
    show($("webhook-error"), false);
    for (const id of Object.values(WEBHOOK_FIELDS)) $(id).removeAttribute("aria-invalid");
    show($("webhook-form"), true);
    $("webhook-url").focus();
  }

  async function saveWebhook(event) {
    event.preventDefault();
    const error = $("webhook-error");
    show(error, false);
    for (const id of Object.values(WEBHOOK_FIELDS)) $(id).removeAttribute("aria-invalid");
    const body = {
      url: $("webhook-url").value.trim(),
      events: Array.from($("webhook-event-list").querySelectorAll("input:checked")).map((i) => i.value),
    };
    const description = $("webhook-description").value.trim();
    if (description) body.description = description;
    if (!body.url) { formError(error, { message: "Enter the URL to post to.", field: "url" }, WEBHOOK_FIELDS); return; }
    if (!body.events.length) { formError(error, { message: "Choose at least one event.", field: "events" }, WEBHOOK_FIELDS); return; }
    const save = $("webhook-save");
    save.disabled = true;
    try {
      const hook = await api("POST", "/v1/webhooks", body);
      show($("webhook-form"), false);
      showSecret(hook);
      await loadWebhooks();
    } catch (err) {
      formError(error, err, WEBHOOK_FIELDS);
    } finally {
      save.disabled = false;
    }
  }

  // The secret shown once, in its two forms (docs/protocol.md §18.5); these texts in English and French,
  // by the browser's language, like the sites' origin texts.
  const SECRET_TEXTS = {
    en: {
      title: "Signing secret for",
      help: "Copy it now and keep it on your server: it is not shown again. Verify each post's Parley-Signature header with it.",
      standard: "Standard Webhooks secret: the same key, written for the standardwebhooks libraries, which verify each post's webhook-signature header. Give them this one.",
      copy: "Copy",
      done: "Done",
      copied: "Secret copied.",
      select: "Press Ctrl+C to copy the selected secret.",
    },
    fr: {
      title: "Secret de signature pour",
      help: "Copiez-le maintenant et gardez-le sur votre serveur : il ne sera plus affiché. Vérifiez avec lui l’en-tête Parley-Signature de chaque envoi.",
      standard: "Secret Standard Webhooks : la même clé, écrite pour les bibliothèques standardwebhooks, qui vérifient l’en-tête webhook-signature de chaque envoi. Donnez-leur celui-ci.",
      copy: "Copier",
      done: "Terminé",
      copied: "Secret copié.",
      select: "Appuyez sur Ctrl+C pour copier le secret sélectionné.",
    },
  };
  const secretText = (key) => SECRET_TEXTS[/^fr\b/i.test(navigator.language) ? "fr" : "en"][key];

  function showSecret(hook) {
    $("webhook-secret-title").textContent = secretText("title");
    $("webhook-secret-help").textContent = secretText("help");
    $("webhook-standard-help").textContent = secretText("standard");
    for (const id of ["webhook-secret-copy", "webhook-standard-secret-copy"]) $(id).textContent = secretText("copy");
    $("webhook-secret-done").textContent = secretText("done");
    $("webhook-secret-url").textContent = hook.url;
    $("webhook-secret-value").textContent = hook.secret || "";
    $("webhook-standard-secret-value").textContent = hook.standard_webhooks_secret || "";
    show($("webhook-standard-help"), !!hook.standard_webhooks_secret);
    show($("webhook-standard-secret-value").parentNode, !!hook.standard_webhooks_secret);
    show($("webhook-secret"), true);
    $("webhook-secret-copy").focus();
  }

  function hideSecret() {
    $("webhook-secret-value").textContent = "";
    $("webhook-standard-secret-value").textContent = "";
    show($("webhook-secret"), false);
  }

  async function copySecret(valueId) {
    const text = $(valueId).textContent;
    try {
      await navigator.clipboard.writeText(text);
      toast(secretText("copied"), "info");
    } catch (e) {
      const range = document.createRange();   // no clipboard access: select it for Ctrl+C
      range.selectNodeContents($(valueId));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      toast(secretText("select"), "info");
    }
  }

  function hookLabel(hook) {
    return hook.description || hook.url;
  }

  async function webhookAction(hook, label, run) {
    try {
      await run();
    } catch (err) {
      toast("Could not " + label + " " + hookLabel(hook) + ": " + apiMessage(err), "error");
    }
    await loadWebhooks();
  }

  function setWebhookEnabled(hook, enabled) {
    return webhookAction(hook, enabled ? "enable" : "disable", async () => {
      await api("PATCH", "/v1/webhooks/" + encodeURIComponent(hook.id), { enabled: enabled });
      toast(hookLabel(hook) + (enabled ? " is enabled." : " is disabled: it gets no events until enabled again."), "info");
    });
  }

  function testWebhook(hook) {
    return webhookAction(hook, "test", async () => {
      await api("POST", "/v1/webhooks/" + encodeURIComponent(hook.id) + "/test", {});
      toast("A test event is on its way to " + hookLabel(hook) + ".", "info");
    });
  }

  async function rotateWebhook(hook) {
    const ok = await confirmDialog({
      title: "New secret for " + hookLabel(hook) + "?",
      text: "Posts are signed with the new secret from now on; the old one stops working at once. Update your server right after.",
      confirm: "Rotate secret",
    });
    if (!ok) return;
    return webhookAction(hook, "rotate the secret of", async () => {
      showSecret(await api("POST", "/v1/webhooks/" + encodeURIComponent(hook.id) + "/rotate-secret", {}));
    });
  }

  async function deleteWebhook(hook) {
    const ok = await confirmDialog({
      title: "Delete " + hookLabel(hook) + "?",
      text: "Parley stops posting to it at once, deliveries still waiting included.",
      confirm: "Delete",
    });
    if (!ok) return;
    return webhookAction(hook, "delete", async () => {
      await api("DELETE", "/v1/webhooks/" + encodeURIComponent(hook.id));
      hooksState.deliveries.delete(hook.id);
      toast(hookLabel(hook) + " was deleted.", "info");
    });
  }

  async function retryDelivery(hook, delivery, button) {
    button.disabled = true;
    try {
      await api("POST", "/v1/webhooks/" + encodeURIComponent(hook.id) + "/deliveries/" + encodeURIComponent(delivery.id) + "/retry", {});
      toast("Trying " + delivery.event_type + " again.", "info");
    } catch (err) {
      toast("Could not retry: " + apiMessage(err), "error");
    }
    await loadDeliveries();
  }

  function renderWebhooks() {
    const list = $("webhook-list");
    if (!list) return;
    const ids = new Set(hooksState.hooks.map((h) => h.id));
    for (const card of Array.from(list.querySelectorAll(".webhook-card"))) if (!ids.has(card.dataset.webhook)) card.remove();
    for (const hook of hooksState.hooks) {
      let card = list.querySelector('.webhook-card[data-webhook="' + CSS.escape(hook.id) + '"]');
      const head = webhookHead(hook);
      if (!card) {
        card = el("article", { class: "webhook-card", dataset: { webhook: hook.id }, attrs: { "aria-label": "Webhook " + hookLabel(hook) } },
          head,
          el("div", { class: "table-wrap" },
            el("table", { class: "team-table delivery-table" },
              el("caption", { class: "visually-hidden", text: "Recent deliveries to " + hook.url }),
              el("thead", null, el("tr", null,
                el("th", { scope: "col", text: "Event" }), el("th", { scope: "col", text: "Status" }),
                el("th", { scope: "col", class: "num", text: "Response" }), el("th", { scope: "col", class: "num", text: "Tries" }),
                el("th", { scope: "col", text: "When" }), el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Actions" })))),
              el("tbody", { class: "delivery-body" }))),
          el("p", { class: "list-empty delivery-empty", text: "No deliveries yet. Send a test to see one." }));
        list.appendChild(card);
      } else {
        card.replaceChild(head, card.querySelector(".webhook-card__head"));
      }
      card.dataset.enabled = hook.enabled ? "true" : "false";
      renderDeliveries(hook.id);
    }
    show($("webhook-empty"), !hooksState.hooks.length);
    $("webhook-empty").textContent = hooksState.loaded ? "No endpoints yet. Add one to receive your workspace's events." : "Loading the webhooks…";
  }

  function webhookHead(hook) {
    const events = el("ul", { class: "tag-list tag-list--static webhook-card__events", attrs: { "aria-label": "Events" } });
    for (const type of hook.events || []) events.appendChild(el("li", { class: "tag tag--static", text: type }));
    return el("header", { class: "webhook-card__head" },
      el("div", { class: "webhook-card__who" },
        el("div", { class: "webhook-card__title" },
          el("span", { class: "webhook-card__url", text: hook.url }),
          el("span", { class: "status-pill status-pill--small" + (hook.enabled ? "" : " status-pill--danger"),
            dataset: { status: hook.enabled ? "open" : "off" }, text: hook.enabled ? "Enabled" : "Disabled" })),
        hook.description ? el("div", { class: "muted webhook-card__description", text: hook.description }) : null,
        events,
        el("div", { class: "muted webhook-card__secret" }, "Secret ", el("code", { text: hook.secret_hint || "whsec_…" }))),
      el("div", { class: "webhook-card__actions" },
        el("button", { type: "button", class: "btn btn--small", text: "Send test", on: { click: () => testWebhook(hook) } }),
        el("button", { type: "button", class: "btn btn--small", text: hook.enabled ? "Disable" : "Enable",
          on: { click: () => setWebhookEnabled(hook, !hook.enabled) } }),
        el("button", { type: "button", class: "link-btn", text: "Rotate secret", on: { click: () => rotateWebhook(hook) } }),
        el("button", { type: "button", class: "link-btn link-btn--danger", text: "Delete",
          attrs: { "aria-label": "Delete " + hookLabel(hook) }, on: { click: () => deleteWebhook(hook) } })));
  }

  function nextTry(delivery) {
    const seconds = Math.max(0, Math.round((Date.parse(delivery.next_attempt_at) - Date.now()) / 1000));
    const when = seconds < 90 ? "in " + seconds + " s" : "in " + Math.round(seconds / 60) + " min";
    return (delivery.error ? delivery.error + " · " : "") + "next try " + when;
  }

  function renderDeliveries(hookId) {
    const card = document.querySelector('.webhook-card[data-webhook="' + CSS.escape(hookId) + '"]');
    const hook = hooksState.hooks.find((h) => h.id === hookId);
    if (!card || !hook) return;
    const body = card.querySelector(".delivery-body");
    const items = hooksState.deliveries.get(hookId) || [];
    clear(body);
    for (const d of items) {
      const when = d.delivered_at || d.updated_at || d.created_at;
      const detail = d.status === "retrying" && d.next_attempt_at ? nextTry(d) : d.error || "";
      body.appendChild(el("tr", { class: "delivery-row", dataset: { delivery: d.id, status: d.status } },
        el("td", null, el("code", { text: d.event_type })),
        el("td", null,
          el("span", { class: "delivery-status", dataset: { status: d.status }, text: DELIVERY_LABELS[d.status] || d.status }),
          detail ? el("div", { class: "muted delivery-detail", text: detail }) : null),
        el("td", { class: "num delivery-code", text: d.response_code === null || d.response_code === undefined ? "—" : String(d.response_code) }),
        el("td", { class: "num delivery-attempts", text: String(d.attempts || 0) }),
        el("td", null, el("time", { class: "row__time", dataset: { iso: when }, attrs: { datetime: when, title: when }, text: ago(when) })),
        el("td", { class: "team-actions" }, d.status === "failed"
          ? el("button", { type: "button", class: "btn btn--small", text: "Retry",
            attrs: { "aria-label": "Retry " + d.event_type }, on: { click: (e) => retryDelivery(hook, d, e.currentTarget) } })
          : null)));
    }
    show(card.querySelector(".delivery-empty"), !items.length);
    show(card.querySelector(".table-wrap"), items.length > 0);
  }

  // --- sign in, sign out, start -----------------------------------------------------------------

  function showLogin(message) {
    show($("app"), false);
    show($("login-screen"), true);
    show($("login-form"), true);
    show($("newpass-form"), false);
    newPassword = null;
    const error = $("login-error");
    error.textContent = message || "";
    show(error, !!message);
    document.title = "Sign in · " + BASE_TITLE;
    const email = $("login-email");
    if (!email.value) email.focus(); else $("login-password").focus();
  }

  async function submitLogin(event) {
    event.preventDefault();
    const email = $("login-email").value.trim();
    const password = $("login-password").value;
    const error = $("login-error");
    const button = $("login-submit");
    if (!email || !password) {
      error.textContent = "Enter your email and password.";
      show(error, true);
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    show(error, false);
    try {
      const data = await rawFetch("POST", "/v1/agents/login", { email: email, password: password });
      storeSession(data, null);
      $("login-password").value = "";
      startApp(data.agent);
    } catch (err) {
      if (err.code === "password_change_required" && err.details.session) {
        $("login-password").value = "";
        askNewPassword(email, err.details.session);
        return;
      }
      error.textContent = err.status === 401 ? "Wrong email or password." : err.status === 403 ? "This sign-in has no agent profile. Ask an admin to add you." : describe(err);
      show(error, true);
      $("login-password").select();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  }

  // A first sign-in with a temporary password (an invitation, or one an admin handed over):
  // Cognito wants the agent's own password before it gives out tokens.
  let newPassword = null;   // {email, session}

  function askNewPassword(email, session) {
    newPassword = { email: email, session: session };
    show($("login-form"), false);
    show($("newpass-form"), true);
    show($("newpass-error"), false);
    $("newpass-email").textContent = email;
    $("newpass-password").value = "";
    $("newpass-repeat").value = "";
    document.title = "Choose your password · " + BASE_TITLE;
    $("newpass-password").focus();
  }

  async function submitNewPassword(event) {
    event.preventDefault();
    const error = $("newpass-error");
    const password = $("newpass-password").value;
    const fail = (message, field) => {
      error.textContent = message;
      show(error, true);
      const input = $(field || "newpass-password");
      input.focus();
      input.select();
    };
    show(error, false);
    if (!newPassword) { showLogin("Sign in again."); return; }
    if (password.length < 8) return fail("Your password needs at least 8 characters.");
    if (password !== $("newpass-repeat").value) return fail("The two passwords differ.", "newpass-repeat");
    const button = $("newpass-submit");
    button.disabled = true;
    try {
      const data = await rawFetch("POST", "/v1/agents/new-password",
        { email: newPassword.email, session: newPassword.session, password: password });
      newPassword = null;
      storeSession(data, null);
      startApp(data.agent);
    } catch (err) {
      if (err.status === 401) showLogin(apiMessage(err));   // the sign-in session ran out: start again
      else fail(apiMessage(err));
    } finally {
      button.disabled = false;
    }
  }

  function resetState() {
    S.me = null;
    S.team = [];
    S.canned = [];
    S.convs.clear();
    S.unread.clear();
    S.counts = null;
    S.claiming.clear();
    S.leaving.clear();
    S.sites.clear();
    hooksState.hooks = [];
    hooksState.deliveries.clear();
    hooksState.loaded = false;
    S.page = "inbox";
    S.joined.clear();
    S.joining.clear();
    S.alerts.clear();
    S.drafts.clear();
    S.outbox = [];
    S.profiles.clear();
    S.activeId = null;
    S.thread = null;
    rowCache.clear();
    for (const v of VIEWS) S.viewMeta[v.id] = { cursor: null, complete: false, loaded: false, loading: null };
  }

  function signOut(message) {
    if (live.isOpen()) live.notify("presence", { status: "offline" });
    live.stop();
    clearTimeout(refreshTimer);
    const had = S.session;
    S.session = null;
    sessionStore.remove(SESSION_KEY);
    resetState();
    clear($("conv-list"));
    clear($("msg-list"));
    clear($("team-body"));
    clear($("site-list"));
    clear($("webhook-list"));
    hideSecret();
    closeConversation();
    showPage("inbox");
    if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
    if (had || message) showLogin(message);
  }

  function startApp(agent) {
    resetState();
    S.me = agent;
    S.view = S.viewMeta[S.prefs.view] ? S.prefs.view : "unassigned";
    show($("login-screen"), false);
    show($("app"), true);
    showPage("inbox");
    renderMe();
    renderPresence();
    renderSound();
    renderList();
    renderAlerts();
    live.start();
    // The socket's first open loads the views (so no inbox event can slip between list and socket);
    // if it is slow to open, load them anyway.
    setTimeout(() => { if (S.me && !S.viewMeta[S.view].loaded) reloadViews(); }, 1500);
    loadTeam().then(() => scheduleRender("list"));
    loadCanned();
    fetchMe();
    route();
  }

  function route() {
    const hash = window.location.hash;
    const settings = hash.match(/^#\/settings(?:\/([a-z]+))?/);
    if (settings) {
      $("settings-back").setAttribute("href", S.activeId ? "#/c/" + encodeURIComponent(S.activeId) : "#");
      openSettings(settings[1]);
      return;
    }
    closeSettings();
    const m = hash.match(/^#\/c\/([^/?#]+)/);
    if (m) openConversation(decodeURIComponent(m[1]));
    else if (S.activeId) closeConversation();
    renderAlerts();
  }

  async function boot() {
    wire();
    const saved = sessionStore.get(SESSION_KEY);
    if (!saved || !saved.token) { showLogin(); return; }
    S.session = saved;
    scheduleRefresh();
    try {
      const data = await api("GET", "/v1/agents/me");
      startApp(data.agent);
    } catch (err) {
      if (!S.session) return;   // the refresh failed and already signed out, saying why
      if (err.status === 401 || err.status === 403) signOut("Please sign in again.");
      else if (saved.agent) startApp(saved.agent);   // the server is unreachable: work offline until it answers
      else showLogin(describe(err));
    }
  }

  // --- wiring ---------------------------------------------------------------------------------

  function wire() {
    $("login-form").addEventListener("submit", submitLogin);
    $("newpass-form").addEventListener("submit", submitNewPassword);
    $("newpass-back").addEventListener("click", () => showLogin());
    $("sign-out").addEventListener("click", () => signOut());
    $("presence").addEventListener("change", (e) => setPresence(e.target.value));
    $("conn-retry").addEventListener("click", () => live.retryNow());
    $("sound-toggle").addEventListener("click", () => {
      S.prefs.sound = !S.prefs.sound;
      savePrefs();
      renderSound();
      if (S.prefs.sound) beep();   // a click is the gesture the browser wants before audio plays
    });
    $("canned-open").addEventListener("click", openCannedDialog);
    $("alert-badge").addEventListener("click", () => {
      if (S.page !== "inbox") window.location.hash = S.activeId ? "#/c/" + encodeURIComponent(S.activeId) : "#";
      selectView(alertTarget());
    });
    $("settings-open").addEventListener("click", () => { window.location.hash = "#/settings/" + settingsState.tab; });
    $("agent-add").addEventListener("click", () => openAgentDialog(null));
    $("agent-form").addEventListener("submit", saveAgent);
    $("agent-cancel").addEventListener("click", () => $("agent-dialog").close());
    for (const id of Object.values(AGENT_FIELDS)) $(id).addEventListener("input", () => $(id).removeAttribute("aria-invalid"));
    $("site-add").addEventListener("submit", addSite);
    $("webhook-add").addEventListener("click", openWebhookForm);
    $("webhook-form").addEventListener("submit", saveWebhook);
    $("webhook-cancel").addEventListener("click", () => show($("webhook-form"), false));
    for (const id of ["webhook-url", "webhook-description"]) $(id).addEventListener("input", () => $(id).removeAttribute("aria-invalid"));
    $("webhook-event-list").addEventListener("change", () => $("webhook-events").removeAttribute("aria-invalid"));
    $("webhook-secret-copy").addEventListener("click", () => copySecret("webhook-secret-value"));
    $("webhook-standard-secret-copy").addEventListener("click", () => copySecret("webhook-standard-secret-value"));
    $("webhook-secret-done").addEventListener("click", hideSecret);
    $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close("cancel"));
    $("canned-close").addEventListener("click", () => $("canned-dialog").close());
    $("canned-form").addEventListener("submit", saveCanned);
    $("canned-reset").addEventListener("click", resetCannedForm);
    $("load-more").addEventListener("click", () => loadView(S.view).catch((err) => toast(describe(err), "error")));
    $("conv-list").addEventListener("scroll", (e) => {
      const list = e.currentTarget;
      const meta = S.viewMeta[S.view];
      if (meta.loaded && !meta.complete && !meta.loading && list.scrollHeight - list.scrollTop - list.clientHeight < 60) {
        loadView(S.view).catch(() => {});
      }
    });
    $("back").addEventListener("click", () => { window.location.hash = ""; });
    $("accept").addEventListener("click", accept);
    for (const btn of document.querySelectorAll(".seg__btn")) btn.addEventListener("click", () => setStatus(btn.dataset.status));
    $("transfer-open").addEventListener("click", openTransfer);
    $("transfer-form").addEventListener("submit", submitTransfer);
    $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
    $("side-toggle").addEventListener("click", () => {
      const open = !document.body.classList.contains("side-open");
      document.body.classList.toggle("side-open", open);
      $("side-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    });
    const title = $("thread-title");
    title.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); title.blur(); }
      if (e.key === "Escape") { const c = S.convs.get(S.activeId); title.value = (c && c.title) || ""; title.blur(); }
    });
    title.addEventListener("blur", saveTitle);
    const tagInput = $("tag-input");
    tagInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === ",") { e.preventDefault(); addTagFromInput(); }
    });
    $("messages").addEventListener("scroll", () => maybeLoadOlder());
    $("older").addEventListener("click", loadOlder);
    const composer = $("composer");
    composer.addEventListener("submit", submitComposer);
    for (const tab of composer.querySelectorAll(".composer__tab")) {
      tab.addEventListener("click", () => { setMode(tab.dataset.mode); $("composer-text").focus(); });
    }
    const text = $("composer-text");
    text.addEventListener("keydown", composerKeydown);
    text.addEventListener("input", () => { updateCanned(); noteTyping(); });
    text.addEventListener("click", updateCanned);
    text.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== text) closeCanned(); }, 150));
    window.addEventListener("hashchange", route);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { stopTyping(); return; }
      if (S.activeId) { S.unread.delete(S.activeId); markRead(); }
      if (!S.activeId && S.page === "inbox") clearAlerts(S.view);
      refreshIfDue().catch(() => {});
      renderAlerts();
      scheduleRender("list");
    });
    window.addEventListener("online", () => { if (S.session && !live.isOpen()) live.retryNow(); });
    window.addEventListener("offline", () => renderConnection());
    document.addEventListener("keydown", (e) => {
      // Alt+1..6 switch views; "/" from outside a field jumps to the composer.
      if (e.altKey && !e.ctrlKey && !e.metaKey && /^[1-6]$/.test(e.key) && S.me) {
        selectView(VIEWS[Number(e.key) - 1].id);
        e.preventDefault();
      }
    });
    setInterval(() => {
      for (const node of document.querySelectorAll(".row__time")) if (node.dataset.iso) node.textContent = ago(node.dataset.iso);
    }, 30000);
    // Queue waits grow by the minute: keep the rows (and an open waiting chat) current.
    setInterval(() => {
      if (!S.me) return;
      scheduleRender("list");
      const c = S.activeId && S.convs.get(S.activeId);
      if (c && c.status === "queued") scheduleRender("thread");
    }, 15000);
    // Rows of chats this console is not joined to (the queue, colleagues' chats) get no message
    // events: read the view on screen again now and then for their last messages.
    setInterval(() => {
      if (S.me && live.isOpen() && !document.hidden && S.page === "inbox") loadView(S.view, true).catch(() => {});
    }, LIST_REFRESH_MS);
    // A safety net under the event-driven counts.
    setInterval(() => { if (S.me && live.isOpen()) loadCounts(); }, 60000);
    setInterval(() => teamSoon(0), 15000);
    setInterval(() => { if (S.me && onWebhooksTab() && !document.hidden && hooksState.loaded) loadDeliveries(); }, WEBHOOK_REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
