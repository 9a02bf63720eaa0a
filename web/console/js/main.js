/* Parley agent console: static files, no framework, no build step; these ES modules load as they are.
 *
 * Speaks the wire contract (docs/protocol.md): REST under /v1 for lists, history and edits, one
 * WebSocket for everything live. This module is the one that starts anything: it hands the socket and
 * the session their handlers, registers the renderers, wires the page and signs in. The others only
 * declare constants and functions, so loading them touches neither the page nor storage. */
import { LIST_REFRESH_MS, VIEWS } from "./constants.js";
import { ago } from "./time.js";
import { $, refreshAgo, show } from "./dom.js";
import { loadPrefs, S, savePrefs } from "./state.js";
import { describe, toast } from "./errors.js";
import { translate } from "./i18n.js";
import { onSession, refreshIfDue } from "./api.js";
import { live } from "./live.js";
import { registerRenderer, scheduleRender } from "./render.js";
import { onEvent, onSocketClosed, onSocketOpen, renderConnection } from "./server-events.js";
import { keepAlive, setPresence, updateMe } from "./agent.js";
import { beep, clearAlerts, renderAlerts, renderSound } from "./alerts.js";
import { loadCounts, loadView, renderList, selectView } from "./inbox.js";
import { renderNotify, toggleNotify, turnOffNotify, turnOnNotify } from "./notify.js";
import { route } from "./pages.js";
import { loadOlder, markRead, maybeLoadOlder } from "./thread/thread.js";
import { addTagFromInput, renderThreadChrome, saveTitle } from "./thread/chrome.js";
import { accept, openTransfer, setStatus, submitTransfer } from "./thread/actions.js";
import { composerKeydown, noteTyping, setMode, stopTyping, submitComposer } from "./thread/composer.js";
import { closeCanned, openCannedDialog, resetCannedForm, saveCanned, updateCanned } from "./thread/canned.js";
import { AGENT_FIELDS, openAgentDialog, saveAgent, teamSoon } from "./admin/team.js";
import { addSite } from "./admin/sites.js";
import { copySecret, hideSecret, openWebhookForm, refreshDeliveries, saveWebhook, WEBHOOK_REFRESH_MS } from "./admin/webhooks.js";
import { filtersChanged, loadArticles } from "./kb/page.js";
import { addQuestion, deleteArticle, edited, saveArticle } from "./kb/editor.js";
import { addNode, botChange, botClick, botInput, deleteBot, importJson, jsonToForms, previewLocaleChosen, restartPreview,
  saveBot, showView, siteChosen, toggleBot } from "./bot/page.js";
import { copyValue } from "./bot/preview.js";
import { resumeSession, showLogin, signOut, submitLogin, submitNewPassword } from "./login.js";

function boot() {
  translatePage();
  loadPrefs();
  registerRenderer("list", renderList);
  registerRenderer("thread", renderThreadChrome);
  live.use({
    opened: onSocketOpen,
    closed: onSocketClosed,
    frame: onEvent,
    stateChanged: renderConnection,
    keepAlive: keepAlive,
  });
  onSession({ renewed: updateMe, expired: signOut });
  wireSignIn();
  wireTopBar();
  wireSettings();
  wireKb();
  wireBot();
  wireDialogs();
  wireList();
  wireThread();
  wireComposer();
  wirePage();
  startTimers();
  resumeSession();
}

/** The parts of index.html that have French so far (i18n.js), in French when the browser's language is. */
function translatePage() {
  for (const id of ["kb-open", "kb", "suggest", "bot-open", "bot"]) translate($(id));
}

function wireSignIn() {
  $("login-form").addEventListener("submit", submitLogin);
  $("newpass-form").addEventListener("submit", submitNewPassword);
  $("newpass-back").addEventListener("click", () => showLogin());
}

function wireTopBar() {
  $("sign-out").addEventListener("click", () => signOut());
  $("presence").addEventListener("change", (e) => setPresence(e.target.value));
  $("conn-retry").addEventListener("click", () => live.retryNow());
  $("sound-toggle").addEventListener("click", () => {
    S.prefs.sound = !S.prefs.sound;
    savePrefs();
    renderSound();
    if (S.prefs.sound) beep();   // a click is the gesture the browser wants before audio plays
  });
  $("notify-toggle").addEventListener("click", toggleNotify);
  $("notify-on").addEventListener("click", turnOnNotify);
  $("notify-dismiss").addEventListener("click", turnOffNotify);
  $("canned-open").addEventListener("click", openCannedDialog);
  $("settings-open").addEventListener("click", () => { window.location.hash = "#/settings/" + S.settingsTab; });
}

function wireSettings() {
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
}

function wireKb() {
  const filters = $("kb-filters");
  filters.addEventListener("submit", (e) => { e.preventDefault(); filtersChanged(); });
  filters.addEventListener("input", filtersChanged);
  $("kb-more").addEventListener("click", () => loadArticles(true));
  const form = $("kb-form");
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("input", edited);
  form.addEventListener("change", (e) => { if (e.target.type === "radio") edited(e); });
  $("kb-question-add").addEventListener("click", addQuestion);
  $("kb-draft").addEventListener("click", () => saveArticle("draft"));
  $("kb-unpublish").addEventListener("click", () => saveArticle("draft"));
  $("kb-publish").addEventListener("click", () => saveArticle("published"));
  $("kb-delete").addEventListener("click", deleteArticle);
}

function wireBot() {
  $("bot-site").addEventListener("change", siteChosen);
  $("bot-site-form").addEventListener("submit", siteChosen);
  const form = $("bot-form");
  form.addEventListener("submit", saveBot);
  form.addEventListener("input", botInput);
  form.addEventListener("change", botChange);
  form.addEventListener("click", botClick);
  $("bot-add-node").addEventListener("click", addNode);
  $("bot-view-forms").addEventListener("click", () => showView("forms"));
  $("bot-view-json").addEventListener("click", () => showView("json"));
  $("bot-json-apply").addEventListener("click", jsonToForms);
  $("bot-json-file").addEventListener("change", importJson);
  $("bot-toggle").addEventListener("click", toggleBot);
  $("bot-delete").addEventListener("click", deleteBot);
  $("bot-preview-restart").addEventListener("click", restartPreview);
  $("bot-preview-locale").addEventListener("change", previewLocaleChosen);
  $("bot-secret-copy").addEventListener("click", () => copyValue("bot-secret-value"));
  $("bot-standard-secret-copy").addEventListener("click", () => copyValue("bot-standard-secret-value"));
}

function wireDialogs() {
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close("cancel"));
  $("canned-close").addEventListener("click", () => $("canned-dialog").close());
  $("canned-form").addEventListener("submit", saveCanned);
  $("canned-reset").addEventListener("click", resetCannedForm);
}

function wireList() {
  $("load-more").addEventListener("click", () => loadView(S.view).catch((err) => toast(describe(err), "error")));
  $("conv-list").addEventListener("scroll", (e) => {
    const list = e.currentTarget;
    const meta = S.viewMeta[S.view];
    if (meta.loaded && !meta.complete && !meta.loading && list.scrollHeight - list.scrollTop - list.clientHeight < 60) {
      loadView(S.view).catch(() => {});
    }
  });
}

function wireThread() {
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
}

function wireComposer() {
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
}

/** The address, the tab's visibility, the network and the keyboard shortcuts. */
function wirePage() {
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { stopTyping(); return; }
    if (S.activeId) { S.unread.delete(S.activeId); markRead(); }
    if (!S.activeId && S.page === "inbox") clearAlerts(S.view);
    refreshIfDue().catch(() => {});
    renderAlerts();
    renderNotify();   // the browser's permission may have changed meanwhile
    scheduleRender("list");
  });
  window.addEventListener("online", () => { if (S.session && !live.isOpen()) live.retryNow(); });
  window.addEventListener("offline", () => { live.lost(); renderConnection(); });
  document.addEventListener("keydown", (e) => {
    // Alt+1..6 switch views; "/" from outside a field jumps to the composer.
    if (e.altKey && !e.ctrlKey && !e.metaKey && /^[1-6]$/.test(e.key) && S.me) {
      selectView(VIEWS[Number(e.key) - 1].id);
      e.preventDefault();
    }
  });
}

function startTimers() {
  // Relative times stay true as the minutes pass ("now" in a row, "just now" in the side panel).
  setInterval(() => {
    for (const node of document.querySelectorAll(".row__time")) if (node.dataset.iso) node.textContent = ago(node.dataset.iso);
    refreshAgo();
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
  setInterval(refreshDeliveries, WEBHOOK_REFRESH_MS);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
