// AssemblyScript clients (examples/assemblyscript, built by its build.mjs with the pinned asc):
// a real program (strings, arrays, maps, sets, classes) whose memory is wall-e's and whose
// runtime (rt/wall-e.ts: asc's collector over wall-e's allocator) allocates through wall-e's
// imports, in Node and in headless Chromium, with the same output as the same program on asc's
// own runtime; and the original WALL-E's usage (its README's JS, its API from AssemblyScript).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, extname } from "node:path";
import { chromium } from "playwright-core";
import { chromiumPath, launchChromium, pkgDir, rootDir } from "../testing/helpers.js";
import { artifact, wallE } from "../testing/clients.js";
import { load, loadAssemblyScript, asString, reserveRange } from "../wall-e.js";

const asDir = join(rootDir, "examples/assemblyscript");
const built = (name) => artifact(`examples/assemblyscript/build/${name}`, "node examples/assemblyscript/build.mjs");
const abort = () => {
  throw new Error("abort");
};

/** The program's output on asc's own runtime (its own memory, TLSF): the reference. */
async function reference(seed, rounds) {
  const { instance } = await WebAssembly.instantiate(built("program.default.wasm"), { env: { abort } });
  return asString(instance.exports.memory, instance.exports.run(seed, rounds));
}

test("the AssemblyScript module imports wall-e's memory and allocator and owns no memory", () => {
  const module = new WebAssembly.Module(built("program.wasm"));
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
  assert.deepEqual(imports, ["env.abort:function", "env.memory:memory", "wall-e.allocate:function",
    "wall-e.deallocate:function", "wall-e.reallocate:function"]);
});

test("a real AssemblyScript program on wall-e returns what it returns on asc's own runtime; the collector frees through wall-e", async () => {
  const heap = await load(wallE.stats());
  const as = await loadAssemblyScript(heap, built("program.wasm"));
  assert.equal(as.memoryBase, 12288, "asc --memoryBase 12288");
  assert.ok(as.reserved <= as.memoryBase && as.reserved + heap.sizeOf(as.reserved) >= as.heapBase, "one block covers the static range");
  const e = heap.exports;
  for (const [seed, rounds] of [[42, 2000], [7, 300]]) {
    const out = as.string(as.exports.run(seed, rounds));
    assert.equal(out, await reference(seed, rounds), `run(${seed}, ${rounds})`);
    assert.match(out, /^0 /);
  }
  assert.equal(e.validate(), 0, "the heap walks clean while the program's objects are live");
  assert.ok(e.stat(2) > 100, "the program's objects are wall-e blocks");
  as.exports.collect();
  as.exports.collect();
  assert.equal(e.validate(), 0);
  assert.equal(e.stat(2), 1, "after a full collection only the reserved static range is in use: every object was freed through wall-e");
  assert.equal(e.stat(1), heap.sizeOf(as.reserved));
  // The host shares the heap: its blocks and the program's never overlap.
  const host = heap.allocFrom("host");
  as.exports.run(1, 100);
  assert.equal(heap.readString(host), "host");
  assert.ok(host > as.heapBase);
});

test("the original WALL-E's API (allocate/deallocate/reallocate/size from AssemblyScript) works unchanged on wall-e", async () => {
  const heap = await load(wallE.stats());
  const seed = await loadAssemblyScript(heap, built("seed.wasm"));
  const n = 300;
  // What blocks(n) computes, recomputed here: the even blocks' first i+1 values and their size.
  let sum = 0n;
  for (let i = 0; i < n; i += 2) {
    for (let j = 0; j <= i; j++) sum += BigInt(i * 1000 + j);
    sum += BigInt((i + 1) * 8);
  }
  assert.equal(seed.exports.blocks(n), sum);
  assert.equal(heap.exports.validate(), 0);
  assert.equal(heap.exports.stat(2), 1, "every block blocks() allocated was freed: only the reserved range is left");
});

test("the static range is refused when wall-e already handed out memory there", async () => {
  const heap = await load(wallE.default());
  heap.alloc(64 * 1024); // the heap's top is now above 12288
  await assert.rejects(loadAssemblyScript(heap, built("program.wasm")), (e) => e.code === "BAD_MODULE" && /fresh wall-e/.test(e.message));
  const fresh = await load(wallE.default());
  const block = reserveRange(fresh, 16384, 20000);
  assert.ok(block === 16384, "the covering block's payload starts exactly at the range");
  assert.equal(fresh.isLive(block), true);
  // The freed filler (some 10 KiB) sits in a medium bin of wall-e's cache: it serves requests
  // of its size at once, and goes back to the lists (for any request) before memory grows.
  const taken = [];
  let below = 0;
  while (taken.length < 4096 && !below) {
    const p = fresh.alloc(64);
    assert.ok(p !== 0);
    if (p < 16384) below = p;
    else taken.push(p);
  }
  assert.ok(below > 0, "the filler below the range was freed for later blocks");
  assert.equal(fresh.isLive(block), true);
});

test("a module not built for wall-e is refused", async () => {
  const heap = await load(wallE.default());
  await assert.rejects(loadAssemblyScript(heap, built("program.default.wasm")), (e) => e.code === "BAD_MODULE");
});

// Headless Chromium: examples/assemblyscript/index.html (the seed's README snippet, the program,
// the reference and the seed's API), served with the loader and the built modules.
let server;
let base;
let browser;
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

before(async () => {
  built("program.wasm");
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (set CHROMIUM=/path/to/chromium)`);
  server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://localhost").pathname;
    const file = path === "/" ? join(asDir, "index.html")
      : path === "/wall-e.wasm" ? join(pkgDir, "wall-e.wasm")
      : ["/pkg/wall-e.js", "/pkg/clients.js", "/pkg/heapmap.js", "/pkg/wall-e.wasm"].includes(path) ? join(pkgDir, path.slice(5))
      : /^\/build\/[a-z.]+\.wasm$/.test(path) ? join(asDir, path) : null;
    if (!file || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[extname(file)], "cache-control": "no-store" }).end(await readFile(file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
});

test("in headless Chromium: the seed's README usage unchanged, the program equal to asc's own runtime, the seed's API", { timeout: 120_000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base);
  await page.waitForFunction(() => window.results && (window.results.done || window.results.error), null, { timeout: 90_000 });
  const r = await page.evaluate(() => window.results);
  await page.close();
  assert.equal(r.error, undefined);
  assert.deepEqual(errors, []);
  assert.deepEqual(r.seedUsage, { size: 4000, kept: "hello wall-e", zero: 0, freed: 0 });
  assert.equal(r.program, r.reference, "wall-e runtime and asc's runtime agree in Chromium");
  assert.equal(r.program, await reference(42, 2000), "and with Node");
  assert.equal(r.liveAfterCollect, true, "the reserved range stays");
  let sum = 0n;
  for (let i = 0; i < 300; i += 2) {
    for (let j = 0; j <= i; j++) sum += BigInt(i * 1000 + j);
    sum += BigInt((i + 1) * 8);
  }
  assert.equal(r.seedBlocks, String(sum));
});
