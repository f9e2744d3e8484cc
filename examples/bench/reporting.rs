//! The tables (Markdown): time per engine with each allocator's ratio to the best peer in that
//! engine and the geometric means of those ratios; heap growth and efficiency, and reallocations
//! that moved the block (both the same in every engine: printed once, and checked); module
//! sizes; and the problems seen. With `--baseline REV`, also a before/after table per engine:
//! each wall-e build at REV against the same build of this tree. Printed and written to
//! `bench/RESULTS.md`.

use crate::options::{Engine, Options};
use crate::protocol::Outcome;
use crate::running::{baseline_name, Allocator, Runs, BASELINE, NODE_FLAGS, SEED, WALL_E};
use crate::workloads::{Kind, Workload};
use std::fmt::Write as _;

/// What the benchmark measured, for the report.
pub struct Measured<'a> {
    pub options: &'a Options,
    /// The engines that ran, in the order of `runs`.
    pub engines: &'a [Engine],
    pub allocators: &'a [Allocator],
    pub works: &'a [Workload],
    pub runs: &'a Runs,
    /// Allocators and engines that could not run.
    pub missing: Vec<String>,
}

/// One table cell: the medians over the repetitions.
struct Cell {
    ns_per_op: f64,
    growth: u64,
    /// Peak live bytes, the driver's slot table included.
    peak: u64,
    errors: u64,
    nils: u64,
}

/// The cell of a list of repetitions; a cell with any failed repetition shows the failure.
fn cell(list: &[Result<Outcome, String>], work: &Workload) -> Result<Cell, String> {
    if let Some(Err(e)) = list.iter().find(|r| r.is_err()) {
        return Err(e.clone());
    }
    let ok: Vec<Outcome> = list.iter().map(|r| *r.as_ref().unwrap()).collect();
    let mut t: Vec<f64> = ok.iter().map(Outcome::ns_per_op).collect();
    let mut g: Vec<f64> = ok.iter().map(|o| o.growth as f64).collect();
    // The slot table is a live block too.
    let table = 8 * work.kind.cap() as u64;
    Ok(Cell {
        ns_per_op: median(&mut t),
        growth: median(&mut g) as u64,
        peak: ok.iter().map(|o| o.peak).max().unwrap_or(0) + table,
        errors: ok.iter().map(|o| o.errors).max().unwrap_or(0),
        nils: ok.iter().map(|o| o.nils).max().unwrap_or(0),
    })
}

impl Measured<'_> {
    fn names(&self) -> Vec<&str> {
        self.allocators.iter().map(|a| a.name.as_str()).collect()
    }

    fn is_peer(&self, a: usize) -> bool {
        let name = self.allocators[a].name.as_str();
        !name.starts_with("wall-e") && name != BASELINE
    }

    /// The header and rule of a table with a column per allocator.
    fn header(&self, first: &str, extra: &str) -> String {
        let mut s = format!("| {first} |");
        for n in self.names() {
            let n = if n == BASELINE {
                "bump (driver overhead)"
            } else {
                n
            };
            let _ = write!(s, " {n} |");
        }
        s.push_str(extra);
        s.push_str("\n|---|");
        for _ in self.allocators {
            s.push_str("--:|");
        }
        if !extra.is_empty() {
            s.push_str("---|");
        }
        s.push('\n');
        s
    }

    /// The time table of engine `e`; adds the problems seen to `notes`.
    fn time_table(&self, e: usize, notes: &mut Vec<String>) -> String {
        let runs = &self.runs[e];
        let engine = self.engines[e].name();
        let names = self.names();
        let mut time = self.header("workload (ns/op, × best peer)", " best peer |");
        let baseline = names.iter().position(|&n| n == BASELINE);
        // Per allocator, the logs of its ratios to the best peer: as measured, and net of the
        // driver's overhead (both times minus bump's; only on rows where that overhead is under
        // 80% of the best time, as a difference of two close times is mostly noise).
        let mut logs = vec![(Vec::new(), Vec::new()); names.len()];
        for (w, work) in self.works.iter().enumerate() {
            let cells: Vec<Result<Cell, String>> =
                runs[w].iter().map(|list| cell(list, work)).collect();
            // The best peer: the fastest one whose runs had no nil results and no errors.
            let best = (0..names.len())
                .filter(|&a| self.is_peer(a))
                .filter_map(|a| match &cells[a] {
                    Ok(c) if c.errors + c.nils == 0 => Some((c.ns_per_op, a)),
                    _ => None,
                })
                .min_by(|x, y| x.0.total_cmp(&y.0));
            let overhead = baseline.and_then(|b| cells[b].as_ref().ok().map(|c| c.ns_per_op));
            for (a, log) in logs.iter_mut().enumerate() {
                if let (Some((b, _)), Ok(c)) = (best, &cells[a]) {
                    let t = c.ns_per_op;
                    log.0.push((t / b).ln());
                    if let Some(o) = overhead.filter(|&o| t > o && o < 0.8 * b) {
                        log.1.push(((t - o) / (b - o)).ln());
                    }
                }
            }
            let _ = write!(time, "| {} |", work.name);
            for (a, &name) in names.iter().enumerate() {
                match &cells[a] {
                    Ok(c) => {
                        let ratio = match best {
                            Some((b, _)) if name != BASELINE => {
                                format!(" (×{:.2})", c.ns_per_op / b)
                            }
                            _ => String::new(),
                        };
                        let mut bad = "";
                        if c.errors > 0 && name != BASELINE {
                            notes.push(format!(
                                "{name}: {}: {} blocks found with changed contents",
                                work.name, c.errors
                            ));
                            bad = " ⚠";
                        }
                        if c.nils > 0 {
                            notes.push(format!(
                                "{name}: {}: {} allocations returned nil (out of memory)",
                                work.name, c.nils
                            ));
                            bad = " ⚠";
                        }
                        let _ = write!(time, " {}{ratio}{bad} |", ns(c.ns_per_op));
                    }
                    Err(err) => {
                        notes.push(format!("{engine}: {name}: {}: {err}", work.name));
                        time.push_str(" fails |");
                    }
                }
            }
            let _ = writeln!(time, " {} |", best.map_or("–", |(_, a)| names[a]));
        }
        let geomean = |logs: &[f64]| match logs.len() {
            0 => " – |".to_string(),
            n => format!(" ×{:.2} |", (logs.iter().sum::<f64>() / n as f64).exp()),
        };
        for (label, net) in [
            ("**geometric mean** of the ratios", false),
            (
                "geometric mean net of the driver (ns/op − bump's, both sides; rows where bump < 0.8 × best)",
                true,
            ),
        ] {
            let _ = write!(time, "| {label} |");
            for (a, log) in logs.iter().enumerate() {
                match Some(a) == baseline {
                    true => time.push_str(" – |"),
                    false => time.push_str(&geomean(if net { &log.1 } else { &log.0 })),
                }
            }
            time.push_str(" |\n");
        }
        time
    }

    /// Heap growth and efficiency, from the first engine's runs.
    fn heap_table(&self) -> String {
        let mut heap = self.header("workload (heap growth / efficiency)", "");
        for (w, work) in self.works.iter().enumerate() {
            let _ = write!(heap, "| {} |", work.name);
            for (a, &name) in self.names().iter().enumerate() {
                match cell(&self.runs[0][w][a], work) {
                    Ok(_) if name == BASELINE => heap.push_str(" – |"),
                    Ok(c) => {
                        let eff = match c.growth {
                            0 => "–".to_string(),
                            g => format!("{:.0}%", 100.0 * c.peak as f64 / g as f64),
                        };
                        let _ = write!(heap, " {} / {eff} |", bytes(c.growth));
                    }
                    Err(_) => heap.push_str(" fails |"),
                }
            }
            heap.push('\n');
        }
        heap
    }

    /// Reallocations that moved the block (deterministic: the first engine's first repetition).
    fn moves_table(&self) -> String {
        let mut moves = self.header("workload (reallocations that moved the block)", "");
        for (w, work) in self.works.iter().enumerate() {
            if !matches!(work.kind, Kind::Grow { .. }) {
                continue;
            }
            let _ = write!(moves, "| {} |", work.name);
            for (a, &name) in self.names().iter().enumerate() {
                match self.runs[0][w][a].first() {
                    Some(Ok(o)) if name != BASELINE && o.reallocs > 0 => {
                        let share = 100.0 * o.moved as f64 / o.reallocs as f64;
                        let _ = write!(moves, " {share:.1}% |");
                    }
                    Some(Ok(_)) => moves.push_str(" – |"),
                    _ => moves.push_str(" fails |"),
                }
            }
            moves.push('\n');
        }
        moves
    }

    /// With `--baseline REV`, the before/after table of engine `e`: for each wall-e build
    /// measured at REV too, per workload, ns/op and memory at the end of the workload (the initial
    /// memory plus its growth: wasm memory never shrinks, so this is the peak), at REV → in this
    /// tree, each with its ratio (this tree ÷ REV), and the geometric means of the ratios. `None`
    /// without `--baseline` or when no build at REV was found (listed under Problems).
    fn before_after_table(&self, e: usize) -> Option<String> {
        let rev = self.options.baseline.as_deref()?;
        let index = |name: &str| self.allocators.iter().position(|a| a.name == name);
        let pairs: Vec<(&str, usize, usize)> = WALL_E
            .iter()
            .filter_map(|&name| Some((name, index(&baseline_name(name, rev))?, index(name)?)))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        let mut table = String::from("| workload |");
        for (name, _, _) in &pairs {
            let _ = write!(
                table,
                " {name} ns/op, @{rev} → now | × | {name} memory, @{rev} → now | × |"
            );
        }
        table.push_str("\n|---|");
        for _ in &pairs {
            table.push_str("--:|--:|--:|--:|");
        }
        table.push('\n');
        // Per pair, the logs of the time ratios and of the memory ratios.
        let mut logs = vec![(Vec::new(), Vec::new()); pairs.len()];
        let ratio = |log: &mut Vec<f64>, before: f64, after: f64| {
            log.push((after / before).ln());
            format!("×{:.2}", after / before)
        };
        for (w, work) in self.works.iter().enumerate() {
            let _ = write!(table, "| {} |", work.name);
            for ((_, before, after), log) in pairs.iter().zip(&mut logs) {
                let runs = &self.runs[e][w];
                match (cell(&runs[*before], work), cell(&runs[*after], work)) {
                    (Ok(b), Ok(a)) => {
                        let memory =
                            |c: &Cell, i: usize| self.allocators[i].initial_memory + c.growth;
                        let (mb, ma) = (memory(&b, *before), memory(&a, *after));
                        let _ = write!(
                            table,
                            " {} → {} | {} | {} → {} | {} |",
                            ns(b.ns_per_op),
                            ns(a.ns_per_op),
                            ratio(&mut log.0, b.ns_per_op, a.ns_per_op),
                            bytes(mb),
                            bytes(ma),
                            ratio(&mut log.1, mb as f64, ma as f64),
                        );
                    }
                    _ => table.push_str(" fails | – | fails | – |"),
                }
            }
            table.push('\n');
        }
        let geomean = |logs: &[f64]| match logs.len() {
            0 => "–".to_string(),
            n => format!("**×{:.2}**", (logs.iter().sum::<f64>() / n as f64).exp()),
        };
        table.push_str("| **geometric mean** |");
        for (time, memory) in &logs {
            let _ = write!(table, " | {} | | {} |", geomean(time), geomean(memory));
        }
        table.push('\n');
        Some(table)
    }

    fn size_table(&self) -> String {
        let mut sizes = String::from(
            "| module | raw, opt-level 3 (bytes) | measured: `wasm-opt -O3` (bytes) | built for \
             size: opt-level \"z\", `wasm-opt -Oz` (bytes) |\n|---|--:|--:|--:|\n",
        );
        let or_dash = |s: Option<u64>| s.map_or("–".into(), |s| s.to_string());
        for a in self.allocators {
            let _ = writeln!(
                sizes,
                "| {} | {} | {} | {} |",
                a.name,
                or_dash(a.raw_size),
                a.opt_size,
                or_dash(a.small_size)
            );
        }
        sizes
    }

    /// The engines must agree on everything but time: the same workload on the same module
    /// makes the same calls with the same results. One note per cell where they do not.
    fn disagreements(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (w, work) in self.works.iter().enumerate() {
            for (a, alloc) in self.allocators.iter().enumerate() {
                for e in 1..self.engines.len() {
                    let pairs = self.runs[0][w][a].iter().zip(&self.runs[e][w][a]);
                    for (rep, (x, y)) in pairs.enumerate() {
                        if let (Ok(x), Ok(y)) = (x, y) {
                            let cpu = |o: &Outcome| Outcome { cpu_ns: 0, ..*o };
                            if cpu(x) != cpu(y) {
                                notes.push(format!(
                                    "{} and {} disagree on {}: {} (repetition {}): {x:?} / {y:?}",
                                    self.engines[0].name(),
                                    self.engines[e].name(),
                                    alloc.name,
                                    work.name,
                                    rep + 1
                                ));
                            }
                        }
                    }
                }
            }
        }
        notes
    }

    /// The whole report.
    pub fn report(&self) -> String {
        let options = self.options;
        let mut notes = Vec::new();
        let times: Vec<String> = (0..self.engines.len())
            .map(|e| self.time_table(e, &mut notes))
            .collect();
        notes.extend(self.disagreements());
        let mut seen = std::collections::HashSet::new();
        notes.retain(|n| seen.insert(n.clone()));

        let command = format!(
            "cargo run --example bench --{}",
            options
                .args
                .iter()
                .map(|a| format!(" {a}"))
                .collect::<String>()
        );
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "unknown".into());
        let root = Options::root();
        let root = root.to_str().unwrap_or(".");
        let head = sh("git", &["-C", root, "rev-parse", "--short", "HEAD"]);
        let dirty = !sh(
            "git",
            &[
                "-C",
                root,
                "status",
                "--porcelain",
                "src",
                "Cargo.toml",
                "scripts/build.mjs",
            ],
        )
        .is_empty();
        let version = format!(
            "wall-e at commit {head}{}",
            if dirty {
                " plus uncommitted changes to src/"
            } else {
                ""
            }
        );
        let engine_versions: Vec<String> = self
            .engines
            .iter()
            .map(|e| match e {
                Engine::Wasmtime => "wasmtime 48 (cranelift)".to_string(),
                Engine::V8 => format!(
                    "Node {} (V8 {}, `{}`)",
                    sh("node", &["--version"]),
                    sh("node", &["-p", "process.versions.v8"]),
                    NODE_FLAGS.join(" ")
                ),
            })
            .collect();
        let quick = options.quick;
        let baseline = options.baseline.as_deref();
        let generated_by = format!(
            "bench/run{}{}",
            if quick { " --quick" } else { "" },
            baseline.map_or(String::new(), |rev| format!(" --baseline {rev}"))
        );
        let mut out = String::new();
        let _ = writeln!(out, "# wall-e against its peers\n");
        let _ = writeln!(
            out,
            "Generated by `{generated_by}` (which runs `{command}`) on {}; `nproc` = {}, CPU: \
             {cpu}, load average at the end {load}; {}; {}; {} repetitions{}, medians; seed \
             {SEED:#x}; {version}{}.\n",
            sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            sh("nproc", &[]),
            sh("rustc", &["--version"]),
            engine_versions.join("; "),
            options.reps,
            if quick { " (quick mode)" } else { "" },
            baseline.map_or(String::new(), |rev| format!(
                "; baseline: wall-e at commit {rev}, built from a worktree by `bench/run --baseline`"
            )),
        );
        let _ = writeln!(
            out,
            "Each allocator is built for speed: `opt-level = 3`, LTO, then `wasm-opt -O3` (peers: \
             their `GlobalAlloc` behind an 8-byte size header; `wall-e-small` is wall-e's \
             size-tuned build, `--small`, shown for reference and not a peer{}), driven from inside \
             wasm by `bench/driver.wat`, the same modules and workloads in every engine, a fresh \
             instance per measurement{}. ns/op = CPU time for the workload (user + system, so page \
             faults count; time waiting for a core does not; under wasmtime the thread's, under V8 \
             the Node process's, to the microsecond, with every function compiled by TurboFan \
             before the timed call) ÷ calls into the allocator (allocate, deallocate, reallocate); \
             for the scaling rows only the misfit allocations are timed and counted. The ratio is \
             ns/op ÷ the best peer's in the same engine (wall-e, wall-e-small and bump are not \
             peers); compare ratios within one engine, not ns/op across engines. `bump` is a \
             do-nothing allocator (bump pointer, no free, no copy on realloc, cache-warm: it wraps \
             around in 1 MiB): its ns/op is roughly the driver's and the call's own cost, to \
             subtract from the others when comparing absolute costs. ⚠ marks a cell whose run had \
             nil results or changed blocks (see Problems); such a peer is not a candidate for best \
             peer. Deterministic instruction counts per call (wasmtime): `bench/instructions`.\n",
            baseline.map_or(String::new(), |rev| format!(
                "; `wall-e @{rev}` and `wall-e-small @{rev}` are the same two builds of wall-e \
                 at commit {rev}, measured in the same run"
            )),
            if options.in_process {
                " (wasmtime's all in one process: `--in-process`)"
            } else {
                ", each in a process of its own"
            }
        );
        for (e, time) in self.engines.iter().zip(&times) {
            let title = title(*e);
            let _ = writeln!(
                out,
                "## Time under {title} (ns/op, lower is better)\n\n{time}"
            );
        }
        let before_after: Vec<(Engine, String)> = (0..self.engines.len())
            .filter_map(|e| Some((self.engines[e], self.before_after_table(e)?)))
            .collect();
        if let (Some(rev), false) = (baseline, before_after.is_empty()) {
            let _ = writeln!(
                out,
                "## Before/after: wall-e at commit {rev} → this tree\n\nEach wall-e build at \
                 {rev} against the same build of this tree ({version}), in the same run with the \
                 same driver, workloads and seeds: ns/op (median) and memory at the end of the \
                 workload (the module's initial memory plus its growth; wasm memory never shrinks, \
                 so this is its peak), at {rev} → now, and × = now ÷ at {rev} (below 1 is better); \
                 geometric means of the ratios over the workloads.\n"
            );
            for (e, table) in &before_after {
                let _ = writeln!(out, "### {}\n\n{table}", title(*e));
            }
        }
        let _ = writeln!(
            out,
            "## Heap growth and efficiency\n\nGrowth = linear memory size after the workload minus \
             at instantiation (wall-e also uses the rest of the module's initial page, the peers grow \
             memory for their first block); efficiency = peak bytes asked for of live blocks (the \
             driver's slot table included; for the scaling rows, the holes' setup included) ÷ growth \
             (higher is better; – when nothing grew). Measured under {}{}.\n\n{}",
            self.engines[0].name(),
            if self.engines.len() > 1 {
                "; every engine runs the same calls with the same results (checked: any difference \
                 in these counts or in the calls is listed under Problems)"
            } else {
                ""
            },
            self.heap_table()
        );
        let _ = writeln!(
            out,
            "## Reallocations that moved the block\n\nShare of the growing `reallocate` calls that \
             returned a new address (and so copied the contents) instead of growing in place.\n\n\
             {}",
            self.moves_table()
        );
        let _ = writeln!(
            out,
            "## Module size\n\nRaw = as cargo built it at opt-level 3 (wall-e: `scripts/build.mjs \
             --no-opt`, which drops the `__heap_base`/`__data_end` exports; the peers' modules have \
             them dropped too by `scripts/strip-exports.mjs`); measured = that after `wasm-opt -O3`; \
             built for size = opt-level \"z\" and `wasm-opt -Oz` (wall-e: `scripts/build.mjs \
             --small`). The peers include the 8-byte-header ABI wrapper.\n\n{}",
            self.size_table()
        );
        if !self.missing.is_empty() || !notes.is_empty() {
            let _ = writeln!(out, "## Problems\n");
            for m in &self.missing {
                let _ = writeln!(out, "- not measured: {m}");
            }
            for n in &notes {
                let _ = writeln!(out, "- {n}");
            }
            out.push('\n');
        }
        out
    }
}

/// An engine's name in section titles.
fn title(engine: Engine) -> &'static str {
    match engine {
        Engine::Wasmtime => "wasmtime",
        Engine::V8 => "V8 (Node)",
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn bytes(v: u64) -> String {
    if v >= 10 << 20 {
        format!("{:.0} MiB", v as f64 / (1u64 << 20) as f64)
    } else if v >= 1 << 20 {
        format!("{:.1} MiB", v as f64 / (1u64 << 20) as f64)
    } else {
        format!("{} KiB", v.div_ceil(1024))
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
