// node --test web/console/test/  (pure modules: no DOM, no storage)
import { test } from "node:test";
import assert from "node:assert/strict";
import { ago, agoText } from "../js/time.js";

const MINUTE = 60 * 1000;
const isoAgo = (ms) => new Date(Date.now() - ms).toISOString();

test("agoText: ago() as the end of a sentence", () => {
  assert.equal(agoText(isoAgo(10 * 1000)), "just now");
  assert.equal(agoText(isoAgo(-5 * MINUTE)), "just now");   // a clock ahead of ours
  assert.equal(agoText(isoAgo(MINUTE)), "1m ago");
  assert.equal(agoText(isoAgo(4 * MINUTE)), "4m ago");
  assert.equal(agoText(isoAgo(3 * 60 * MINUTE)), "3h ago");
  assert.equal(agoText(isoAgo(2 * 24 * 60 * MINUTE)), "2d ago");
  const old = isoAgo(30 * 24 * 60 * MINUTE);
  assert.equal(agoText(old), ago(old));   // "Mar 4", never "Mar 4 ago"
  assert.equal(agoText("not a time"), "");
});
