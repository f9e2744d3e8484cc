#!/usr/bin/env node
// Builds the AssemblyScript examples into build/ with the pinned asc (package.json):
//   program.wasm          assembly/program.ts on the wall-e runtime (memory and allocator wall-e's)
//   program.default.wasm  the same program on asc's default runtime (the reference output)
//   seed.wasm             the original WALL-E's usage (assembly/seed.ts) on the wall-e runtime
// The wall-e flags (docs/clients.md): the runtime file, an imported memory, the start function
// exported (the loader reserves the static range first), static data from 8 KiB: above the first
// block of every wall-e build (4,664 / 5,496 / 5,992 bytes for the default / stats / checked
// module), so a fresh wall-e has never handed out memory there.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const asc = resolve(here, "node_modules/.bin/asc");
const WALL_E = ["--runtime", "./rt/wall-e", "--importMemory", "--exportStart", "_start", "--memoryBase", "12288"];
mkdirSync(resolve(here, "build"), { recursive: true });
const build = (entry, out, flags) => {
  execFileSync(asc, [entry, "-O3", "-o", `build/${out}`, ...flags], { cwd: here, stdio: "inherit" });
  console.log(`examples/assemblyscript/build/${out}`);
};
build("assembly/program.ts", "program.wasm", WALL_E);
build("assembly/program.ts", "program.default.wasm", []);
build("assembly/seed.ts", "seed.wasm", WALL_E);
