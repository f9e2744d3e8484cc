#!/usr/bin/env node
// Builds pkg/wall-e.wasm: the release cdylib, without the linker's `__heap_base`/`__data_end`
// exports, optimised with `wasm-opt` when binaryen is installed. Prints the sizes.
//   node scripts/build.mjs [--small] [--features a,b] [--out path] [--no-opt]
// The default build is tuned for speed (opt-level 3, `wasm-opt -O3`); `--small` for size
// (feature `small`, opt-level "z", `wasm-opt -Oz`), written to pkg/wall-e.small.wasm.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const small = args.includes("--small");
const features = [option("--features", ""), small ? "small" : ""].filter(Boolean).join(",");
const out = resolve(root, option("--out", small ? "pkg/wall-e.small.wasm" : "pkg/wall-e.wasm"));
const optimise = !args.includes("--no-opt");

// Each feature set builds in its own target dir, so concurrent builds never read each other's.
const baseTarget = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : resolve(root, "target");
const targetDir = features ? resolve(baseTarget, "variants", features.replace(/[^a-z0-9]+/g, "-")) : baseTarget;
const cargoArgs = ["build", "--release", "--target", "wasm32-unknown-unknown", "--lib", "--target-dir", targetDir];
if (features) cargoArgs.push("--features", features);
const env = { ...process.env, CARGO_PROFILE_RELEASE_OPT_LEVEL: small ? "z" : "3" };
execFileSync("cargo", cargoArgs, { cwd: root, stdio: "inherit", env });
const raw = readFileSync(resolve(targetDir, "wasm32-unknown-unknown/release/wall_e.wasm"));

// --- keep only the ABI's exports --------------------------------------------------------------
const dropped = new Set(["__heap_base", "__data_end"]);
function leb(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return [value >>> 0, at];
}
function uleb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return out;
}
function stripExports(wasm) {
  const parts = [wasm.subarray(0, 8)];
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, body] = leb(wasm, at + 1);
    const end = body + size;
    if (id !== 7) {
      parts.push(wasm.subarray(at, end));
    } else {
      let [count, p] = leb(wasm, body);
      const kept = [];
      for (let i = 0; i < count; i++) {
        const start = p;
        const [len, name] = leb(wasm, p);
        const text = Buffer.from(wasm.subarray(name, name + len)).toString();
        p = leb(wasm, name + len + 1)[1];
        if (!dropped.has(text)) kept.push(wasm.subarray(start, p));
      }
      const payload = Buffer.concat([Buffer.from(uleb(kept.length)), ...kept]);
      parts.push(Buffer.from([7, ...uleb(payload.length)]), payload);
    }
    at = end;
  }
  return Buffer.concat(parts);
}

let wasm = stripExports(raw);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, wasm);
let optimised = false;
const hasWasmOpt = (() => {
  try {
    execFileSync("wasm-opt", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (optimise && hasWasmOpt) {
  const flags = ["--enable-bulk-memory", "--enable-sign-ext", "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals", "--enable-multivalue", "--enable-reference-types"];
  execFileSync("wasm-opt", [small ? "-Oz" : "-O3", "--strip-debug", "--strip-producers", ...flags, out, "-o", out], { stdio: "inherit" });
  optimised = true;
}
new WebAssembly.Module(readFileSync(out)); // fails loudly on a malformed module
const final = readFileSync(out).length;
console.log(`wall-e.wasm: ${out.replace(root + "/", "")} ${final} bytes` +
  (optimised ? ` (wasm-opt ${small ? "-Oz" : "-O3"}; ${wasm.length} before)` : " (wasm-opt not found: not optimised)") +
  (features ? ` features: ${features}` : ""));
