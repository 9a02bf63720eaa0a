import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig } from "../js/constants.js";

const page = (href) => {
  const url = new URL(href);
  return { origin: url.origin, protocol: url.protocol, host: url.host };
};

test("without config.js the console talks to the page's own origin", () => {
  assert.deepEqual(resolveConfig({}, page("http://127.0.0.1:8000/console/")),
    { api: "http://127.0.0.1:8000", ws: "ws://127.0.0.1:8000/ws" });
  assert.deepEqual(resolveConfig({}, page("https://d1.cloudfront.net/console/")),
    { api: "https://d1.cloudfront.net", ws: "wss://d1.cloudfront.net/ws" });
});

test("config.js wins, without trailing slashes on the API", () => {
  assert.deepEqual(resolveConfig({ api: "https://parley.example//", ws: "wss://ws.example/live" }, page("http://localhost/")),
    { api: "https://parley.example", ws: "wss://ws.example/live" });
});
