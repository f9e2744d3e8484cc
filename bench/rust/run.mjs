#!/usr/bin/env node
// The Rust-level benchmark (`make bench-rust`; docs/benchmark-rust.md): the workloads of
// bench/rust/src/workloads.rs built once per allocator as the `#[global_allocator]` of a
// wasm32-unknown-unknown cdylib, run in Node (V8), headless Chromium (V8) and wasmtime, with a
// fresh instance per workload. Prints the tables (median ns/op, peak memory.size, code size) and
// writes them into bench/RESULTS.md as the section "Rust programs (#[global_allocator])".
//
//   node bench/rust/run.mjs [--quick] [--reps N] [--engines node,chromium,wasmtime]
//                           [--only wall-e,wasmalloc,...] [--work churn,...] [--no-build]
//                           [--no-size] [--results FILE] [--no-write] [--walle DIR]
//                           [--chromium-clock cpu|wall]
//   node bench/rust/run.mjs --smoke [--only ...]
//   node bench/rust/run.mjs --size-only [--only ...]
//
// --quick: a quarter of the work per run and 3 repetitions (about two minutes once built);
// the default: full work, 7 repetitions (about ten minutes on 2 cores). --only (allocator
// names, as in the tables) and --work (workload names) measure a subset and write nothing
// unless --results is given. A checksum that differs from the other allocators', or a trap,
// fails the run: the tables mark it, nothing is written, the exit status is 1.
// --walle DIR: build wall-e's two variants from the wall-e source tree at DIR (another worktree)
// instead of this repository's, through a copy of bench/rust/Cargo.toml whose path dependency
// points there (the workloads stay this tree's).
// --size-only: builds and prints the code-size table alone (issue 22's figure), writes nothing.
// --smoke (part of `make test`, seconds): a correctness check, not a benchmark: wall-e,
// wall-e-small and std's dlmalloc (the reference) on every workload at a hundredth of the quick
// work, once, in Node; fails unless every checksum agrees; prints no figures.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { measureAll } from "./measure.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
/// Where the modules measured go (target/out, or target/out-<tree> for --walle <tree>).
let OUT = join(HERE, "target/out");

/// In table order. `peer`: a candidate for "best peer" / "smallest peer" (wall-e's builds and
/// the floor are not).
const ALLOCATORS = [
  { name: "wall-e", feature: "walle", peer: false },
  { name: "wall-e-small", feature: "walle-small", peer: false },
  { name: "wasmalloc", feature: "wasmalloc", peer: true },
  { name: "talc", feature: "talc", peer: true },
  { name: "rlsf", feature: "rlsf", peer: true },
  { name: "std (dlmalloc)", feature: "std", peer: true },
  { name: "lol_alloc", feature: "lol_alloc", peer: true },
  { name: "bump (floor)", feature: "bump", peer: false },
];

/// `n`: the argument of `run_<work>` in a full run (--quick: a quarter); `ops`: operations per
/// unit of `n`, so ns/op = time ÷ (n × ops).
const WORKLOADS = [
  { work: "alloc_free_32_a8", title: "32 B alloc+free, align 8 (op = pair)", n: 2_000_000, ops: 1 },
  { work: "alloc_free_32_a16", title: "32 B alloc+free, align 16 (op = pair)", n: 2_000_000, ops: 1 },
  { work: "lifo_1000", title: "LIFO batches: 1,000 × 32 B, freed newest first (op = block)", n: 2_000, ops: 1000 },
  { work: "fifo_1000", title: "FIFO batches: 1,000 × 32 B, freed oldest first (op = block)", n: 2_000, ops: 1000 },
  { work: "churn", title: "churn: 10,000 live of 16–1,024 B, free one + allocate one (op = step)", n: 100_000, ops: 1 },
  { work: "random_actions", title: "talc's random actions, 1–10,000 B, align 8–2,048 (op = action)", n: 2, ops: 100_000 },
  { work: "random_actions_realloc", title: "talc's random actions with realloc (op = action)", n: 2, ops: 100_000 },
  { work: "vec_growth", title: "Vec<u8> pushed to 1 MiB (op = whole growth)", n: 16, ops: 1 },
  { work: "realloc_doubling", title: "realloc doubling 16 B → 1 MiB (op = chain of 16)", n: 20_000, ops: 1 },
  { work: "large_blocks", title: "large blocks 256 KiB–4 MiB: alloc, touch, free (op = block)", n: 2_000, ops: 1 },
];

const ENGINES = {
  node: "Node (V8)",
  chromium: "Chromium (V8)",
  wasmtime: "wasmtime",
};

// wasm-opt flags as in bench/run and scripts/build.mjs.
const WASM_OPT_FLAGS = ["--strip-debug", "--strip-producers", "--enable-bulk-memory", "--enable-sign-ext",
  "--enable-nontrapping-float-to-int", "--enable-mutable-globals", "--enable-multivalue",
  "--enable-reference-types"];

function parseArgs(argv) {
  const o = { quick: false, smoke: false, reps: null, engines: Object.keys(ENGINES), only: null, work: null, build: true,
    size: true, results: null, write: true, walle: ROOT, chromiumClock: "cpu", args: argv };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const list = () => value().split(",").map((s) => s.trim()).filter(Boolean);
    if (a === "--quick") o.quick = true;
    else if (a === "--smoke") o.smoke = true;
    else if (a === "--size-only") o.sizeOnly = true;
    else if (a === "--reps") o.reps = Number(value());
    else if (a === "--engines") o.engines = list();
    else if (a === "--only") o.only = list();
    else if (a === "--work") o.work = list();
    else if (a === "--no-build") o.build = false;
    else if (a === "--no-size") o.size = false;
    else if (a === "--results") o.results = value();
    else if (a === "--no-write") o.write = false;
    else if (a === "--walle") o.walle = resolve(value());
    else if (a === "--chromium-clock") o.chromiumClock = value();
    else if (a === "--help" || a === "-h") {
      console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\nimport ")[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${a} (--help lists them)`);
  }
  if (o.smoke) {
    Object.assign(o, { reps: 1, engines: ["node"], size: false, write: false });
    o.only ??= ["wall-e", "wall-e-small", "std (dlmalloc)"];
  }
  if (o.sizeOnly) Object.assign(o, { engines: [], size: true, write: false });
  if (o.reps === null) o.reps = o.quick ? 3 : 7;
  if (!["cpu", "wall"].includes(o.chromiumClock)) throw new Error("--chromium-clock is cpu or wall");
  if (!(o.reps >= 1)) throw new Error("--reps needs a positive number");
  for (const e of o.engines) if (!ENGINES[e]) throw new Error(`unknown engine ${e} (${Object.keys(ENGINES)})`);
  const names = ALLOCATORS.map((a) => a.name);
  for (const n of o.only ?? []) if (!names.includes(n)) throw new Error(`unknown allocator ${n} (${names.join(", ")})`);
  const works = WORKLOADS.map((w) => w.work);
  for (const w of o.work ?? []) if (!works.includes(w)) throw new Error(`unknown workload ${w} (${works.join(", ")})`);
  if ((o.only || o.work) && o.results === null) o.write = false;
  o.results ??= join(ROOT, "bench/RESULTS.md");
  return o;
}

const log = (s) => process.stderr.write(s + "\n");

function cargo(args, env = {}) {
  execFileSync("cargo", args, { cwd: HERE, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
}

/// "" for this repository's wall-e, "-<path as a name>" for another tree's (--walle).
const slugOf = (walle) => (walle === ROOT ? "" : "-" + walle.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, ""));

/// Builds each allocator's module (opt-level 3) and, for the size row, its small app (opt-level
/// "z", then wasm-opt -Oz). Each build has a target dir of its own, so nothing is rebuilt that
/// did not change (a changed wall-e rebuilds wall-e's modules only).

function build(allocators, size, walle) {
  mkdirSync(OUT, { recursive: true });
  // wall-e's variants from another tree (--walle): the same manifest, with the path dependency,
  // the library and the build script pointed at absolute paths.
  let manifest = [];
  if (walle !== ROOT) {
    if (!existsSync(join(walle, "src/wasm.rs"))) throw new Error(`--walle ${walle}: not a wall-e source tree`);
    const dir = join(HERE, `target/manifest${slugOf(walle)}`);
    mkdirSync(dir, { recursive: true });
    const toml = readFileSync(join(HERE, "Cargo.toml"), "utf8")
      .replace('path = "../.."', `path = ${JSON.stringify(walle)}`)
      .replace('path = "src/lib.rs"', `path = ${JSON.stringify(join(HERE, "src/lib.rs"))}`)
      .replace("publish = false", `publish = false\nbuild = ${JSON.stringify(join(HERE, "build.rs"))}`);
    writeFileSync(join(dir, "Cargo.toml"), toml);
    copyFileSync(join(HERE, "Cargo.lock"), join(dir, "Cargo.lock"));
    manifest = ["--manifest-path", join(dir, "Cargo.toml")];
  }
  const wasm = (dir) => join(HERE, "target", dir, "wasm32-unknown-unknown/release/bench_rust.wasm");
  for (const a of allocators) {
    log(`== building ${a.name} (--features ${a.feature})`);
    const m = a.feature.startsWith("walle") ? manifest : [];
    const slug = (w) => (m.length ? slugOf(w) : "");
    cargo(["build", "-q", ...m, "--release", "--target", "wasm32-unknown-unknown", "--features", a.feature,
      "--target-dir", join("target", a.feature + slug(walle))]);
    copyFileSync(wasm(a.feature + slug(walle)), join(OUT, `${a.feature}.wasm`));
    if (size) {
      const app = `${a.feature}-app${slug(walle)}`;
      cargo(["build", "-q", ...m, "--release", "--target", "wasm32-unknown-unknown", "--features", `${a.feature} small-app`,
        "--target-dir", join("target", app)], { CARGO_PROFILE_RELEASE_OPT_LEVEL: "z" });
      execFileSync("wasm-opt", ["-Oz", ...WASM_OPT_FLAGS, wasm(app), "-o", join(OUT, `${a.feature}.app.wasm`)]);
    }
  }
}

/// The wasmtime host (examples/bench_rust.rs), built in the repository's target dir (or
/// CARGO_TARGET_DIR's: wasmtime takes minutes to build the first time).
function wasmtimeHost() {
  log("== building the wasmtime host (cargo build --example bench_rust)");
  execFileSync("cargo", ["build", "-q", "--example", "bench_rust"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  return join(process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, "target"),
    "debug/examples/bench_rust");
}

/// Parses a child's answer lines; a workload without one gets the child's failure as its error.
function answers(plan, proc, what) {
  const byWork = new Map();
  for (const line of (proc.stdout || "").split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line);
    byWork.set(r.work, r);
  }
  const why = proc.error ? String(proc.error) : `${what} exited with ${proc.status ?? proc.signal}: ${(proc.stderr || "").trim().split("\n").slice(-3).join(" / ")}`;
  return plan.map(({ work }) => byWork.get(work) ?? { work, error: why });
}

const spawnOptions = { encoding: "utf8", maxBuffer: 1 << 24, timeout: 30 * 60_000 };

function runNode(module, plan) {
  const specs = plan.map(({ work, n }) => `${work}=${n}`);
  const proc = spawnSync(process.execPath, ["--no-liftoff", join(HERE, "node-run.mjs"), module, ...specs], spawnOptions);
  return answers(plan, proc, "node");
}

function runWasmtime(host, module, plan) {
  const specs = plan.map(({ work, n }) => `${work}=${n}`);
  return answers(plan, spawnSync(host, [module, ...specs], spawnOptions), "the wasmtime host");
}

/// Headless Chromium as pkg/testing/helpers.js launches it for the browser tests, with
/// `--js-flags=--no-liftoff` (TurboFan for every function, as in Node).
async function launchChromium() {
  const { chromium } = await import(join(ROOT, "bench/node_modules/playwright-core/index.mjs"));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--js-flags=--no-liftoff"],
    timeout: 120_000,
  });
  return browser;
}

/// One page per module (a new browser context: a renderer of its own). The page and the module
/// are served by playwright's router with COOP/COEP headers, so the page is cross-origin isolated
/// and performance.now() has 5 µs resolution (100 µs otherwise).
///
/// The clock (`--chromium-clock`): `cpu` (the default), the renderer main thread's CPU time,
/// DevTools' `Performance.getMetrics` "ThreadTime", which the page asks for through an exposed
/// function before and after the timed call. That round trip costs the thread about 0.5 ms of
/// its own; the least of 7 empty round trips, measured first in each page, is subtracted. `wall`:
/// performance.now(), which on a loaded machine counts the time the renderer waits for a core
/// (×2 swings seen at load 8 on 2 cores, where Node's and wasmtime's CPU times held within 5%).
async function runChromium(browser, module, plan, clockKind) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    if (clockKind === "cpu") {
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      await page.exposeFunction("cpuClock", async () => {
        const { metrics } = await cdp.send("Performance.getMetrics");
        const t = metrics.find((m) => m.name === "ThreadTime");
        if (!t) throw new Error("DevTools Performance.getMetrics has no ThreadTime");
        return t.value * 1e9;
      });
    }
    const bytes = readFileSync(module);
    const isolated = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin" };
    await page.route("http://localhost/**", (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === "/m.wasm") {
        return route.fulfill({ status: 200, headers: { ...isolated, "Content-Type": "application/wasm" }, body: bytes });
      }
      return route.fulfill({ status: 200, headers: { ...isolated, "Content-Type": "text/html" },
        body: "<!doctype html><title>bench-rust</title>" });
    });
    await page.goto("http://localhost/");
    return await page.evaluate(async ({ source, plan, clockKind }) => {
      if (!self.crossOriginIsolated) throw new Error("the page is not cross-origin isolated");
      const measure = (0, eval)(`(${source})`);
      const module = await WebAssembly.compileStreaming(fetch("/m.wasm"));
      if (clockKind === "wall") return measure(module, plan, () => performance.now() * 1e6);
      let overhead = Infinity;
      for (let i = 0; i < 7; i++) {
        const t0 = await self.cpuClock();
        overhead = Math.min(overhead, (await self.cpuClock()) - t0);
      }
      const results = await measure(module, plan, () => self.cpuClock());
      for (const r of results) if (!r.error) r.ns = Math.max(0, r.ns - overhead);
      return results;
    }, { source: measureAll.toString(), plan, clockKind });
  } catch (e) {
    return plan.map(({ work }) => ({ work, error: `chromium: ${String(e).split("\n")[0]}` }));
  } finally {
    await context.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const geomean = (xs) => (xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : NaN);

function fmt(x) {
  if (!Number.isFinite(x)) return "–";
  if (x >= 1000) return Math.round(x).toLocaleString("en-US");
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
const ratio = (x) => (Number.isFinite(x) ? `×${x.toFixed(2)}` : "–");

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "?";
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  OUT = join(HERE, `target/out${slugOf(o.walle)}`);
  const allocators = ALLOCATORS.filter((a) => !o.only || o.only.includes(a.name));
  const workloads = WORKLOADS.filter((w) => !o.work || o.work.includes(w.work));
  const scale = o.smoke ? 400 : o.quick ? 4 : 1;
  const plan = workloads.map((w) => ({ work: w.work, n: Math.max(1, Math.ceil(w.n / scale)) }));
  const started = Date.now();

  if (o.build) build(allocators, o.size, o.walle);
  for (const a of allocators) {
    if (!existsSync(join(OUT, `${a.feature}.wasm`))) throw new Error(`${a.feature}.wasm missing in ${OUT}: run without --no-build`);
  }
  const host = o.engines.includes("wasmtime") ? wasmtimeHost() : null;
  let browser = null;
  let chromiumVersion = null;
  if (o.engines.includes("chromium")) {
    browser = await launchChromium();
    chromiumVersion = browser.version();
  }

  // results[engine][allocator][work] = [answer per repetition]
  const results = {};
  for (const e of o.engines) {
    results[e] = {};
    for (const a of allocators) results[e][a.name] = Object.fromEntries(workloads.map((w) => [w.work, []]));
  }
  for (let rep = 0; rep < o.reps; rep++) {
    // The allocators take turns, in an order rotated every repetition, so that a slow spell of
    // the machine does not fall on one allocator's runs only.
    const order = allocators.map((_, i) => allocators[(i + rep) % allocators.length]);
    for (const a of order) {
      const module = join(OUT, `${a.feature}.wasm`);
      for (const e of o.engines) {
        const t0 = Date.now();
        const answers = e === "node" ? runNode(module, plan)
          : e === "wasmtime" ? runWasmtime(host, module, plan)
          : await runChromium(browser, module, plan, o.chromiumClock);
        for (const r of answers) results[e][a.name][r.work].push(r);
        const errors = answers.filter((r) => r.error);
        log(`repetition ${rep + 1}/${o.reps}: ${a.name} in ${e}, ${((Date.now() - t0) / 1000).toFixed(1)} s` +
          (errors.length ? ` — ${errors.length} failed: ${errors[0].work}: ${errors[0].error}` : ""));
      }
    }
  }
  if (browser) await browser.close();

  // The checksums: every allocator, engine and repetition must agree on each workload. The
  // expected value is the one most allocators got (the workload alone decides it).
  const failures = [];
  const failed = new Set(); // `${engine}|${allocator}|${work}`
  for (const w of workloads) {
    const votes = new Map();
    for (const a of allocators) {
      const seen = new Set();
      for (const e of o.engines) for (const r of results[e][a.name][w.work]) if (!r.error) seen.add(r.sums.join(","));
      for (const s of seen) votes.set(s, (votes.get(s) ?? 0) + 1);
    }
    const expected = [...votes.entries()].sort((x, y) => y[1] - x[1])[0]?.[0];
    for (const e of o.engines) {
      for (const a of allocators) {
        for (const r of results[e][a.name][w.work]) {
          const bad = r.error ? `trapped or failed: ${r.error}` : r.sums.join(",") !== expected ? `checksums ${r.sums.join(",")}, expected ${expected}` : null;
          if (bad && !failed.has(`${e}|${a.name}|${w.work}`)) {
            failed.add(`${e}|${a.name}|${w.work}`);
            failures.push(`${a.name} in ${ENGINES[e]}, ${w.work}: ${bad}`);
          }
        }
      }
    }
  }

  if (o.smoke) {
    for (const f of failures) log(`!! ${f}`);
    if (failures.length) process.exit(1);
    console.log(`bench-rust smoke: ${workloads.length} workloads × ${allocators.map((a) => a.name).join(", ")} in Node: every checksum agrees`);
    return;
  }
  const report = tables(o, allocators, workloads, plan, results, failed, chromiumVersion, started);
  let text = report;
  if (failures.length) {
    text += "\n**FAILED** (a checksum that differs from the other allocators' is a wrong allocator):\n\n" +
      failures.map((f) => `- ${f}\n`).join("");
  }
  console.log(text);
  if (failures.length) {
    log(`\n!! ${failures.length} failed run(s): ${o.results} not written`);
    for (const f of failures) log(`!! ${f}`);
    process.exit(1);
  }
  if (o.write) {
    writeSection(o.results, report);
    log(`written to ${o.results} (section "${SECTION}")`);
  } else {
    log("(--only/--work/--no-write: no results file written)");
  }
}

const SECTION = "## Rust programs (#[global_allocator])";

/// Replaces the section (from its heading to the next `## ` heading, which `make bench-threads`'
/// "Threads" is, or to the end of the file) or appends it. `make bench` (examples/bench/main.rs)
/// keeps it, and whatever follows it, when it rewrites the rest.
function writeSection(path, section) {
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const at = old.indexOf(`\n${SECTION}\n`);
  const head = at >= 0 ? old.slice(0, at + 1) : old.length ? old.replace(/\n*$/, "\n\n") : "";
  const next = at >= 0 ? old.indexOf("\n## ", at + 1) : -1;
  const tail = next >= 0 ? `\n${old.slice(next + 1)}` : "";
  writeFileSync(path, head + section.replace(/\n*$/, "\n") + tail);
}

function tables(o, allocators, workloads, plan, results, failed, chromiumVersion, started) {
  const names = allocators.map((a) => a.name);
  const peers = allocators.filter((a) => a.peer).map((a) => a.name);
  const has = (n) => names.includes(n);
  const lines = [];
  const push = (s = "") => lines.push(s);
  const command = `node bench/rust/run.mjs${o.args.length ? " " + o.args.join(" ") : ""}`;
  const when = new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC";
  const cpu = cpus()[0]?.model ?? "?";
  const node = `Node ${process.version} (V8 ${process.versions.v8}, \`--no-liftoff\`)`;
  const rustc = sh("rustc", ["--version"]);
  const walle = sh("git", ["-C", o.walle, "log", "-1", "--format=%h"]) + (o.walle !== ROOT ? ` (${o.walle}, --walle)` : "");
  const dirty = sh("git", ["-C", o.walle, "status", "--porcelain", "--", "src"]) !== "";
  push(SECTION);
  push();
  push(`Generated by \`${command}\` (\`make bench-rust\`; docs/benchmark-rust.md) on ${when} in ` +
    `${((Date.now() - started) / 60000).toFixed(1)} min; \`nproc\` = ${cpus().length}, CPU: ${cpu}, load average at the end ` +
    `${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${rustc}; engines: ${o.engines.map((e) => e === "node" ? node
      : e === "chromium" ? `Chromium ${chromiumVersion} (headless, \`--js-flags=--no-liftoff\`, ${o.chromiumClock === "cpu" ? "renderer thread CPU time" : "performance.now()"})` : "wasmtime 48 (cranelift)").join("; ")}; ` +
    `${o.reps} repetitions, medians${o.quick ? "; `--quick` (a quarter of the work per run)" : ""}; ` +
    `wall-e at commit ${walle}${dirty ? " plus uncommitted changes to src/" : ""}.`);
  push();
  push("The same Rust program (bench/rust/src/workloads.rs) built once per allocator as its " +
    "`#[global_allocator]`, one profile for all: opt-level 3, `lto = true`, `codegen-units = 1`, " +
    "`panic = \"abort\"`, wasm32-unknown-unknown, no wasm-opt; a 64 KiB shadow stack. `std (dlmalloc)` is " +
    "the program without a `#[global_allocator]`; wasmalloc =0.1.1, talc =5.1.1 (`WasmDynamicTalc`), rlsf " +
    "=0.2.3 (`GlobalTlsf`), lol_alloc =0.4.1 (`AssumeSingleThreaded<FreeListAllocator>`); wall-e-small is " +
    "`WallE` with wall-e's feature `small`. `bump (floor)` is the cheapest code that serves each workload " +
    "(a bump pointer that reuses only the block on top, or everything once nothing is live): not a peer. " +
    "Each workload runs on a fresh instance: untimed once, then timed; ns/op = the timed call's time ÷ " +
    "operations (Node and wasmtime: CPU time of the process/thread; Chromium: the renderer main thread's CPU " +
    "time from DevTools' `Performance.getMetrics` ThreadTime, less the round trip's own cost, or with " +
    "`--chromium-clock wall` performance.now() in a cross-origin-isolated page). Every run's checksums (contents written into and read back from every " +
    "block) agree across allocators and engines, or the run fails. Best peer = the fastest of wasmalloc, " +
    "talc, rlsf, std and lol_alloc in that engine; compare ratios within an engine.");
  push();
  const peerCols = (cells) => cells.join(" | ");
  for (const e of o.engines) {
    push(`### Time in ${ENGINES[e]} (ns/op, lower is better)`);
    push();
    const extra = [];
    if (has("wall-e")) extra.push("wall-e ÷ best peer", "wall-e ÷ wasmalloc");
    if (has("wall-e-small")) extra.push("wall-e-small ÷ best peer");
    push(`| workload | ${peerCols(names)} | best peer | ${extra.join(" | ")} |`);
    push(`|---|${names.map(() => "--:").join("|")}|---|${extra.map(() => "--:").join("|")}|`);
    const logs = Object.fromEntries(names.map((n) => [n, []]));
    const extraLogs = extra.map(() => []);
    for (const [i, w] of workloads.entries()) {
      const nsop = {};
      for (const n of names) {
        const rs = results[e][n][w.work];
        nsop[n] = failed.has(`${e}|${n}|${w.work}`) || !rs.length ? NaN : median(rs.map((r) => r.ns)) / (plan[i].n * w.ops);
      }
      const ok = peers.filter((p) => Number.isFinite(nsop[p]));
      const best = ok.length ? ok.reduce((b, p) => (nsop[p] < nsop[b] ? p : b)) : null;
      const cells = names.map((n) => (failed.has(`${e}|${n}|${w.work}`) ? "**FAIL**" : fmt(nsop[n])));
      const ratios = [];
      if (has("wall-e")) ratios.push(nsop["wall-e"] / nsop[best], nsop["wall-e"] / nsop["wasmalloc"]);
      if (has("wall-e-small")) ratios.push(nsop["wall-e-small"] / nsop[best]);
      ratios.forEach((r, j) => Number.isFinite(r) && extraLogs[j].push(r));
      if (best) for (const n of names) if (Number.isFinite(nsop[n] / nsop[best])) logs[n].push(nsop[n] / nsop[best]);
      push(`| ${w.title} | ${cells.join(" | ")} | ${best ?? "–"} | ${ratios.map(ratio).join(" | ")} |`);
    }
    push(`| **geometric mean** of ÷ best peer | ${names.map((n) => ratio(geomean(logs[n]))).join(" | ")} | | ${extraLogs.map((l) => `**${ratio(geomean(l))}**`).join(" | ")} |`);
    push();
  }

  // Memory: deterministic, the same in every engine (checked; a difference is shown).
  if (o.engines.length) memory();
  function memory() {
    push("### Peak memory (KiB: `memory.size` at the end of the workload, lower is better)");
    push();
    push("Wasm memory never shrinks, so its size at the end is the peak. It includes the module's initial " +
      "memory (shadow stack and static data: the `initial` row), the same program for every allocator " +
      "except the allocator's own statics. The floor's memory is shown, not compared.");
    push();
    const memExtra = [];
    if (has("wall-e")) memExtra.push("wall-e ÷ smallest peer");
    if (has("wall-e-small")) memExtra.push("wall-e-small ÷ smallest peer");
    push(`| workload | ${names.join(" | ")} | smallest peer | ${memExtra.join(" | ")} |`);
    push(`|---|${names.map(() => "--:").join("|")}|---|${memExtra.map(() => "--:").join("|")}|`);
    const kib = (pages) => pages * 64;
    const initial = {};
    const memLogs = memExtra.map(() => []);
    const memNotes = [];
    for (const w of workloads) {
      const peak = {};
      for (const n of names) {
        const byEngine = o.engines.map((e) => results[e][n][w.work].filter((r) => !r.error));
        const all = byEngine.flat();
        if (!all.length) {
          peak[n] = NaN;
          continue;
        }
        peak[n] = Math.max(...all.map((r) => r.pages));
        initial[n] = all[0].pages0;
        const distinct = new Set(all.map((r) => r.pages));
        if (distinct.size > 1) {
          memNotes.push(`${n}, ${w.work}: ${o.engines.map((e, i) => `${e} ${[...new Set(byEngine[i].map((r) => kib(r.pages)))].join("/")}`).join(", ")} KiB`);
        }
      }
      const ok = peers.filter((p) => Number.isFinite(peak[p]));
      const smallest = ok.length ? ok.reduce((b, p) => (peak[p] < peak[b] ? p : b)) : null;
      const rs = [];
      if (has("wall-e")) rs.push(peak["wall-e"] / peak[smallest]);
      if (has("wall-e-small")) rs.push(peak["wall-e-small"] / peak[smallest]);
      rs.forEach((r, j) => Number.isFinite(r) && memLogs[j].push(r));
      push(`| ${w.title} | ${names.map((n) => fmt(kib(peak[n]))).join(" | ")} | ${smallest ?? "–"} | ${rs.map(ratio).join(" | ")} |`);
    }
    push(`| initial | ${names.map((n) => (initial[n] === undefined ? "–" : fmt(kib(initial[n])))).join(" | ")} | | ${memExtra.map(() => "").join(" | ")} |`);
    push(`| **geometric mean** | ${names.map(() => "").join(" | ")} | | ${memLogs.map((l) => `**${ratio(geomean(l))}**`).join(" | ")} |`);
    push();
    if (memNotes.length) {
      push("Peak memory differed between runs (engines or repetitions; the table shows the largest): " + memNotes.join("; ") + ".");
      push();
    }
  }

  if (o.size) {
    push("### Code size: a small Vec/Box/String program (bytes)");
    push();
    push("bench/rust/src/small_app.rs with each allocator, built for size: opt-level \"z\", `lto = true`, " +
      "`codegen-units = 1`, `panic = \"abort\"`, then `wasm-opt -Oz` (Binaryen " + sh("wasm-opt", ["--version"]).replace(/^wasm-opt version /, "") +
      "). The program links std (its panic and formatting code is in every build); \"over the floor\" is the module " +
      "less the bump floor's: the bytes the allocator adds to an app.");
    push();
    const sizes = Object.fromEntries(allocators.map((a) => {
      const p = join(OUT, `${a.feature}.app.wasm`);
      return [a.name, existsSync(p) ? statSync(p).size : NaN];
    }));
    const floor = sizes["bump (floor)"];
    push(`| | ${names.join(" | ")} |`);
    push(`|---|${names.map(() => "--:").join("|")}|`);
    push(`| module, after \`wasm-opt -Oz\` | ${names.map((n) => fmt(sizes[n])).join(" | ")} |`);
    push(`| over the floor | ${names.map((n) => (Number.isFinite(floor) && Number.isFinite(sizes[n]) ? (sizes[n] - floor).toLocaleString("en-US") : "–")).join(" | ")} |`);
    push();
  }
  return lines.join("\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
