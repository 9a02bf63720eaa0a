/* A site's texts per language (the `texts` setting, docs/protocol.md §13.3) as the settings form edits
 * them: a greeting per language, and team names visitors read, one "team: label" per line. Pure. */

export const LANGUAGES = ["en", "fr"];

/** "billing: our billing team" lines → { teams: {billing: "our billing team"}, bad: the first line that is not one }. */
export function parseTeams(text) {
  const teams = {};
  for (const raw of String(text || "").split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : "";
    const label = colon > 0 ? line.slice(colon + 1).trim() : "";
    if (!name || !label) return { teams, bad: line };
    teams[name] = label;
  }
  return { teams, bad: null };
}

export function formatTeams(teams) {
  return Object.entries(teams || {}).map(([name, label]) => name + ": " + label).join("\n");
}

/** The form's values → the setting: {lang: {greeting?, teams?}}, languages with nothing dropped; none: null. */
export function textsSetting(byLanguage) {
  const out = {};
  for (const lang of LANGUAGES) {
    const { greeting, teams } = byLanguage[lang] || {};
    const entry = {};
    if (greeting && greeting.trim()) entry.greeting = greeting.trim();
    if (teams && Object.keys(teams).length) entry.teams = teams;
    if (Object.keys(entry).length) out[lang] = entry;
  }
  return Object.keys(out).length ? out : null;
}
