// The rules of web/console/js (docs: README, "The agent console"): loading a module touches neither the
// page nor storage; main.js starts everything; the socket and the render scheduler import none of the
// modules that handle what they report or draw; no module grows past ~500 lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const JS = resolve(dirname(fileURLToPath(import.meta.url)), "../js");

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".js") ? [join(dir, entry.name)] : []);
}
const files = walk(JS).sort();
const name = (file) => relative(JS, file).split("\\").join("/");

/** module -> the modules it imports (as paths under js/). */
function importsOf(file) {
  const source = readFileSync(file, "utf8");
  return Array.from(source.matchAll(/^import\s[^"']*["']([^"']+)["']/gm), (m) => name(resolve(dirname(file), m[1])));
}

test("every module but main.js loads without a page, a window or storage", async () => {
  assert.equal(typeof globalThis.document, "undefined");
  assert.equal(typeof globalThis.window, "undefined");
  for (const file of files) if (name(file) !== "main.js") await import(pathToFileURL(file).href);
});

test("main.js starts the console once the page is parsed, and does nothing else on load", async () => {
  const touched = [];
  const listeners = [];
  globalThis.document = new Proxy({}, {
    get(_, key) {
      touched.push(key);
      if (key === "readyState") return "loading";
      if (key === "addEventListener") return (type, fn) => listeners.push([type, typeof fn]);
      throw new Error("main.js touched document." + String(key) + " while loading");
    },
  });
  try {
    await import(pathToFileURL(join(JS, "main.js")).href);
  } finally {
    delete globalThis.document;
  }
  assert.deepEqual(touched, ["readyState", "addEventListener"]);
  assert.deepEqual(listeners, [["DOMContentLoaded", "function"]]);
});

test("the socket and the render scheduler import none of their handlers", () => {
  const graph = Object.fromEntries(files.map((f) => [name(f), importsOf(f)]));
  assert.deepEqual(graph["render.js"], ["state.js"]);
  assert.deepEqual(graph["live.js"].sort(), ["api.js", "constants.js", "errors.js", "state.js"]);
  for (const leaf of ["constants.js", "links.js", "storage.js", "text.js", "time.js"]) assert.deepEqual(graph[leaf], [], leaf);
  for (const [module, imports] of Object.entries(graph)) assert.ok(!imports.includes("main.js"), module + " imports main.js");
  for (const imports of Object.values(graph)) for (const target of imports) assert.ok(target in graph, "no module " + target);
});

test("no module is over 500 lines", () => {
  for (const file of files) {
    const lines = readFileSync(file, "utf8").split("\n").length;
    assert.ok(lines <= 500, name(file) + " has " + lines + " lines");
  }
});
