/* Pure text rules: where the links are in a message, and an avatar's initials and hue. */

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** A text cut into its plain runs (strings) and its http(s) links ({href, label}), in order. */
export function linkParts(text) {
  const parts = [];
  let last = 0;
  const source = String(text);
  for (const match of source.matchAll(URL_RE)) {
    let url = match[0];
    // Trailing punctuation belongs to the sentence, not the link.
    const trail = url.match(/[.,;:!?)\]}]+$/);
    if (trail) url = url.slice(0, -trail[0].length);
    const start = match.index;
    const safe = safeHttpUrl(url);
    if (!safe) continue;
    if (start > last) parts.push(source.slice(last, start));
    parts.push({ href: safe, label: url });
    last = start + url.length;
  }
  if (last < source.length) parts.push(source.slice(last));
  return parts;
}

export function safeHttpUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter((w) => /^\p{L}/u.test(w));
  if (!words.length) return "?";
  const first = Array.from(words[0])[0];
  const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : "";
  return (first + last).toUpperCase();
}

export function hue(seed) {
  let h = 0;
  for (const ch of String(seed || "")) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}
