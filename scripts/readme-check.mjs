#!/usr/bin/env node
// The README's snippets, copied verbatim into a user's crate and a user's script, must build and
// run (`make test`). No snippet is edited on the way: a snippet that stops compiling fails here.
//  - Rust: every ```rust block goes, in order, into the lib.rs of a crate beside a link to this
//    repository (so the README's `path = "../wall-e"` resolves), under a [dependencies] taken
//    from each ```toml block that names wall-e (one build per such block: default, `small`).
//    `cargo check` on the host (the `cfg` keeps the host on the system allocator), then a
//    wasm32-unknown-unknown cdylib whose `readme_check` export, the check's own code below, calls
//    the snippets' items and proves that `WallE` is the global allocator.
//  - JS: every ```js block that imports "wall-e" runs in Node with `wall-e` resolved to pkg/.
// (The README's Rust blocks also run as doctests: `#[cfg(doctest)]` in src/lib.rs.)
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(resolve(root, "README.md"), "utf8");
const blocks = (lang) => [...readme.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]);
const rust = blocks("rust");
const toml = blocks("toml");
const js = blocks("js").filter((b) => /from "wall-e"/.test(b));
const deps = toml.filter((b) => /^wall-e\s*=/m.test(b));
if (rust.length < 2 || deps.length < 2 || js.length < 1) {
  throw new Error(`README: expected the Rust snippets, two wall-e dependency blocks and a JS snippet; found ${rust.length} rust, ${deps.length} dependency, ${js.length} js blocks`);
}

const room = resolve(root, "target/readme-check");
rmSync(resolve(room, "app"), { recursive: true, force: true });
rmSync(resolve(room, "js"), { recursive: true, force: true });
mkdirSync(resolve(room, "app/src"), { recursive: true });
rmSync(resolve(room, "wall-e"), { force: true });
symlinkSync(root, resolve(room, "wall-e"));

// The check's own code: it calls the snippets' items by the names the README gives them.
const harness = `
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn readme_check() -> u32 {
    let v: Vec<u32> = (0..1000).collect();
    // The global allocator is wall-e's: its heap holds the vector.
    let used = ALLOCATOR.validate().expect("heap walk").used_blocks;
    let size = scratch::roundtrip(100);
    if used == 0 || size != 100 {
        return 0;
    }
    v.iter().sum::<u32>()
}
`;
writeFileSync(resolve(room, "app/src/lib.rs"), rust.join("\n") + harness);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: "inherit", ...opts });
const env = { ...process.env, CARGO_TARGET_DIR: resolve(room, "target") };
for (const [i, dep] of deps.entries()) {
  const depLines = dep.split("\n").filter((l) => /^wall-e\s*=/.test(l)).join("\n");
  writeFileSync(resolve(room, "app/Cargo.toml"), `[package]
name = "readme-app"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
crate-type = ["cdylib", "rlib"]
[dependencies]
${depLines}
[workspace]
`);
  console.log(`== README snippets, dependency block ${i + 1}: ${depLines}`);
  run("cargo", ["check", "--quiet"], { cwd: resolve(room, "app"), env });
  run("cargo", ["build", "--quiet", "--release", "--target", "wasm32-unknown-unknown"], { cwd: resolve(room, "app"), env });
  const wasm = readFileSync(resolve(room, "target/wasm32-unknown-unknown/release/readme_app.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, {});
  const got = instance.exports.readme_check();
  if (got !== 499500) throw new Error(`readme_check() = ${got}, expected 499500`);
  console.log(`   host cargo check ok; wasm32 readme_check() = ${got}`);
}

mkdirSync(resolve(room, "js/node_modules"), { recursive: true });
symlinkSync(resolve(root, "pkg"), resolve(room, "js/node_modules/wall-e"));
for (const [i, block] of js.entries()) {
  const file = resolve(room, `js/snippet${i}.mjs`);
  writeFileSync(file, block);
  const out = execFileSync("node", [file], { encoding: "utf8" });
  const want = [...block.matchAll(/console\.log\(.*\/\/ "(.*)"$/gm)].map((m) => m[1]).join("\n");
  if (out.trim() !== want) throw new Error(`JS snippet ${i + 1} printed ${JSON.stringify(out)}, its comments say ${JSON.stringify(want)}`);
  console.log(`== README JS snippet ${i + 1}: printed ${JSON.stringify(out.trim())} as its comment says`);
}
// C: the ```sh block with the clang recipe, run as written in a directory where its relative
// paths resolve (examples/ linked in), on a small app.c of the check's own; the module it links is
// loaded beside a heap with the loader's loadClient, and its malloc/free must work.
const recipe = blocks("sh").find((b) => b.includes("clang-14"));
if (!recipe) throw new Error("README: no C recipe (a ```sh block with clang-14)");
const c = resolve(room, "c");
rmSync(c, { recursive: true, force: true });
mkdirSync(c, { recursive: true });
symlinkSync(resolve(root, "examples"), resolve(c, "examples"));
writeFileSync(resolve(c, "app.c"), `#include <stdlib.h>
__attribute__((visibility("default"))) int sum(int n) {
  int *a = malloc(n * sizeof(int)), s = 0;
  for (int i = 0; i < n; i++) a[i] = i;
  for (int i = 0; i < n; i++) s += a[i];
  free(a);
  return s;
}
`);
execFileSync("bash", ["-euo", "pipefail", "-c", recipe], { cwd: c, stdio: "inherit" });
const { load, loadClient } = await import(resolve(root, "pkg/wall-e.js"));
const heap = await load();
const app = await loadClient(heap, readFileSync(resolve(c, "app.wasm")));
if (app.exports.sum(1000) !== 499500) throw new Error(`C recipe: sum(1000) = ${app.exports.sum(1000)}`);
console.log("== README C recipe: builds, links, and its malloc/free run on wall-e (sum(1000) = 499500)");
console.log("== README snippets: all build and run");
