/* The bot preview page (bot-preview.html, framed by the console's bot editor): the real widget's script tag
 * with the site, the preview ticket and the language from this page's fragment (js/bot/embed.js), its
 * panel opened so that the bot greets at once. Runs on load: it is this page's only script. */
import { previewParams, widgetTag } from "./js/bot/embed.js";

const params = previewParams(window.location.hash);
const note = document.getElementById("preview-note");
if (!params) {
  note.textContent = "Nothing to preview: the console gives this page a site and a preview ticket.";
} else {
  if (params.locale === "fr") {
    document.documentElement.lang = "fr";
    note.textContent = "La fenêtre de discussion telle que les visiteurs la voient, avec la version enregistrée du bot.";
  }
  // The snippet's queue (README, the widget's snippet): calls made before the widget has loaded wait in it.
  window.Parley = window.Parley || function () { (window.Parley.q = window.Parley.q || []).push(arguments); };
  window.Parley("open");
  const tag = widgetTag(window.PARLEY_CONFIG || {}, window.location.href, params);
  const script = document.createElement("script");
  script.src = tag.src;
  script.async = true;
  for (const [key, value] of Object.entries(tag.data)) script.dataset[key] = value;
  document.body.appendChild(script);
}
