// The npm package: package.json fields, `npm pack` (offline) and the TypeScript declarations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pkgDir, wasmBytes } from "../testing/helpers.js";

wasmBytes(); // fails clearly when pkg/wall-e.wasm has not been built
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const offline = { ...process.env, npm_config_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };

test("package.json describes an ES module package with types and the wasm", () => {
  assert.equal(pkg.name, "wall-e");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.exports["."].default, "./wall-e.js");
  assert.equal(pkg.exports["."].types, "./wall-e.d.ts");
  assert.equal(pkg.types, "./wall-e.d.ts");
  for (const f of ["wall-e.js", "clients.js", "heapmap.js", "wall-e.d.ts", "wall-e.wasm", "wall-e.small.wasm", "wall-e.threads.wasm", "wall-e.trace.wasm"]) {
    assert.ok(pkg.files.includes(f), `files lists ${f}`);
    assert.ok(existsSync(join(pkgDir, f)), `${f} exists`);
  }
});

test("npm pack --dry-run (offline) lists the loader, the declarations, the three modules and the README, and no tests", () => {
  const out = execFileSync(npm, ["pack", "--dry-run", "--json", "--offline"], { cwd: pkgDir, env: offline, encoding: "utf8" });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, ["README.md", "clients.js", "heapmap.js", "package.json", "wall-e.d.ts", "wall-e.js", "wall-e.small.wasm", "wall-e.threads.wasm", "wall-e.trace.wasm", "wall-e.wasm"]);
  assert.equal(info.name, "wall-e");
});

test("npm pack (offline) produces a tarball whose loader finds its wasm", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wall-e-pack-"));
  try {
    const out = execFileSync(npm, ["pack", "--json", "--offline", "--pack-destination", dir], { cwd: pkgDir, env: offline, encoding: "utf8" });
    const [info] = JSON.parse(out);
    const tarball = join(dir, info.filename);
    assert.ok(existsSync(tarball));
    execFileSync("tar", ["-xzf", tarball, "-C", dir]);
    const unpacked = join(dir, "package");
    assert.deepEqual(readFileSync(join(unpacked, "wall-e.wasm")), readFileSync(join(pkgDir, "wall-e.wasm")));
    const { load } = await import(pathToFileURL(join(unpacked, "wall-e.js")).href);
    const heap = await load(); // the wall-e.wasm beside the unpacked loader
    const p = heap.allocFrom("packed");
    assert.equal(heap.readString(p), "packed");
    const { createSharedMemory } = await import(pathToFileURL(join(unpacked, "wall-e.js")).href);
    const shared = await load(undefined, { memory: createSharedMemory() }); // the wall-e.threads.wasm beside it
    assert.equal(shared.readString(shared.allocFrom("threads")), "threads");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the .d.ts type-checks a usage file with tsc --noEmit (and rejects misuse)", () => {
  const tsc = resolve(pkgDir, "node_modules/typescript/bin/tsc");
  assert.ok(existsSync(tsc), "typescript is a devDependency: run `npm ci` in pkg/");
  const args = [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext",
    "--lib", "es2022,dom", "testing/usage.ts"];
  try {
    execFileSync(process.execPath, args, { cwd: pkgDir, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`tsc reported errors:\n${e.stdout}${e.stderr}`);
  }
});
