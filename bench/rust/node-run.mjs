// The Node side of the Rust-level benchmark: one allocator's module, the workloads of the plan,
// one JSON answer per workload on stdout (see measure.mjs). Started by bench/rust/run.mjs as
//   node --no-liftoff bench/rust/node-run.mjs MODULE.wasm WORK=N ...
// `--no-liftoff`: V8 compiles every function with its optimizing compiler (TurboFan) when the
// module is compiled, so no baseline code runs in the timed call (the warm-up call would also
// have tiered it up). Time = this process's CPU time (user + system, to the microsecond): page
// faults count, time spent waiting for a core does not.
import { readFileSync } from "node:fs";
import { measureAll } from "./measure.mjs";

const [path, ...specs] = process.argv.slice(2);
const plan = specs.map((s) => {
  const m = /^([a-z0-9_]+)=([0-9]+)$/.exec(s);
  if (!m) throw new Error(`not WORK=N: ${s}`);
  return { work: m[1], n: Number(m[2]) };
});
const module = new WebAssembly.Module(readFileSync(path));
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
for (const r of await measureAll(module, plan, cpu)) console.log(JSON.stringify(r));
