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
