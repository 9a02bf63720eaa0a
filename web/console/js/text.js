/* Pure text rules: an avatar's initials and hue. (Where the links are in a message: links.js.) */

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
