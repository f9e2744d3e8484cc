// A Web Worker of walle-threads.html: loads examples/threads-bindgen through its
// `wasm-bindgen --target web` glue (served at /app/) over the shared memory it is posted
// (wasm-bindgen's thread start-up: a stack of `stack` bytes and a TLS block allocated through
// wall-e), then runs the calls of walle-scenarios.js it is sent, one at a time.
import * as app from "/app/threads_bindgen.js";
import { pass } from "./walle-scenarios.js";

let wasm;
let memory;
self.onmessage = ({ data }) => {
  const { id, op, args, gate } = data;
  try {
    let value;
    if (op === "init") {
      memory = data.memory;
      wasm = app.initSync({ module: data.module, memory, thread_stack_size: data.stack });
      value = "ready";
    } else if (op === "destroy") value = wasm.__wbindgen_thread_destroy();
    else if (op === "pages") value = memory.buffer.byteLength / 65536;
    else {
      pass(gate);
      value = app[op](...args);
    }
    self.postMessage({ id, value });
  } catch (e) {
    self.postMessage({ id, error: String((e && e.stack) || e) });
  }
};
