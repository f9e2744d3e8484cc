#!/usr/bin/env node
// Runs a `wasm32-wasip1` program under Node's `node:wasi`, as cargo's runner for that target:
//   node --no-warnings scripts/wasi-run.mjs program.wasm [args...]
// The program gets its arguments, this process's environment (as a user's shell would pass it:
// libtest and std read it at start-up) and the current directory preopened as `.` (and as the
// absolute path of the current directory, so that `env!("CARGO_MANIFEST_DIR")` paths work too).
// Exits with the program's exit code.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { basename } from "node:path";

const [program, ...args] = process.argv.slice(2);
if (!program) {
  console.error("usage: wasi-run.mjs program.wasm [args...]");
  process.exit(2);
}
const cwd = process.cwd();
const wasi = new WASI({
  version: "preview1",
  args: [basename(program), ...args],
  env: process.env,
  preopens: { ".": cwd, [cwd]: cwd },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
