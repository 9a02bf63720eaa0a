/* What the settings forms share: reading their fields and showing the API's refusal in them. */
import { $, show } from "../dom.js";
import { apiMessage } from "../errors.js";

/** A number field's value: a number when it is one, null when empty, else the text (the server says why). */
export function numberField(input) {
  const raw = input.value.trim();
  if (!raw) return null;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

export function splitList(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}

/** Show the API's refusal in the form and put the cursor in the field it names. */
export function formError(box, err, fields) {
  box.textContent = apiMessage(err);
  show(box, true);
  const id = err && err.field && fields[err.field];
  const input = id && $(id);
  if (input && !input.disabled) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    if (typeof input.select === "function" && input.type !== "checkbox") { try { input.select(); } catch (e) { /* not selectable */ } }
  }
}
