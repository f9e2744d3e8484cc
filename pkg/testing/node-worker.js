// A worker_threads worker of test/threads.test.js: loads the threaded module over the shared
// memory it is given and runs the stress of stress.js on it.
import { parentPort, workerData } from "node:worker_threads";
import { load } from "../wall-e.js";
import { stress } from "./stress.js";

const { module, memory, worker, ops, start } = workerData;
const heap = await load(module, { memory });
// Start together: the main thread counts everybody in, then lets them go.
Atomics.add(start, 0, 1);
Atomics.notify(start, 0);
while (Atomics.load(start, 1) === 0) Atomics.wait(start, 1, 0);
const began = performance.now();
const result = stress(heap, worker, ops);
parentPort.postMessage({ ...result, ms: performance.now() - began });
