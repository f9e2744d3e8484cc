// Shared by the client tests (test/c-client.test.js, test/assemblyscript.test.js): the built
// artifacts they load, with a clear message when one is missing.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { rootDir } from "./helpers.js";

/** The bytes of a file under the repo root; throws saying how to build it when it is missing. */
export function artifact(relative, how = "make test-clients") {
  const path = resolve(rootDir, relative);
  if (!existsSync(path)) throw new Error(`${path} is missing: build it with \`${how}\` from the repo root`);
  return readFileSync(path);
}

/** wall-e's builds: `stats` adds validate()/stat(i), `checked` traps on bad input with a reason. */
export const wallE = {
  default: () => artifact("pkg/wall-e.wasm", "node scripts/build.mjs"),
  stats: () => artifact("target/wall-e-stats.wasm", "node scripts/build.mjs --features stats --out target/wall-e-stats.wasm"),
  checked: () => artifact("target/wall-e-checked.wasm", "node scripts/build.mjs --features checked --out target/wall-e-checked.wasm"),
};

/** The NUL-terminated string at `p` in the heap's memory (within the live block at `p`). */
export function cString(heap, p) {
  const bytes = heap.bytes(p);
  const end = bytes.indexOf(0);
  if (end < 0) throw new Error(`block ${p} holds no NUL-terminated string`);
  return new TextDecoder().decode(bytes.subarray(0, end));
}
