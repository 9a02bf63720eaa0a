/* Settings (admins), webhooks: the workspace's endpoints and their recent deliveries. Deliveries
 * change on their own (tries, retries), so while this tab is on screen they are read again every few
 * seconds (main.js). */
import { ago } from "../time.js";
import { $, clear, confirmDialog, el, show } from "../dom.js";
import { S } from "../state.js";
import { apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { locale } from "../i18n.js";
import { formError } from "./forms.js";

const WEBHOOK_FIELDS = { url: "webhook-url", description: "webhook-description", events: "webhook-events" };

const EVENT_LABELS = {
  "conversation.created": "A conversation starts",
  "conversation.assigned": "A conversation is assigned (or goes back to the queue)",
  "conversation.status_changed": "A conversation's status changes",
  "message.created": "A message is sent (internal notes included, marked internal)",
  "csat.submitted": "A visitor rates a conversation",
};

const DELIVERY_LABELS = { pending: "Queued", retrying: "Retrying", delivered: "Delivered", failed: "Failed" };
export const WEBHOOK_REFRESH_MS = 3000;
// version: counts the changes made from this page; a list read that began before one may not show it.
const hooksState = { hooks: [], types: Object.keys(EVENT_LABELS), deliveries: new Map(), loaded: false, loading: null,
  version: 0 };

export function resetWebhooks() {
  hooksState.hooks = [];
  hooksState.deliveries.clear();
  hooksState.loaded = false;
}

function onWebhooksTab() {
  return S.page === "settings" && S.settingsTab === "webhooks";
}

export function loadWebhooks() {
  if (hooksState.loading) return hooksState.loading;
  hooksState.loading = (async () => {
    try {
      for (let tries = 0; tries < 3; tries++) {
        const asked = hooksState.version;
        const data = await api("GET", "/v1/webhooks");
        // An endpoint added (or changed) here while the list was on its way: this answer may not have it.
        if (hooksState.version !== asked && tries < 2) continue;
        hooksState.hooks = data.items || [];
        if (data.event_types && data.event_types.length) hooksState.types = data.event_types;
        hooksState.loaded = true;
        renderWebhooks();
        await loadDeliveries();
        return;
      }
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

/** Every few seconds (main.js): the deliveries again, while this tab is on screen. */
export function refreshDeliveries() {
  if (S.me && onWebhooksTab() && !document.hidden && hooksState.loaded) loadDeliveries();
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

export function openWebhookForm() {
  $("webhook-url").value = "";
  $("webhook-description").value = "";
  renderEventChoices(hooksState.types);
  show($("webhook-error"), false);
  for (const id of Object.values(WEBHOOK_FIELDS)) $(id).removeAttribute("aria-invalid");
  show($("webhook-form"), true);
  $("webhook-url").focus();
}

export async function saveWebhook(event) {
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
    hooksState.version += 1;
    hooksState.hooks = hooksState.hooks.filter((h) => h.id !== hook.id).concat([hook]);  // shown at once
    renderWebhooks();
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

const secretText = (key) => SECRET_TEXTS[locale()][key];

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

export function hideSecret() {
  $("webhook-secret-value").textContent = "";
  $("webhook-standard-secret-value").textContent = "";
  show($("webhook-secret"), false);
}

export async function copySecret(valueId) {
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
    hooksState.version += 1;
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

export function renderWebhooks() {
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
