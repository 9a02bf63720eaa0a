import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import {
  S, activityOf, addUnread, agentName, inView, isAdmin, isMine, loadPrefs, previewText, resetState, savePrefs,
  sortedIn, unreadCount, visitorName, waitText,
} from "../js/state.js";

const ME = { id: "a_me", name: "Ada", role: "agent" };
const conv = (fields) => Object.assign({ id: "c_1", status: "open", visitor: { id: "v_1234abcd" } }, fields);
const minutesAgo = (m) => new Date(Date.now() - m * 60000 - 1000).toISOString();

beforeEach(() => {
  resetState();
  S.me = ME;
  S.team = [ME, { id: "a_bo", name: "Bo" }];
});

test("visitorName: the name given, else a short one from the visitor id", () => {
  assert.equal(visitorName(conv({ visitor: { id: "v_1234abcd", name: "Vera" } })), "Vera");
  assert.equal(visitorName(conv()), "Visitor 1234");
  assert.equal(visitorName(null), "Visitor ");
});

test("agentName: you, a colleague, someone the team list does not know", () => {
  assert.equal(agentName("a_me"), "Ada (you)");
  assert.equal(agentName("a_bo"), "Bo");
  assert.equal(agentName("a_gone"), "Another agent");
  assert.equal(agentName(null), "");
});

test("inView: each view's rule, Mine being this agent's open and pending chats", () => {
  const queued = conv({ status: "queued" });
  const mineOpen = conv({ assignee_id: "a_me" });
  const minePending = conv({ status: "pending", assignee_id: "a_me" });
  const mineSolved = conv({ status: "solved", assignee_id: "a_me" });
  const hers = conv({ assignee_id: "a_bo" });
  assert.deepEqual([queued, mineOpen, hers].map((c) => inView(c, "unassigned")), [true, false, false]);
  assert.deepEqual([mineOpen, minePending, mineSolved, hers].map(isMine), [true, true, false, false]);
  assert.equal(inView(mineSolved, "solved"), true);
  assert.equal(inView(minePending, "open"), false);
  assert.equal(inView(queued, "all"), true);
  S.me = null;
  assert.equal(isMine(mineOpen), false);
});

test("isAdmin follows the signed-in agent's role", () => {
  assert.equal(isAdmin(), false);
  S.me = Object.assign({}, ME, { role: "admin" });
  assert.equal(isAdmin(), true);
  S.me = null;
  assert.equal(isAdmin(), false);
});

test("activityOf: the last activity, else the last update, else the start", () => {
  assert.equal(activityOf({ activity_at: "3", updated_at: "2", created_at: "1" }), "3");
  assert.equal(activityOf({ updated_at: "2", created_at: "1" }), "2");
  assert.equal(activityOf({ created_at: "1" }), "1");
  assert.equal(activityOf(null), "");
});

test("waitText: how long a queued chat has waited", () => {
  assert.equal(waitText(conv({ status: "open", queued_at: minutesAgo(5) })), "");
  assert.equal(waitText(conv({ status: "queued", queued_at: new Date().toISOString() })), "Waiting <1 min");
  assert.equal(waitText(conv({ status: "queued", queued_at: minutesAgo(5) })), "Waiting 5 min");
  assert.equal(waitText(conv({ status: "queued", queued_at: minutesAgo(125) })), "Waiting 2 h 5 min");
  assert.equal(waitText(conv({ status: "queued", queued_at: minutesAgo(120) })), "Waiting 2 h");
  assert.equal(waitText(conv({ status: "queued", created_at: minutesAgo(3) })), "Waiting 3 min");
  assert.equal(waitText(conv({ status: "queued" })), "");
});

test("unread messages count once per seq", () => {
  addUnread("c_1", [3, 4]);
  addUnread("c_1", [4, 5, "6"]);
  addUnread("c_2", []);
  assert.equal(unreadCount("c_1"), 3);
  assert.equal(unreadCount("c_2"), 0);
  assert.equal(S.unread.has("c_2"), false);
});

test("sortedIn: Unassigned longest waiting first; other views last activity first; then by id", () => {
  for (const c of [
    conv({ id: "c_a", status: "queued", queued_at: "2026-01-01T09:00:00.000Z", activity_at: "2026-01-01T10:00:00Z" }),
    conv({ id: "c_b", status: "queued", queued_at: "2026-01-01T11:00:00.000Z", activity_at: "2026-01-01T12:00:00Z" }),
    conv({ id: "c_c", status: "queued", queued_at: "2026-01-01T08:00:00.000Z", activity_at: "2026-01-01T10:00:00Z" }),
    conv({ id: "c_d", status: "open", activity_at: "2026-01-01T13:00:00Z" }),
  ]) S.convs.set(c.id, c);
  // issue 13, defect 9: the chat waiting longest comes first, even when another was written to since
  assert.deepEqual(sortedIn("unassigned").map((c) => c.id), ["c_c", "c_a", "c_b"]);
  assert.deepEqual(sortedIn("all").map((c) => c.id), ["c_d", "c_b", "c_c", "c_a"]);
});

test("previewText: the title, else the last message with who wrote it, else the status", () => {
  const last = (fields) => ({ last_message: Object.assign({ seq: 2, text: "Hello" }, fields), last_seq: 2 });
  assert.equal(previewText(conv(Object.assign({ title: "Refund" }, last({ kind: "visitor" })))), "Refund");
  assert.equal(previewText(conv(last({ kind: "visitor" }))), "Hello");
  assert.equal(previewText(conv(last({ kind: "agent", author_id: "a_me" }))), "You: Hello");
  assert.equal(previewText(conv(last({ kind: "agent", author_id: "a_bo" }))), "Agent: Hello");
  assert.equal(previewText(conv(Object.assign({ assignee_id: "a_me" }, last({ kind: "agent" })))), "You: Hello");
  assert.equal(previewText(conv(last({ kind: "bot" }))), "Bot: Hello");
  assert.equal(previewText(conv({ last_seq: 0 })), "No messages yet");
  assert.equal(previewText(conv({ last_seq: 3, status: "pending", assignee_id: "a_bo" })), "Pending · Bo");
});

test("resetState forgets the session's data but not the preferences", () => {
  S.convs.set("c_1", conv());
  S.activeId = "c_1";
  S.page = "settings";
  S.prefs.sound = true;
  resetState();
  assert.equal(S.me, null);
  assert.equal(S.convs.size, 0);
  assert.equal(S.activeId, null);
  assert.equal(S.page, "inbox");
  assert.equal(S.viewMeta.unassigned.loaded, false);
  assert.equal(S.prefs.sound, true);
});

test("preferences survive without any storage (memory fallback)", () => {
  // Node has no window: the store falls back to memory, as a browser that blocks storage does.
  loadPrefs();
  assert.deepEqual(S.prefs, { presenceByAgent: {}, sound: false, view: "unassigned" });
  S.prefs.view = "mine";
  savePrefs();
  S.prefs = null;
  loadPrefs();
  assert.equal(S.prefs.view, "mine");
});
