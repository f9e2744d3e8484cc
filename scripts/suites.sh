#!/usr/bin/env bash
# Other people's test suites with wall-e as their global allocator, on wasm32-wasip1 under
# Node's WASI (scripts/wasi-run.mjs, which passes the whole host environment):
#   scripts/suites.sh [crate...]      # all crates, or only those named
# For each crate pinned in tests/suites/fetch/Cargo.toml (fetched through cargo from crates.io,
# copied fresh to target/suites/<crate>-<version>/, never committed), runs `cargo test --lib
# --test ...` twice: as published (the default allocator, wasi-libc's malloc), then with wall-e
# injected by tests/suites/inject.mjs as the `#[global_allocator]` of the lib's unit tests and
# of every integration test binary, plus a test proving wall-e is live in each binary. Fails
# unless every test that passed with the default allocator also passes with wall-e
# (tests/suites/compare.mjs). Logs: target/suites/<crate>-{default,wall-e}.log; builds:
# target/suites/build/<crate>-<mode>/ (kept between runs, apart from the main target/).
# Both modes use the dev profile as published (debug assertions on, in wall-e too).
#
# Optional environment:
#   SUITES_WALL_E=<dir>             inject the wall-e crate at <dir> (default: this repository),
#                                   e.g. an older checkout, to see a bug caught
#   SUITES_WALL_E_FEATURES=checked  wall-e's cargo features (checked: freed memory poisoned and
#                                   checked by the heap walks of the liveness tests)
#   QUICKCHECK_TESTS=2000           longer runs: the whole environment reaches the tests, and
#                                   indexmap's quickcheck properties read it (default 100)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The wall-e crate injected: this repository, or another checkout (e.g. an older commit, to see
# the harness catch a bug) named by SUITES_WALL_E.
walle=$(cd "${SUITES_WALL_E:-$root}" && pwd)
here=$root/tests/suites
out=$root/target/suites

# Integration test targets that are not run, per crate (a space-separated list), and why:
# - serde_json `compiletest`: trybuild UI tests, which run cargo and rustc as subprocesses (no
#   process spawning under WASI; on stable they are `#[ignore]`d anyway).
# - hashbrown `rayon`: empty without the `rayon` feature, and rayon needs threads (none on
#   wasm32-wasip1); `serde`: needs the `serde` feature (off, as published).
declare -A exclude=(
    [serde_json]="compiletest"
    [hashbrown]="rayon serde"
)
# Dev-dependencies removed from the copy (both modes), per crate, because they do not build for
# wasm32-wasip1 and only benches use them:
# - rpds `criterion`: its default features need rayon, which refuses to build for WASI.
declare -A drop_dev=(
    [rpds]="criterion"
)
# Tests skipped (libtest `--exact --skip`), per crate: wasm32-wasip1 aborts on panic, so a test
# that catches a panic (`catch_unwind`, quickcheck's `TestResult::must_fail`) ends its whole test
# binary, with any allocator (`#[should_panic]` tests are reported `ignored` by libtest there).
declare -A skip=(
    [hashbrown]="map::test_map::test_catch_panic_clone_from_when_len_is_equal
                 map::test_map::test_catch_panic_clone_from_when_len_is_not_equal
                 raw::test_map::test_catch_panic_clone_from"
    [indexmap]="drain_bounds replace_index vacant_replace_index"
    [slab]="compact_handles_closure_panic"
    [smallvec]="tests::insert_many_panic::panic_early_at_end
                tests::insert_many_panic::panic_early_at_start
                tests::insert_many_panic::panic_early_in_middle
                tests::insert_many_panic::panic_late_at_end
                tests::insert_many_panic::panic_late_at_start
                tests::test_retain_panic_preserves_unprocessed_tail"
    # A TCP listener and a thread (neither exists under WASI preview 1).
    [serde_json]="test_deserialize_from_stream"
)

command -v node >/dev/null || { echo "suites: node (20 or later) is required" >&2; exit 1; }
(cd "$root" && rustup target add wasm32-wasip1 >/dev/null 2>&1) ||
    (cd "$root" && rustup target add wasm32-wasip1)
mkdir -p "$out/build"

# The pinned crates: "name version source-dir" lines, from resolving the fetch package (this
# downloads them into cargo's registry cache when missing).
mapfile -t crates < <(
    cd "$here/fetch" && cargo metadata --format-version 1 --quiet | node -e '
        let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
          const m = JSON.parse(s);
          const me = m.packages.find((p) => p.name === "wall-e-suites-fetch");
          for (const dep of me.dependencies) {
            const version = dep.req.replace(/^=/, "");
            const p = m.packages.find((p) => p.name === dep.name && p.version === version);
            if (!p) throw new Error(`${dep.name} ${dep.req}: not resolved (pin it with "=X.Y.Z")`);
            console.log(p.name, p.version, p.manifest_path.replace(/\/Cargo\.toml$/, ""));
          }
        });'
)
[ "${#crates[@]}" -gt 0 ] || { echo "suites: no crates resolved" >&2; exit 1; }

# A subset named on the command line.
if [ "$#" -gt 0 ]; then
    known=" $(printf '%s\n' "${crates[@]}" | cut -d' ' -f1 | tr '\n' ' ')"
    for want in "$@"; do
        case "$known" in
            *" $want "*) ;;
            *) echo "suites: unknown crate '$want' (known:$known)" >&2; exit 2 ;;
        esac
    done
fi

# The environment the tests get: cargo's, this shell's, and 32 KiB more, so that wasi-libc's
# start-up allocations (environ) are large: a global allocator that took wasi-libc's malloc
# heap as its own would corrupt them.
WALL_E_SUITES_ENV_PADDING=$(head -c 32768 /dev/zero | tr '\0' 'e')
export WALL_E_SUITES_ENV_PADDING
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $root/scripts/wasi-run.mjs"
export CARGO_TERM_COLOR=never

run() { # crate mode dir log args...
    local crate=$1 mode=$2 dir=$3 log=$4
    shift 4
    local status=0
    (cd "$dir" && CARGO_TARGET_DIR="$out/build/$crate-$mode" \
        timeout 1200 cargo test --target wasm32-wasip1 --no-fail-fast "$@") >"$log" 2>&1 || status=$?
    echo "$status"
}

passed=0
failed=0
for line in "${crates[@]}"; do
    read -r name version source <<<"$line"
    if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
    start=$(date +%s)

    dir=$out/$name-$version
    rm -rf "$dir"
    cp -R "$source" "$dir"
    chmod -R u+w "$dir"
    # Its own workspace (it sits inside this repository's directory tree).
    grep -q '^\[workspace\]' "$dir/Cargo.toml" || printf '\n[workspace]\n' >>"$dir/Cargo.toml"
    for dep in ${drop_dev[$name]:-}; do
        # The table `[dev-dependencies.<dep>]` of the normalised published manifest, to the next.
        awk -v t="[dev-dependencies.$dep]" '/^\[/ { skip = ($0 == t) } !skip' \
            "$dir/Cargo.toml" >"$dir/Cargo.toml.new"
        mv "$dir/Cargo.toml.new" "$dir/Cargo.toml"
    done

    # --lib and every integration test target but the excluded ones (no doctests, benches,
    # examples or bins).
    tests=$(cd "$dir" && cargo metadata --no-deps --format-version 1 --offline | node -e '
        let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
          const [p] = JSON.parse(s).packages;
          const ex = (process.argv[1] || "").split(" ");
          for (const t of p.targets) if (t.kind.includes("test") && !ex.includes(t.name)) console.log(t.name);
        });' "${exclude[$name]:-}")
    args=(--lib)
    for t in $tests; do args+=(--test "$t"); done
    args+=(-- --exact)
    for s in ${skip[$name]:-}; do args+=(--skip "$s"); done

    dlog=$out/$name-default.log
    wlog=$out/$name-wall-e.log
    dstatus=$(run "$name" default "$dir" "$dlog" "${args[@]}")
    node "$here/inject.mjs" "$dir" "$walle" $tests >/dev/null
    wstatus=$(run "$name" wall-e "$dir" "$wlog" "${args[@]}")

    if node "$here/compare.mjs" "$name" "$version" "$dlog" "$wlog" && [ "$wstatus" = 0 ]; then
        passed=$((passed + 1))
        [ "$dstatus" = 0 ] || echo "suites: $name: note: the default run exited with status $dstatus, see $dlog"
    else
        failed=$((failed + 1))
        echo "suites: $name FAILED (cargo exit status: default $dstatus, wall-e $wstatus); last lines of $wlog:"
        tail -n 40 "$wlog" | sed 's/^/    /'
        if [ "$dstatus" != 0 ]; then
            echo "suites: last lines of $dlog:"
            tail -n 20 "$dlog" | sed 's/^/    /'
        fi
    fi
    echo "suites: $name: $(($(date +%s) - start)) s"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
