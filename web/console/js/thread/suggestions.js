/* The side panel's suggested articles: the knowledge base's best matches for the visitor's last
 * message (GET /v1/conversations/{id}/articles), read when a conversation opens and again when the
 * visitor writes; each can go into the reply composer, at the cursor, as a link or a summary (never
 * sent by itself). A failure says so quietly and leaves the rest of the pane alone. */
import { $, clear, el, show } from "../dom.js";
import { S } from "../state.js";
import { api } from "../api.js";
import { t } from "../i18n.js";
import { insertAt, linkText, summaryText } from "../kb/rules.js";
import "./texts.js";

export const SUGGESTIONS = 3;
const REFRESH_MS = 300;  // a visitor's burst of messages is one read

// token: counts the reads begun, so an answer for another conversation (or an older message) is dropped.
const suggest = { id: null, token: 0, loading: false, data: null, failed: false };
let refreshTimer = null;

/** Read the suggestions for the open conversation (it changed, or its visitor wrote). */
export function loadSuggestions(conversationId) {
  clearTimeout(refreshTimer);
  const id = conversationId || S.activeId;
  if (!id) return Promise.resolve();
  if (suggest.id !== id) {
    suggest.data = null;
    suggest.failed = false;
  }
  suggest.id = id;
  const token = ++suggest.token;
  suggest.loading = true;
  renderSuggestions();
  return api("GET", "/v1/conversations/" + encodeURIComponent(id) + "/articles?limit=" + SUGGESTIONS)
    .then((data) => {
      if (token !== suggest.token) return;
      suggest.data = data || {};
      suggest.failed = false;
    })
    .catch(() => {
      if (token !== suggest.token) return;
      suggest.failed = true;
    })
    .finally(() => {
      if (token !== suggest.token) return;
      suggest.loading = false;
      renderSuggestions();
    });
}

/** A new visitor message in the open conversation: read again, once the burst is over. */
export function suggestionsSoon() {
  clearTimeout(refreshTimer);
  const id = S.activeId;
  refreshTimer = setTimeout(() => { if (S.activeId === id) loadSuggestions(id); }, REFRESH_MS);
}

export function resetSuggestions() {
  clearTimeout(refreshTimer);
  suggest.id = null;
  suggest.token++;
  suggest.loading = false;
  suggest.data = null;
  suggest.failed = false;
  renderSuggestions();
}

export function renderSuggestions() {
  const list = $("suggest-list");
  if (!list) return;
  const data = suggest.id === S.activeId ? suggest.data : null;
  const items = ((data && data.items) || []).slice(0, SUGGESTIONS);
  clear(list);
  for (const item of items) list.appendChild(suggestionNode(item));
  const query = $("suggest-query");
  query.textContent = data && data.query ? t("For “{query}”", { query: data.query }) : "";
  show(query, !!query.textContent);
  let status = "";
  if (suggest.failed) status = t("Suggestions are unavailable right now.");
  else if (suggest.loading && !data) status = t("Looking for articles…");
  else if (data && (data.abstained || !items.length)) status = t("No matching article");
  $("suggest-status").textContent = status;
  $("suggest").setAttribute("aria-busy", suggest.loading ? "true" : "false");
}

function suggestionNode(item) {
  return el("li", { class: "suggest-item", dataset: { article: item.id } },
    el("div", { class: "suggest-item__title", text: item.title }),
    item.snippet ? el("p", { class: "suggest-item__snippet", text: item.snippet }) : null,
    el("div", { class: "suggest-item__actions" },
      el("button", { type: "button", class: "link-btn", text: t("Insert link"),
        attrs: { "aria-label": t("Insert link to {title} in your reply", { title: item.title }) },
        on: { click: () => insertInComposer(linkText(item)) } }),
      el("button", { type: "button", class: "link-btn", text: t("Insert summary"),
        attrs: { "aria-label": t("Insert summary of {title} in your reply", { title: item.title }) },
        on: { click: () => insertInComposer(summaryText(item)) } })));
}

/** Put the text in the composer where its cursor was (in place of a selection), as if typed: not sent. */
function insertInComposer(text) {
  const box = $("composer-text");
  if (!text || !box || box.disabled) return;
  const room = box.maxLength > 0 ? box.maxLength - box.value.length : Infinity;
  const put = text.length > room ? text.slice(0, Math.max(0, room)) : text;
  const next = insertAt(box.value, box.selectionStart, box.selectionEnd, put);
  box.value = next.value;
  box.focus();
  box.setSelectionRange(next.caret, next.caret);
  box.dispatchEvent(new Event("input", { bubbles: true }));  // the draft, the typing state, the canned popup
}
