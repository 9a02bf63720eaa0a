/* Around the open conversation's messages: the header, the banner, the side panel with the visitor's
 * profile and past chats, and editing the title and tags (PATCH). */
import { ACTIVE_STATUSES, STATUS_LABELS } from "../constants.js";
import { safeHttpUrl } from "../links.js";
import { dateText, dayText, messageTime, parseTime } from "../time.js";
import { $, agoNode, clear, el, externalLink, paintAvatar, setAgo, show, timeNode } from "../dom.js";
import { agentName, isMine, S, visitorName, waitText } from "../state.js";
import { describe, toast } from "../errors.js";
import { api } from "../api.js";
import { live } from "../live.js";
import { scheduleRender } from "../render.js";
import { upsert } from "../conversations.js";
import { accept, renderBlock } from "./actions.js";
import { renderPrivacy } from "../admin/privacy.js";

export function renderThreadChrome() {
  const thread = S.thread;
  if (!thread) return;
  const c = S.convs.get(thread.id);
  const name = c ? visitorName(c) : "…";
  // Long names and titles are cut to leave room for the actions: the whole of each is in its tooltip.
  $("thread-visitor").textContent = name;
  $("thread-visitor").title = name;
  const title = $("thread-title");
  if (document.activeElement !== title) title.value = (c && c.title) || "";
  title.title = (c && c.title) || "";
  title.disabled = !c;
  const pill = $("thread-status");
  pill.textContent = c ? (STATUS_LABELS[c.status] || c.status) + (c.assignee_id ? " · " + agentName(c.assignee_id) : "") : "";
  pill.dataset.status = c ? c.status : "";
  const mine = c && isMine(c);
  // Nothing to accept in a chat that is already this agent's, even solved (the status buttons reopen it).
  const yours = c && S.me && c.assignee_id === S.me.id;
  const canAccept = c && c.status !== "closed" && !mine && !yours && !(c.assignee_id && ACTIVE_STATUSES.includes(c.status));
  show($("accept"), !!canAccept);
  for (const btn of document.querySelectorAll(".seg__btn")) {
    const on = !!c && c.status === btn.dataset.status;
    btn.setAttribute("aria-pressed", on ? "true" : "false");
    btn.disabled = !c || c.status === "closed";
  }
  $("transfer-open").disabled = !c || c.status === "closed";
  const composerName = name;
  const mode = $("composer").dataset.mode;
  $("composer-text").placeholder = mode === "note" ? "Write a private note: only your team sees it…" : "Reply to " + composerName + "…";
  renderThreadBanner();
  renderSide();
}

export function renderThreadBanner() {
  const banner = $("thread-banner");
  if (!banner || !S.thread) return;
  const c = S.convs.get(S.thread.id);
  clear(banner);
  let text = null;
  let kind = "info";
  if (live.state !== "open" && live.state !== "idle") {
    text = "You are offline. Messages you send wait here and go out when the connection is back.";
    kind = "warn";
  } else if (c && c.status === "queued") {
    const waited = waitText(c).replace(/^Waiting /, "");
    text = visitorName(c) + " is waiting for an agent" + (c.group ? " of the " + c.group + " team" : "") + (waited ? " (" + waited + " so far)." : ".");
  } else if (c && c.assignee_id && S.me && c.assignee_id !== S.me.id && ACTIVE_STATUSES.includes(c.status)) {
    text = agentName(c.assignee_id) + " is handling this conversation. You can still write here.";
  } else if (c && c.status === "closed") {
    text = "This conversation is closed.";
  }
  banner.dataset.kind = kind;
  if (text) banner.appendChild(document.createTextNode(text));
  if (text && c && c.status === "queued") {
    banner.appendChild(el("button", { type: "button", class: "link-btn", text: "Accept it", on: { click: accept } }));
  }
  show(banner, !!text);
}

export async function loadProfile(visitorId) {
  if (!visitorId) return;
  const cached = S.profiles.get(visitorId);
  if (cached) renderSide();
  try {
    const data = await api("GET", "/v1/visitors/" + encodeURIComponent(visitorId));
    S.profiles.set(visitorId, data);
    for (const c of data.conversations || []) {
      const known = S.convs.get(c.id);
      if (known) upsert(c);
    }
    renderSide();
  } catch (err) {
    if (!cached) {
      S.profiles.set(visitorId, { error: err });
      renderSide();
    }
  }
}

/** When the visitor was last there, the freshest of: the profile (it says when their session began),
 * their last message, and the last frame this console heard from them. */
function lastSeen(c, pv) {
  const times = [pv.last_seen_at, c.last_message && c.last_message.kind === "visitor" ? c.last_message.at : null,
    c.visitor && S.seenAt.get(c.visitor.id)];
  let newest = null;
  for (const iso of times) {
    const t = parseTime(iso);
    if (t && (!newest || t > parseTime(newest))) newest = iso;
  }
  return newest;
}

/** A frame from the conversation's visitor (a message, typing, a read mark) says they are there now. */
export function visitorSeenNow(conversationId) {
  const c = S.convs.get(conversationId);
  if (!c || !c.visitor || !c.visitor.id) return;
  const now = new Date().toISOString();
  S.seenAt.set(c.visitor.id, now);
  if (!S.thread || S.thread.id !== conversationId) return;
  // The fact alone, not the whole panel: typing sends these several times a second.
  const node = $("visitor-last-seen");
  if (node) setAgo(node, now); else scheduleRender("thread");
}

const BOT_OUTCOMES = { confirmed: "Solved by the bot", assumed: "Solved by the bot (assumed: the visitor went quiet)",
  handed_off: "Handed to a person" };
const HANDOFF_REASONS = { asked: "the visitor asked", flow: "as the flow says", lookup_failed: "a lookup failed",
  no_progress: "no progress", error: "the bot failed", dead_end: "the flow ended" };

/** The bot's outcome in words: "Handed to a person (the visitor asked)". */
export function botOutcomeText(bot) {
  const reason = bot.outcome === "handed_off" && HANDOFF_REASONS[bot.handoff_reason];
  return (BOT_OUTCOMES[bot.outcome] || bot.outcome) + (reason ? " (" + reason + ")" : "");
}

function fact(dl, label, value) {
  if (value === null || value === undefined || value === "") return;
  dl.appendChild(el("dt", { class: "facts__label", text: label }));
  dl.appendChild(el("dd", { class: "facts__value" }, value));
}

export function renderSide() {
  const thread = S.thread;
  if (!thread) return;
  const c = S.convs.get(thread.id);
  if (!c) return;
  show($("side-empty"), false);
  show($("side-main"), true);
  const visitor = c.visitor || {};
  const profile = S.profiles.get(visitor.id) || {};
  const pv = profile.visitor || {};
  const name = visitorName(c);
  paintAvatar($("visitor-avatar"), name, visitor.id);
  $("visitor-heading").textContent = name;
  $("visitor-email").textContent = visitor.email || pv.email || "No email given";

  const facts = $("visitor-facts");
  clear(facts);
  const page = visitor.page_url || pv.page_url;
  if (page) {
    const safe = safeHttpUrl(page);
    fact(facts, "Page", safe ? externalLink(safe, page) : document.createTextNode(page));
  }
  if (pv.locale) fact(facts, "Language", document.createTextNode(pv.locale));
  if (pv.user_id) fact(facts, "User id", document.createTextNode(pv.user_id));
  if (pv.created_at) fact(facts, "First seen", timeNode(pv.created_at, dateText(pv.created_at)));
  const seen = lastSeen(c, pv);
  if (seen) fact(facts, "Last seen", agoNode(seen, "visitor-last-seen"));
  if (pv.blocked) fact(facts, "Blocked", el("span", { class: "status-pill status-pill--small status-pill--danger", text: "Blocked" }));
  if (profile.error) fact(facts, "Profile", document.createTextNode("Could not load the visitor's profile."));
  renderBlock(visitor.id, profile);
  renderPrivacy(visitor.id, profile);

  const conv = $("conv-facts");
  clear(conv);
  fact(conv, "Status", document.createTextNode(STATUS_LABELS[c.status] || c.status));
  fact(conv, "Assignee", document.createTextNode(c.assignee_id ? agentName(c.assignee_id) : "Nobody"));
  if (c.group) fact(conv, "Team", document.createTextNode(c.group));
  if (c.status === "queued" && c.queued_at) fact(conv, "In queue", timeNode(c.queued_at, waitText(c).replace(/^Waiting /, "") + " (since " + messageTime(c.queued_at) + ")"));
  if (c.created_at) fact(conv, "Started", timeNode(c.created_at, dateText(c.created_at)));
  if (c.first_response_at) fact(conv, "First reply", timeNode(c.first_response_at, dateText(c.first_response_at)));
  if (c.csat) fact(conv, "Rating", document.createTextNode("★".repeat(c.csat.rating || 0) + "☆".repeat(5 - (c.csat.rating || 0)) + (c.csat.comment ? " “" + c.csat.comment + "”" : "")));
  if (c.site_key) fact(conv, "Site", document.createTextNode(c.site_key));
  if (c.bot) fact(conv, "Bot", document.createTextNode(botOutcomeText(c.bot)));
  // What the bot asked the visitor for (docs/bot.md, `ask` nodes), by field.
  for (const [name, value] of Object.entries(c.fields || {})) {
    fact(conv, name.replace(/_/g, " "), document.createTextNode(String(value)));
  }

  renderTags(c);

  const past = $("past-list");
  clear(past);
  const others = (profile.conversations || []).filter((p) => p.id !== c.id);
  if (!profile.conversations && !profile.error) {
    past.appendChild(el("li", { class: "muted", text: "Loading…" }));
  } else if (!others.length) {
    past.appendChild(el("li", { class: "muted", text: "No other conversations." }));
  }
  for (const p of others) {
    past.appendChild(el("li", null,
      el("a", { class: "past", href: "#/c/" + encodeURIComponent(p.id) },
        el("span", { class: "past__title", text: p.title || "Conversation of " + dayText(p.created_at) }),
        el("span", { class: "status-pill status-pill--small", dataset: { status: p.status }, text: STATUS_LABELS[p.status] || p.status }))));
  }
}

function renderTags(c) {
  const list = $("tag-list");
  clear(list);
  for (const tag of c.tags || []) {
    list.appendChild(el("li", { class: "tag" },
      el("span", { text: tag }),
      el("button", { type: "button", class: "tag__remove", text: "×", attrs: { "aria-label": "Remove tag " + tag },
        on: { click: () => saveTags({ remove_tags: [tag] }) } })));
  }
}

async function patchConversation(fields) {
  const id = S.activeId;
  if (!id) return null;
  const data = await api("PATCH", "/v1/conversations/" + encodeURIComponent(id), fields);
  return upsert(data.conversation);
}

export async function saveTitle() {
  const input = $("thread-title");
  const c = S.convs.get(S.activeId);
  if (!c) return;
  const value = input.value.trim();
  if (value === (c.title || "")) return;
  input.classList.add("is-saving");
  try {
    await patchConversation({ title: value || null });
    toast(value ? "Title saved." : "Title removed.", "info");
  } catch (err) {
    input.value = c.title || "";
    toast("Could not save the title: " + describe(err), "error");
  } finally {
    input.classList.remove("is-saving");
  }
}

/** Tags change by name (`add_tags`, `remove_tags`): the server applies each change to the list as it is
 * then, so two quick adds, or two agents at once, never overwrite each other. */
async function saveTags(change) {
  const c = S.convs.get(S.activeId);
  if (!c) return;
  try {
    await patchConversation(change);
  } catch (err) {
    toast("Could not save the tags: " + describe(err), "error");
  }
  renderSide();
}

export function addTagFromInput() {
  const input = $("tag-input");
  const c = S.convs.get(S.activeId);
  if (!c) return;
  const fresh = input.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  if (!fresh.length) return;
  if (fresh.some((t) => t.length > 40)) { toast("A tag is at most 40 characters.", "error"); return; }
  const tags = Array.from(new Set((c.tags || []).concat(fresh)));
  if (tags.length > 20) { toast("A conversation holds at most 20 tags.", "error"); return; }
  input.value = "";
  saveTags({ add_tags: fresh });
}
