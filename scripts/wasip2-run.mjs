#!/usr/bin/env node
// Runs a `wasm32-wasip2` program (a WASI preview-2 command component) in Node, as cargo's runner
// for that target:
//   node scripts/wasip2-run.mjs program.wasm [args...]
// Needs the npm packages of scripts/wasip2 (`npm ci --prefix scripts/wasip2`): jco transpiles the
// component to JS + core modules (in-process, cached under target/wasip2-run/ by the component's
// hash and jco's version), and preview2-shim implements the WASI imports.
// Like scripts/wasi-run.mjs, the program gets its arguments, this process's environment and the
// current directory preopened as `.` (wasi-libc resolves relative paths against its cwd, `/`,
// and the preopen `.` matches them) and as its absolute path (for `CARGO_MANIFEST_DIR` paths).
// Exits with the program's exit code: 0 when `wasi:cli/run` returns ok; what it passes to
// `wasi:cli/exit` (preview 2.0 `exit` only knows ok/err: std::process::exit(n != 0) gives 1);
// 1 when `run` returns err; and 134 (as wasmtime, 128 + SIGABRT) when it traps, e.g. a panic
// (Rust's wasm targets abort on panic).
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile, access } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [program, ...args] = process.argv.slice(2);
if (!program) {
  console.error("usage: wasip2-run.mjs program.wasm [args...]");
  process.exit(2);
}

const scripts = dirname(fileURLToPath(import.meta.url));
const deps = createRequire(join(scripts, "wasip2", "package.json"));
function resolve(specifier) {
  try {
    return deps.resolve(specifier);
  } catch (e) {
    console.error(
      `wasip2-run.mjs: cannot find ${specifier} (${e.code}); install with: npm ci --prefix ${join(scripts, "wasip2")}`,
    );
    process.exit(2);
  }
}
const jcoVersion = JSON.parse(
  await readFile(join(dirname(dirname(resolve("@bytecodealliance/jco"))), "package.json"), "utf8"),
).version;

// Transpile once per (component, jco version) into target/wasip2-run/<hash>/.
const component = await readFile(program);
const key = createHash("sha256").update(`jco ${jcoVersion}\0`).update(component).digest("hex").slice(0, 32);
const cacheRoot = process.env.WALL_E_WASIP2_CACHE ?? join(dirname(scripts), "target", "wasip2-run");
const dir = join(cacheRoot, key);
const entry = join(dir, "component.js");
const exists = (path) => access(path).then(() => true, () => false);
if (!(await exists(entry))) {
  const { transpile } = await import(pathToFileURL(resolve("@bytecodealliance/jco")));
  const { files } = await transpile(component, {
    name: "component",
    instantiation: "async", // imports are passed in: the output needs no module resolution
    noTypescript: true,
    quiet: true,
  });
  // Written to a private directory, then renamed into place: parallel runs (tests) never see a
  // half-written one; the loser of a race keeps the winner's (identical) files.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(tmp, name)), { recursive: true });
    await writeFile(join(tmp, name), bytes);
  }
  await writeFile(join(tmp, "package.json"), '{ "type": "module" }\n');
  try {
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(entry))) throw e;
  }
}

const { WASIShim } = await import(pathToFileURL(resolve("@bytecodealliance/preview2-shim/instantiation")));
const { instantiate } = await import(pathToFileURL(entry));
const cwd = process.cwd();
const shim = new WASIShim({
  sandbox: {
    args: [basename(program), ...args],
    env: process.env,
    preopens: { ".": cwd, [cwd]: cwd },
  },
});
const imports = shim.getImportObject();
// wasi-libc asks for `mutate-directory` with every writable open-at (POSIX has no read-only
// directory views), and preview2-shim refuses that flag as `unsupported` (ENOTSUP: every
// `std::fs::write` fails). Wasmtime ignores it; so do we: Node cannot enforce it anyway.
const { Descriptor } = imports["wasi:filesystem/types"];
const openAt = Descriptor.prototype.openAt;
Descriptor.prototype.openAt = function (pathFlags, path, openFlags, descriptorFlags) {
  return openAt.call(this, pathFlags, path, openFlags, { ...descriptorFlags, mutateDirectory: false });
};
const getCoreModule = async (name) => WebAssembly.compile(await readFile(join(dir, name)));

let code;
try {
  const instance = await instantiate(getCoreModule, imports);
  const run = instance["wasi:cli/run@0.2.0"] ?? instance.run ?? Object.values(instance).find((i) => i?.run);
  if (!run) {
    console.error(`wasip2-run.mjs: ${program} exports no wasi:cli/run (not a command component)`);
    process.exit(2);
  }
  await run.run(); // returns on ok; throws a ComponentError on err, a WebAssembly.RuntimeError on a trap
  code = 0;
} catch (e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error(`wasip2-run.mjs: ${basename(program)} trapped: ${e.message}`);
    code = 134;
  } else if (e?.name === "ComponentError" || e?.constructor?.name === "ComponentError") {
    code = 1;
  } else {
    throw e;
  }
}
process.exit(code);
