/* Signing in (with a first password to choose, when Cognito asks), signing out, and starting the
 * console for a signed-in agent. */
import { BASE_TITLE, SESSION_KEY } from "./constants.js";
import { sessionStore } from "./storage.js";
import { $, clear, show } from "./dom.js";
import { resetState, S } from "./state.js";
import { apiMessage, describe } from "./errors.js";
import { api, rawFetch, scheduleRefresh, stopRefresh, storeSession } from "./api.js";
import { live } from "./live.js";
import { scheduleRender } from "./render.js";
import { fetchMe, loadTeam, renderMe, renderPresence } from "./agent.js";
import { renderAlerts, renderSound } from "./alerts.js";
import { forgetRows, reloadViews, renderList } from "./inbox.js";
import { renderNotify } from "./notify.js";
import { route, showPage } from "./pages.js";
import { closeConversation } from "./thread/thread.js";
import { loadCanned } from "./thread/canned.js";
import { hideSecret, resetWebhooks } from "./admin/webhooks.js";
import { resetKb } from "./kb/page.js";
import { resetBot } from "./bot/page.js";

export function showLogin(message) {
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

export async function submitLogin(event) {
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

export async function submitNewPassword(event) {
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

function resetConsole() {
  resetState();
  resetWebhooks();
  resetKb();
  resetBot();
  forgetRows();
}

export function signOut(message) {
  if (live.isOpen()) live.notify("presence", { status: "offline" });
  live.stop();
  stopRefresh();
  const had = S.session;
  S.session = null;
  sessionStore.remove(SESSION_KEY);
  resetConsole();
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
  resetConsole();
  S.me = agent;
  S.view = S.viewMeta[S.prefs.view] ? S.prefs.view : "unassigned";
  show($("login-screen"), false);
  show($("app"), true);
  showPage("inbox");
  renderMe();
  renderPresence();
  renderSound();
  renderNotify();
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

/** On load: the session this tab kept, if any, else the sign-in form. */
export async function resumeSession() {
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
