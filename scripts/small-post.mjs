#!/usr/bin/env node
// Post-processing of the size-tuned module (`node scripts/build.mjs --small`), on binaryen's text
// form (wasm-dis / wasm-as), between two `wasm-opt -Oz` runs:
// - the heap's scalar statics (`first`, `top`, `limit`; `region` and `fresh` where tracked),
//   which the module reaches only through constant addresses below `STATIC_END`, become mutable
//   wasm globals: a `global.get` is 2 bytes where `i32.load (i32.const a)` is 5. Applied only
//   when every access there is a whole 4-byte `i32.load`/`i32.store` at a constant address, and
//   no constant in that range is passed, stored, set or returned as a value (the heap's address
//   escaping, as in the builds with the heap walk): else the module is left as it is. (A
//   heuristic: tests/wasm_abi/ runs the real module.) The bitmap of non-empty lists (the first
//   word of `lists`) is one of them; the free-list heads (from `STATIC_END` up, indexed by
//   class) stay in memory.
// - then the heap's lazy start (`if first == 0`: take the initial memory, all constants) is
//   evaluated here: the globals start with those values and the test goes (21 bytes).
// - an exported function that only passes its parameters on to another function of the same
//   type is replaced in the export by that function (the thunk is then dropped).
//   node scripts/small-post.mjs in.wat out.wat   (prints what it did)
import { readFileSync, writeFileSync } from "node:fs";

/** Statics below this address are scalars reached by constant addresses (`--global-base=8` in build.mjs): the
 * heap's fields up to `fresh`, then the bitmap of non-empty lists; the free-list heads follow. */
const STATIC_START = 8;
const STATIC_END = 32;

function parse(text) {
  const tokens = text.match(/\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+/g);
  let i = 0;
  const node = () => {
    const out = [];
    i++; // "("
    while (tokens[i] !== ")") out.push(tokens[i] === "(" ? node() : tokens[i++]);
    i++;
    return out;
  };
  const module = node();
  if (i !== tokens.length) throw new Error("trailing tokens");
  return module;
}

function print(n, depth = 0) {
  if (!Array.isArray(n)) return n;
  const pad = "\n" + " ".repeat(depth + 1);
  return "(" + n.map((c, k) => (k && Array.isArray(c) ? pad : k ? " " : "") + print(c, depth + 1)).join("") + ")";
}

const isConst = (n) => Array.isArray(n) && n[0] === "i32.const" && n.length === 2;
const staticAt = (n) => isConst(n) && +n[1] >= STATIC_START && +n[1] < STATIC_END;

/** Rewrites static accesses to globals; returns the addresses made globals, or why not. */
function globalize(module) {
  const used = new Set();
  let escaped = null;
  // Where a constant is a value that could be a pointer to the statics (the heap lives at
  // STATIC_START): an argument, a stored or set value, a result.
  const valueAt = (op) => op === "call" || op === "return" || op === "local.set" || op === "local.tee" ||
    op === "global.set" || op === "select" || op === "br_if" || op === "br" || /\.store/.test(op);
  const walk = (n) => {
    if (!Array.isArray(n)) return n;
    const op = n[0];
    if ((op === "i32.load" || op === "i32.store") && staticAt(n[1])) {
      used.add(+n[1][1]);
      return op === "i32.load" ? ["global.get", `$s${n[1][1]}`] : ["global.set", `$s${n[1][1]}`, walk(n[2])];
    }
    if (/^(i32|i64|f32|f64)\.(load|store)/.test(op) && isConst(n.find(Array.isArray))) {
      const offset = n.find((c) => typeof c === "string" && c.startsWith("offset="));
      const at = +n.find(Array.isArray)[1] + (offset ? +offset.slice(7) : 0);
      if (at < STATIC_END + 4) escaped ??= `${op} at ${at}`; // another width, or an offset
    }
    if (valueAt(op)) {
      for (const c of n.slice(1)) {
        if (isConst(c) && +c[1] >= STATIC_START && +c[1] < STATIC_END + 4) escaped ??= `${op} of ${c[1]}`;
      }
    }
    return n.map(walk);
  };
  const funcs = module.filter((n) => Array.isArray(n) && n[0] === "func");
  const rewritten = funcs.map(walk);
  if (escaped !== null) return { escaped };
  funcs.forEach((f, k) => f.splice(0, f.length, ...rewritten[k]));
  const at = module.findIndex((n) => Array.isArray(n) && n[0] === "func");
  const globals = [...used].sort((a, b) => a - b).map((a) => ["global", `$s${a}`, ["mut", "i32"], ["i32.const", "0"]]);
  module.splice(at, 0, ...globals);
  return { used: [...used] };
}

/** The heap's lazy start (`Heap::start`, inlined into `grow` by wasm-opt): `if first == 0 {
 * limit = L; top = first = T }` ahead of the growth loop (the module's source promises its
 * initial range holds a region, `Source::INITIAL_HOLDS_A_REGION`; the same with `continue` at
 * the end inside the loop otherwise), every value a constant (the linker's `__heap_base` and
 * the initial memory's end), evaluated here once and for all, as wasm-ctor-eval would: the
 * globals start with those values and the test goes (and with it the only write of `first`,
 * which wasm-opt then folds to a constant). Sound because the heap sets `first` only there and
 * when memory first grows (to a page start, never 0), so after the start it is never 0.
 * Returns the globals so initialised, or null when the pattern is not there exactly once. */
function foldStart(module) {
  const found = [];
  const walk = (n, parent, k) => {
    if (!Array.isArray(n)) return;
    const [op, cond, body] = n;
    if (op === "if" && n.length === 3 && Array.isArray(cond) && cond[0] === "i32.eqz" && Array.isArray(cond[1]) &&
      cond[1][0] === "global.get" && Array.isArray(body) && body[0] === "block") {
      // The sets, then a `br` back to the loop's start (a start inside the growth loop) or
      // nothing (a start ahead of it, under `Source::INITIAL_HOLDS_A_REGION`).
      const items = body.slice(1);
      const last = items[items.length - 1];
      const br = Array.isArray(last) && last[0] === "br" && last.length === 2;
      const sets = br ? items.slice(0, -1) : items;
      const constSet = (c) => Array.isArray(c) && c[0] === "global.set" && isConst(c[2]) && +c[2][1] !== 0;
      if (sets.length && sets.every(constSet) && sets.some((c) => c[1] === cond[1][1])) {
        found.push({ parent, k, sets });
      }
    }
    n.forEach((c, i) => walk(c, n, i));
  };
  module.filter((n) => Array.isArray(n) && n[0] === "func").forEach((f) => walk(f, null, 0));
  if (found.length !== 1) return null;
  const { parent, k, sets } = found[0];
  // The start takes a region from `first` to `limit + 8` (the lowest and highest values): it
  // must hold a block and its end marker (`Source::INITIAL_HOLDS_A_REGION` promises it).
  const values = sets.map((c) => +c[2][1] >>> 0);
  if (Math.max(...values) - Math.min(...values) < 16) {
    throw new Error(`small-post: the initial range ${Math.min(...values)}..${Math.max(...values) + 8} holds no region`);
  }
  parent.splice(k, 1, ["nop"]);
  const inits = new Map(sets.map((c) => [c[1], c[2][1]]));
  for (const g of module) {
    if (Array.isArray(g) && g[0] === "global" && inits.has(g[1])) g[3] = ["i32.const", inits.get(g[1])];
  }
  return [...inits].map(([g, v]) => `${g.slice(2)}=${v}`);
}

/** Points exports at the functions their thunks call; returns the names redirected. */
function skipThunks(module) {
  const funcs = new Map(module.filter((n) => Array.isArray(n) && n[0] === "func").map((f) => [f[1], f]));
  const signature = (f) => JSON.stringify(f.filter((c) => Array.isArray(c) && (c[0] === "param" || c[0] === "result")).map((c) => [c[0], c[c.length - 1]]));
  const params = (f) => f.filter((c) => Array.isArray(c) && c[0] === "param").map((c) => c[1]);
  const redirected = [];
  for (const e of module) {
    if (!Array.isArray(e) || e[0] !== "export" || !Array.isArray(e[2]) || e[2][0] !== "func") continue;
    const f = funcs.get(e[2][1]);
    const body = f.filter((c) => Array.isArray(c) && !["param", "result", "local"].includes(c[0]));
    if (f.some((c) => Array.isArray(c) && c[0] === "local") || body.length !== 1) continue;
    const call = body[0];
    if (call[0] !== "call") continue;
    const args = call.slice(2);
    const ps = params(f);
    const forwards = args.length === ps.length && args.every((a, k) => Array.isArray(a) && a[0] === "local.get" && a[1] === ps[k] && a.length === 2);
    const callee = funcs.get(call[1]);
    if (!forwards || !callee || signature(callee) !== signature(f)) continue;
    e[2][1] = call[1];
    redirected.push(e[1]);
  }
  return redirected;
}

const [input, output] = process.argv.slice(2);
const module = parse(readFileSync(input, "utf8"));
const g = globalize(module);
const started = g.used ? foldStart(module) : null;
const thunks = skipThunks(module);
writeFileSync(output, print(module) + "\n");
console.log(
  "small-post: " +
    (g.used ? `statics at ${g.used.sort((a, b) => a - b).join(", ")} as globals` : `statics kept in memory (${g.escaped} used otherwise)`) +
    `; start folded: ${started ? started.join(", ") : "no"}` +
    `; exports without thunks: ${thunks.join(", ") || "none"}`,
);
