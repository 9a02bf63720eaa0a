/* The bot page's live preview (bot/page.js): a preview ticket for a saved version (POST
 * /v1/sites/{site_key}/bot/preview), and a new frame of bot-preview.html with it, where the real widget opens
 * a preview session: a fresh conversation that runs that version, enabled or not, and ends where a person
 * would take over. Also the lookup secret's Copy buttons. */
import { $, clear, el } from "../dom.js";
import { apiMessage, toast } from "../errors.js";
import { api } from "../api.js";
import { t } from "../i18n.js";
import { previewAddress } from "./embed.js";

let previews = 0;   // counts the previews begun: an answer for one replaced meanwhile is dropped

/** A fresh conversation in the widget with `version` of `site`'s flow (none saved yet: says so). */
export async function startPreview(site, version) {
  const frame = $("bot-preview-frame");
  const token = ++previews;
  $("bot-preview-restart").disabled = !version;
  clear(frame);
  const state = $("bot-preview-state");
  if (!version) { state.textContent = t("Save the flow to try it here."); return; }
  state.textContent = t("Starting a conversation with version {n}…", { n: version });
  try {
    const data = await api("POST", "/v1/sites/" + encodeURIComponent(site) + "/bot/preview", { version: version });
    if (token !== previews) return;
    frame.appendChild(el("iframe", { src: previewAddress(site, data.ticket, $("bot-preview-locale").value), class: "bot-preview__iframe",
      title: t("The chat widget running version {n} of the bot", { n: data.version }),
      attrs: { sandbox: "allow-scripts allow-same-origin allow-forms allow-popups", referrerpolicy: "no-referrer" } }));
    state.textContent = t("Version {n} in the widget, as a visitor sees it; the preview ends where a person would take over.", { n: data.version });
  } catch (err) {
    if (token === previews) state.textContent = t("The preview could not start: {error}", { error: apiMessage(err) });
  }
}

/** The page left: the widget (and its socket) goes with its frame. */
export function stopPreview() {
  previews++;
  const frame = $("bot-preview-frame");
  if (frame) clear(frame);
}

export async function copyValue(valueId) {
  const node = $(valueId);
  try {
    await navigator.clipboard.writeText(node.textContent);
    toast(t("Copied."), "info");
  } catch (e) {
    const range = document.createRange();   // no clipboard access: select it for Ctrl+C
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    toast(t("Selected: copy it with Ctrl+C."), "info");
  }
}
