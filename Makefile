# wall-e — every command a user or CI needs. `make demo` builds wall-e.wasm and runs the demo;
# `make test` runs every test. See README.md.
.PHONY: build demo test test-host test-wasm test-js fuzz-smoke lint bench soak fuzz

build:
	rustup target add wasm32-unknown-unknown
	node scripts/build.mjs

demo: build
	node examples/demo.mjs

test: build lint test-host test-wasm test-js fuzz-smoke
	@echo "== all tests passed"

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings

# Unit, property and wasmtime integration tests (the latter load pkg/wall-e.wasm).
test-host:
	cargo test

# wasm-bindgen-test: the suite compiled to wasm32 with wall-e as the global allocator, in Node
# and in headless Chromium.
test-wasm:
	cargo test --target wasm32-unknown-unknown --no-default-features --test web
	WASM_BINDGEN_USE_BROWSER=1 cargo test --target wasm32-unknown-unknown --no-default-features --test web

# The JS/TS loader under Node's test runner, and the example page in headless Chromium.
test-js:
	cd pkg && npm ci --no-audit --no-fund && node --test

fuzz-smoke:
	@echo "(fuzz smoke: to be added)"

# wall-e against dlmalloc, talc, rlsf, lol_alloc and wee_alloc under wasmtime (a few minutes;
# `bench/run --quick` takes under one). Tables go to stdout and bench/RESULTS.md.
bench:
	bench/run

soak:
	@echo "(soak: to be added)"

fuzz:
	@echo "(fuzz: to be added)"
