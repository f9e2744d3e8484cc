// A worker_threads worker of test/threads.test.js: loads the threaded module over the shared
// memory it is given and runs the stress of stress.js on it, or a scenario of scenarios.js.
import { parentPort, workerData } from "node:worker_threads";
import { load } from "../wall-e.js";
import { stress } from "./stress.js";
import * as scenarios from "./scenarios.js";

const { module, memory, worker, ops, start, scenario, args, sync } = workerData;
const heap = await load(module, { memory });
if (scenario === "generation") {
  parentPort.postMessage(scenarios.generation(heap, args));
} else if (scenario) {
  parentPort.postMessage(scenarios[scenario](heap, sync, args));
} else {
  // Start together: the main thread counts everybody in, then lets them go.
  Atomics.add(start, 0, 1);
  Atomics.notify(start, 0);
  while (Atomics.load(start, 1) === 0) Atomics.wait(start, 1, 0);
  const began = performance.now();
  const result = stress(heap, worker, ops);
  heap.releaseThreadCache();
  parentPort.postMessage({ ...result, ms: performance.now() - began });
}
