// node --test web/console/test/  (pure modules: no DOM, no storage)
import { test } from "node:test";
import assert from "node:assert/strict";
import { notifyState } from "../js/notify.js";

test("notifyState: the agent's choice counts only where the browser allows notifications", () => {
  assert.equal(notifyState("unsupported", "on"), "unsupported");
  for (const choice of [undefined, "on", "off"]) assert.equal(notifyState("denied", choice), "blocked");
  assert.equal(notifyState("granted", "on"), "on");
  assert.equal(notifyState("granted", "off"), "off");
  assert.equal(notifyState("default", "off"), "off");        // said no here: never asked again
  assert.equal(notifyState("default", undefined), "ask");    // not chosen yet: the prompt
  assert.equal(notifyState("granted", undefined), "ask");    // allowed for the page, but this agent never said
  assert.equal(notifyState("default", "on"), "ask");         // the browser forgot its permission: ask again
});
