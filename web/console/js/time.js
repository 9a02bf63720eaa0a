/* Times as the console shows them ("14:05", "3m", "Mar 4, 2026, 14:05"), in the browser's locale. */

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayClock = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function parseTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : new Date(t);
}

export function messageTime(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  return d.toDateString() === new Date().toDateString() ? clock.format(d) : dayClock.format(d);
}

export function ago(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (s < 45) return "now";
  if (s < 3600) return Math.round(s / 60) + "m";
  if (s < 86400) return Math.round(s / 3600) + "h";
  if (s < 7 * 86400) return Math.round(s / 86400) + "d";
  return shortDay.format(d);
}

/** ago() as the end of a sentence ("Last seen …"): "just now", "5m ago", "3h ago", "2d ago", then the day. */
export function agoText(iso) {
  const short = ago(iso);
  if (short === "now") return "just now";
  return /^\d+[mhd]$/.test(short) ? short + " ago" : short;
}

export function dateText(iso) {
  const d = parseTime(iso);
  return d ? fullDate.format(d) : "";
}

/** "Mar 4": the day of a timestamp (today's when it has none). */
export function dayText(iso) {
  return shortDay.format(parseTime(iso) || new Date());
}
