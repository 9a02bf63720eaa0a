/* The one WebSocket: connects, reconnects with backoff, keeps alive, pairs requests with their
 * replies. What it hears goes to the handlers main.js gives it (live.use), so it imports none of them. */
import { config, HEARTBEAT_EVERY_MS, HEARTBEAT_TIMEOUT_MS, PING_EVERY_MS, REQUEST_TIMEOUT_MS } from "./constants.js";
import { S } from "./state.js";
import { ApiError } from "./errors.js";
import { refreshIfDue, refreshToken } from "./api.js";

export const live = {
  ws: null,
  state: "idle",          // idle | connecting | open | waiting | offline
  attempts: 0,
  retryAt: 0,
  retryTimer: null,
  countdown: null,
  pingTimer: null,
  heartbeat: null,
  pending: new Map(),     // ref -> {resolve, reject, timer}
  nextRef: 1,
  stopped: true,
  connecting: false,
  openedAt: 0,
  // What the socket tells the console, given at start (main.js): opened(), closed(), frame(frame),
  // stateChanged() (also every second of a retry countdown) and keepAlive(), a promise of the reply.
  on: { opened() {}, closed() {}, frame() {}, stateChanged() {}, keepAlive() { return Promise.resolve(); } },

  use(handlers) {
    Object.assign(this.on, handlers);
  },

  start() {
    this.stopped = false;
    this.connect();
  },

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    clearInterval(this.pingTimer);
    clearInterval(this.heartbeat);
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
      ws = new WebSocket(config().ws + "?token=" + encodeURIComponent(S.session.token));
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
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.beat(ws), HEARTBEAT_EVERY_MS);
      this.on.opened();
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
      this.on.frame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      clearInterval(this.heartbeat);
      this.failAll("disconnected");
      this.on.closed();
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
    this.countdown = setInterval(() => this.on.stateChanged(), 1000);
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
    this.on.stateChanged();
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

  /** The keep-alive (API Gateway drops sockets idle for 10 minutes); what it sends is the console's
   * choice (on.keepAlive). */
  ping() {
    this.on.keepAlive().catch((err) => {
      // No answer: the socket is dead even if the browser has not noticed. Start over.
      if (err.code === "timeout" && this.ws) this.lost(this.ws);
    });
  },

  /** A `ping` that must come back within HEARTBEAT_TIMEOUT_MS, or this socket is given up for dead. */
  beat(ws) {
    if (this.ws !== ws || !this.isOpen()) return;
    this.request("ping", {}, HEARTBEAT_TIMEOUT_MS).catch((err) => {
      if (err.code === "timeout") this.lost(ws);
    });
  },

  /** The network went away (the browser's `offline`, or a heartbeat with no answer): say so at once and
   * start over, without waiting for a closing handshake that cannot happen. */
  lost(ws) {
    ws = ws || this.ws;
    if (!ws || this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    clearInterval(this.heartbeat);
    try { ws.close(); } catch (e) { /* ignore */ }
    this.failAll("disconnected");
    this.on.closed();
    this.scheduleRetry();
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
