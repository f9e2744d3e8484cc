// The same-thread row that bench/threads-churn.mjs and bench/threads-lines.mjs run on each
// worker: bench/threads.mjs's churn row (blocks of 1-64 bytes, `live` of them) or, with ROW=lifo,
// its LIFO row (stacks of 1-100 blocks of 1-256 bytes, steps / `lifoPer` of them). Two driver
// instances over `imports`: one warmed up on a tenth of the work (so that V8's tiers and the
// heap's first growth are not timed), one set up for the timed run, which `run()` makes.
export function sameThreadRow(driver, imports, { index, live, steps, lifoPer }) {
  const lifo = process.env.ROW === "lifo";
  const warm = new WebAssembly.Instance(driver, imports).exports;
  const timed = new WebAssembly.Instance(driver, imports).exports;
  // A nil slot table would put the driver's table at address 0, over the heap: stop instead.
  if (!warm.setup(lifo ? 100 : live, 1000n + BigInt(index))) throw new Error("setup: no memory");
  if (lifo) warm.lifo(steps / (10 * lifoPer), 100, 1, 256);
  else warm.churn(live, 1, 64, 0, steps / 10);
  if (!timed.setup(lifo ? 100 : live, 1n + BigInt(index))) throw new Error("setup: no memory");
  const run = () => (lifo ? timed.lifo(steps / lifoPer, 100, 1, 256) : timed.churn(live, 1, 64, 0, steps));
  return { timed, run };
}
