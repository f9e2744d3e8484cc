#!/usr/bin/env bash
# Builds the C clients of wall-e (examples/c) into target/c/:
#   cjson.wasm       cJSON 1.7.19 + its workload, a position-independent client module
#   bad_input.wasm   a client that double-frees, frees a stack address and writes past a block
#   cjson_native     the same workload built natively with glibc (the reference output)
# with Debian's clang-14 and wasm-ld-14 (scripts/setup.sh installs them). The recipe a C user
# copies is in docs/clients.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC_WASM:-clang-14}
LD=${LD_WASM:-wasm-ld-14}
out=target/c
mkdir -p "$out"

# Position-independent code for the dynamic-linking convention (only the emscripten triple has
# it in clang 14); no libc but ours (libc/include instead of the system's headers); bulk memory
# so memcpy/memset are memory.copy/memory.fill; only what is marked visible is exported.
CFLAGS=(--target=wasm32-unknown-emscripten -fPIC -O2 -nostdlib -nostdlibinc
  -isystem examples/c/libc/include -mbulk-memory -fvisibility=hidden -Wall -Wno-unused-function
  -fno-builtin-printf -fno-builtin-sprintf -fno-builtin-snprintf -fno-builtin-vsnprintf -fno-builtin-sscanf)

# $1 = output, $2 = extra flags, rest = sources. Objects go to target/c/obj/<output>/.
client() {
  local name=$1 extra=$2; shift 2
  local objs=()
  mkdir -p "$out/obj/$name"
  for src in "$@"; do
    local obj="$out/obj/$name/$(basename "${src%.c}").o"
    "$CC" "${CFLAGS[@]}" $extra -Iexamples/c -Iexamples/c/vendor/cJSON -c "$src" -o "$obj"
    objs+=("$obj")
  done
  "$LD" --experimental-pic -shared -o "$out/$name.wasm" "${objs[@]}"
  echo "$out/$name.wasm $(stat -c %s "$out/$name.wasm") bytes"
}

client cjson "" examples/c/cjson_workload.c examples/c/vendor/cJSON/cJSON.c \
  examples/c/wall-e-libc.c examples/c/libc/libc.c
# The misuse test must keep its misuses: -fno-builtin stops clang from removing a malloc whose
# result is only compared or freed (it may assume allocations succeed and are used correctly).
client bad_input -fno-builtin examples/c/bad_input.c examples/c/wall-e-libc.c examples/c/libc/libc.c

# The native reference: the same workload and cJSON, glibc's malloc and printf.
${CC_NATIVE:-cc} -O2 -Iexamples/c/vendor/cJSON -o "$out/cjson_native" \
  examples/c/cjson_workload.c examples/c/vendor/cJSON/cJSON.c -lm
echo "$out/cjson_native"
