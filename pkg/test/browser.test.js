// The example page (examples/web) in headless Chromium driven by playwright-core: the page loads
// wall-e.wasm through the loader with instantiateStreaming and shows its checks in the DOM.
// Saves a screenshot to target/browser/wall-e-page.png (repo root).
// Chromium is the system one (CHROMIUM env var, default /usr/bin/chromium); nothing is downloaded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumPath, launchChromium, rootDir, wasmBytes } from "../testing/helpers.js";
import { startServer } from "../../examples/web/serve.mjs";

const executablePath = chromiumPath;
const screenshot = join(rootDir, "target/browser/wall-e-page.png");
let site;
let browser;

before(async () => {
  wasmBytes(); // fails clearly when pkg/wall-e.wasm has not been built
  assert.ok(existsSync(executablePath), `no Chromium at ${executablePath} (set CHROMIUM=/path/to/chromium)`);
  site = await startServer();
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await site?.close();
});

test("the static server serves the page, the loader and the wasm with the right types", async () => {
  const types = {};
  for (const path of ["", "main.js", "pkg/wall-e.js", "pkg/wall-e.wasm", "wrong-type/wall-e.wasm"]) {
    const res = await fetch(site.url + path);
    assert.equal(res.status, 200, path);
    types[path] = res.headers.get("content-type");
    await res.arrayBuffer();
  }
  assert.match(types[""], /^text\/html/);
  assert.match(types["main.js"], /^text\/javascript/);
  assert.match(types["pkg/wall-e.js"], /^text\/javascript/);
  assert.equal(types["pkg/wall-e.wasm"], "application/wasm");
  assert.equal(types["wrong-type/wall-e.wasm"], "application/octet-stream");
  for (const path of ["../package.json", "pkg/package.json", "pkg/test/api.test.js", "..%2fserve.mjs", "%2e%2e/%2e%2e/Cargo.toml"]) {
    const res = await fetch(site.url + path);
    await res.arrayBuffer();
    assert.equal(res.status, 404, `${path} must not be served`);
  }
});

test("the example page passes in headless Chromium and shows its results", { timeout: 180_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const wasmResponses = [];
  page.on("response", (r) => r.url().endsWith(".wasm") && wasmResponses.push([new URL(r.url()).pathname, r.headers()["content-type"]]));

  await page.goto(site.url, { waitUntil: "load" });
  await page.waitForFunction(() => window.wallE && window.wallE.done, null, { timeout: 120_000 });
  const { results, pass } = await page.evaluate(() => window.wallE);
  const status = await page.textContent("#status");
  const rows = await page.$$eval("#results tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));

  mkdirSync(join(rootDir, "target/browser"), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();

  const failed = results.filter((r) => !r.ok).map((r) => `${r.step}: ${r.value}`);
  assert.deepEqual(failed, [], "every check on the page holds");
  assert.equal(pass, true);
  assert.match(status, /^PASS \(\d+ checks\)$/);
  assert.deepEqual(errors, [], "no page errors");
  assert.equal(rows.length, results.length, "every result is a table row");
  assert.ok(rows.length >= 12, `expected the whole tour, got ${rows.length} rows`);
  const byStep = Object.fromEntries(results.map((r) => [r.step, r.value]));
  assert.equal(byStep["load() the wall-e.wasm beside the loader"], "via streaming", "instantiateStreaming was used");
  assert.match(byStep["load() with Content-Type application/octet-stream"], /^via arraybuffer/);
  assert.equal(byStep["read a freed block"], "WallEError NOT_LIVE");
  assert.deepEqual(wasmResponses.sort(), [["/pkg/wall-e.wasm", "application/wasm"], ["/wrong-type/wall-e.wasm", "application/octet-stream"]]);
  assert.ok(statSync(screenshot).size > 5000, "the screenshot was written");
});
