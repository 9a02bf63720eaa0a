// node --test web/console/test/  (pure modules: no DOM, no storage)
import { test } from "node:test";
import assert from "node:assert/strict";
import { ago, dateText, dayText, messageTime, parseTime } from "../js/time.js";

const MINUTE = 60 * 1000;
const isoAgo = (ms) => new Date(Date.now() - ms).toISOString();
const format = (options, date) => new Intl.DateTimeFormat(undefined, options).format(date);

test("parseTime reads ISO timestamps and refuses anything else", () => {
  assert.equal(parseTime("2026-03-04T14:05:00Z").getTime(), Date.UTC(2026, 2, 4, 14, 5));
  for (const bad of ["", "soon", null, undefined]) assert.equal(parseTime(bad), null);
});

test("ago: now, minutes, hours, days, then the day", () => {
  assert.equal(ago(isoAgo(10 * 1000)), "now");
  assert.equal(ago(isoAgo(-60 * MINUTE)), "now");   // a clock ahead of ours is not "in the future"
  assert.equal(ago(isoAgo(5 * MINUTE)), "5m");
  assert.equal(ago(isoAgo(3 * 60 * MINUTE)), "3h");
  assert.equal(ago(isoAgo(2 * 24 * 60 * MINUTE)), "2d");
  const old = new Date(Date.now() - 30 * 24 * 60 * MINUTE);
  assert.equal(ago(old.toISOString()), format({ month: "short", day: "numeric" }, old));
  assert.equal(ago("not a time"), "");
});

test("messageTime: the clock today, the day and the clock before", () => {
  const now = new Date();
  assert.equal(messageTime(now.toISOString()), format({ hour: "2-digit", minute: "2-digit" }, now));
  const before = new Date(Date.UTC(2020, 0, 15, 12, 0));
  assert.equal(messageTime(before.toISOString()),
    format({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }, before));
  assert.equal(messageTime(""), "");
});

test("dateText and dayText", () => {
  const d = new Date(Date.UTC(2026, 2, 4, 14, 5));
  assert.equal(dateText(d.toISOString()), format({ dateStyle: "medium", timeStyle: "short" }, d));
  assert.equal(dateText("nope"), "");
  assert.equal(dayText(d.toISOString()), format({ month: "short", day: "numeric" }, d));
  assert.equal(dayText(undefined), format({ month: "short", day: "numeric" }, new Date()));   // today
});
