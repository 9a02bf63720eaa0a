/* Which page is on screen, from the address: the inbox with a conversation or none, an admin's
 * settings tab, the knowledge base (its list, or one article), or an admin's bot page (a site's flow). */
import { BASE_TITLE } from "./constants.js";
import { $, show } from "./dom.js";
import { isAdmin, S } from "./state.js";
import { toast } from "./errors.js";
import { t } from "./i18n.js";
import { loadTeam } from "./agent.js";
import { renderAlerts } from "./alerts.js";
import { closeConversation, openConversation } from "./thread/thread.js";
import { renderTeam } from "./admin/team.js";
import { loadSites, renderSites } from "./admin/sites.js";
import { loadWebhooks, renderWebhooks } from "./admin/webhooks.js";
import { loadArticles, renderArticles, renderKbAccess } from "./kb/page.js";
import { openArticle } from "./kb/editor.js";
import { openBot } from "./bot/page.js";
import { stopPreview } from "./bot/preview.js";

export function showPage(page) {
  S.page = page;
  document.body.dataset.page = page;
  show($("inbox-page"), page === "inbox");
  show($("settings"), page === "settings");
  show($("kb"), page === "kb");
  show($("bot"), page === "bot");
  if (page !== "bot") stopPreview();   // the preview's widget (and its socket) goes with the page
  const button = $("settings-open");
  if (page === "settings") button.setAttribute("aria-current", "page"); else button.removeAttribute("aria-current");
  if (page === "kb") $("kb-open").setAttribute("aria-current", "page"); else $("kb-open").removeAttribute("aria-current");
  if (page === "bot") $("bot-open").setAttribute("aria-current", "page"); else $("bot-open").removeAttribute("aria-current");
  renderAlerts();
}

export function renderSettingsAccess() {
  show($("settings-open"), isAdmin());
  show($("bot-open"), isAdmin());
  renderKbAccess();
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
  S.settingsTab = ["sites", "webhooks"].includes(tab) ? tab : "team";
  for (const link of document.querySelectorAll(".settings-nav__link")) {
    if (link.dataset.tab === S.settingsTab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  show($("settings-team"), S.settingsTab === "team");
  show($("settings-sites"), S.settingsTab === "sites");
  show($("settings-webhooks"), S.settingsTab === "webhooks");
  document.title = "Settings · " + BASE_TITLE;
  if (S.settingsTab === "team") {
    renderTeam();
    loadTeam().then(renderTeam);
  } else if (S.settingsTab === "sites") {
    renderSites();
    if (fresh || !S.sites.size) loadSites();
  } else {
    renderWebhooks();
    loadWebhooks();
  }
}

/** #/kb: the list (read again each time it is shown, for fresh stats); #/kb/new and #/kb/{id}: the editor. */
function openKb(which) {
  if (which === "new" && !isAdmin()) {
    toast(t("Only admins can write articles."), "error");
    history.replaceState(null, "", "#/kb");
    which = null;
  }
  showPage("kb");
  show($("kb-list-section"), !which);
  show($("kb-editor"), !!which);
  if (which) {
    document.title = t("Article") + " · " + BASE_TITLE;
    openArticle(which === "new" ? null : which);
  } else {
    document.title = t("Knowledge base") + " · " + BASE_TITLE;
    renderArticles();
    loadArticles(false);
  }
}

/** #/bot and #/bot/{site_key}: admins only (the flow's routes are). */
function openBotPage(site) {
  if (!isAdmin()) {
    toast(t("Only admins can edit the bot."), "error");
    history.replaceState(null, "", window.location.pathname + window.location.search);
    showPage("inbox");
    return;
  }
  showPage("bot");
  document.title = t("Bot") + " · " + BASE_TITLE;
  openBot(site);
}

function closeSettings() {
  if (S.page !== "inbox") showPage("inbox");
}

export function route() {
  const hash = window.location.hash;
  const settings = hash.match(/^#\/settings(?:\/([a-z]+))?/);
  if (settings) {
    $("settings-back").setAttribute("href", S.activeId ? "#/c/" + encodeURIComponent(S.activeId) : "#");
    openSettings(settings[1]);
    return;
  }
  const kb = hash.match(/^#\/kb(?:\/([^/?#]+))?/);
  if (kb) {
    $("kb-back").setAttribute("href", S.activeId ? "#/c/" + encodeURIComponent(S.activeId) : "#");
    openKb(kb[1] ? decodeURIComponent(kb[1]) : null);
    return;
  }
  const bot = hash.match(/^#\/bot(?:\/([^/?#]+))?/);
  if (bot) {
    $("bot-back").setAttribute("href", S.activeId ? "#/c/" + encodeURIComponent(S.activeId) : "#");
    openBotPage(bot[1] ? decodeURIComponent(bot[1]) : null);
    return;
  }
  closeSettings();
  const m = hash.match(/^#\/c\/([^/?#]+)/);
  if (m) openConversation(decodeURIComponent(m[1]));
  else if (S.activeId) closeConversation();
  renderAlerts();
}
