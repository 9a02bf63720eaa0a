/* The bot's live preview (bot/page.js, and ../bot-preview.js in the page it frames): the address of the
 * preview page for a site and a preview ticket, and the widget's script tag that page writes. The ticket
 * travels in the address's fragment, which browsers never send to a server. Pure: no DOM here. */

/** bot-preview.html's address (relative to the console) for a preview of `site` with `ticket`, in `locale`. */
export function previewAddress(site, ticket, locale) {
  return "bot-preview.html#" + new URLSearchParams({ site: site, ticket: ticket, locale: locale || "en" }).toString();
}

/** What the preview page read from its fragment: {site, ticket, locale}, null when a part is missing. */
export function previewParams(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const site = params.get("site"), ticket = params.get("ticket");
  if (!site || !ticket) return null;
  return { site: site, ticket: ticket, locale: params.get("locale") === "fr" ? "fr" : "en" };
}

/** The widget's script tag for the preview: its `src` (config.js's `widget`, else the widget served beside the
 * console, as the deploy and the local stack both do: /widget/widget.js) and its data- attributes (the API
 * only when config.js names one; the widget otherwise talks to where its script comes from). */
export function widgetTag(raw, pageUrl, params) {
  const src = (raw && raw.widget) || new URL("../widget/widget.js", pageUrl).href;
  const data = { siteKey: params.site, preview: params.ticket, locale: params.locale };
  if (raw && raw.api) data.api = String(raw.api).replace(/\/+$/, "");
  return { src: src, data: data };
}
