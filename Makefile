# wall-e — every command a user or CI needs. `make demo` builds wall-e.wasm and runs the demo;
# `make test` runs every test. See README.md.
.PHONY: setup build demo test test-clients test-host test-wasm test-js bench-rust-smoke suites package-check fuzz-smoke lint bench soak fuzz miri debug-cost

# Installs the test tools that are missing (Debian packages need root or sudo).
setup:
	scripts/setup.sh

# The modules of pkg/ (scripts/build.sh): needs only Rust and Node; it adds the wasm target
# and nightly's rust-src itself, and skips the threaded module with one line when no nightly is there.
build:
	scripts/build.sh

demo: build
	node examples/demo.mjs

# `make demo` in a fresh clone with no wasm targets, no nightly rust-src and an empty CARGO_HOME,
# then without a nightly toolchain (scripts/clean-room.sh; ~30 s).
.PHONY: clean-room
clean-room:
	scripts/clean-room.sh

test: setup build clean-room test-clients lint docs-check test-host test-loom test-wasm test-js bench-rust-smoke suites package-check fuzz-smoke
	@echo "== all tests passed"

# Every feature set wall-e is built with ("default" is none), as talc's justfile matrix: clippy
# on the host and on wasm32 (as a library, and as the standalone module: `--cfg wall_e_module`,
# which only scripts/build.mjs passes, to wall-e's own cdylib) for each, and the core's tests for
# each.
FEATURE_MATRIX = default small checked small,checked stats

lint:
	cargo fmt --all -- --check
	cd tests/dependents && cargo fmt --all -- --check
	for features in $(FEATURE_MATRIX); do \
	  cargo clippy --all-targets --features "$$features" -- -D warnings || exit 1; \
	  cargo clippy --lib --target wasm32-unknown-unknown --features "$$features" -- -D warnings || exit 1; \
	  cargo clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-module --features "$$features" -- -D warnings --cfg wall_e_module || exit 1; \
	done
	cargo clippy --lib --target wasm32v1-none -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-module --features trace -- -D warnings --cfg wall_e_module
	cargo clippy --lib --target wasm32-wasip1 -- -D warnings
	cd examples/threads && cargo fmt -- --check
	cd examples/threads-bindgen && cargo fmt -- --check
	cd bench/rust && cargo fmt -- --check
	cd bench/rust && for features in walle walle-small wasmalloc talc rlsf std lol_alloc bump "walle small-app"; do \
	  cargo clippy --release --target wasm32-unknown-unknown --target-dir target/clippy --features "$$features" -- -D warnings || exit 1; \
	done
	cd tests/loom && cargo fmt -- --check && CARGO_TARGET_DIR=$(CURDIR)/target/loom cargo clippy --all-targets -- -D warnings
	RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals" cargo clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-atomics -- -D warnings
	for features in default stats checked trace; do \
	  RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals" cargo clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-atomics-module --features "$$features" -- -D warnings --cfg wall_e_module || exit 1; \
	done
	# The threaded module's per-thread caches (src/exports.rs) compile only where the atomics
	# cfg is on, which stable leaves off for an unstable target feature: nightly, as the build.
	for features in default stats; do \
	  RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals" cargo +nightly clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-atomics-module-nightly --features "$$features" -- -D warnings --cfg wall_e_module || exit 1; \
	done
	# `WallE`'s per-thread caches (src/walle_caches.rs, src/per_thread.rs), the same way; and
	# `WallE` with the lock alone (`--cfg wall_e_lock_only`, the timing run's baseline).
	for cfg in "" "--cfg wall_e_lock_only"; do \
	  RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals" cargo +nightly clippy --lib --target wasm32-unknown-unknown --target-dir target/clippy-atomics-nightly -- -D warnings $$cfg || exit 1; \
	done

# What a newcomer meets: the README's snippets copied verbatim into a user's crate (host and
# wasm32) and script (scripts/readme-check.mjs), the crate's docs as docs.rs builds them (wasm32,
# broken links are errors; `--cfg docsrs` on nightly for the `doc(cfg)` badges), and the README's
# figures against bench/RESULTS.md and the built modules (scripts/figures.mjs --check).
.PHONY: docs-check
docs-check:
	node scripts/readme-check.mjs
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --target wasm32-unknown-unknown
	RUSTDOCFLAGS="-D warnings --cfg docsrs" cargo +nightly doc --no-deps --lib --target wasm32-unknown-unknown --target-dir target/docsrs
	node scripts/figures.mjs --check

# Unit, property and wasmtime integration tests (the latter load pkg/wall-e.wasm), and the crates
# of tests/dependents built for their wasm targets and run (tests/dependents.rs). The core's
# suites (core, model, fuzz_corpus) run over both policies, `Fast` and `Small`, in every run; they
# run again over the rest of the feature matrix: freed-memory poisoning checked by the walker
# (`checked`), `small` and `stats` (which choose what the module and `WallE` use).
test-host:
	cargo test
	for features in $(filter-out default,$(FEATURE_MATRIX)); do \
	  cargo test --features "$$features" --test core --test model --test fuzz_corpus || exit 1; \
	done

# The per-thread cache hand-off (src/handoff.rs) under the loom model checker: every interleaving
# of two and three threads over a few operations, and a torn claim (a load and a store for the
# compare-and-swap) that it must find. A crate of its own (tests/loom), so that loom's run builds
# neither wasmtime nor the other dev-dependencies again; ~1 min the first time, seconds after.
.PHONY: test-loom
test-loom:
	cd tests/loom && CARGO_TARGET_DIR=$(CURDIR)/target/loom cargo test --release

# wasm-bindgen-test: the suite compiled to wasm32 with wall-e as the global allocator, in Node
# and in headless Chromium.
# `web` has wall-e as #[global_allocator]; `web_beside_std` keeps std's allocator and drives a
# separate wall-e heap beside it. The runner finds chromedriver on PATH (Debian: /usr/bin/chromedriver, which
# starts /usr/bin/chromium); set CHROMEDRIVER=/path to use another. Each test gets 120 s, not 20,
# for slow shared machines.
WASM_TEST = WASM_BINDGEN_TEST_TIMEOUT=120 cargo test --target wasm32-unknown-unknown
test-wasm:
	$(WASM_TEST) --test web --test web_beside_std
	WASM_BINDGEN_USE_BROWSER=1 $(WASM_TEST) --test web --test web_beside_std

# The JS/TS loader under Node's test runner, and the example page in headless Chromium.
test-js:
	cd pkg && npm ci --no-audit --no-fund && node --test

# Other crates' own test suites on wasm32-wasip1 (Node's WASI, the host's environment passed),
# once with the default allocator and once with wall-e injected: every test that passes with the
# default must pass with wall-e.
suites:
	scripts/suites.sh

# `cargo publish --dry-run`, the package's file list, and the unpacked package as a dependency.
package-check:
	scripts/package-check.sh

# Bounded fuzz runs of the allocator core and of the size-tuned core (cargo-fuzz on nightly,
# installed when missing); the corpus and saved crashes are also replayed by `cargo test`
# (tests/fuzz_corpus.rs).
fuzz-smoke:
	scripts/fuzz.sh 60
	FUZZ_FEATURES=small scripts/fuzz.sh 30

# wall-e against wasmalloc, dlmalloc, talc, rlsf, lol_alloc and wee_alloc under wasmtime and in Node's V8
# (10–20 minutes; `bench/run --quick` about two). Tables go to stdout and bench/RESULTS.md.
bench:
	bench/run
	$(MAKE) bench-threads
	$(MAKE) bench-rust

# The Rust-level benchmark: the same Rust workloads with each allocator as the program's
# #[global_allocator] (wall-e, wall-e `small`, wasmalloc, talc, rlsf, std's dlmalloc, lol_alloc,
# a bump floor), in Node, headless Chromium and wasmtime (bench/rust/run.mjs,
# docs/benchmark-rust.md; 3.5 minutes on 2 cores at load ~3, `make bench-rust BENCH_RUST_ARGS=--quick`
# 1.3 at load ~9). Tables go to stdout and to bench/RESULTS.md's section "Rust programs".
BENCH_RUST_ARGS ?=
.PHONY: bench-rust
bench-rust:
	rustup target add wasm32-unknown-unknown
	[ -d bench/node_modules/playwright-core ] || npm ci --prefix bench --no-audit --no-fund
	node bench/rust/run.mjs $(BENCH_RUST_ARGS)

# Part of `make test` (seconds): the Rust-level benchmark's program with wall-e and wall-e-small
# as #[global_allocator], every workload at a tiny scale in Node, checked against std's dlmalloc
# (the same checksums: contents written into every block and read back). No figures.
.PHONY: bench-rust-smoke
bench-rust-smoke:
	rustup target add wasm32-unknown-unknown
	node bench/rust/run.mjs --smoke

# 100M mixed operations on the stats build, driven from inside wasm (examples/soak/host.rs): prints
# heap samples and fails unless the heap plateaus. Not part of `make test`.
soak:
	node scripts/build.mjs --features stats --out target/wall-e-stats.wasm
	cargo run --example soak -- 100000000

# The long run: `make fuzz FUZZ_SECONDS=3600` (each policy in turn: the speed-tuned core, then
# the size-tuned one with `--features small`).
FUZZ_SECONDS ?= 600
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)
	FUZZ_FEATURES=small scripts/fuzz.sh $(FUZZ_SECONDS)

# The core's host tests and the fuzz corpus replay under Miri (nightly component, added when
# missing). Isolation is off only for the replay, which reads the corpus files.
miri:
	rustup +nightly component list --installed | grep -q '^miri' || rustup component add --toolchain nightly miri rust-src
	cargo +nightly miri test --test core
	MIRIFLAGS=-Zmiri-disable-isolation cargo +nightly miri test --test fuzz_corpus

# What a dependent's debug build costs with wall-e, with and without the opt-level override
# (scripts/debug-cost.sh: wasm32-wasip1 under Node's WASI; README "Debug builds"). Not part of
# `make test`: it prints figures.
debug-cost:
	scripts/debug-cost.sh 3

# The threads tests alone (all of them also run in test-host and test-js): the threaded module on
# wasmtime threads, the threaded Rust example, Node worker_threads and Web Workers in Chromium;
# then `WallE` in a threaded wasm-bindgen app (examples/threads-bindgen, built by the tests
# themselves with nightly and the wasm-bindgen CLI) on Node worker_threads and Web Workers.
.PHONY: test-threads
test-threads:
	cargo test --test threads --test threads_example
	cd pkg && node --test test/threads.test.js test/threads-browser.test.js test/walle-threads.test.js test/walle-threads-browser.test.js

# The wasm-bindgen app's thread tests against a wall-e whose per-thread caches lost their
# synchronisation (scripts/threads-nosync.sh, in a copy of the tree): passes when the stress and
# the free storm fail in Node and in Chromium. Not part of `make test` (~20 s warm).
.PHONY: threads-nosync
threads-nosync:
	scripts/threads-nosync.sh

# The threaded module in V8 (bench/threads.mjs, a few minutes): uncontended against the
# single-threaded module, then the same total work on 1, 2 and 4 workers on one heap (churn,
# mixed sizes, LIFO, producer/consumer) with the heap's growth, against talc behind its lock and
# std's dlmalloc with atomics (bench/threads-peers) and a ceiling with nothing shared, in the same
# run; tables to stdout and bench/RESULTS.md ("Threads"). Not part of `make test`.
.PHONY: bench-threads
bench-threads: build
	[ -d bench/node_modules ] || npm ci --prefix bench --no-audit --no-fund
	bench/threads-peers/build.sh
	node --no-liftoff bench/threads.mjs

# Compiled clients beside wall-e (docs/clients.md): the C clients (examples/c: cJSON 1.7.19 and
# the bad-input client, built with clang-14/wasm-ld-14 by scripts/build-c.sh, with a native
# glibc build of the same workload as the reference) under Node and wasmtime, and the
# AssemblyScript program (examples/assemblyscript, asc pinned by its lockfile) in Node and
# headless Chromium. Needs pkg/wall-e.wasm (make build); builds the stats and checked modules.
# It runs before test-host and test-js, which run these tests again (cargo test, node --test): it
# builds what they load (target/c, examples/assemblyscript/build).
test-clients:
	scripts/build-c.sh
	[ -d examples/assemblyscript/node_modules ] || npm ci --prefix examples/assemblyscript --no-audit --no-fund
	node examples/assemblyscript/build.mjs
	node scripts/build.mjs --features stats --out target/wall-e-stats.wasm
	node scripts/build.mjs --features checked --out target/wall-e-checked.wasm
	cd pkg && ([ -d node_modules ] || npm ci --no-audit --no-fund) && node --test test/c-client.test.js test/assemblyscript.test.js
	cargo test --test c_client
