// The heap map page (examples/web/heapmap.html) in headless Chromium: the workload runs on the
// traced build, the page paints the heap on a canvas, and a screenshot of the canvas is decoded
// here: the pixels of each color, times the bytes per pixel, must be the heap's own figures
// (`stat(i)`): free and room exactly (their blocks are 8-byte multiples), used within half a
// pixel per used block (logical sizes end anywhere). Then the same page with a heap corrupted
// from JS shows the address validate() reports, without a page error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { chromiumPath, launchChromium, pkgDir, rootDir } from "../testing/helpers.js";
import { decodePng, countColors } from "../testing/png.js";
import { startServer } from "../../examples/web/serve.mjs";

let site;
let browser;

before(async () => {
  assert.ok(existsSync(resolve(pkgDir, "wall-e.trace.wasm")), "pkg/wall-e.trace.wasm is missing: `make build`");
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}`);
  site = await startServer();
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await site?.close();
});

async function runPage(query) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${site.url}heapmap.html?${query}`, { waitUntil: "load" });
  await page.waitForFunction(() => window.heapMap && window.heapMap.done, null, { timeout: 120_000 });
  const result = await page.evaluate(() => window.heapMap);
  // The canvas at a whole-pixel position (the page's text may leave it at a fractional one,
  // which would resample its pixels), one canvas pixel per screen pixel.
  const { width, height } = await page.evaluate(() => {
    const map = document.querySelector("#map");
    Object.assign(map.style, { position: "fixed", left: "0px", top: "0px", zIndex: 10, outline: "none" });
    return { width: map.width, height: map.height };
  });
  const png = await page.screenshot({ clip: { x: 0, y: 0, width, height } });
  const status = await page.textContent("#status");
  return { page, errors, result, png, status };
}

test("the heap map's colored pixels are the heap's own figures", { timeout: 180_000 }, async () => {
  const { page, errors, result, png, status } = await runPage("steps=40&seed=7&delay=0");
  mkdirSync(join(rootDir, "target/browser"), { recursive: true });
  writeFileSync(join(rootDir, "target/browser/heapmap.png"), png);
  await page.close();
  assert.equal(result.error, undefined);
  assert.deepEqual(errors, []);
  assert.match(status, /^DONE/);
  assert.equal(result.validate, 0);
  const [heapBytes, usedBytes, usedBlocks, freeBytes, , , room] = result.stats;
  const image = decodePng(png);
  assert.equal(image.width, result.width);
  assert.equal(image.height, result.height);
  const { counts, other } = countColors(image, result.colors);
  assert.equal(other, 0, "every pixel has a color of the legend");
  // The screenshot is what the layout computed.
  for (const [name, n] of Object.entries(result.pixels)) assert.equal(counts[name], n, `${name} pixels`);
  const bpp = result.bytesPerPixel;
  assert.equal(bpp, 8, "the workload's heap fits at 8 bytes a pixel");
  assert.ok(usedBlocks > 100 && usedBytes > 10_000, `a real heap: ${usedBlocks} blocks, ${usedBytes} bytes`);
  assert.equal((counts.free + counts.spare) * bpp, freeBytes, "free pixels = stat(3)");
  assert.equal(counts.room * bpp, room, "room pixels = stat(6)");
  assert.ok(Math.abs(counts.used * bpp - usedBytes) <= usedBlocks * bpp / 2, `used pixels ${counts.used * bpp} B vs stat(1) ${usedBytes} B`);
  const heapPixels = image.width * image.height - counts.outside;
  assert.equal(heapPixels * bpp, heapBytes, "the heap's pixels = stat(0)");
});

test("the page shows a heap corrupted by a write past a block: validate()'s address, no crash", { timeout: 180_000 }, async () => {
  const { page, errors, result, png, status } = await runPage("steps=10&seed=3&delay=0&corrupt=1");
  writeFileSync(join(rootDir, "target/browser/heapmap-corrupt.png"), png);
  await page.close();
  assert.deepEqual(errors, []);
  assert.equal(result.error, undefined);
  assert.ok(result.validate > 0, "validate() sees the corruption");
  assert.equal(result.corrupt, result.validate, "the map reports validate()'s address");
  assert.deepEqual(result.liveError, { code: "CORRUPT", at: result.validate });
  assert.equal(status, `CORRUPT at 0x${result.validate.toString(16)}`);
  assert.ok(result.validate > result.victim, "the corrupt header is past the block written over");
  const { counts } = countColors(decodePng(png), result.colors);
  assert.ok(counts.corrupt > 0, "the map circles the address");
});
