/* The knowledge base's pure rules, for the page (kb/page.js, kb/editor.js) and the conversation's
 * suggested articles (thread/suggestions.js): the list's address, an article's request body from the
 * editor's values, the stats as words (in the console's language, i18n.js), and text put into the
 * composer at the cursor. No DOM here. */
import { t, tn } from "../i18n.js";
import "./texts.js";

export const KB_PAGE = 50;

/** An article's status in words ("Draft"); one the console does not know, as the API wrote it. */
export function statusLabel(status) {
  if (status === "draft") return t("Draft");
  if (status === "published") return t("Published");
  return status;
}

/** An article's language by its name: French is "Français" in either language, as the language menus write it. */
export function localeLabel(locale) {
  if (locale === "en") return t("English");
  if (locale === "fr") return "Français";
  return locale;
}

/** GET /v1/articles with the filters the API knows (status, locale, q: words of the title), a page at a time. */
export function listPath(filters, cursor, limit) {
  const params = new URLSearchParams();
  const f = filters || {};
  if (f.status) params.set("status", f.status);
  if (f.locale) params.set("locale", f.locale);
  const q = String(f.q || "").trim();
  if (q) params.set("q", q);
  params.set("limit", String(limit || KB_PAGE));
  if (cursor) params.set("cursor", cursor);
  return "/v1/articles?" + params.toString();
}

/** The example questions from the editor's lines: trimmed, blanks and repeats dropped, order kept. */
export function cleanQuestions(lines) {
  const out = [];
  for (const line of lines || []) {
    const text = String(line || "").trim();
    if (text && !out.includes(text)) out.push(text);
  }
  return out;
}

/** The body of POST /v1/articles and PUT /v1/articles/{id} (the whole article) from the editor's values.
 * `site_keys` null means every site of the workspace, so it is left out; an empty url is left out too. */
export function articleBody(values, status) {
  const body = {
    title: String(values.title || "").trim(),
    body: String(values.body || ""),
    locale: values.locale,
    questions: cleanQuestions(values.questions),
    status: status,
  };
  const url = String(values.url || "").trim();
  if (url) body.url = url;
  if (Array.isArray(values.site_keys)) body.site_keys = Array.from(new Set(values.site_keys)).sort();
  return body;
}

/** helpful / (helpful + not helpful) as a whole percentage; null before anyone answered. */
export function helpfulPercent(stats) {
  const yes = Number((stats && stats.helpful) || 0), no = Number((stats && stats.not_helpful) || 0);
  return yes + no ? Math.round((100 * yes) / (yes + no)) : null;
}

/** "12 shown · 4 opened · 75% helpful (4 answers)", or "— helpful" before any answer. */
export function statsText(stats) {
  const s = stats || {};
  const pct = helpfulPercent(s);
  const answers = Number(s.helpful || 0) + Number(s.not_helpful || 0);
  return [
    tn(Number(s.shown || 0), "{n} shown", "{n} shown"),
    tn(Number(s.opened || 0), "{n} opened", "{n} opened"),
    pct === null ? t("— helpful") : t("{pct}% helpful ({answers})", { pct: pct, answers: tn(answers, "{n} answer", "{n} answers") }),
  ].join(" · ");
}

/** The list's helpful column: "75%", "—" before any answer. */
export function percentText(stats) {
  const pct = helpfulPercent(stats);
  return pct === null ? "—" : t("{pct}%", { pct: pct });
}

/** Which sites an article applies to, in words. */
export function sitesText(siteKeys) {
  if (siteKeys === null || siteKeys === undefined) return t("All sites");
  if (!siteKeys.length) return t("No site");
  return siteKeys.join(", ");
}

/** What "Insert link" puts in the composer: the article's address, or its title when it has none. */
export function linkText(item) {
  return (item && (item.url || item.title)) || "";
}

/** What "Insert summary" puts in the composer: the title, then the snippet (and the address, if any). */
export function summaryText(item) {
  if (!item) return "";
  const lines = [item.title];
  if (item.snippet) lines.push(item.snippet);
  if (item.url) lines.push(item.url);
  return lines.filter(Boolean).join("\n");
}

/** `text` put into `value` in place of the selection [start, end), a space either side where a word would
 * otherwise touch it; returns the new value and where the cursor goes (after what was put in). */
export function insertAt(value, start, end, text) {
  const v = String(value || "");
  const from = Math.max(0, Math.min(Number.isInteger(start) ? start : v.length, v.length));
  const to = Math.max(from, Math.min(Number.isInteger(end) ? end : from, v.length));
  const before = v.slice(0, from), after = v.slice(to);
  const lead = before && !/\s$/.test(before) ? " " : "";
  const trail = after && !/^\s/.test(after) ? " " : "";
  const put = lead + text + trail;
  return { value: before + put + after, caret: before.length + lead.length + text.length };
}
