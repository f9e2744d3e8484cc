// The threaded module in headless Chromium: a page served cross-origin isolated (COOP/COEP
// headers, so SharedArrayBuffer exists), whose Web Workers load wall-e.threads.wasm through the
// loader over one shared memory and run the random stress of testing/stress.js at once; the page
// then checks every block and frees them all (testing/threads.html). A page served without the
// headers gets a clear error from createSharedMemory. Chromium: CHROMIUM env var, default
// /usr/bin/chromium (the system one; nothing is downloaded).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumPath, pkgDir, servePages } from "../testing/helpers.js";

const executablePath = chromiumPath;
const files = {
  "/wall-e.js": "text/javascript",
  "/clients.js": "text/javascript",
  "/heapmap.js": "text/javascript", // imported by wall-e.js
  "/wall-e.threads.wasm": "application/wasm",
  "/testing/stress.js": "text/javascript",
  "/testing/scenarios.js": "text/javascript",
  "/testing/browser-worker.js": "text/javascript",
  "/testing/threads.html": "text/html",
};
let close;
let base;
let browser;

before(async () => {
  assert.ok(existsSync(join(pkgDir, "wall-e.threads.wasm")), "pkg/wall-e.threads.wasm is missing: `node scripts/build.mjs --threads`");
  assert.ok(existsSync(executablePath), `no Chromium at ${executablePath} (set CHROMIUM=/path/to/chromium)`);
  // Under /plain/, the same files without the headers.
  ({ base, browser, close } = await servePages(chromium, (pathname) => {
    const isolated = !pathname.startsWith("/plain/");
    const path = isolated ? pathname : pathname.slice("/plain".length);
    return files[path] ? { file: join(pkgDir, path), type: files[path], isolated } : null;
  }));
});

after(async () => {
  await close?.();
});

async function runPage(path) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + path, { waitUntil: "load" });
  await page.waitForFunction(() => window.wallEThreads, null, { timeout: 240_000 });
  const result = await page.evaluate(() => window.wallEThreads);
  await page.close();
  return { result, errors };
}

test("4 Web Workers share one heap in a cross-origin isolated page: random runs checked", { timeout: 300_000 }, async () => {
  const { result, errors } = await runPage("/testing/threads.html?workers=4&ops=100000");
  assert.deepEqual(errors, []);
  assert.equal(result.pass, true, result.error);
  assert.equal(result.workers, 4);
  for (const c of result.counts) assert.equal(c.alloc + c.free + c.realloc + c.size, 100000);
  console.log(`# Chromium: 4 workers x 100000 operations: ${result.ms.join(", ")} ms, ${result.blocks} blocks live at the end`);
});

for (const [scenario, what] of [
  ["storm", "a free storm: 4 Web Workers, every block freed by another than the one that allocated it"],
  ["oom", "out of memory under contention: every worker gets nil, the blocks freed by others, the same capacity again"],
  ["generation", "100 Web Workers started and ended in turn (half terminated): the heap stays bounded"],
]) {
  test(what, { timeout: 240_000 }, async () => {
    const { result, errors } = await runPage(`/testing/threads.html?scenario=${scenario}`);
    assert.deepEqual(errors, []);
    assert.equal(result.pass, true, result.error);
    console.log(`# Chromium: ${JSON.stringify(result)}`);
  });
}

test("without COOP/COEP there is no SharedArrayBuffer, and the page says so", { timeout: 120_000 }, async () => {
  const { result } = await runPage("/plain/testing/threads.html?workers=1&ops=10");
  assert.equal(result.pass, false);
  assert.match(result.error, /not cross-origin isolated/);
});
