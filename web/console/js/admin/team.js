/* Settings (admins), the team: its table, adding, editing and removing agents. */
import { $, clear, confirmDialog, el, paintAvatar, show } from "../dom.js";
import { S } from "../state.js";
import { apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { loadTeam, updateMe } from "../agent.js";
import { formError, numberField, splitList } from "./forms.js";

export const AGENT_FIELDS = { name: "agent-name", email: "agent-email", role: "agent-role", capacity: "agent-capacity",
  groups: "agent-groups", password: "agent-password", temporary_password: "agent-password" };

let editingAgent = null;   // the agent the dialog edits; null: a new one

// The team has no events of its own: while its table is on screen it is read again now and then,
// and soon after any chat changes hands (slots move).
let teamTimer = null;

export function teamSoon(delay) {
  if (S.page !== "settings" || S.settingsTab !== "team") return;
  clearTimeout(teamTimer);
  teamTimer = setTimeout(() => {
    if (S.page === "settings" && S.settingsTab === "team") loadTeam().then(renderTeam);
  }, delay);
}

const PRESENCE_TEAM = {
  online: "Online · gets chats automatically",
  away: "Away · accepts by hand",
  offline: "Offline",
};

export function renderTeam() {
  const body = $("team-body");
  if (!body) return;
  clear(body);
  show($("team-empty"), !S.team.length);
  for (const a of S.team) {
    const self = !!S.me && a.id === S.me.id;
    const used = a.active_chats || 0;
    const cap = a.capacity || 0;
    const avatar = el("span", { class: "avatar avatar--sm", attrs: { "aria-hidden": "true" } });
    paintAvatar(avatar, a.name, a.id);
    const status = a.status || "offline";
    const meter = el("span");
    meter.style.width = (cap ? Math.min(100, (used / cap) * 100) : 0) + "%";   // CSSOM: allowed by the CSP
    const groups = el("ul", { class: "tag-list tag-list--static" });
    for (const g of a.groups || []) groups.appendChild(el("li", { class: "tag tag--static", text: g }));
    body.appendChild(el("tr", { dataset: { agentId: a.id, email: a.email || "" } },
      el("td", null, el("div", { class: "person" }, avatar,
        el("div", { class: "person__text" },
          el("div", { class: "person__name", text: (a.name || a.email) + (self ? " (you)" : "") }),
          el("div", { class: "person__email muted", text: a.email || "" })))),
      el("td", null, el("span", { class: "role-pill", dataset: { role: a.role }, text: a.role === "admin" ? "Admin" : "Agent" })),
      el("td", null, el("span", { class: "team-status", dataset: { status: status } },
        el("span", { class: "team-status__dot", attrs: { "aria-hidden": "true" } }), PRESENCE_TEAM[status] || status)),
      el("td", null, el("span", { class: "team-slots", dataset: { full: used >= cap && cap > 0 ? "true" : "false" }, attrs: { title: used + " of " + cap + " slots used" } },
        el("span", { class: "team-slots__value", text: used + " / " + cap }),
        el("span", { class: "slots__meter", attrs: { "aria-hidden": "true" } }, meter))),
      el("td", { class: "num", text: String(cap) }),
      el("td", null, (a.groups || []).length ? groups : el("span", { class: "muted", text: "—" })),
      el("td", { class: "team-actions" },
        el("button", { type: "button", class: "link-btn", text: "Edit", attrs: { "aria-label": "Edit " + (a.name || a.email) },
          on: { click: () => openAgentDialog(a) } }),
        self ? null : el("button", { type: "button", class: "link-btn link-btn--danger", text: "Remove",
          attrs: { "aria-label": "Remove " + (a.name || a.email) }, on: { click: () => removeAgent(a) } }))));
  }
}

export function openAgentDialog(agent) {
  editingAgent = agent || null;
  const editing = !!agent;
  $("agent-dialog-title").textContent = editing ? "Edit " + (agent.name || agent.email) : "Add an agent";
  $("agent-save").textContent = editing ? "Save" : "Add agent";
  $("agent-name").value = editing ? agent.name || "" : "";
  $("agent-email").value = editing ? agent.email || "" : "";
  $("agent-email").disabled = editing;
  $("agent-role").value = editing ? agent.role || "agent" : "agent";
  $("agent-capacity").value = String(editing ? agent.capacity || 3 : 3);
  $("agent-groups").value = editing ? (agent.groups || []).join(", ") : "";
  $("agent-password").value = "";
  $("agent-temporary").checked = false;
  show($("agent-password-field"), !editing);
  show($("agent-error"), false);
  for (const id of Object.values(AGENT_FIELDS)) $(id).removeAttribute("aria-invalid");
  $("agent-dialog").showModal();
  $(editing ? "agent-capacity" : "agent-name").focus();
}

export async function saveAgent(event) {
  event.preventDefault();
  const editing = editingAgent;
  const error = $("agent-error");
  show(error, false);
  for (const id of Object.values(AGENT_FIELDS)) $(id).removeAttribute("aria-invalid");
  const body = {
    name: $("agent-name").value.trim(),
    role: $("agent-role").value,
    capacity: numberField($("agent-capacity")),
    groups: splitList($("agent-groups").value),
  };
  if (!editing) {
    body.email = $("agent-email").value.trim();
    const password = $("agent-password").value;
    if (password && password.length < 8) {
      formError(error, { message: "The password needs at least 8 characters.", field: "password" }, AGENT_FIELDS);
      return;
    }
    if (password) body[$("agent-temporary").checked ? "temporary_password" : "password"] = password;
  }
  const save = $("agent-save");
  save.disabled = true;
  try {
    const agent = editing
      ? await api("PATCH", "/v1/agents/" + encodeURIComponent(editing.id), body)
      : await api("POST", "/v1/agents", body);
    $("agent-dialog").close();
    if (agent && agent.id && S.me && agent.id === S.me.id) updateMe(agent);
    await loadTeam();
    renderTeam();
    toast(editing ? "Saved " + (agent.name || agent.email) + "." : (agent.name || agent.email) + " can now sign in.", "info");
  } catch (err) {
    formError(error, err, AGENT_FIELDS);
  } finally {
    save.disabled = false;
  }
}

async function removeAgent(agent) {
  const chats = agent.active_chats || 0;
  const ok = await confirmDialog({
    title: "Remove " + (agent.name || agent.email) + "?",
    text: "They can no longer sign in." + (chats ? " Their " + chats + " open chat" + (chats === 1 ? "" : "s") + " go back to the queue at once." : ""),
    confirm: "Remove",
  });
  if (!ok) return;
  try {
    await api("DELETE", "/v1/agents/" + encodeURIComponent(agent.id));
    toast((agent.name || agent.email) + " was removed from the team.", "info");
  } catch (err) {
    toast("Could not remove " + (agent.name || agent.email) + ": " + apiMessage(err), "error");
  }
  await loadTeam();
  renderTeam();
}
