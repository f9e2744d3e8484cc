#!/usr/bin/env bash
# The README's first command, `make demo`, on a machine with only Rust and Node: run by `make test`
# so that a step `make demo` silently needs from `make test`'s setup cannot come back.
#
# The room: a fresh clone of HEAD (committed work only), an empty CARGO_HOME (only rustup's
# proxies), a HOME of its own, and a copy of this machine's rustup toolchains from which every
# wasm target and nightly's `rust-src` are removed. The copy is made of hard links (no gigabytes
# copied); the files rustup rewrites in place (its bookkeeping under lib/rustlib) are real copies,
# and removing a component only unlinks files, so the real toolchains are never touched.
#   1. `make demo` must pass, and must have added the wasm target and nightly's rust-src itself.
#   2. Without a nightly toolchain, `make demo` must pass again and say in one line that it skipped
#      the threaded module.
set -euo pipefail
cd "$(dirname "$0")/.."
real_rustup=${RUSTUP_HOME:-$HOME/.rustup}
real_cargo=${CARGO_HOME:-$HOME/.cargo}
room=$(mktemp -d "${TMPDIR:-/tmp}/wall-e-clean-room.XXXXXX")
trap 'rm -rf "$room"' EXIT
mkdir -p "$room/rustup/toolchains" "$room/cargo/bin" "$room/home"

cp "$real_rustup/settings.toml" "$room/rustup/"
[ -d "$real_rustup/update-hashes" ] && cp -r "$real_rustup/update-hashes" "$room/rustup/"
for tc in "$real_rustup"/toolchains/*; do
  name=$(basename "$tc")
  if [ -L "$tc" ]; then # e.g. 1.95.0-… -> stable-…: point it into the room
    ln -s "$room/rustup/toolchains/$(basename "$(readlink "$tc")")" "$room/rustup/toolchains/$name"
    continue
  fi
  # Hard links where the room and rustup share a file system; a real copy otherwise.
  cp -al "$tc" "$room/rustup/toolchains/$name" 2>/dev/null ||
    { rm -rf "$room/rustup/toolchains/$name"; cp -a "$tc" "$room/rustup/toolchains/$name"; }
  find "$tc/lib/rustlib" -maxdepth 1 -type f -printf '%f\n' | while read -r f; do
    cp --remove-destination "$tc/lib/rustlib/$f" "$room/rustup/toolchains/$name/lib/rustlib/$f"
  done
done
cp -a "$real_cargo"/bin/. "$room/cargo/bin/"

in_room() {
  env -i HOME="$room/home" PATH="$room/cargo/bin:/usr/local/bin:/usr/bin:/bin" \
    RUSTUP_HOME="$room/rustup" CARGO_HOME="$room/cargo" RUSTUP_AUTO_INSTALL=0 TERM=dumb "$@"
}
for tc in $(in_room rustup toolchain list | awk '{print $1}'); do
  targets=$(in_room rustup target list --toolchain "$tc" --installed | grep '^wasm32' || true)
  [ -z "$targets" ] || in_room rustup target remove --toolchain "$tc" $targets
  if in_room rustup component list --toolchain "$tc" --installed | grep -q '^rust-src'; then
    in_room rustup component remove --toolchain "$tc" rust-src
  fi
done
# The room starts as a fresh machine does, or the check proves nothing.
if in_room rustup target list --installed | grep -q '^wasm32'; then
  echo "clean room: a wasm target is still installed" >&2; exit 1
fi

git clone --quiet "$PWD" "$room/wall-e"
echo "== clean room: make demo (fresh clone of $(git rev-parse --short HEAD), no wasm targets, no rust-src, empty CARGO_HOME)"
in_room make -C "$room/wall-e" demo
in_room rustup target list --installed | grep -q '^wasm32-unknown-unknown$' ||
  { echo "clean room: make demo did not add wasm32-unknown-unknown" >&2; exit 1; }
if in_room rustup toolchain list | grep -q '^nightly'; then
  in_room rustup component list --toolchain nightly --installed | grep -q '^rust-src' ||
    { echo "clean room: make demo did not add nightly's rust-src" >&2; exit 1; }
  [ -f "$room/wall-e/pkg/wall-e.threads.wasm" ] ||
    { echo "clean room: make demo did not build pkg/wall-e.threads.wasm" >&2; exit 1; }

  echo "== clean room: make demo without a nightly toolchain"
  rm -rf "$room"/rustup/toolchains/nightly-* "$room/wall-e/pkg/wall-e.threads.wasm"
  in_room make -C "$room/wall-e" demo 2>&1 | tee "$room/demo.log"
  grep -q '^make build: skipped pkg/wall-e.threads.wasm' "$room/demo.log" ||
    { echo "clean room: no line saying the threaded module was skipped" >&2; exit 1; }
fi
echo "== clean room: make demo passed"
