/* The inbox: the views with their counts (GET /v1/inbox/counts) and the list of conversations. */
import { PAGE_SIZE, STATUS_LABELS, VIEWS } from "./constants.js";
import { ago, dateText } from "./time.js";
import { $, el, paintAvatar, show } from "./dom.js";
import { activityOf, agentName, inView, previewText, S, savePrefs, sortedIn, unreadCount, visitorName, waitText } from "./state.js";
import { describe, toast } from "./errors.js";
import { api } from "./api.js";
import { scheduleRender } from "./render.js";
import { reloadConversation, upsert } from "./conversations.js";
import { clearAlerts, renderAlerts } from "./alerts.js";

let countsTimer = null;
let countsFollowUp = null;
let countsAsked = 0;

/** Read the counts again shortly (events come in bursts); once more a little later, as the
 * server's lists may lag a write by a moment. */
export function countsSoon(delay) {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(loadCounts, delay === undefined ? 250 : delay);
  clearTimeout(countsFollowUp);
  countsFollowUp = setTimeout(loadCounts, 3000);
}

export async function loadCounts() {
  if (!S.session || !S.me) return;
  const asked = ++countsAsked;
  try {
    const data = await api("GET", "/v1/inbox/counts");
    if (asked !== countsAsked) return;   // a newer answer is on its way
    S.counts = data;
    renderViews();
  } catch (e) { /* the last known counts stay */ }
}

/** One more page of a view (the first one again when `fresh`). */
export async function loadView(view, fresh) {
  const meta = S.viewMeta[view];
  if (meta.loading && !fresh) return meta.loading;
  const run = (async () => {
    if (meta.loading) await meta.loading.catch(() => {});
    const cursor = fresh ? null : meta.cursor;
    if (!fresh && meta.loaded && !cursor) return;
    const q = "/v1/conversations?view=" + view + "&limit=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const data = await api("GET", q);
    const items = data.items || [];
    for (const c of items) upsert(c);
    meta.loaded = true;
    meta.cursor = data.next_cursor || null;
    meta.complete = !meta.cursor;
    if (fresh) recheckMissing(view, items, meta.complete);
  })();
  meta.loading = run;
  try {
    await run;
  } finally {
    if (meta.loading === run) meta.loading = null;
    scheduleRender("list");
  }
}

/** After a fresh first page: conversations we hold for this view that the server no longer lists
 * there (changed while this console was away) are read again, so no stale row stays. */
function recheckMissing(view, items, complete) {
  const listed = new Set(items.map((c) => c.id));
  const oldest = items.length ? activityOf(items[items.length - 1]) : "";
  const suspects = [];
  for (const c of S.convs.values()) {
    if (!inView(c, view) || listed.has(c.id)) continue;
    if (complete || activityOf(c) >= oldest) suspects.push(c.id);
  }
  for (const id of suspects.slice(0, 20)) reloadConversation(id);
}

let reloadRunning = null;

/** On (re)connect: counts, the view on screen, and the two views that drive the work (Mine joins
 * this agent's chats; Unassigned is the queue). Others load when picked. */
export function reloadViews() {
  if (reloadRunning) return reloadRunning;
  const first = S.view;
  countsSoon(0);
  for (const v of VIEWS) if (![first, "mine", "unassigned"].includes(v.id)) Object.assign(S.viewMeta[v.id], { loaded: false, cursor: null, complete: false });
  reloadRunning = loadView(first, true)
    .catch((err) => { if (S.session) toast("Could not load the list: " + describe(err), "error"); })
    .then(() => Promise.all(["mine", "unassigned"].filter((v) => v !== first).map((v) => loadView(v, true).catch(() => {}))))
    .finally(() => { reloadRunning = null; });
  return reloadRunning;
}

function renderViews() {
  const box = $("views");
  if (!box.firstChild) {
    for (const v of VIEWS) {
      box.appendChild(el("button", {
        type: "button", class: "view", dataset: { view: v.id },
        on: { click: () => selectView(v.id) },
      }, el("span", { class: "view__top" },
        el("span", { class: "view__label", text: v.label }),
        v.id === "unassigned" || v.id === "mine" ? el("span", { class: "view__new", hidden: true, attrs: { "aria-hidden": "true" } }) : null),
      el("span", { class: "view__count" })));
    }
  }
  for (const node of box.children) {
    const view = node.dataset.view;
    const known = S.counts && typeof S.counts[view] === "number";
    const n = known ? S.counts[view] : 0;
    const count = node.querySelector(".view__count");
    count.textContent = known ? String(n) : "…";
    node.setAttribute("aria-pressed", view === S.view ? "true" : "false");
    node.setAttribute("aria-label", VIEWS.find((v) => v.id === view).label + ", " + (known ? n + (n === 1 ? " conversation" : " conversations") : "loading"));
    node.classList.toggle("view--active", view === S.view);
    node.classList.toggle("view--hot", view === "unassigned" && n > 0);
  }
  renderAlerts();
}

export function selectView(view) {
  if (!S.viewMeta[view]) return;
  S.view = view;
  S.prefs.view = view;
  savePrefs();
  clearAlerts(view);
  const meta = S.viewMeta[view];
  if (!meta.loaded && !meta.loading) loadView(view, true).catch((err) => toast(describe(err), "error"));
  $("conv-list").scrollTop = 0;
  scheduleRender("list");
}

const rowCache = new Map();   // conversation id -> <li>

export function forgetRows() {
  rowCache.clear();
}

export function renderList() {
  renderViews();
  const view = S.view;
  const meta = S.viewMeta[view];
  $("list-title").textContent = VIEWS.find((v) => v.id === view).label;
  const list = $("conv-list");
  const items = sortedIn(view);
  const wanted = [];
  for (const c of items) wanted.push(renderRow(c));
  // Reorder with the fewest moves so focus and scroll survive live updates.
  let cursor = list.firstChild;
  for (const li of wanted) {
    if (li === cursor) { cursor = cursor.nextSibling; continue; }
    list.insertBefore(li, cursor);
  }
  while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
  for (const id of rowCache.keys()) if (!S.convs.has(id)) rowCache.delete(id);
  const empty = $("list-empty");
  empty.textContent = meta.loaded || meta.complete ? VIEWS.find((v) => v.id === view).empty : "Loading…";
  show(empty, items.length === 0);
  const more = $("load-more");
  show(more, meta.loaded && !meta.complete);
  more.disabled = !!meta.loading;
  more.textContent = meta.loading ? "Loading…" : "Load more";
  renderAlerts();
}

function renderRow(c) {
  let li = rowCache.get(c.id);
  if (!li) {
    const link = el("a", { class: "row", href: "#/c/" + encodeURIComponent(c.id), on: { keydown: rowKeydown } });
    link.append(
      el("span", { class: "avatar row__avatar", attrs: { "aria-hidden": "true" } }),
      el("span", { class: "row__main" },
        el("span", { class: "row__top" },
          el("span", { class: "row__name" }),
          el("span", { class: "status-pill status-pill--small row__status" }),
          el("span", { class: "row__time" })),
        el("span", { class: "row__sub" },
          el("span", { class: "row__preview" }),
          el("span", { class: "row__wait" }),
          el("span", { class: "row__unread" }))),
    );
    li = el("li", { class: "conv-list__item", dataset: { id: c.id } }, link);
    rowCache.set(c.id, li);
  }
  const link = li.firstChild;
  const name = visitorName(c);
  paintAvatar(link.querySelector(".row__avatar"), name, c.visitor && c.visitor.id);
  link.querySelector(".row__name").textContent = name;
  const time = link.querySelector(".row__time");
  const active = activityOf(c);
  time.textContent = ago(active);
  time.dataset.iso = active;
  time.title = active ? "Last activity " + dateText(active) : "";
  link.querySelector(".row__preview").textContent = previewText(c);
  const wait = link.querySelector(".row__wait");
  wait.textContent = waitText(c);
  wait.title = c.status === "queued" && c.queued_at ? "In the queue since " + dateText(c.queued_at) : "";
  show(wait, !!wait.textContent);
  const unread = unreadCount(c.id);
  const badge = link.querySelector(".row__unread");
  badge.textContent = unread ? String(unread) : "";
  show(badge, unread > 0);
  badge.setAttribute("aria-label", unread + " unread");
  const status = STATUS_LABELS[c.status] || c.status;
  const assignee = c.assignee_id ? " · " + agentName(c.assignee_id) : "";
  const waiting = waitText(c);
  link.setAttribute("aria-label", name + ", " + status + assignee + (waiting ? ", " + waiting.toLowerCase() : "") + (unread ? ", " + unread + " unread" : "") + (c.title ? ", " + c.title : ""));
  link.title = status + assignee;
  link.dataset.status = c.status;
  const pill = link.querySelector(".row__status");
  pill.dataset.status = c.status;
  pill.textContent = STATUS_LABELS[c.status] || c.status;
  show(pill, S.view === "all");
  li.classList.toggle("is-active", c.id === S.activeId);
  li.classList.toggle("is-unread", unread > 0);
  li.classList.toggle("is-new", S.alerts.has(c.id));
  if (c.id === S.activeId) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
  return li;
}

function rowKeydown(event) {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const li = event.currentTarget.parentElement;
  const next = event.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
  if (next) { next.firstChild.focus(); event.preventDefault(); }
}
