/* The composer: replies and private notes, the agent's typing, drafts per conversation, and the
 * outbox of messages waiting for their ack. */
import { TYPING_IDLE_MS } from "../constants.js";
import { $, clear, el, linkify } from "../dom.js";
import { S } from "../state.js";
import { describe, toast } from "../errors.js";
import { live } from "../live.js";
import { scheduleRender } from "../render.js";
import { noteMessage } from "../conversations.js";
import { addMessages } from "./thread.js";
import { renderThreadChrome } from "./chrome.js";
import { cannedKeydown, closeCanned } from "./canned.js";

export function setMode(mode) {
  const form = $("composer");
  form.dataset.mode = mode;
  for (const tab of form.querySelectorAll(".composer__tab")) tab.setAttribute("aria-pressed", tab.dataset.mode === mode ? "true" : "false");
  $("send").textContent = mode === "note" ? "Add note" : "Send";
  if (mode === "note") stopTyping();
  renderThreadChrome();
}

export function saveDraft() {
  if (!S.activeId) return;
  const text = $("composer-text").value;
  const mode = $("composer").dataset.mode;
  if (text || mode === "note") S.drafts.set(S.activeId, { text: text, mode: mode });
  else S.drafts.delete(S.activeId);
}

export function restoreDraft() {
  const draft = S.drafts.get(S.activeId) || { text: "", mode: "reply" };
  $("composer-text").value = draft.text;
  setMode(draft.mode);
}

let typingOn = false;
let typingTimer = null;

export function noteTyping() {
  const id = S.activeId;
  if (!id || $("composer").dataset.mode !== "reply") return;
  if (!$("composer-text").value.trim()) { stopTyping(); return; }
  if (!typingOn) {
    typingOn = true;
    live.notify("typing", { conversation_id: id, state: "on" });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  clearTimeout(typingTimer);
  if (typingOn && S.activeId) live.notify("typing", { conversation_id: S.activeId, state: "off" });
  typingOn = false;
}

function newClientMsgId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

export function submitComposer(event) {
  if (event) event.preventDefault();
  const id = S.activeId;
  const input = $("composer-text");
  const text = input.value.trim();
  if (!id || !text) return;
  if (text.length > 4000) { toast("A message is at most 4,000 characters.", "error"); return; }
  const internal = $("composer").dataset.mode === "note";
  stopTyping();
  const entry = { client_msg_id: newClientMsgId(), conversation_id: id, text: text, internal: internal, state: "sending", error: null };
  S.outbox.push(entry);
  input.value = "";
  S.drafts.delete(id);
  closeCanned();
  renderPending();
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
  deliver(entry);
}

async function deliver(entry) {
  entry.state = "sending";
  entry.error = null;
  renderPending();
  if (!live.isOpen()) { entry.state = "waiting"; renderPending(); return; }
  try {
    const fields = { conversation_id: entry.conversation_id, client_msg_id: entry.client_msg_id, text: entry.text };
    if (entry.internal) fields.internal = true;
    const ack = await live.request("send", fields);
    dropFromOutbox(entry.client_msg_id);
    if (ack.message && S.thread && S.thread.id === ack.message.conversation_id) addMessages([ack.message]);
    else if (ack.message) noteMessage(ack.message);
    scheduleRender("list");
  } catch (err) {
    if (err.code === "disconnected" || err.code === "timeout") {
      entry.state = "waiting";   // sent again, with the same client_msg_id, when the socket is back
    } else {
      entry.state = "failed";
      entry.error = describe(err, "send");
    }
    renderPending();
  }
}

export function flushOutbox() {
  for (const entry of S.outbox) if (entry.state === "waiting" || entry.state === "sending") deliver(entry);
}

export function dropFromOutbox(clientMsgId) {
  const i = S.outbox.findIndex((e) => e.client_msg_id === clientMsgId);
  if (i >= 0) { S.outbox.splice(i, 1); renderPending(); }
}

export function renderPending() {
  const list = $("pending-list");
  clear(list);
  if (!S.thread) return;
  for (const entry of S.outbox) {
    if (entry.conversation_id !== S.thread.id) continue;
    const status = entry.state === "failed" ? "Not sent: " + entry.error : entry.state === "waiting" ? "Waiting for the connection…" : "Sending…";
    list.appendChild(el("div", { class: "msg msg--own msg--pending " + (entry.internal ? "msg--note" : "msg--agent") + (entry.state === "failed" ? " msg--failed" : "") },
      el("div", { class: "msg__meta" },
        el("span", { class: "msg__author", text: "You" }),
        entry.internal ? el("span", { class: "msg__tag", text: "Private note" }) : null),
      el("div", { class: "msg__bubble" }, linkify(entry.text)),
      el("div", { class: "msg__status" },
        el("span", { text: status }),
        entry.state === "failed" ? el("button", { type: "button", class: "link-btn", text: "Retry", on: { click: () => deliver(entry) } }) : null,
        entry.state === "failed" ? el("button", { type: "button", class: "link-btn", text: "Discard", on: { click: () => dropFromOutbox(entry.client_msg_id) } }) : null)));
  }
}

export function composerKeydown(event) {
  if (cannedKeydown(event)) return;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
    event.preventDefault();
    submitComposer();
  }
}
