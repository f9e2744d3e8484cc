// The benchmark's V8 side: one measurement in Node, as examples/bench/measuring.rs makes one
// under wasmtime. The parent (`cargo run --example bench`, see examples/bench/running.rs) starts
// one Node process per measurement and reads the one line this prints.
//
//   node --no-liftoff --no-wasm-lazy-compilation bench/node.mjs driver=PATH module=PATH cap=N seed=S setup=CALL timed=CALL
//   node bench/node.mjs wat2wasm bench/driver.wat OUT.wasm
//
// The request is examples/bench/protocol.rs's `Request` (its `to_args`): every field once, in
// that order; CALL is `export(a,b,...)` with u32 arguments, or `none` for `setup`. The answer is
// its `Outcome` line, `ok cpu_ns=… ops=… growth=… peak=… errors=… nils=… reallocs=… moved=…`, or
// `err <message>` when the allocator traps or has no memory for the driver's slot table. Anything
// else (a malformed request) throws, and the parent, which reads no answer line, panics.
//
// As under wasmtime: the allocator module is instantiated on its own, its memory size noted, then
// the driver (bench/driver.wat, compiled by wabt to binary: `wat2wasm`, once per run) is
// instantiated with the allocator's exports as its `alloc` imports; `setup(cap, seed)`, then the
// untimed `setup` call (the scaling rows' holes), then the timed call. Time = this process's CPU
// time (user + system, `process.cpuUsage`; wasm runs on the main thread, and `--no-liftoff
// --no-wasm-lazy-compilation` compiles everything with TurboFan up front, at instantiation, so
// no compilation runs during the timed call: with lazy compilation, V8's default, a function
// first called there was compiled in the time measured).
import { readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);

if (args[0] === "wat2wasm") {
  if (args.length !== 3) throw new Error("usage: node bench/node.mjs wat2wasm IN.wat OUT.wasm");
  const wabt = await (await import("wabt")).default();
  const parsed = wabt.parseWat(args[1], readFileSync(args[1], "utf8"));
  parsed.validate();
  writeFileSync(args[2], parsed.toBinary({}).buffer);
  parsed.destroy();
  process.exit(0);
}

/// The request, strictly: the keys in this order, each once, nothing else.
const KEYS = ["driver", "module", "cap", "seed", "setup", "timed"];
if (args.length !== KEYS.length) {
  throw new Error(`expected ${KEYS.length} fields (${KEYS.join(" ")}), got ${args.length}: ${args.join(" ")}`);
}
const req = {};
args.forEach((arg, i) => {
  const eq = arg.indexOf("=");
  if (eq < 0 || arg.slice(0, eq) !== KEYS[i]) throw new Error(`field ${i}: expected ${KEYS[i]}=…, got ${arg}`);
  req[KEYS[i]] = arg.slice(eq + 1);
});
const uint = (text, bits) => {
  if (!/^[0-9]+$/.test(text) || BigInt(text) >= 1n << BigInt(bits)) throw new Error(`not a u${bits}: ${text}`);
  return BigInt(text);
};
const call = (text) => {
  const m = /^([a-z_]+)\(([0-9,]*)\)$/.exec(text);
  if (!m) throw new Error(`not a call export(a,b,…): ${text}`);
  return { name: m[1], args: m[2] === "" ? [] : m[2].split(",").map((a) => Number(uint(a, 32))) };
};
const cap = Number(uint(req.cap, 32));
const seed = uint(req.seed, 64);
const setup = req.setup === "none" ? null : call(req.setup);
const timed = call(req.timed);

const result = (() => {
  const alloc = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(req.module)), {});
  const memory = alloc.exports.memory;
  if (!(memory instanceof WebAssembly.Memory)) return "err no memory export";
  const mem0 = BigInt(memory.buffer.byteLength);
  const driver = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(req.driver)), {
    alloc: alloc.exports,
  }).exports;
  const fn = (name) => {
    if (typeof driver[name] !== "function") throw new Error(`driver export ${name} missing`);
    return driver[name];
  };
  const global = (name) => {
    if (!(driver[name] instanceof WebAssembly.Global)) throw new Error(`driver global ${name} missing`);
    return BigInt(driver[name].value);
  };
  try {
    // i32 results come back signed: setup's is 0 or 1.
    if (fn("setup")(cap, BigInt.asIntN(64, seed)) === 0) return "err setup: no memory for the slot table";
  } catch (e) {
    return `err setup: ${e}`;
  }
  try {
    if (setup) fn(setup.name)(...setup.args);
  } catch (e) {
    return `err trap: ${e}`;
  }
  const run = fn(timed.name);
  const ops0 = global("ops");
  const t0 = process.cpuUsage();
  try {
    run(...timed.args);
  } catch (e) {
    return `err trap: ${e}`;
  }
  const t = process.cpuUsage(t0);
  const fields = {
    cpu_ns: BigInt(t.user + t.system) * 1000n,
    ops: global("ops") - ops0,
    growth: BigInt(memory.buffer.byteLength) - mem0,
    peak: global("peak"),
    errors: global("errors"),
    nils: global("nils"),
    reallocs: global("reallocs"),
    moved: global("moved"),
  };
  return "ok " + Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ");
})();
console.log(result.replace(/\n/g, " "));
