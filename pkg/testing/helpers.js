// Shared by the tests in ../test (kept outside test/ so `node --test` does not run it as a test).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

export const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const rootDir = resolve(pkgDir, "..");
export const wasmPath = resolve(pkgDir, "wall-e.wasm");

/** The bytes of the real pkg/wall-e.wasm; throws a clear error when it has not been built. */
export function wasmBytes() {
  if (!existsSync(wasmPath)) {
    throw new Error(`${wasmPath} is missing: build it first with \`node scripts/build.mjs\` (or \`make build\`) from the repo root`);
  }
  return readFileSync(wasmPath);
}

/** Asserts that `fn` throws a WallEError with the given code (sync). */
export function throwsCode(assert, fn, code) {
  assert.throws(fn, (e) => e && e.name === "WallEError" && e.code === code, `expected WallEError ${code}`);
}

/** Asserts that the promise rejects with a WallEError with the given code. */
export async function rejectsCode(assert, promise, code) {
  await assert.rejects(promise, (e) => e && e.name === "WallEError" && e.code === code, `expected WallEError ${code}`);
}

/** The Chromium the browser tests drive (Debian's, or `CHROMIUM=/path`). */
export const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

/** Headless Chromium as root on a machine without a display, as the browser tests launch it. */
export async function launchChromium(chromium) {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 120_000,
  });
}

/** Serves files on 127.0.0.1 for a browser test and launches Chromium: `lookup(pathname)` gives
 * `{ file, type, isolated }` (isolated: with the COOP/COEP headers that make SharedArrayBuffer
 * exist) or null (404). Returns `{ base, browser, close }`. */
export async function servePages(chromium, lookup) {
  const { createServer } = await import("node:http");
  const { readFile } = await import("node:fs/promises");
  const server = createServer(async (req, res) => {
    const found = lookup(new URL(req.url, "http://localhost").pathname);
    if (!found) {
      res.writeHead(404).end();
      return;
    }
    const headers = { "content-type": found.type, "cache-control": "no-store" };
    if (found.isolated) {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
      headers["cross-origin-resource-policy"] = "same-origin";
    }
    res.writeHead(200, headers).end(await readFile(found.file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  let browser;
  try {
    browser = await launchChromium(chromium);
  } catch (e) {
    server.close();
    throw e;
  }
  const close = async () => {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  };
  return { base, browser, close };
}
