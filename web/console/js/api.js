/* REST under /v1 with the agent's token, and the session that keeps the token fresh. */
import { config, SESSION_KEY } from "./constants.js";
import { sessionStore } from "./storage.js";
import { S } from "./state.js";
import { ApiError } from "./errors.js";

export async function rawFetch(method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(config().api + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
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

export async function api(method, path, body) {
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

// What a token refresh tells the rest of the console (main.js says who listens): the agent as the
// server sees them now, and that the session is over.
const sessionHooks = { renewed: () => {}, expired: () => {} };

export function onSession(hooks) {
  Object.assign(sessionHooks, hooks);
}

let refreshTimer = null;
let refreshing = null;

export function storeSession(data, previous) {
  S.session = {
    token: data.token,
    refresh_token: data.refresh_token || (previous && previous.refresh_token),
    expires_at: Date.now() + Math.max(60, Number(data.expires_in) || 3600) * 1000,
    agent: data.agent || (previous && previous.agent),
  };
  sessionStore.set(SESSION_KEY, S.session);
  scheduleRefresh();
}

export function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!S.session) return;
  const lifetime = S.session.expires_at - Date.now();
  // Renew when 80% of the lifetime has passed, at least a minute before expiry.
  const delay = Math.max(5000, Math.min(lifetime * 0.8, lifetime - 60000));
  refreshTimer = setTimeout(() => refreshToken().catch(() => {}), delay);
}

export function stopRefresh() {
  clearTimeout(refreshTimer);
}

export async function refreshIfDue() {
  if (S.session && S.session.expires_at - Date.now() < 60000) await refreshToken();
}

export function refreshToken() {
  if (refreshing) return refreshing;
  const current = S.session;
  if (!current || !current.refresh_token) return Promise.reject(new ApiError("unauthorized", "Signed out", 401));
  refreshing = rawFetch("POST", "/v1/agents/refresh", { refresh_token: current.refresh_token })
    .then((data) => {
      if (S.session !== current) return;
      storeSession(data, current);
      if (data.agent) sessionHooks.renewed(data.agent);
    })
    .catch((err) => {
      if (err.status === 401 || err.status === 403) {
        sessionHooks.expired("Your session has expired. Please sign in again.");
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
