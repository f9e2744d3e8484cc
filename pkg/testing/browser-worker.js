// A Web Worker of test/threads-browser.test.js (the page threads.html): loads the threaded module
// over the shared memory it is posted and runs the stress of stress.js on it, or a scenario of
// scenarios.js.
import { load } from "../wall-e.js";
import { stress } from "./stress.js";
import * as scenarios from "./scenarios.js";

self.onmessage = async ({ data: { module, memory, worker, ops, scenario, sync, args } }) => {
  try {
    const heap = await load(module, { memory });
    if (scenario === "generation") {
      self.postMessage(scenarios.generation(heap, args));
      if (args.release) self.close(); // ends by itself; the others are terminated by the page
      return;
    }
    if (scenario) {
      self.postMessage(scenarios[scenario](heap, sync, args));
      return;
    }
    const began = performance.now();
    const result = stress(heap, worker, ops);
    heap.releaseThreadCache();
    self.postMessage({ ...result, ms: performance.now() - began });
  } catch (e) {
    self.postMessage({ error: String((e && e.stack) || e) });
  }
};
