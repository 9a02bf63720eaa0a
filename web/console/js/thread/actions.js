/* What an agent does to the open conversation: accept it, change its status, transfer it, block its
 * visitor (any agent of the workspace may). */
import { $, clear, confirmDialog, el, show } from "../dom.js";
import { agentName, S, visitorName } from "../state.js";
import { apiMessage, describe, toast } from "../errors.js";
import { api } from "../api.js";
import { live } from "../live.js";
import { reloadConversation, upsert } from "../conversations.js";
import { fetchMe, loadTeam, refreshMeSoon, teamGroups } from "../agent.js";
import { addMessages } from "./thread.js";
import { renderSide } from "./chrome.js";

/** This console is about to take the conversation itself: no "assigned to you" notice for it. */
function claim(id) {
  S.claiming.add(id);
  setTimeout(() => S.claiming.delete(id), 5000);
}

export async function accept() {
  const id = S.activeId;
  if (!id) return;
  const btn = $("accept");
  btn.disabled = true;
  claim(id);
  try {
    const ack = await live.request("accept", { conversation_id: id });
    S.joined.add(id);   // accept subscribes this socket
    upsert(ack.conversation);
    refreshMeSoon();
  } catch (err) {
    if (err.code === "capacity") await fetchMe();
    toast(describe(err, "accept"), "error");
    if (err.code === "conflict") reloadConversation(id);
  } finally {
    btn.disabled = false;
  }
}

export async function setStatus(status) {
  const id = S.activeId;
  const c = S.convs.get(id);
  if (!c || c.status === status) return;
  claim(id);
  try {
    const ack = await live.request("set_status", { conversation_id: id, status: status });
    upsert(ack.conversation);
    refreshMeSoon();
    if (status === "solved") toast("Marked as solved.", "info");
  } catch (err) {
    if (err.code === "capacity") await fetchMe();
    toast(describe(err, "status"), "error");
    if (err.code === "conflict") reloadConversation(id);
  }
}

const STATUS_WORDS = { online: "online", away: "away", offline: "offline" };

export async function openTransfer() {
  const c = S.convs.get(S.activeId);
  if (!c) return;
  const dialog = $("transfer-dialog");
  const select = $("transfer-agent");
  $("transfer-note").value = "";
  show($("transfer-error"), false);
  clear(select);
  select.appendChild(el("option", { value: "", text: "Loading the team…" }));
  dialog.showModal();
  await loadTeam();
  clear(select);
  const choices = S.team.filter((a) => a.id !== c.assignee_id);
  const people = el("optgroup", { label: "A colleague (takes it now)" });
  for (const a of choices) {
    const full = (a.active_chats || 0) >= (a.capacity || 0);
    const label = a.name + (S.me && a.id === S.me.id ? " (you)" : "") + " · " + (a.active_chats || 0) + "/" + (a.capacity || 0) + " chats · " +
      (STATUS_WORDS[a.status] || "offline") + (full ? " · full" : "");
    people.appendChild(el("option", { value: a.id, text: label, dataset: { email: a.email || "" } }));
  }
  if (!choices.length) people.appendChild(el("option", { value: "", text: "Nobody else in the team", disabled: true }));
  select.appendChild(people);
  const groups = teamGroups();
  if (groups.length) {
    const queues = el("optgroup", { label: "A team's queue (first free agent of the team)" });
    for (const g of groups) {
      const members = S.team.filter((a) => (a.groups || []).includes(g));
      const online = members.filter((a) => a.status === "online").length;
      queues.appendChild(el("option", { value: "group:" + g, text: g + " team · " + members.length + " agent" + (members.length === 1 ? "" : "s") + ", " + online + " online" }));
    }
    select.appendChild(queues);
  }
  $("transfer-hint").textContent = groups.length
    ? "A team's queue gives the chat to the least busy online agent of that team, or keeps it waiting for them."
    : "No teams yet: an admin can put agents in groups (Settings → Team) to transfer to a team's queue.";
  const firstFree = choices.find((a) => (a.active_chats || 0) < (a.capacity || 0) && (!S.me || a.id !== S.me.id));
  if (firstFree) select.value = firstFree.id;
  select.focus();
}

export async function submitTransfer(event) {
  event.preventDefault();
  const id = S.activeId;
  const to = $("transfer-agent").value;
  const note = $("transfer-note").value.trim();
  const error = $("transfer-error");
  if (!id || !to) { error.textContent = "Pick a colleague or a team."; show(error, true); return; }
  const group = to.startsWith("group:") ? to.slice(6) : null;
  const submit = $("transfer-submit");
  submit.disabled = true;
  if (S.me && to === S.me.id) claim(id);
  try {
    const fields = { conversation_id: id };
    if (group) fields.to_group = group; else fields.to_agent_id = to;
    if (note) fields.note = note;
    const ack = await live.request("transfer", fields);
    upsert(ack.conversation);
    // The note comes back in the ack (this socket gets no event for its own note); the system
    // message arrives as an event like any message.
    if (ack.note && S.thread && S.thread.id === id) addMessages([ack.note]);
    refreshMeSoon();
    $("transfer-dialog").close();
    toast(group ? "Sent to the " + group + " team's queue." : "Transferred to " + agentName(to) + ".", "info");
  } catch (err) {
    const target = S.team.find((a) => a.id === to);
    error.textContent = err.code === "capacity" ? (target ? target.name : "That agent") + " has no free chat slot." : describe(err, "transfer");
    show(error, true);
  } finally {
    submit.disabled = false;
  }
}

export function renderBlock(visitorId, profile) {
  const box = $("visitor-block");
  clear(box);
  if (!visitorId || !profile || !profile.visitor) { show(box, false); return; }
  const blocked = !!profile.visitor.blocked;
  box.appendChild(el("button", {
    type: "button", class: "btn btn--small " + (blocked ? "btn--ghost" : "btn--danger-ghost"),
    text: blocked ? "Unblock visitor" : "Block visitor",
    on: { click: () => setBlocked(visitorId, !blocked) },
  }));
  if (blocked) box.appendChild(el("span", { class: "muted block-note", text: "They cannot write or start a chat." }));
  show(box, true);
}

async function setBlocked(visitorId, block) {
  const c = S.convs.get(S.activeId);
  const name = c && c.visitor && c.visitor.id === visitorId ? visitorName(c) : "this visitor";
  if (block) {
    const ok = await confirmDialog({
      title: "Block " + name + "?",
      text: "Their chat is cut off now, and they cannot write or start a new chat until someone unblocks them.",
      confirm: "Block visitor",
    });
    if (!ok) return;
  }
  try {
    const path = "/v1/contacts/" + encodeURIComponent(visitorId) + "/block";
    const data = block ? await api("POST", path, {}) : await api("DELETE", path);
    const profile = S.profiles.get(visitorId) || {};
    S.profiles.set(visitorId, Object.assign({}, profile, { visitor: Object.assign({}, profile.visitor, { blocked: !!data.blocked }) }));
    renderSide();
    toast(block ? name + " is blocked." : name + " can write again.", "info");
  } catch (err) {
    toast((block ? "Could not block: " : "Could not unblock: ") + apiMessage(err), "error");
  }
}
