// Builds examples/threads-bindgen for the tests of `WallE` in a threaded wasm-bindgen app
// (test/walle-threads*.test.js): `cargo +nightly build --release` in its directory (std rebuilt
// with atomics; its target dir is examples/threads's, so both share one build of std; a no-op
// when nothing changed), then `wasm-bindgen --target <target>` into target/threads-bindgen/.
// `WALL_E_THREADS_BINDGEN_WASM` replaces cargo's output with a module built elsewhere.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { rootDir } from "./helpers.js";

export function buildApp(target) {
  let wasm = process.env.WALL_E_THREADS_BINDGEN_WASM;
  if (!wasm) {
    const targetDir = join(rootDir, "target/examples-threads");
    const env = { ...process.env };
    // Its .cargo/config.toml holds the flags; a RUSTFLAGS from outside would replace them.
    for (const v of ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR"]) delete env[v];
    execFileSync("cargo", ["+nightly", "build", "--release", "--quiet", "--target-dir", targetDir], {
      cwd: join(rootDir, "examples/threads-bindgen"),
      env,
      stdio: "inherit",
    });
    wasm = join(targetDir, "wasm32-unknown-unknown/release/threads_bindgen.wasm");
  }
  const out = join(rootDir, "target/threads-bindgen", target);
  execFileSync("wasm-bindgen", ["--target", target, "--out-dir", out, wasm], { stdio: "inherit" });
  return out;
}
