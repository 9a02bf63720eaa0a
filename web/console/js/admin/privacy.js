/* Data requests (admins): export and erase a visitor's data. */
import { $, clear, confirmDialog, el, show } from "../dom.js";
import { isAdmin, S, visitorName } from "../state.js";
import { ApiError, apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { scheduleRender } from "../render.js";
import { refreshMeSoon } from "../agent.js";
import { countsSoon } from "../inbox.js";
import { loadProfile } from "../thread/chrome.js";

export function renderPrivacy(visitorId, profile) {
  const box = $("visitor-privacy");
  clear(box);
  if (!isAdmin() || !visitorId || !profile || (!profile.visitor && !profile.error)) { show(box, false); return; }
  const erasing = !!(profile.visitor && profile.visitor.erasing);
  box.appendChild(el("button", {
    type: "button", class: "btn btn--small btn--ghost", text: "Export data",
    attrs: { title: "Download everything stored about this visitor (JSON)" },
    on: { click: (e) => exportVisitor(visitorId, e.currentTarget) },
  }));
  box.appendChild(el("button", {
    type: "button", class: "btn btn--small btn--danger-ghost", text: erasing ? "Finish erasing" : "Erase visitor",
    on: { click: (e) => eraseVisitor(visitorId, e.currentTarget) },
  }));
  if (erasing) box.appendChild(el("span", { class: "muted block-note", text: "An erasure started and did not finish." }));
  show(box, true);
}

function nameOf(visitorId) {
  const c = S.convs.get(S.activeId);
  return c && c.visitor && c.visitor.id === visitorId ? visitorName(c) : "this visitor";
}

async function exportVisitor(visitorId, button) {
  button.disabled = true;
  try {
    const data = await api("GET", "/v1/visitors/" + encodeURIComponent(visitorId) + "/export");
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const day = new Date().toISOString().slice(0, 10);
    const link = el("a", { href: url, attrs: { download: "parley-" + visitorId.replace(/[^\w-]/g, "") + "-" + day + ".json" } });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    const n = (data.conversations || []).length;
    toast("Exported " + nameOf(visitorId) + "'s data: " + n + " conversation" + (n === 1 ? "" : "s") + ".", "info");
  } catch (err) {
    toast("Could not export: " + apiMessage(err), "error");
  } finally {
    button.disabled = false;
  }
}

async function eraseVisitor(visitorId, button) {
  const name = nameOf(visitorId);
  const ok = await confirmDialog({
    title: "Erase all data of " + name + "?",
    text: "Their profile, every conversation and every message (internal notes included) are deleted for good. " +
      "Open chats are closed and their agent's slot is freed. This cannot be undone.",
    confirm: "Erase visitor",
  });
  if (!ok) return;
  button.disabled = true;
  const path = "/v1/visitors/" + encodeURIComponent(visitorId) + "?confirm=erase";
  const total = { conversations: 0, messages: 0 };
  try {
    S.erased.add(visitorId);
    let result = null;
    for (let round = 0; round < 10 && !(result && result.complete); round++) {
      result = await api("DELETE", path);   // a long history takes several calls: each goes on from the last
      total.conversations += result.erased.conversations || 0;
      total.messages += result.erased.messages || 0;
    }
    if (!result.complete) throw new ApiError("incomplete", "the erasure is not finished yet; try again", 0);
    forgetVisitor(visitorId);
    toast(name.charAt(0).toUpperCase() + name.slice(1) + "'s data was erased: " + total.conversations + " conversation" +
      (total.conversations === 1 ? "" : "s") + ", " + total.messages + " message" + (total.messages === 1 ? "" : "s") + ".", "info");
  } catch (err) {
    if (err.status === 404) { forgetVisitor(visitorId); toast("Nothing is stored about " + name + " any more.", "info"); return; }
    S.erased.delete(visitorId);
    button.disabled = false;
    toast("Could not erase: " + apiMessage(err), "error");
    loadProfile(visitorId);
  }
}

/** The console lets go of an erased visitor: their conversations leave the lists and the open pane. */
function forgetVisitor(visitorId) {
  S.profiles.delete(visitorId);
  let open = false;
  for (const [id, c] of Array.from(S.convs)) {
    if (!c.visitor || c.visitor.id !== visitorId) continue;
    S.convs.delete(id);
    S.joined.delete(id);
    S.unread.delete(id);
    S.alerts.delete(id);
    if (id === S.activeId) open = true;
  }
  if (open) window.location.hash = "";
  scheduleRender("list");
  countsSoon(0);
  refreshMeSoon();   // an open chat of theirs held a slot: it is free again
}
