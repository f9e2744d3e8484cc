#!/usr/bin/env node
// Builds pkg/wall-e.wasm: the release cdylib, without the linker's `__heap_base`/`__data_end`
// exports, optimised with `wasm-opt` when binaryen is installed. Prints the sizes.
//   node scripts/build.mjs [--small | --threads] [--features a,b] [--out path] [--no-opt]
// The default build is tuned for speed (opt-level 3, `wasm-opt -O3`); `--small` for size
// (feature `small`, opt-level "z", `wasm-opt -Oz`), written to pkg/wall-e.small.wasm.
// `--threads` builds pkg/wall-e.threads.wasm: the default core with the `atomics` target feature
// (a spin lock around the heap), on nightly with `-Z build-std=core` (core itself must be built
// with atomics; needs `rustup component add --toolchain nightly rust-src`), importing a shared
// memory `env.memory` instead of defining one.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stripExports } from "./strip-exports.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const small = args.includes("--small");
const threads = args.includes("--threads");
// The size-tuned module turns its statics into wasm globals, which are per instance: never shared.
if (small && threads) throw new Error("--small and --threads do not combine");
const features = [option("--features", ""), small ? "small" : ""].filter(Boolean).join(",");
// The module's own memory layout, as link arguments of this build alone (`cargo rustc` gives
// them to wall-e's cdylib; a dependency's build script would give them to every dependent's): a
// 4 KiB shadow stack (the allocator's frames are tiny), so the module starts with one page. The
// size-tuned module puts its statics (the heap's state) at the bottom of memory, below the stack,
// where their addresses fit in one-byte immediates.
// The threaded module imports its memory, shared (which needs a maximum: 4 GiB, so any shared
// memory fits the import), with at least one page. It has no data segment (the heap's statics
// start zero: `.bss`), and the linker's start function `__wasm_init_memory` zeroes them behind
// an atomic flag in the memory, once for all instances. Its stack is never used (tests/threads.rs
// proves it): every instance has its own `__stack_pointer` global, all starting at the same
// address, so a stack would be shared.
const linkArgs = ["-zstack-size=4096", "--initial-memory=65536",
  ...(small ? ["--no-stack-first", "--global-base=8"] : []),
  ...(threads ? ["--import-memory", "--shared-memory", "--max-memory=4294967296"] : [])];
const out = resolve(root, option("--out", small ? "pkg/wall-e.small.wasm" : threads ? "pkg/wall-e.threads.wasm" : "pkg/wall-e.wasm"));
const optimise = !args.includes("--no-opt");

// Each feature set builds in its own target dir, so concurrent builds never read each other's.
const baseTarget = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : resolve(root, "target");
// The threaded build (nightly, its own std build) has a directory of its own.
const threadsTarget = threads ? resolve(baseTarget, "threads") : baseTarget;
const targetDir = features ? resolve(threadsTarget, "variants", features.replace(/[^a-z0-9]+/g, "-")) : threadsTarget;
// The rlib beside the cdylib keeps the module's code as it was measured when the crate declared both
// crate types (no LTO, the heap's functions visible to other crates): a cdylib alone inlines
// differently (+27 bytes with LTO off, +20 with it).
const cargoArgs = [...(threads ? ["+nightly", "-Z", "build-std=core"] : []), "rustc", "--release", "--target", "wasm32-unknown-unknown", "--lib", "--crate-type", "cdylib,rlib",
  "--target-dir", targetDir, ...(features ? ["--features", features] : []),
  "--", "--cfg", "wall_e_module", ...linkArgs.flatMap((arg) => ["-C", `link-arg=${arg}`])];
const env = { ...process.env, CARGO_PROFILE_RELEASE_OPT_LEVEL: small ? "z" : "3" };
// RUSTFLAGS, not arguments after `--`: they reach core too, which build-std compiles.
if (threads) env.RUSTFLAGS = "-C target-feature=+atomics,+bulk-memory,+mutable-globals";
execFileSync("cargo", cargoArgs, { cwd: root, stdio: "inherit", env });
const raw = readFileSync(resolve(targetDir, "wasm32-unknown-unknown/release/wall_e.wasm"));

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
    "--enable-mutable-globals", "--enable-multivalue", "--enable-reference-types",
    ...(threads ? ["--enable-threads"] : [])];
  // The size-tuned module keeps nothing in its first KiB but its own statics, which it reaches
  // through constant addresses: wasm-opt may fold constants into load/store offsets.
  if (small) flags.push("--low-memory-unused");
  // (The size-tuned module: `-O3 -Oz`, then the passes below, came out 6 bytes smaller than `-Oz`
  // alone, 1,138 -> 1,132; `--converge` and `-Os` gained nothing.)
  execFileSync("wasm-opt", [...(small ? ["-O3", "-Oz"] : ["-O3"]), "--strip-debug", "--strip-producers", ...flags, out, "-o", out], { stdio: "inherit" });
  optimised = true;
  // The size-tuned module: its scalar statics become wasm globals and its exports lose their
  // thunks (scripts/small-post.mjs, on binaryen's text form), then it is optimised again.
  if (small) {
    const wat = out.replace(/\.wasm$/, "") + ".post.wat";
    execFileSync("wasm-dis", [out, "-o", wat], { stdio: "inherit" });
    execFileSync("node", [resolve(root, "scripts/small-post.mjs"), wat, wat], { stdio: "inherit" });
    execFileSync("wasm-as", [...flags.filter((f) => f.startsWith("--enable-")), wat, "-o", out], { stdio: "inherit" });
    rmSync(wat);
    // Flattened and re-relooped twice (its control flow comes out smaller), then optimised once
    // more in a fresh run (4 bytes less again).
    execFileSync("wasm-opt", ["--flatten", "--rereloop", "-Oz", "--flatten", "--rereloop", "-Oz", "--strip-debug", "--strip-producers", ...flags, out, "-o", out], { stdio: "inherit" });
    execFileSync("wasm-opt", ["-Oz", ...flags, out, "-o", out], { stdio: "inherit" });
  }
}
new WebAssembly.Module(readFileSync(out)); // fails loudly on a malformed module
if (threads) {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(out)));
  const got = JSON.stringify(imports);
  if (got !== JSON.stringify([{ module: "env", name: "memory", kind: "memory" }])) {
    throw new Error(`${out}: the threaded module must import exactly env.memory, it imports ${got}`);
  }
}
const final = readFileSync(out).length;
console.log(`wall-e.wasm: ${out.replace(root + "/", "")} ${final} bytes` +
  (optimised ? ` (wasm-opt ${small ? "-Oz" : "-O3"}; ${wasm.length} before)` : " (wasm-opt not found: not optimised)") +
  (features ? ` features: ${features}` : "") + (threads ? " (threads)" : ""));
