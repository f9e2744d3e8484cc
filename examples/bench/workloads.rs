//! The workloads: what the driver (`bench/driver.wat`) is asked to do, and at what scale. Each is
//! one timed call of a driver export, after `setup(cap, seed)` and, for the scaling rows, an
//! untimed call that makes the holes. To add a workload: a `Kind` (or reuse one) and a row in
//! `workloads`; a new driver export needs its `Call` in `Kind::timed` too.

/// One call of a driver export with u32 arguments, as the engines make it (wasmtime in
/// `measuring.rs`, V8 in `bench/node.mjs`) and as the child protocol carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub export: String,
    pub args: Vec<u32>,
}

impl Call {
    fn new(export: &str, args: &[u32]) -> Call {
        Call {
            export: export.to_string(),
            args: args.to_vec(),
        }
    }
}

#[derive(Clone, Copy)]
pub enum Kind {
    /// `n` live blocks, sizes from the driver's `$pick(lo, hi, log)`, `steps` replacements.
    Churn {
        n: u32,
        lo: u32,
        hi: u32,
        log: bool,
        steps: u32,
    },
    Lifo {
        rounds: u32,
        depth: u32,
        lo: u32,
        hi: u32,
    },
    Fifo {
        q: u32,
        steps: u32,
        lo: u32,
        hi: u32,
    },
    /// Growing buffers: doubling vectors, or strings appended to 1..16 bytes at a time.
    Grow {
        n: u32,
        steps: u32,
        double: bool,
        lim_lo: u32,
        lim_hi: u32,
    },
    Tree {
        rounds: u32,
        nodes: u32,
    },
    /// `n` live blocks with `n / 2` holes (untimed), then `m` allocations too big for the holes.
    Misfits {
        n: u32,
        m: u32,
    },
}

impl Kind {
    /// Slots the driver's table needs.
    pub fn cap(self) -> u32 {
        match self {
            Kind::Churn { n, .. } => n,
            Kind::Lifo { depth, .. } => depth,
            Kind::Fifo { q, .. } => q,
            Kind::Grow { n, .. } => 2 * n,
            Kind::Tree { nodes, .. } => nodes + 66,
            Kind::Misfits { n, m } => n + n / 2 + m,
        }
    }

    /// The untimed call after `setup`: the scaling rows' live blocks and holes.
    pub fn setup(self) -> Option<Call> {
        match self {
            Kind::Misfits { n, .. } => Some(Call::new("holes", &[n])),
            _ => None,
        }
    }

    /// The timed call: every call it makes into the allocator is counted in `ops`.
    pub fn timed(self) -> Call {
        match self {
            Kind::Churn {
                n,
                lo,
                hi,
                log,
                steps,
            } => Call::new("churn", &[n, lo, hi, log as u32, steps]),
            Kind::Lifo {
                rounds,
                depth,
                lo,
                hi,
            } => Call::new("lifo", &[rounds, depth, lo, hi]),
            Kind::Fifo { q, steps, lo, hi } => Call::new("fifo", &[q, steps, lo, hi]),
            Kind::Grow {
                n,
                steps,
                double,
                lim_lo,
                lim_hi,
            } => Call::new("grow", &[n, steps, double as u32, lim_lo, lim_hi]),
            Kind::Tree { rounds, nodes } => Call::new("tree", &[rounds, nodes]),
            // The misfits go into the slots after the holes' 3n/2.
            Kind::Misfits { n, m } => Call::new("misfits", &[n + n / 2, m]),
        }
    }
}

pub struct Workload {
    pub name: &'static str,
    pub kind: Kind,
}

/// The workloads at scale `k` (quick runs: 1, full runs: 8); the work of each grows with `k`.
pub fn workloads(k: u32) -> Vec<Workload> {
    let w = |name, kind| Workload { name, kind };
    vec![
        w(
            "small-object churn (1–64 B, 10k live)",
            Kind::Churn {
                n: 10_000,
                lo: 1,
                hi: 64,
                log: false,
                steps: 100_000 * k,
            },
        ),
        w(
            "mixed sizes (1 B–16 KiB log-uniform, 2k live)",
            Kind::Churn {
                n: 2_000,
                lo: 0,
                hi: 14,
                log: true,
                steps: 50_000 * k,
            },
        ),
        w(
            "LIFO (stacks of 1–100 blocks, 1–256 B)",
            Kind::Lifo {
                rounds: 5_000 * k,
                depth: 100,
                lo: 1,
                hi: 256,
            },
        ),
        w(
            "FIFO (queue of 1000, 1–256 B)",
            Kind::Fifo {
                q: 1_000,
                steps: 100_000 * k,
                lo: 1,
                hi: 256,
            },
        ),
        w(
            "realloc growth (64 vectors doubling to 512 B–256 KiB)",
            Kind::Grow {
                n: 64,
                steps: 50_000 * k,
                double: true,
                lim_lo: 9,
                lim_hi: 18,
            },
        ),
        w(
            "large blocks (64 KiB–1 MiB, 16 live)",
            Kind::Churn {
                n: 16,
                lo: 64 << 10,
                hi: 1 << 20,
                log: false,
                steps: 5_000 * k,
            },
        ),
        w(
            "parser tree (10k nodes of 20–64 B + tokens, built then freed)",
            Kind::Tree {
                rounds: 10 * k,
                nodes: 10_000,
            },
        ),
        w(
            "string building (64 strings, +1–16 B reallocs to 64 B–4 KiB)",
            Kind::Grow {
                n: 64,
                steps: 100_000 * k,
                double: false,
                lim_lo: 64,
                lim_hi: 4096,
            },
        ),
        w(
            "scaling: 1k live + 500 holes, misfits",
            Kind::Misfits {
                n: 1_000,
                m: 2_000 * k,
            },
        ),
        w(
            "scaling: 10k live + 5k holes, misfits",
            Kind::Misfits {
                n: 10_000,
                m: 2_000 * k,
            },
        ),
        w(
            "scaling: 100k live + 50k holes, misfits",
            Kind::Misfits {
                n: 100_000,
                m: 2_000 * k,
            },
        ),
    ]
}
