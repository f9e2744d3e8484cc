// A Web Worker of test/threads-browser.test.js (the page threads.html): loads the threaded module
// over the shared memory it is posted and runs the stress of stress.js on it.
import { load } from "../wall-e.js";
import { stress } from "./stress.js";

self.onmessage = async ({ data: { module, memory, worker, ops } }) => {
  try {
    const heap = await load(module, { memory });
    const began = performance.now();
    const result = stress(heap, worker, ops);
    self.postMessage({ ...result, ms: performance.now() - began });
  } catch (e) {
    self.postMessage({ error: String((e && e.stack) || e) });
  }
};
