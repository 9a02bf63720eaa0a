/* The bot page (#/bot, #/bot/{site_key}; admins): a site's flow edited as forms (bot/forms.js) or as JSON,
 * saved whole with PUT /v1/sites/{site_key}/bot; what the server refuses is shown beside the fields it names
 * (bot/rules.js places them), nothing typed is lost. Beside it, the flow in the real widget (a preview
 * ticket, bot-preview.html in a frame) and the site's lookup secret. The draft is the truth: the forms
 * and the JSON view are two ways of editing it. */
import { dateText } from "../time.js";
import { $, clear, confirmDialog, el, show } from "../dom.js";
import { S, savePrefs } from "../state.js";
import { apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { locale, t, tn } from "../i18n.js";
import { keepSite, loadSites } from "../admin/sites.js";
import { nodeForm, nodeChoices } from "./forms.js";
import { startPreview, stopPreview } from "./preview.js";
import { controlFor, focusable, focusFirstProblem, knownFields, paintProblems, problemsOf } from "./problems.js";
import {
  draftFromFlow, errorTarget, flowBody, KINDS, kindLabel, lookupRequest, MAX_NODES, newNode, newRow, nodeIdProblem,
  referencesTo, removeNode, renameErrors, renameNode, setAt, standardSecret, starterDraft, uniqueId, withFirstRow,
} from "./rules.js";

// site: the site on screen; loaded: GET's answer (or PUT's); draft: what the forms hold; errors: the last refused
// save's problems still standing; renames: node names typed that cannot be (place in the list → {typed, problem});
// token: counts the loads begun, so an answer for a site left meanwhile is dropped; previewVersion: the
// version saved last (the preview runs it, even after the flow is deleted).
const bot = { site: null, loaded: null, draft: null, errors: [], renames: new Map(), view: "forms", busy: false,
  dirty: false, token: 0, previewVersion: null };

const sitePath = (site) => "/v1/sites/" + encodeURIComponent(site) + "/bot";

export function resetBot() {
  Object.assign(bot, { site: null, loaded: null, draft: null, errors: [], view: "forms", busy: false, dirty: false,
    previewVersion: null });
  bot.renames.clear();
  bot.token++;
  stopPreview();
}

/** "Preview" (and a save, a load): a fresh conversation with the version saved last. */
export function restartPreview() {
  if (bot.site) startPreview(bot.site, bot.previewVersion);
}

export function previewLocaleChosen() {
  $("bot-preview-locale").dataset.chosen = "1";
  restartPreview();
}

/** #/bot/{site}: that site's flow; #/bot: the one open last, else this browser's last, else the first known. */
export async function openBot(site) {
  renderSiteChoices();
  if (!$("bot-preview-locale").dataset.chosen) $("bot-preview-locale").value = locale();
  if (site) return switchTo(site);
  if (!bot.site && !S.sites.size) await loadSites();
  const key = bot.site || (S.prefs.botSite && S.sites.has(S.prefs.botSite) ? S.prefs.botSite : Array.from(S.sites.keys()).sort()[0]);
  renderSiteChoices();
  if (!key) {
    setEmpty(t("No site known yet: type a site's key above (the widget's script tag has it: data-site-key)."));
    return;
  }
  history.replaceState(null, "", "#/bot/" + encodeURIComponent(key));
  return switchTo(key);
}

async function switchTo(site) {
  if (site === bot.site && bot.loaded) {
    if (!$("bot-preview-frame").firstChild) restartPreview();
    return;
  }
  if (bot.dirty && bot.site) {
    const ok = await confirmDialog({ title: t("Leave the unsaved changes?"),
      text: t("The flow of {site} has changes that are not saved. They are lost if you open another site.", { site: bot.site }),
      confirm: t("Open {site}", { site: site }), cancel: t("Stay") });
    if (!ok) {
      history.replaceState(null, "", "#/bot/" + encodeURIComponent(bot.site));
      renderSiteChoices();
      return;
    }
  }
  return loadFlow(site);
}

async function loadFlow(site) {
  const token = ++bot.token;
  stopPreview();
  Object.assign(bot, { site: site, loaded: null, draft: null, errors: [], dirty: false, previewVersion: null });
  bot.renames.clear();
  show($("bot-site-error"), false);
  renderSiteChoices();
  setEmpty(t("Loading the flow…"));
  try {
    const data = await api("GET", sitePath(site));
    if (token !== bot.token) return;
    bot.loaded = data;
    bot.draft = data.flow ? draftFromFlow(data.flow) : starterDraft();
    bot.previewVersion = data.version;
    S.prefs.botSite = site;
    savePrefs();
    if (!S.sites.has(site)) keepSite(site).then(renderSiteChoices, () => {});
    setEmpty("");
    setState(data.flow ? "" : t("Not saved yet: this site has no flow."), data.flow ? null : "dirty");
    renderAll();
    restartPreview();
  } catch (err) {
    if (token !== bot.token) return;
    bot.site = null;
    setEmpty("");
    const box = $("bot-site-error");
    box.textContent = err.status === 404 || err.status === 401 ? t("No site with the key “{key}” in your workspace.", { key: site })
      : err.status === 403 ? t("Only admins can edit the bot.") : t("Could not load the flow: {error}", { error: apiMessage(err) });
    show(box, true);
    renderSiteChoices();
  }
}

function setEmpty(text) {
  const box = $("bot-empty");
  box.textContent = text;
  show(box, !!text);
  show($("bot-main"), !text && !!bot.draft);
}

function setState(text, state) {
  const node = $("bot-save-state");
  node.textContent = text;
  node.dataset.state = state || "";
}

function renderSiteChoices() {
  const choice = $("bot-site");
  const keys = new Set(S.sites.keys());
  if (bot.site) keys.add(bot.site);
  clear(choice);
  if (!keys.size) choice.appendChild(el("option", { value: "", text: t("No site known yet") }));
  for (const key of Array.from(keys).sort()) choice.appendChild(el("option", { value: key, text: key }));
  choice.value = bot.site || "";
}

/** Another site chosen, or typed by its key. */
export function siteChosen(event) {
  if (event) event.preventDefault();
  const typed = $("bot-site-key");
  const key = event && event.type === "submit" ? typed.value.trim() : $("bot-site").value;
  if (!key) { typed.focus(); return; }
  typed.value = "";
  window.location.hash = "#/bot/" + encodeURIComponent(key);
}

// --- drawing ---------------------------------------------------------------------------------------------

function renderAll() {
  renderHeader();
  renderView();
  $("bot-enabled").checked = !!bot.draft.enabled;
  $("bot-max-turns").value = bot.draft.max_turns;
  $("bot-human-group").value = bot.draft.human_group;
  renderNodes();
  renderLookups();
  renderActions();
}

function renderHeader() {
  const l = bot.loaded || {};
  const who = l.updated_by && S.me && l.updated_by === S.me.id ? t("you") : (S.team.find((a) => a.id === l.updated_by) || {}).name;
  $("bot-meta").textContent = !l.version ? t("No flow yet: new conversations on this site start without the bot.")
    : who ? t("Version {n}, saved {date} by {name}.", { n: l.version, date: dateText(l.updated_at), name: who })
      : t("Version {n}, saved {date}.", { n: l.version, date: dateText(l.updated_at) });
  const pill = $("bot-status");
  pill.textContent = !l.version ? t("No bot") : l.enabled ? t("On") : t("Off");
  pill.dataset.status = !l.version ? "" : l.enabled ? "open" : "solved";
}

function renderActions() {
  const l = bot.loaded || {};
  show($("bot-delete"), !!l.version);
  show($("bot-toggle"), !!l.version);
  $("bot-toggle").textContent = l.enabled ? t("Turn off") : t("Turn on");
  for (const id of ["bot-delete", "bot-toggle", "bot-save"]) $(id).disabled = bot.busy;
}

/** The node list, the start picker and the new node's kinds, from the draft; the focus stays where it was. */
function renderNodes() {
  const focus = focusKey(document.activeElement);
  const d = bot.draft;
  const start = $("bot-start");
  clear(start);
  for (const [value, label] of nodeChoices(d, d.start)) start.appendChild(el("option", { value: value, text: label }));
  start.value = d.start;
  const list = $("bot-nodes");
  clear(list);
  d.nodes.forEach((n, i) => list.appendChild(nodeForm(d, n, i)));
  const kinds = $("bot-add-kind");
  if (!kinds.options.length) for (const k of KINDS) kinds.appendChild(el("option", { value: k, text: kindLabel(k) }));
  $("bot-add-node").disabled = d.nodes.length >= MAX_NODES;
  paintErrors();
  if (focus) {
    const again = $("bot-form").querySelector(focus);
    if (again) again.focus();
  }
}

function focusKey(node) {
  if (!node || !node.dataset || !$("bot-nodes").contains(node)) return null;
  if (node.dataset.path) return '[data-path="' + CSS.escape(node.dataset.path) + '"]';
  if (node.dataset.rename) return '[data-rename="' + CSS.escape(node.dataset.rename) + '"]';
  return null;
}

function renderLookups() {
  const secret = bot.loaded && bot.loaded.lookup_secret;
  show($("bot-secret"), !!secret);
  show($("bot-secret-none"), !secret);
  $("bot-secret-value").textContent = secret || "";
  $("bot-standard-secret-value").textContent = standardSecret(secret);
  $("bot-lookup-request").textContent = lookupRequest(bot.draft, bot.site);
}

function renderView() {
  const json = bot.view === "json";
  show($("bot-forms"), !json);
  show($("bot-json-view"), json);
  $("bot-view-forms").setAttribute("aria-pressed", String(!json));
  $("bot-view-json").setAttribute("aria-pressed", String(json));
}

function paintErrors() {
  paintProblems($("bot-form"), bot.errors, bot.renames);
}

/** An edited field's problem is no longer the server's to say: it goes until the next save. */
function forgetErrorsOf(field) {
  const known = knownFields($("bot-form"));
  const before = bot.errors.length;
  bot.errors = bot.errors.filter((e) => errorTarget(e.field, known) !== field);
  if (bot.errors.length !== before) paintErrors();
}

// --- editing ---------------------------------------------------------------------------------------------

function edited() {
  bot.dirty = true;
  const state = $("bot-save-state").dataset.state;
  if (state !== "saving") setState(t("Unsaved changes"), "dirty");
}

/** The form's input events (main.js): a value into the draft at the control's data-path. */
export function botInput(event) {
  const target = event.target;
  if (!bot.draft || !target.dataset) return;
  if (target.id === "bot-json") { edited(); return; }
  const path = target.dataset.path;
  if (!path) return;
  setAt(bot.draft, path, target.type === "checkbox" ? target.checked : target.value);
  if (/\.kind$/.test(path)) withFirstRow(bot.draft.nodes[Number(path.split(".")[1])]);
  edited();
  if (target.dataset.field) forgetErrorsOf(target.dataset.field);
  if (/^start$|\.(kind|end|on|test)$/.test(path)) renderNodes();   // these change what the forms show
  if (/\.(kind|url|lookup_fields)$/.test(path)) renderLookups();
}

/** The form's change events: a node's new name, once typed. */
export function botChange(event) {
  const target = event.target;
  if (target.dataset && target.dataset.rename !== undefined) rename(Number(target.dataset.rename), target.value.trim());
}

function rename(i, to) {
  const from = bot.draft.nodes[i].id;
  const problem = to === from ? "" : nodeIdProblem(bot.draft, to, from);
  if (problem) {
    bot.renames.set(i, { typed: to, problem: problem });
    paintErrors();
    return;
  }
  bot.renames.delete(i);
  if (to !== from) {
    bot.draft = renameNode(bot.draft, from, to);
    bot.errors = renameErrors(bot.errors, from, to);
    edited();
  }
  renderNodes();
  renderLookups();
}

/** The form's buttons that say what they do (data-action). */
export function botClick(event) {
  const button = event.target.closest && event.target.closest("button[data-action]");
  if (!button || !bot.draft) return;
  const { action, list, target: field } = button.dataset;
  const i = Number(button.dataset.node);
  const node = bot.draft.nodes[i];
  if (action === "go-to") {
    const target = controlFor($("bot-form"), field);
    if (target) { target.scrollIntoView({ block: "center" }); focusable(target).focus(); }
  } else if (action === "add-row") {
    node[list].push(newRow(list));
    edited();
    renderNodes();
    const rows = $("bot-nodes").children[i].querySelectorAll('[data-field="nodes.' + node.id + "." + list + '"] > li');
    const first = rows.length && rows[rows.length - 1].querySelector("input, select, textarea");
    if (first) first.focus();
  } else if (action === "remove-row") {
    node[list].splice(Number(button.dataset.row), 1);
    const prefix = "nodes." + node.id + "." + list + "[";
    bot.errors = bot.errors.filter((e) => !String(e.field).startsWith(prefix));   // the rows after it moved up
    edited();
    renderNodes();
  } else if (action === "remove-node") {
    askRemoveNode(i);
  }
}

async function askRemoveNode(i) {
  const id = bot.draft.nodes[i].id;
  const places = referencesTo(bot.draft, id).filter((r) => r.node !== id).length;
  const ok = await confirmDialog({
    title: t("Remove node “{id}”?", { id: id }),
    text: places ? tn(places, "{n} place goes to it: it will name a node that is gone until you choose another.",
      "{n} places go to it: they will name a node that is gone until you choose another.") : t("No other node goes to it."),
    confirm: t("Remove node"), cancel: t("Cancel"),
  });
  if (!ok || !bot.draft || !bot.draft.nodes[i] || bot.draft.nodes[i].id !== id) return;
  bot.draft = removeNode(bot.draft, id);
  bot.errors = bot.errors.filter((e) => e.field !== "nodes." + id && !String(e.field).startsWith("nodes." + id + "."));
  bot.renames.clear();
  edited();
  renderNodes();
  renderLookups();
  $("bot-add-kind").focus();
}

export function addNode() {
  if (!bot.draft) return;
  const kind = $("bot-add-kind").value;
  const node = newNode(kind, uniqueId(bot.draft, kind));
  bot.draft.nodes.push(node);
  if (!bot.draft.start) bot.draft.start = node.id;
  edited();
  renderNodes();
  renderLookups();
  const name = $("bot-nodes").lastElementChild.querySelector("[data-rename]");
  name.scrollIntoView({ block: "nearest" });
  name.focus();
  name.select();
}

// --- the JSON view ---------------------------------------------------------------------------------------

/** Forms or JSON; leaving the JSON takes what it says into the draft (a JSON that does not parse keeps it open). */
export function showView(view) {
  if (!bot.draft || view === bot.view) return;
  if (view === "forms" && !applyJson()) return;
  if (view === "json") {
    $("bot-json").value = JSON.stringify(flowBody(bot.draft), null, 2);
    show($("bot-json-error"), false);
  }
  bot.view = view;
  renderView();
  (view === "json" ? $("bot-json") : $("bot-view-forms")).focus();
}

/** The JSON view's text as the draft; false (with the reason beside it) when it is not JSON. */
function applyJson() {
  if (bot.view !== "json") return true;
  const box = $("bot-json-error");
  let parsed;
  try {
    parsed = JSON.parse($("bot-json").value);
  } catch (err) {
    box.textContent = t("This is not JSON: {error}", { error: err.message });
    show(box, true);
    $("bot-json").setAttribute("aria-invalid", "true");
    $("bot-json").focus();
    return false;
  }
  show(box, false);
  $("bot-json").removeAttribute("aria-invalid");
  bot.draft = draftFromFlow(parsed);
  bot.renames.clear();
  bot.view = "forms";
  renderAll();
  return true;
}

export function jsonToForms() {
  if (applyJson()) $("bot-view-forms").focus();
}

/** A .json file into the JSON view (Save sends it, and the server checks it). */
export function importJson(event) {
  const file = event.target.files && event.target.files[0];
  if (!file || !bot.draft) return;
  file.text().then((text) => {
    if (bot.view !== "json") showView("json");
    $("bot-json").value = text;
    event.target.value = "";
    edited();
    setState(t("Imported {name}: save to check it and keep it.", { name: file.name }), "dirty");
  });
}

// --- saving, turning off, deleting -----------------------------------------------------------------------

export async function saveBot(event) {
  if (event) event.preventDefault();
  if (bot.busy || !bot.draft) return;
  const active = document.activeElement;   // Enter in a node's name saves before its change event
  if (active && active.dataset && active.dataset.rename !== undefined) rename(Number(active.dataset.rename), active.value.trim());
  if (!applyJson()) return;
  if (bot.renames.size) {
    setState(t("Not saved: a node's name cannot be used."), "failed");
    $("bot-form").querySelector('[data-rename="' + bot.renames.keys().next().value + '"]').focus();
    return;
  }
  const token = bot.token, site = bot.site;
  bot.busy = true;
  setState(t("Saving…"), "saving");
  renderActions();
  try {
    const data = await api("PUT", sitePath(site), flowBody(bot.draft));
    if (token !== bot.token) return;
    Object.assign(bot, { loaded: data, draft: draftFromFlow(data.flow), errors: [], dirty: false, previewVersion: data.version });
    renderAll();
    setState(t("Version {n} saved at {time}.", { n: data.version, time: clockNow() }), "saved");
    restartPreview();
  } catch (err) {
    if (token !== bot.token) return;
    bot.errors = problemsOf(err);
    paintErrors();
    setState(bot.errors.length ? tn(bot.errors.length, "Not saved: {n} problem.", "Not saved: {n} problems.")
      : t("Not saved: {error}", { error: apiMessage(err) }), "failed");
    focusFirstProblem($("bot-form"));
  } finally {
    if (token === bot.token) {
      bot.busy = false;
      renderActions();
    }
  }
}

const clockNow = () => new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** Turn off (asked first) or on again: the saved flow as a new version, `enabled` changed; the draft's other edits stay. */
export async function toggleBot() {
  const l = bot.loaded;
  if (!l || !l.version || bot.busy) return;
  const on = !l.enabled;
  if (!on) {
    const ok = await confirmDialog({ title: t("Turn the bot off on {site}?", { site: bot.site }),
      text: t("New conversations start without it, as on a site with no bot; conversations with it now finish as they are. The flow stays saved and the preview still runs it."),
      confirm: t("Turn off"), cancel: t("Cancel") });
    if (!ok || bot.loaded !== l) return;
  }
  const token = bot.token;
  bot.busy = true;
  renderActions();
  try {
    const data = await api("PUT", sitePath(bot.site), Object.assign({}, l.flow, { enabled: on }));
    if (token !== bot.token) return;
    bot.loaded = data;
    bot.previewVersion = data.version;
    bot.draft.enabled = on;
    $("bot-enabled").checked = on;
    renderHeader();
    setState(on ? t("Version {n}: the bot is on.", { n: data.version }) : t("Version {n}: the bot is off.", { n: data.version }), "saved");
  } catch (err) {
    if (token === bot.token) setState(t("Not saved: {error}", { error: apiMessage(err) }), "failed");
  } finally {
    if (token === bot.token) { bot.busy = false; renderActions(); }
  }
}

export async function deleteBot() {
  const l = bot.loaded;
  if (!l || !l.version || bot.busy) return;
  const ok = await confirmDialog({ title: t("Delete the bot of {site}?", { site: bot.site }),
    text: t("New conversations start without the bot; conversations with it now finish with their version. The editor keeps this flow until you leave it, so you can save it again."),
    confirm: t("Delete the bot"), cancel: t("Cancel") });
  if (!ok || bot.loaded !== l) return;
  const token = bot.token;
  bot.busy = true;
  renderActions();
  try {
    await api("DELETE", sitePath(bot.site));
    if (token !== bot.token) return;
    bot.loaded = Object.assign({}, l, { version: null, enabled: false, flow: null });
    bot.dirty = true;
    renderHeader();
    setState(t("Deleted: new conversations start without the bot."), "saved");
    toast(t("The bot of {site} was deleted.", { site: bot.site }), "info");
  } catch (err) {
    if (token === bot.token) setState(t("Not deleted: {error}", { error: apiMessage(err) }), "failed");
  } finally {
    if (token === bot.token) { bot.busy = false; renderActions(); }
  }
}

