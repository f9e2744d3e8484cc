// C clients (examples/c, built by scripts/build-c.sh): position-independent modules that wall-e's
// loader links beside a heap (loadClient): their data and stack in wall-e blocks, malloc & co on
// wall-e. cJSON 1.7.19 runs its own parse_examples inputs and a random workload with output
// identical to the same code built natively with glibc; the bad-input client shows each build's
// documented outcome. The same under wasmtime: tests/c_client.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { rootDir } from "../testing/helpers.js";
import { artifact, wallE, cString } from "../testing/clients.js";
import { load, loadClient, dylinkInfo } from "../wall-e.js";

const inputsDir = join(rootDir, "examples/c/vendor/cJSON/tests/inputs");
const inputs = readdirSync(inputsDir).filter((f) => !f.endsWith(".expected")).sort();
const SEED = 7;
const ROUNDS = 150;

/** Runs every cJSON input and the workload through the client; the text the native build prints. */
function transcript(heap, client) {
  let out = "";
  for (const name of inputs) {
    const text = heap.allocFrom(readFileSync(join(inputsDir, name), "utf8") + "\0");
    const printed = client.exports.cjson_example(text);
    out += `== ${name}\n${cString(heap, printed)}\n`;
    heap.free(printed);
    heap.free(text);
  }
  const report = client.exports.cjson_workload(SEED, ROUNDS);
  out += `== workload ${SEED} ${ROUNDS}\n${cString(heap, report)}`;
  heap.free(report);
  return out;
}

test("the C client is position-independent: dylink.0 and the convention's imports", () => {
  const module = new WebAssembly.Module(artifact("target/c/cjson.wasm"));
  const info = dylinkInfo(module);
  assert.ok(info.memorySize > 0, "cJSON has static data");
  assert.equal(info.memoryAlign, 16);
  assert.ok(info.tableSize > 0, "cJSON's hooks are function pointers");
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
  assert.deepEqual(imports, ["env.__indirect_function_table:table", "env.__memory_base:global", "env.__stack_pointer:global",
    "env.__table_base:global", "env.memory:memory", "wall-e.allocate:function", "wall-e.deallocate:function",
    "wall-e.reallocate:function", "wall-e.size:function"]);
  assert.equal(dylinkInfo(new WebAssembly.Module(wallE.default())), null, "wall-e itself is not PIC");
});

test("cJSON on wall-e prints exactly what the native build prints; its own expected outputs match; the heap walks clean", async () => {
  const native = execFileSync(join(rootDir, "target/c/cjson_native"), [String(SEED), String(ROUNDS), ...inputs.map((f) => join(inputsDir, f))], { encoding: "utf8" });
  const heap = await load(wallE.stats());
  const before = [heap.exports.stat(1), heap.exports.stat(2)];
  // A host block beside the client's: the client must never touch it.
  const canary = heap.allocFrom(new Uint8Array(4096).fill(0xc3));
  const client = await loadClient(heap, artifact("target/c/cjson.wasm"));
  assert.equal(client.memoryBase % 16, 0, "data aligned as dylink.0 asks");
  assert.equal(client.stackTop % 16, 0, "16-aligned stack top");
  assert.ok(heap.isLive(client.stackBase));
  const wasm = transcript(heap, client);
  assert.equal(wasm, native, "wasm on wall-e and native glibc print the same");
  assert.equal(client.stackPointer.value, client.stackTop, "the stack is balanced after the calls");
  // cJSON's parse_examples test: the printed tree equals testN.expected.
  let compared = 0;
  for (const name of inputs) {
    const expected = join(inputsDir, `${name}.expected`);
    if (!existsSync(expected)) continue;
    const section = wasm.split(`== ${name}\n`)[1].split("\n== ")[0];
    assert.equal(section, readFileSync(expected, "utf8"), name);
    compared++;
  }
  assert.equal(compared, 10);
  assert.match(wasm, /equal 8 bytes/, "documents round-trip through print and parse");
  assert.equal(heap.exports.validate(), 0, "the heap walks clean after the workload");
  assert.ok(heap.memory.buffer.byteLength > 65536, "the workload grew memory");
  assert.deepEqual([...heap.read(canary)], new Array(4096).fill(0xc3));
  heap.free(canary);
  client.dispose();
  assert.deepEqual([heap.exports.stat(1), heap.exports.stat(2)], before, "nothing left: every malloc was freed, data and stack blocks too");
  assert.equal(heap.exports.validate(), 0);
});

test("two C clients on one heap, sharing a table, each with its own data and stack", async () => {
  const heap = await load(wallE.stats());
  const table = new WebAssembly.Table({ initial: 1, element: "anyfunc" });
  const a = await loadClient(heap, artifact("target/c/cjson.wasm"), { table, stackSize: 32 * 1024 });
  const b = await loadClient(heap, artifact("target/c/cjson.wasm"), { table });
  assert.notEqual(a.memoryBase, b.memoryBase);
  assert.ok(b.tableBase >= a.tableBase + dylinkInfo(new WebAssembly.Module(artifact("target/c/cjson.wasm"))).tableSize);
  assert.equal(a.stackTop - a.stackBase >= 32 * 1024, true);
  const ra = a.exports.cjson_workload(1, 20);
  const rb = b.exports.cjson_workload(1, 20);
  assert.equal(cString(heap, ra), cString(heap, rb), "same seed, same report, from either instance");
  heap.free(ra);
  heap.free(rb);
  assert.equal(heap.exports.validate(), 0);
  a.dispose();
  b.dispose();
  assert.equal(heap.exports.stat(2), 0);
});

test("malloc, calloc, realloc, aligned_alloc (8..4096), posix_memalign, memalign, malloc_usable_size", async () => {
  const heap = await load(wallE.stats());
  const client = await loadClient(heap, artifact("target/c/bad_input.wasm"));
  const before = heap.exports.stat(2);
  assert.equal(client.exports.alloc_checks(), 0);
  assert.equal(heap.exports.validate(), 0);
  assert.equal(heap.exports.stat(2), before, "every block freed, aligned ones included");
  client.dispose();
});

test("a module that is not position-independent is refused", async () => {
  const heap = await load(wallE.default());
  await assert.rejects(loadClient(heap, wallE.default()), (e) => e.code === "BAD_MODULE");
});

// Bad input from C (docs/clients.md "Bad input"): the default build ignores a double free and a
// free of a stack address (nothing changes) and cannot see a write past a block; the stats
// build's validate() names the broken header; the checked build traps with a reason.
test("bad input, default build: double free and freeing a stack address are ignored", async () => {
  const heap = await load(wallE.default());
  const client = await loadClient(heap, artifact("target/c/bad_input.wasm"));
  const keep = heap.allocFrom("still here");
  assert.equal(client.exports.double_free(), 0);
  assert.equal(client.exports.free_stack(), 0);
  assert.ok(heap.isLive(client.stackBase), "the stack block is still live");
  assert.equal(heap.readString(keep), "still here");
  assert.equal(client.exports.alloc_checks(), 0, "the heap still works");
});

test("bad input, stats build: ignored as in the default build, and validate() stays 0; a write past a block is reported by validate()", async () => {
  const heap = await load(wallE.stats());
  const client = await loadClient(heap, artifact("target/c/bad_input.wasm"));
  client.exports.double_free();
  client.exports.free_stack();
  assert.equal(heap.exports.validate(), 0, "nothing was corrupted");
  client.exports.write_past(0, 1);
  assert.equal(heap.exports.validate(), 0, "filling a block exactly is fine");
  // The allocator cannot see a write: the header after the block is broken, and the heap walk
  // says where. (Freeing after such a write is undefined in the default and stats builds: the
  // broken header may be ignored or send a merge out of bounds. The checked build traps first.)
  const p = client.exports.write_past(8, 0) >>> 0;
  const at = heap.exports.validate() >>> 0;
  assert.notEqual(at, 0, "the overwritten header is found");
  assert.ok(at >= p && at <= p + 64, `validate() points at the damage next to the block (${at}, block ${p})`);
});

for (const [what, call, code, message] of [
  ["a double free", (c) => c.exports.double_free(), 1, "pointer already freed"],
  ["freeing a stack address", (c) => c.exports.free_stack(), 2, "pointer into the middle of a block"],
  ["a write past a block", (c) => c.exports.write_past(8, 1), 4, null],
]) {
  test(`bad input, checked build: ${what} traps with last_error ${code}`, async () => {
    const heap = await load(wallE.checked());
    const client = await loadClient(heap, artifact("target/c/bad_input.wasm"));
    assert.throws(() => call(client), WebAssembly.RuntimeError);
    const e = heap.exports;
    assert.equal(e.last_error(), code);
    assert.notEqual(e.last_error_at(), 0);
    const text = cString({ bytes: (p) => new Uint8Array(heap.memory.buffer, p, 64) }, e.last_error_message());
    if (message) assert.equal(text, message);
    else assert.ok(text.length > 0, "a reason for the corruption");
  });
}
