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

// The run: its date, machine and commit, from the paragraph that opens RESULTS.md.
const date = results.match(/ on (\d{4}-\d\d-\d\d)/)?.[1];
const commit = results.match(/wall-e at commit ([0-9a-f]{7,})/)?.[1];
const cores = results.match(/`nproc` = (\d+)/)?.[1];
if (!date || !commit || !cores) throw new Error("bench/RESULTS.md: no date, commit or nproc in its opening paragraph");

const wasmtime = find("Time under wasmtime");
const v8 = find("Time under V8");
const growth = find("Heap growth");
const sizes = find("Module size");
// Columns shown: wall-e, its size-tuned build, then every peer (not baselines, not the driver's bump).
const names = wasmtime.head.slice(1).filter((n) => !n.includes("@") && !n.startsWith("bump") && n !== "best peer");
const peers = names.filter((n) => !n.startsWith("wall-e"));

const geomean = (table, name) => {
  const row = table.rows.find((r) => r[0].includes("geometric mean** of the ratios"));
  return row[column(table, name)];
};
const bytesOf = (cell) => {
  const m = cell.match(/^([\d.]+) (KiB|MiB)/);
  return m ? Number(m[1]) * (m[2] === "MiB" ? 1024 : 1) : NaN;
};
const smallest = (name) => growth.rows.filter((r) => {
  const own = bytesOf(r[column(growth, name)]);
  return names.every((p) => p === name || !(bytesOf(r[column(growth, p)]) < own));
}).length;
const built = { "wall-e": "pkg/wall-e.wasm", "wall-e-small": "pkg/wall-e.small.wasm" };
const size = (name) => {
  if (built[name]) return `${statSync(resolve(root, built[name])).size.toLocaleString("en-US")}`;
  const row = sizes.rows.find((r) => r[0] === name);
  return row ? Number(row[2]).toLocaleString("en-US") : "–";
};
const label = (n) => (n === "wall-e-small" ? "wall-e `small`" : n);

const lines = [
  `From one run of \`make bench\` ([bench/RESULTS.md](bench/RESULTS.md): ${date}, ${cores} cores, wall-e at ${commit}),`,
  "each allocator behind the same raw ABI, the same seeded workloads in both engines; module sizes",
  "as built now (`make build`). Full method and every row: [docs/benchmark.md](docs/benchmark.md).",
  "",
  `| | ${names.map(label).join(" | ")} |`,
  `|---|${names.map(() => "--:").join("|")}|`,
  `| time, geometric mean × the best peer, wasmtime | ${names.map((n) => geomean(wasmtime, n)).join(" | ")} |`,
  `| time, geometric mean × the best peer, V8 (Node) | ${names.map((n) => geomean(v8, n)).join(" | ")} |`,
  `| heap growth: workloads where it is the smallest or tied (of ${growth.rows.length}) | ${names.map(smallest).join(" | ")} |`,
  `| module size, bytes (\`wasm-opt -O3\`; \`small\`: \`-Oz\`) | ${names.map(size).join(" | ")} |`,
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
