// node --test web/console/test/  (pure modules: no DOM, no storage)
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTeams, parseTeams, textsSetting } from "../js/admin/site-texts.js";

test("parseTeams: one team per line, its name lowercased, the label after the first colon", () => {
  assert.deepEqual(parseTeams("Billing: our billing team\n\n  tech : the experts: level 2 \n"),
    { teams: { billing: "our billing team", tech: "the experts: level 2" }, bad: null });
  assert.deepEqual(parseTeams(""), { teams: {}, bad: null });
  assert.equal(parseTeams("billing our team").bad, "billing our team");
  assert.equal(parseTeams(": nameless").bad, ": nameless");
  assert.equal(parseTeams("billing:").bad, "billing:");
});

test("formatTeams is parseTeams' inverse", () => {
  const teams = { billing: "our billing team", tech: "nos experts" };
  assert.deepEqual(parseTeams(formatTeams(teams)).teams, teams);
  assert.equal(formatTeams(null), "");
});

test("textsSetting drops what is empty, and is null when nothing is left", () => {
  assert.equal(textsSetting({ en: { greeting: "  ", teams: {} }, fr: {} }), null);
  assert.deepEqual(textsSetting({ en: { teams: { tech: "our experts" } }, fr: { greeting: " Bonjour ! " } }),
    { en: { teams: { tech: "our experts" } }, fr: { greeting: "Bonjour !" } });
});
