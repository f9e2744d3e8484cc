// `WallE` as the #[global_allocator] of a threaded Rust program in headless Chromium's Web
// Workers: examples/threads-bindgen (std built with atomics, nightly), bound by `wasm-bindgen
// --target web`, on a cross-origin isolated page (testing/walle-threads.html) whose workers each
// load the app over one shared memory through wasm-bindgen's own thread start-up. The scenarios
// of testing/walle-scenarios.js, as test/walle-threads.test.js runs them on Node workers.
// Chromium: CHROMIUM env var, default /usr/bin/chromium (nothing is downloaded).
// `WALL_E_THREADS_BINDGEN_WASM` points the test at another build of the app.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumPath, pkgDir, servePages } from "../testing/helpers.js";
import { buildApp } from "../testing/walle-build.js";

let close;
let base;
let browser;

before(async () => {
  const app = buildApp("web");
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (set CHROMIUM=/path/to/chromium)`);
  const files = {
    "/testing/walle-threads.html": [join(pkgDir, "testing/walle-threads.html"), "text/html"],
    "/testing/walle-scenarios.js": [join(pkgDir, "testing/walle-scenarios.js"), "text/javascript"],
    "/testing/walle-browser-worker.js": [join(pkgDir, "testing/walle-browser-worker.js"), "text/javascript"],
    "/app/threads_bindgen.js": [join(app, "threads_bindgen.js"), "text/javascript"],
    "/app/threads_bindgen_bg.wasm": [join(app, "threads_bindgen_bg.wasm"), "application/wasm"],
  };
  ({ base, browser, close } = await servePages(chromium, (path) => {
    const file = files[path];
    return file ? { file: file[0], type: file[1], isolated: true } : null;
  }));
});

after(async () => {
  await close?.();
});

async function runScenario(scenario, args, maxPages = 16384) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const query = new URLSearchParams({ scenario, args: JSON.stringify(args), maxPages: String(maxPages) });
  await page.goto(`${base}/testing/walle-threads.html?${query}`, { waitUntil: "load" });
  await page.waitForFunction(() => window.wallEResult, null, { timeout: 240_000 });
  const result = await page.evaluate(() => window.wallEResult);
  await page.close();
  assert.deepEqual(errors, []);
  assert.equal(result.pass, true, result.error);
  console.log(`# Chromium, ${scenario}: ${JSON.stringify(result.result)}`);
  return result.result;
}

test("Web Workers: the random stress, blocks swapped between threads, patterns checked", { timeout: 300_000 }, async () => {
  await runScenario("stress", { n: 4, ops: 300_000 });
});

test("Web Workers: the cross-thread free storm", { timeout: 300_000 }, async () => {
  await runScenario("storm", { n: 4, rounds: 100, batch: 256 });
});

test("Web Workers: out of memory under contention, nothing lost", { timeout: 300_000 }, async () => {
  const r = await runScenario("oom", { n: 4, rounds: 3 }, 512);
  assert.equal(r.pages, 512);
});

test("Web Workers: 100 started and ended in turn, live blocks freed by the next", { timeout: 300_000 }, async () => {
  await runScenario("generations", { n: 100, leave: 50 });
});
