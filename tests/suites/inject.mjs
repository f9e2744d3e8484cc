#!/usr/bin/env node
// Makes wall-e the global allocator of a copied crate's tests (used by scripts/suites.sh):
//   node tests/suites/inject.mjs <copy dir> <wall-e repo root> <test target>...
// - adds `wall-e = { path = <root> }` to the copy's dev-dependencies;
// - appends to the lib target's root file (its unit tests) and to the root file of each named
//   integration test target a `#[cfg(test)]` module with
//     #[global_allocator] static WALL_E_UNDER_TEST: wall_e::WallE = wall_e::WallE::new();
//   and the test `wall_e_under_test::wall_e_is_the_global_allocator`, which allocates through
//   the global allocator (`alloc::vec::Vec`) and asserts that wall-e's heap walk sees the block
//   come and go. suites.sh requires it to pass in every test binary of the wall-e run. libtest
//   runs tests in name order, so its heap walk (which checks every invariant) comes after most
//   of the binary's tests.
// The targets' root files come from `cargo metadata --no-deps` (kinds "lib" and "test").
// Prints the files it changed, one per line.
import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [dir, root, ...tests] = process.argv.slice(2);
if (!dir || !root) {
  console.error("usage: inject.mjs <copy dir> <wall-e root> <test target>...");
  process.exit(2);
}

const meta = JSON.parse(
  execFileSync("cargo", ["metadata", "--no-deps", "--format-version", "1", "--offline"], {
    cwd: dir,
    encoding: "utf8",
  }),
);
const pkg = meta.packages.find((p) => p.manifest_path === join(dir, "Cargo.toml"));
if (!pkg) throw new Error(`no package at ${dir}`);

const roots = [];
for (const t of pkg.targets) {
  if (t.kind.includes("lib") || (t.kind.includes("test") && tests.includes(t.name))) roots.push(t.src_path);
}
const missing = tests.filter((n) => !pkg.targets.some((t) => t.kind.includes("test") && t.name === n));
if (missing.length) throw new Error(`no test target named ${missing.join(", ")}`);
if (!roots.length) throw new Error("no lib or test target to inject into");

// `extern crate alloc` makes `alloc` usable in `#![no_std]` crates too; `::wall_e` is the
// dev-dependency (edition 2018 or later). Nothing here is `unsafe` (some crates deny
// `unsafe_code`) or public (some deny `unreachable_pub` or `missing_docs`), and nothing warns.
const item = `

// ---- appended by wall-e's scripts/suites.sh: wall-e is this test binary's global allocator ----
#[cfg(test)]
mod wall_e_under_test {
    extern crate alloc;

    #[global_allocator]
    static WALL_E_UNDER_TEST: ::wall_e::WallE = ::wall_e::WallE::new();

    #[test]
    fn wall_e_is_the_global_allocator() {
        let before = WALL_E_UNDER_TEST.validate().expect("wall-e heap corrupt");
        let v: alloc::vec::Vec<u64> = core::hint::black_box(alloc::vec::Vec::with_capacity(1000));
        let during = WALL_E_UNDER_TEST.validate().expect("wall-e heap corrupt");
        assert!(during.used_blocks > 0);
        assert_eq!(during.used_blocks, before.used_blocks + 1, "the Vec is not in wall-e's heap");
        assert!(during.used_bytes >= before.used_bytes + 8000);
        drop(v);
        let after = WALL_E_UNDER_TEST.validate().expect("wall-e heap corrupt");
        assert_eq!(after.used_blocks, before.used_blocks);
    }
}
`;
for (const file of roots) {
  if (readFileSync(file, "utf8").includes("mod wall_e_under_test")) continue;
  appendFileSync(file, item);
  console.log(file);
}

const manifest = join(dir, "Cargo.toml");
// SUITES_WALL_E_FEATURES (e.g. "checked": freed payloads poisoned, checked by the heap walk)
// selects wall-e's cargo features.
const features = (process.env.SUITES_WALL_E_FEATURES || "").split(/[\s,]+/).filter(Boolean);
appendFileSync(
  manifest,
  `\n[dev-dependencies.wall-e]\npath = ${JSON.stringify(root)}\n` +
    (features.length ? `features = ${JSON.stringify(features)}\n` : ""),
);
