/* Where the links are in a message: the one rule the console and the widget share.
 *
 * The console imports this module; the widget's build (web/widget/build.mjs) puts the same
 * declarations, without `export`, inside the widget's script. So a message reads the same on both
 * sides: only http(s) URLs become links, a link ends at white space, quotes and angle brackets, and
 * trailing punctuation stays with the sentence. Declarations only: nothing runs on load. */

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
