// A worker_threads worker of test/walle-threads.test.js: loads examples/threads-bindgen through
// its `wasm-bindgen --target nodejs` glue over the shared memory it is given (wasm-bindgen's
// thread start-up: a stack of `stack` bytes and a TLS block allocated through wall-e), then runs
// the calls of walle-scenarios.js it is sent, one at a time.
import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";
import { pass } from "./walle-scenarios.js";

const { glue, module, memory, stack } = workerData;
const app = createRequire(import.meta.url)(glue);
const wasm = app.initSync({ module, memory, thread_stack_size: stack });
parentPort.on("message", ({ id, op, args, gate }) => {
  try {
    let value;
    if (op === "destroy") value = wasm.__wbindgen_thread_destroy();
    else if (op === "pages") value = memory.buffer.byteLength / 65536;
    else {
      pass(gate);
      value = app[op](...args);
    }
    parentPort.postMessage({ id, value });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.stack) || e) });
  }
});
parentPort.postMessage({ id: 0, value: "ready" });
