#!/usr/bin/env node
// Compares a crate's test run with the default allocator and with wall-e (used by
// scripts/suites.sh):
//   node tests/suites/compare.mjs <crate> <version> <default.log> <wall-e.log>
// Each log is `cargo test` output (stdout and stderr). Tests are keyed by binary (cargo's
// `Running <target>` line, without the path of the build) and libtest name. Prints
//   suites: <crate> <ver>: default N passed, wall-e N passed, M ignored
// and exits non-zero, saying why, unless
// - every test that passed with the default allocator passed with wall-e,
// - the wall-e run executed at least as many tests,
// - every test binary of the wall-e run that ran tests passed
//   `wall_e_under_test::wall_e_is_the_global_allocator` (wall-e really is the allocator).
// wasm32-wasip1 aborts on panic, so a failing test ends its binary: the tests after it never
// run. Such a binary is reported as crashed, with the test that was running.
import { readFileSync } from "node:fs";

const [crate, version, defaultLog, walleLog] = process.argv.slice(2);
const LIVE = "wall_e_under_test::wall_e_is_the_global_allocator";

function parse(file) {
  const text = readFileSync(file, "utf8");
  const binaries = [];
  let bin = null;
  for (const line of text.split("\n")) {
    let m = line.match(/^\s+Running (.+?)(?: \([^()]*\))?\s*$/);
    if (m) {
      bin = { name: m[1], running: null, results: new Map(), done: false, current: null };
      binaries.push(bin);
      continue;
    }
    if (!bin) continue;
    if ((m = line.match(/^running (\d+) tests?$/))) bin.running = Number(m[1]);
    else if ((m = line.match(/^test (.+?) \.\.\. (ok|FAILED|ignored)\b/))) {
      bin.results.set(m[1], m[2]);
      bin.current = null;
    } else if ((m = line.match(/^test (.+?) \.\.\. /))) bin.current = m[1]; // started, no result
    else if (/^test result: /.test(line)) bin.done = true;
  }
  const tests = new Map();
  let passed = 0, failed = 0, ignored = 0;
  for (const b of binaries) {
    for (const [name, r] of b.results) {
      tests.set(`${b.name} :: ${name}`, r);
      if (r === "ok") passed++;
      else if (r === "FAILED") failed++;
      else ignored++;
    }
  }
  const crashed = binaries.filter((b) => !b.done);
  return { binaries, tests, passed, failed, ignored, crashed };
}

const d = parse(defaultLog);
const w = parse(walleLog);
const problems = [];
const notes = [];

if (!d.binaries.length) problems.push(`default run: no test binary ran (build failure?), see ${defaultLog}`);
if (!w.binaries.length) problems.push(`wall-e run: no test binary ran (build failure?), see ${walleLog}`);
const early = (b) =>
  `${b.name} ended early, ${b.current ? `during test ${b.current}` : b.running === null ? "before running any test" : "between tests"}`;
for (const b of d.crashed) notes.push(`default run: ${early(b)}`);
if (d.failed) notes.push(`default run: ${d.failed} test(s) FAILED with the default allocator`);
for (const b of w.crashed) problems.push(`wall-e run: ${early(b)}`);

const lost = [];
for (const [key, r] of d.tests) if (r === "ok" && w.tests.get(key) !== "ok") lost.push(`${key} (wall-e: ${w.tests.get(key) ?? "not run"})`);
if (lost.length)
  problems.push(
    `${lost.length} test(s) passed with the default allocator, not with wall-e:\n    ` +
      lost.slice(0, 10).join("\n    ") + (lost.length > 10 ? `\n    ... and ${lost.length - 10} more` : ""),
  );

const executed = (p) => p.passed + p.failed + p.crashed.filter((b) => b.current).length;
const liveCount = [...w.tests].filter(([k, r]) => k.endsWith(` :: ${LIVE}`) && r === "ok").length;
if (executed(w) - liveCount < executed(d))
  problems.push(`wall-e run executed ${executed(w) - liveCount} of the suite's tests, default run ${executed(d)}`);
for (const b of w.binaries)
  if (b.running > 0 && b.results.get(LIVE) !== "ok")
    problems.push(`wall-e run: ${b.name}: ${LIVE} did not pass (${b.results.get(LIVE) ?? "not run"})`);
if (!liveCount) problems.push(`wall-e run: ${LIVE} never passed`);

console.log(
  `suites: ${crate} ${version}: default ${d.passed} passed, wall-e ${w.passed} passed, ${w.ignored} ignored`,
);
for (const n of notes) console.log(`suites: ${crate}: note: ${n}`);
if (problems.length) {
  for (const p of problems) console.log(`suites: ${crate}: FAIL: ${p}`);
  process.exit(1);
}
