#!/usr/bin/env node
// The README's "At a glance" table, generated from one benchmark run (bench/RESULTS.md, written by
// `make bench`) and from the modules as built (pkg/*.wasm), so the front page never quotes a figure
// that the results do not hold.
//   node scripts/figures.mjs           rewrites the table between the README's figures markers
//   node scripts/figures.mjs --check   fails if the README's table differs (make docs-check)
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const results = readFileSync(resolve(root, "bench/RESULTS.md"), "utf8");

/** The tables of RESULTS.md under each `## ` heading: { heading: [{ head: [...], rows: [[...]] }] }. */
function tables(md) {
  const out = {};
  let heading = "";
  let current = null;
  for (const line of md.split("\n")) {
    if (line.startsWith("#")) { heading = line.replace(/^#+\s*/, ""); current = null; continue; }
    if (!line.startsWith("|")) { current = null; continue; }
    const cells = line.slice(1, -1).split("|").map((c) => c.trim());
    if (!current) { current = { head: cells, rows: [] }; (out[heading] ??= []).push(current); continue; }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    current.rows.push(cells);
  }
  return out;
}
const all = tables(results);
const find = (prefix) => {
  const key = Object.keys(all).find((k) => k.startsWith(prefix));
  if (!key) throw new Error(`bench/RESULTS.md has no section "${prefix}…"`);
  return all[key][0];
};
const column = (table, name) => {
  const i = table.head.indexOf(name);
  if (i < 0) throw new Error(`bench/RESULTS.md: no column "${name}" in [${table.head.join(", ")}]`);
  return i;
};

// The run: the Rust-level benchmark (`make bench-rust`: each allocator as the #[global_allocator]
// of the same Rust program, in Node, Chromium and wasmtime), its date, machine and load.
const rustAt = results.indexOf("## Rust programs");
if (rustAt < 0) throw new Error("bench/RESULTS.md has no section \"Rust programs\" (make bench-rust)");
const rust = results.slice(rustAt);
const date = rust.match(/ on (\d{4}-\d\d-\d\d)/)?.[1];
const cores = rust.match(/`nproc` = (\d+)/)?.[1];
if (!date || !cores) throw new Error("bench/RESULTS.md: no date or nproc in the Rust programs section");

const engines = [["Node", "Time in Node"], ["Chromium", "Time in Chromium"], ["wasmtime", "Time in wasmtime"]]
  .map(([name, prefix]) => [name, find(prefix)]);
const memory = find("Peak memory");
const code = find("Code size");
// Columns shown: wall-e, its size-tuned build, then every peer (not the floor).
const names = code.head.slice(1).filter((n) => n && !n.startsWith("bump"));
const peers = names.filter((n) => !n.startsWith("wall-e"));
const num = (cell) => Number(String(cell).replace(/[,×]/g, ""));
const geo = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const fmt = (x) => `×${x.toFixed(2)}`;
const workloads = (t) => t.rows.filter((r) => !r[0].startsWith("**") && r[0] !== "initial");
// Time: the geometric mean of each allocator's ns/op ÷ the best peer's on each workload.
const timeRatio = (t, n) => fmt(geo(workloads(t).map((r) => num(r[column(t, n)]) / Math.min(...peers.map((p) => num(r[column(t, p)]))))));
// Memory: the same against the smallest peer's peak memory.size.
const memRatio = (n) => fmt(geo(workloads(memory).map((r) => num(r[column(memory, n)]) / Math.min(...peers.map((p) => num(r[column(memory, p)]))))));
const over = code.rows.find((r) => r[0] === "over the floor");
const added = (n) => num(over[column(code, n)]).toLocaleString("en-US");
const built = { "wall-e": "pkg/wall-e.wasm", "wall-e-small": "pkg/wall-e.small.wasm" };
const label = (n) => (n === "wall-e-small" ? "wall-e `small`" : n);
const w = workloads(engines[0][1]).length;

const lines = [
  `The same Rust program built once per allocator as its \`#[global_allocator]\` (${w} workloads: small`,
  "pairs, LIFO/FIFO batches, churn, talc's random actions, `Vec` growth, realloc doubling, large",
  `blocks), one run of \`make bench-rust\` ([bench/RESULTS.md](bench/RESULTS.md): ${date}, ${cores} cores). Ratios`,
  "are geometric means over the workloads of each allocator's figure ÷ the best peer's on that",
  "workload (1.00 = always the best; lower is better). Method: [docs/benchmark-rust.md](docs/benchmark-rust.md).",
  "",
  `| | ${names.map(label).join(" | ")} |`,
  `|---|${names.map(() => "--:").join("|")}|`,
  `| bytes added to a small Vec/Box/String app (\`-Oz\`) | ${names.map(added).join(" | ")} |`,
  ...engines.map(([e, t]) => `| time × the fastest peer, ${e} | ${names.map((n) => timeRatio(t, n)).join(" | ")} |`),
  `| peak memory × the smallest peer | ${names.map(memRatio).join(" | ")} |`,
  "",
  "(Bytes added: the program's size less the bump floor's; lol_alloc's code is smaller than the floor's.)",
  `The standalone modules as built now: \`pkg/wall-e.wasm\` ${Object.keys(built).map((n) => statSync(resolve(root, built[n])).size.toLocaleString("en-US"))[0]} bytes, \`pkg/wall-e.small.wasm\` ${statSync(resolve(root, built["wall-e-small"])).size.toLocaleString("en-US")} bytes.`,
];
const table = lines.join("\n");

const readmePath = resolve(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const start = readme.indexOf("<!-- figures:start");
const end = readme.indexOf("<!-- figures:end -->");
if (start < 0 || end < 0) throw new Error("README.md: no figures markers");
const open = readme.indexOf("-->", start) + 3;
const next = readme.slice(0, open) + "\n" + table + "\n" + readme.slice(end);
if (process.argv.includes("--check")) {
  if (next !== readme) {
    console.error("README.md's figures differ from bench/RESULTS.md and pkg/: run `node scripts/figures.mjs`. Expected:\n" + table);
    process.exit(1);
  }
  console.log("README figures match bench/RESULTS.md and the built modules");
} else {
  writeFileSync(readmePath, next);
  console.log(table);
}
