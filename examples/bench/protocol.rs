//! The child protocol: every measurement runs in a child process (`running.rs`), this program
//! with `--child` (wasmtime) or `node bench/node.mjs` (V8). The parent sends a [`Request`] as
//! the child's arguments; the child answers with one line on stdout, an [`Outcome`] or an error:
//!
//! ```text
//! bench --child driver=bench/driver.wat module=…/talc.wasm cap=1000 seed=6291587085 setup=none timed=fifo(1000,100000,1,256)
//! ok cpu_ns=2391000 ops=202000 growth=196608 peak=128960 errors=0 nils=0 reallocs=0 moved=0
//! err trap: wasm trap: out of bounds memory access
//! ```
//!
//! Both are written here and read here, strictly: each field named, in this order, once, and a
//! number where a number belongs. Anything else panics with the offending text (`bench/node.mjs`
//! writes and reads the same format, and is as strict).

use crate::workloads::Call;
use std::path::PathBuf;

/// What one measurement runs: the driver and allocator modules, the driver's `setup(cap, seed)`,
/// an untimed call (`setup`, the scaling rows' holes) and the timed call.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub driver: PathBuf,
    pub module: PathBuf,
    pub cap: u32,
    pub seed: u64,
    pub setup: Option<Call>,
    pub timed: Call,
}

const REQUEST_KEYS: [&str; 6] = ["driver", "module", "cap", "seed", "setup", "timed"];

impl Request {
    /// The child's arguments (after `--child` for this program).
    pub fn to_args(&self) -> Vec<String> {
        let path = |p: &PathBuf| {
            p.to_str()
                .unwrap_or_else(|| panic!("not a UTF-8 path: {}", p.display()))
                .to_string()
        };
        let values = [
            path(&self.driver),
            path(&self.module),
            self.cap.to_string(),
            self.seed.to_string(),
            self.setup.as_ref().map_or("none".into(), call_text),
            call_text(&self.timed),
        ];
        REQUEST_KEYS
            .iter()
            .zip(values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// Parses what `to_args` wrote; panics on any mismatch.
    pub fn from_args(args: &[String]) -> Request {
        let whole = args.join(" ");
        let [driver, module, cap, seed, setup, timed] = fields(&REQUEST_KEYS, args, &whole);
        Request {
            driver: PathBuf::from(driver),
            module: PathBuf::from(module),
            cap: number(cap, &whole),
            seed: number(seed, &whole),
            setup: (setup != "none").then(|| parse_call(setup, &whole)),
            timed: parse_call(timed, &whole),
        }
    }
}

/// `export(a,b,…)`.
fn call_text(call: &Call) -> String {
    let args: Vec<String> = call.args.iter().map(u32::to_string).collect();
    format!("{}({})", call.export, args.join(","))
}

fn parse_call(text: &str, whole: &str) -> Call {
    let (export, args) = text
        .strip_suffix(')')
        .and_then(|t| t.split_once('('))
        .filter(|(e, _)| !e.is_empty() && e.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .unwrap_or_else(|| {
            panic!("child protocol: not a call export(a,b,…): {text:?} in {whole:?}")
        });
    Call {
        export: export.to_string(),
        args: match args {
            "" => Vec::new(),
            _ => args.split(',').map(|a| number(a, whole)).collect(),
        },
    }
}

/// One measurement, as the child counted it: the driver's counters and what the engine saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// CPU time of the timed call, in nanoseconds (wasmtime: the thread's; V8: the process's).
    pub cpu_ns: u64,
    /// Calls into the allocator (allocate, deallocate, reallocate) during the timed call.
    pub ops: u64,
    /// Memory size after the workload minus at instantiation, in bytes.
    pub growth: u64,
    /// Peak bytes asked for of live blocks, as the driver counts them (not its slot table).
    pub peak: u64,
    /// Blocks whose contents the driver found changed.
    pub errors: u64,
    /// Allocations and reallocations that returned nil.
    pub nils: u64,
    /// Growths by `reallocate`, and those of them that moved the block.
    pub reallocs: u64,
    pub moved: u64,
}

impl Outcome {
    pub fn ns_per_op(&self) -> f64 {
        self.cpu_ns as f64 / self.ops.max(1) as f64
    }

    /// The fields in the order of the line; `from_fields` takes them back in the same order.
    fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("cpu_ns", self.cpu_ns),
            ("ops", self.ops),
            ("growth", self.growth),
            ("peak", self.peak),
            ("errors", self.errors),
            ("nils", self.nils),
            ("reallocs", self.reallocs),
            ("moved", self.moved),
        ]
    }

    fn from_fields(values: [u64; 8]) -> Outcome {
        let [cpu_ns, ops, growth, peak, errors, nils, reallocs, moved] = values;
        Outcome {
            cpu_ns,
            ops,
            growth,
            peak,
            errors,
            nils,
            reallocs,
            moved,
        }
    }
}

/// The child's answer line.
pub fn answer_line(answer: &Result<Outcome, String>) -> String {
    match answer {
        Ok(o) => {
            let fields: Vec<String> = o.fields().iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("ok {}", fields.join(" "))
        }
        Err(e) => format!("err {}", e.replace('\n', " ")),
    }
}

/// Parses what `answer_line` wrote (or `bench/node.mjs`); panics on any mismatch.
pub fn parse_answer(line: &str) -> Result<Outcome, String> {
    if let Some(e) = line.strip_prefix("err ") {
        return Err(e.to_string());
    }
    let Some(rest) = line.strip_prefix("ok ") else {
        panic!("child protocol: neither `ok …` nor `err …`: {line:?}");
    };
    let keys = Outcome::default().fields().map(|(k, _)| k);
    let tokens: Vec<String> = rest.split(' ').map(str::to_string).collect();
    Ok(Outcome::from_fields(
        fields(&keys, &tokens, line).map(|v| number(v, line)),
    ))
}

/// The values of `key=value` tokens, which must name exactly `keys`, in that order.
fn fields<'a, const N: usize>(keys: &[&str; N], tokens: &'a [String], whole: &str) -> [&'a str; N] {
    assert!(
        tokens.len() == N,
        "child protocol: {} fields where {N} belong ({}): {whole:?}",
        tokens.len(),
        keys.join(" ")
    );
    std::array::from_fn(|i| {
        tokens[i]
            .strip_prefix(keys[i])
            .and_then(|t| t.strip_prefix('='))
            .unwrap_or_else(|| {
                panic!(
                    "child protocol: field {} is {:?}, not {}=…: {whole:?}",
                    i + 1,
                    tokens[i],
                    keys[i]
                )
            })
    })
}

fn number<T: std::str::FromStr>(text: &str, whole: &str) -> T {
    // `parse` alone would take "+5".
    match text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse().ok(),
        false => None,
    }
    .unwrap_or_else(|| panic!("child protocol: {text:?} is not a number that fits: {whole:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            driver: "bench/driver.wat".into(),
            module: "out/wall-e.wasm".into(),
            cap: 101_000,
            seed: u64::MAX,
            setup: Some(Call {
                export: "holes".into(),
                args: vec![1000],
            }),
            timed: Call {
                export: "misfits".into(),
                args: vec![1500, 2000],
            },
        }
    }

    #[test]
    fn round_trips() {
        let r = request();
        assert_eq!(Request::from_args(&r.to_args()), r);
        let o = Outcome {
            cpu_ns: 1,
            ops: 2,
            growth: 3,
            peak: 4,
            errors: 5,
            nils: 6,
            reallocs: 7,
            moved: u64::MAX,
        };
        assert_eq!(parse_answer(&answer_line(&Ok(o))), Ok(o));
        assert_eq!(
            parse_answer(&answer_line(&Err("a\nb".into()))),
            Err("a b".into())
        );
    }

    fn rejects(line: &str) {
        let line = line.to_string();
        assert!(
            std::panic::catch_unwind(|| parse_answer(&line)).is_err(),
            "{line}"
        );
    }

    #[test]
    fn rejects_mismatches() {
        let good = "ok cpu_ns=1 ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7 moved=8";
        assert!(parse_answer(good).is_ok());
        rejects("");
        rejects("ok");
        rejects("ok cpu_ns=1 ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7"); // missing
        rejects(&format!("{good} extra=9")); // extra
        rejects("ok cpu_ns=1 ops=2 growth=3 peak=4 errors=5 nils=6 moved=8 reallocs=7"); // order
        rejects("ok cpu_ns=1.5 ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7 moved=8");
        rejects("ok cpu_ns= ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7 moved=8");
        rejects("ok cpu_ns=-1 ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7 moved=8");
        rejects("ok  cpu_ns=1 ops=2 growth=3 peak=4 errors=5 nils=6 reallocs=7 moved=8");
        rejects("okay");
        let mut args = request().to_args();
        args.pop();
        assert!(std::panic::catch_unwind(|| Request::from_args(&args)).is_err());
        let mut args = request().to_args();
        args[2] = "cap=x".into();
        assert!(std::panic::catch_unwind(|| Request::from_args(&args)).is_err());
    }
}
