/* Batched rendering: modules ask for a part ("list", "thread") to be drawn again; the parts asked for
 * are drawn once, together, on the next turn of the event loop. The renderers register here at start
 * (main.js), so this module imports none of them. */
import { S } from "./state.js";

const renderers = [];   // [part, render], drawn in the order they registered
const dirty = new Set();
let renderQueued = false;

export function registerRenderer(part, render) {
  renderers.push([part, render]);
}

export function scheduleRender(part) {
  dirty.add(part);
  if (renderQueued) return;
  renderQueued = true;
  // A timeout, not requestAnimationFrame: the title must change in a hidden tab too.
  setTimeout(() => {
    renderQueued = false;
    const parts = new Set(dirty);
    dirty.clear();
    if (!S.me) return;
    for (const [part, render] of renderers) if (parts.has(part)) render();
  }, 0);
}
