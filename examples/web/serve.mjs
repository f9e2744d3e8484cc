#!/usr/bin/env node
// A tiny static server for the example page, on 127.0.0.1 only:
//   /            -> examples/web/index.html      /pkg/<file> -> pkg/<file> (the loader and wasm)
//   /<file>      -> examples/web/<file>
// wall-e.wasm is served as application/wasm (so the loader can use instantiateStreaming), except
// under /wrong-type/ where it is application/octet-stream, to show the loader's fallback.
//   node examples/web/serve.mjs [port]      (default 8080; 0 picks a free port)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "../../pkg");
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
};
const pkgFiles = new Set(["wall-e.js", "clients.js", "heapmap.js", "wall-e.d.ts", "wall-e.wasm", "wall-e.trace.wasm"]);

/** Maps a request path to a file, or null; never leaves the two served folders. */
function fileFor(pathname) {
  if (pathname === "/") return join(here, "index.html");
  if (pathname.startsWith("/pkg/")) {
    const name = pathname.slice(5);
    return pkgFiles.has(name) ? join(pkgDir, name) : null;
  }
  if (pathname === "/wrong-type/wall-e.wasm") return join(pkgDir, "wall-e.wasm");
  const file = resolve(here, "." + pathname);
  return file.startsWith(here + sep) ? file : null;
}

/** Starts the server; resolves to `{ url, server, close() }`. */
export async function startServer({ port = 0, host = "127.0.0.1", log = false } = {}) {
  const server = createServer(async (req, res) => {
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
    } catch {
      pathname = "";
    }
    const file = req.method === "GET" || req.method === "HEAD" ? fileFor(pathname) : null;
    let body;
    try {
      body = file && (await readFile(file));
    } catch {
      body = null;
    }
    if (!body) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end(`not found: ${pathname}\n`);
    } else {
      const type = pathname.startsWith("/wrong-type/") ? "application/octet-stream" : types[extname(file)] || "application/octet-stream";
      res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    }
    if (log) console.log(`${res.statusCode} ${req.method} ${pathname}`);
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  const url = `http://${host}:${server.address().port}/`;
  return { url, server, close: () => new Promise((ok) => server.close(ok)) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  const { url } = await startServer({ port, log: true });
  console.log(`wall-e example page: ${url}  (Ctrl-C to stop)`);
}
