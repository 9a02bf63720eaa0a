/* The knowledge base page (#/kb): the workspace's articles with their stats, filtered as the REST list
 * allows (status, language, words of the title), a page at a time. Agents read; admins also write
 * (kb/editor.js). */
import { dateText } from "../time.js";
import { agoNode, $, clear, el, show } from "../dom.js";
import { isAdmin } from "../state.js";
import { apiMessage } from "../errors.js";
import { api } from "../api.js";
import { t } from "../i18n.js";
import { listPath, localeLabel, percentText, sitesText, statsText, statusLabel } from "./rules.js";

// token: counts the list reads begun; an answer to an older one (other filters) is dropped.
const listState = { items: [], cursor: null, loaded: false, loading: false, error: null, token: 0 };

export function resetKb() {
  listState.items = [];
  listState.cursor = null;
  listState.loaded = false;
  listState.error = null;
  listState.token++;
}

function filters() {
  return { status: $("kb-filter-status").value, locale: $("kb-filter-locale").value, q: $("kb-filter-q").value };
}

/** The first page again (with the filters on screen), or the next one (`more`). */
export async function loadArticles(more) {
  if (more && (listState.loading || !listState.cursor)) return;
  const token = ++listState.token;
  listState.loading = true;
  listState.error = null;
  renderArticles();
  try {
    const data = await api("GET", listPath(filters(), more ? listState.cursor : null));
    if (token !== listState.token) return;
    const items = data.items || [];
    listState.items = more ? listState.items.concat(items.filter((a) => !listState.items.some((b) => b.id === a.id))) : items;
    listState.cursor = data.next_cursor || null;
    listState.loaded = true;
  } catch (err) {
    if (token !== listState.token) return;
    listState.error = err;
  } finally {
    if (token === listState.token) {
      listState.loading = false;
      renderArticles();
    }
  }
}

/** What the editor saved or deleted, shown in the list at once (it keeps the stats it had). */
export function articleChanged(article, deletedId) {
  if (deletedId) {
    listState.items = listState.items.filter((a) => a.id !== deletedId);
  } else if (article) {
    const i = listState.items.findIndex((a) => a.id === article.id);
    const merged = Object.assign({}, i >= 0 ? listState.items[i] : {}, article);
    if (i >= 0) listState.items[i] = merged; else listState.items.unshift(merged);
  }
  renderArticles();
}

let filterTimer = null;

/** Typing in the words waits a moment; a select reloads at once. */
export function filtersChanged(event) {
  clearTimeout(filterTimer);
  if (event && event.target && event.target.tagName === "INPUT") filterTimer = setTimeout(() => loadArticles(false), 250);
  else loadArticles(false);
}

export function renderKbAccess() {
  show($("kb-new"), isAdmin());
  show($("kb-readonly"), !isAdmin());
}

export function renderArticles() {
  const body = $("kb-body");
  if (!body) return;
  renderKbAccess();
  clear(body);
  for (const article of listState.items) body.appendChild(articleRow(article));
  const empty = $("kb-empty");
  let text = "";
  if (listState.error) text = t("Could not load the articles: {error}", { error: apiMessage(listState.error) });
  else if (listState.loading && !listState.items.length) text = t("Loading the articles…");
  else if (listState.loaded && !listState.items.length) {
    const f = filters();
    text = f.status || f.locale || f.q.trim() ? t("No article matches these filters.")
      : isAdmin() ? t("No articles yet. Write the first one.") : t("No articles yet.");
  }
  empty.textContent = text;
  empty.classList.toggle("form-error", !!listState.error);
  show(empty, !!text);
  const more = $("kb-more");
  show(more, !!listState.cursor && !listState.error);
  more.disabled = listState.loading;
  more.textContent = listState.loading && listState.items.length ? t("Loading…") : t("Load more");
}

function articleRow(a) {
  const stats = a.stats || {};
  return el("tr", { class: "kb-row", dataset: { article: a.id, status: a.status }, attrs: { title: statsText(stats) } },
    el("td", null, el("a", { class: "kb-row__title", href: "#/kb/" + encodeURIComponent(a.id), text: a.title })),
    el("td", { class: "kb-row__locale", text: localeLabel(a.locale) }),
    el("td", null, el("span", { class: "status-pill status-pill--small kb-row__status", dataset: { status: a.status },
      text: statusLabel(a.status) })),
    el("td", { class: "kb-row__sites", text: sitesText(a.site_keys) }),
    el("td", { class: "kb-row__updated" }, a.updated_at ? agoNode(a.updated_at, null, true) : null,
      a.updated_at ? el("span", { class: "visually-hidden", text: " (" + dateText(a.updated_at) + ")" }) : null),
    el("td", { class: "num kb-row__shown", text: String(stats.shown || 0) }),
    el("td", { class: "num kb-row__opened", text: String(stats.opened || 0) }),
    el("td", { class: "num kb-row__helpful", text: percentText(stats) }));
}
