/* Settings (admins), the sites: the widget's greeting, colour, limits, retention, allowed websites
 * and pre-chat form, with a preview. */
import { $, el, show } from "../dom.js";
import { S, savePrefs } from "../state.js";
import { apiMessage } from "../errors.js";
import { api } from "../api.js";
import { locale } from "../i18n.js";
import { formError, numberField } from "./forms.js";
import { formatTeams, parseTeams, textsSetting } from "./site-texts.js";

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

export async function loadSites() {
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

/** A site of this workspace by its key (the widget's data-site-key): read, known from now on and remembered
 * in this browser (the bot page opens sites this way too). Refused (401, 404) when it is not the workspace's. */
export async function keepSite(key) {
  const site = await api("GET", "/v1/sites/" + encodeURIComponent(key));
  S.sites.set(site.site_key, site);
  rememberSites(rememberedSites().concat(site.site_key));
  return site;
}

export async function addSite(event) {
  event.preventDefault();
  const input = $("site-add-key");
  const error = $("site-add-error");
  const key = input.value.trim();
  show(error, false);
  if (!key) { error.textContent = "Enter a site key (it is in the widget's script tag: data-site-key)."; show(error, true); input.focus(); return; }
  try {
    const site = await keepSite(key);
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

export function renderSites() {
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

const originText = (key) => ORIGIN_TEXTS[locale()][key];

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
    retention_days: n + "-retention", allowed_origins: n + "-origins", contact_email: n + "-contact",
    texts: n + "-greeting-fr",
  };
  const texts = s.texts || {};
  const check = (id, label, checked) => el("label", { class: "check", attrs: { for: id } },
    el("input", { type: "checkbox", id: id, checked: !!checked }), " " + label);
  const asks = s.prechat_fields || [];
  const needs = s.prechat_required || [];
  const preview = el("div", { class: "site-preview", attrs: { "aria-hidden": "true" } },
    el("div", { class: "site-preview__head" }, el("strong", { text: site.name || site.site_key }), el("span", { text: "We reply in a few minutes" })),
    el("div", { class: "site-preview__body" }, el("p", { class: "site-preview__greeting" })),
    el("div", { class: "site-preview__launcher" }));
  const form = el("form", { class: "site-card", dataset: { site: site.site_key }, attrs: { novalidate: true, "aria-labelledby": n + "-title" } },
    // Sites of one workspace often share its name: the key, in the heading and on Save, tells them apart.
    el("header", { class: "site-card__head" },
      el("h3", { id: n + "-title", class: "site-card__title" },
        site.name && site.name !== site.site_key ? site.name + " " : null, el("code", { text: site.site_key })),
      site.identity_verification ? el("span", { class: "status-pill status-pill--small", dataset: { status: "open" }, text: "Identity verification on" }) : null),
    el("div", { class: "site-card__grid" },
      el("div", { class: "site-card__fields" },
        el("div", { class: "field" },
          el("label", { attrs: { for: fields.greeting }, text: "Greeting" }),
          el("textarea", { id: fields.greeting, rows: 2, maxLength: 500, value: s.greeting || "" }),
          el("small", { class: "field__help", text: "The first thing visitors read in the chat, unless their language has its own below." })),
        el("fieldset", { class: "field fieldset" },
          el("legend", { text: "For French-speaking visitors" }),
          el("label", { attrs: { for: n + "-greeting-fr" }, text: "Greeting in French" }),
          el("textarea", { id: n + "-greeting-fr", rows: 2, maxLength: 500, value: (texts.fr || {}).greeting || "", attrs: { lang: "fr", placeholder: "Bonjour ! Comment pouvons-nous vous aider ?" } }),
          el("small", { class: "field__help", text: "Empty: they read the greeting above." })),
        el("fieldset", { class: "field fieldset" },
          el("legend", { text: "Team names visitors read" }),
          el("label", { attrs: { for: n + "-teams-en" }, text: "Team names in English" }),
          el("textarea", { id: n + "-teams-en", rows: 2, value: formatTeams((texts.en || {}).teams), attrs: { spellcheck: "false", placeholder: "billing: our billing specialists" } }),
          el("label", { attrs: { for: n + "-teams-fr" }, text: "Team names in French" }),
          el("textarea", { id: n + "-teams-fr", rows: 2, value: formatTeams((texts.fr || {}).teams), attrs: { lang: "fr", spellcheck: "false", placeholder: "billing: nos spécialistes de la facturation" } }),
          el("small", { class: "field__help", text: "One team per line: its name, a colon, what visitors read when a chat is transferred to it. A team without a line is \"another team\": its own name is never shown." })),
        el("div", { class: "field" },
          el("label", { attrs: { for: fields.contact_email }, text: "Contact email" }),
          el("input", { id: fields.contact_email, type: "email", maxLength: 320, value: s.contact_email || "", attrs: { placeholder: "support@example.com" } }),
          el("small", { class: "field__help", text: "Shown to a visitor the chat cannot serve (a blocked visitor, say). Empty: none." })),
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
            el("input", { id: fields.retention_days, class: "days-input", type: "number", min: 1, max: 3650, value: s.retention_days ? String(s.retention_days) : "", attrs: { placeholder: "forever" } }),
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
      el("button", { type: "submit", class: "btn btn--primary", text: "Save settings for " + site.site_key })));
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
  const english = parseTeams(get("-teams-en").value), french = parseTeams(get("-teams-fr").value);
  const bad = english.bad || french.bad;
  if (bad) {
    error.textContent = "Team names: write each as name: label (\"" + bad + "\" is not).";
    get(english.bad ? "-teams-en" : "-teams-fr").setAttribute("aria-invalid", "true");
    show(error, true);
    return;
  }
  const kept = (S.sites.get(key) || {}).settings || {};
  const body = {
    greeting: get("-greeting").value.trim(),
    contact_email: get("-contact").value.trim() || null,
    color: get("-color").value.trim(),
    rate_limit_count: numberField(get("-count")),
    rate_limit_window: numberField(get("-window")),
    prechat_enabled: get("-prechat").checked,
    prechat_fields: asked,
    prechat_required: ["name", "email"].filter((w) => get("-req-" + w).checked),
    retention_days: numberField(get("-retention")),
    allowed_origins: originsField(get("-origins")),
    texts: textsSetting({
      en: { greeting: ((kept.texts || {}).en || {}).greeting, teams: english.teams },  // an English greeting set over the API stays
      fr: { greeting: get("-greeting-fr").value, teams: french.teams },
    }),
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
