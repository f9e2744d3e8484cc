// Calls the wasm-bindgen app through the bindings `wasm-bindgen --target nodejs` wrote into the
// directory given as argument, and checks every answer. Prints `bindgen-app: ok ...` or throws.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(import.meta.url);
const app = require(resolve(process.argv[2], "bindgen_app.js"));

const text = "the quick brown fox jumps over the lazy dog The DOG sleeps ".repeat(2000);
assert.equal(app.word_counts(text).split("\n").slice(0, 3).join("|"), "the 6000|dog 4000|brown 2000");
const data = new Uint8Array(100_000).map((_, i) => i % 256);
const out = app.incremented(data);
assert.equal(out.length, data.length);
assert.ok(out.every((b, i) => b === (i + 1) % 256));
const sum = app.run(3);
assert.equal(app.run(3), sum, "the same work, the same checksum");
assert.equal(app.recurse(300), true, "300 KiB of recursion on the module's own stack");
const used = app.heap_check();
assert.ok(used >= 0, "wall-e's heap walk found corruption");
console.log(`bindgen-app: ok: checksum ${sum}, ${used} used blocks`);
