// Minimal static file server for the KafkaScope web build (dist/), bound to 127.0.0.1.
// Usage: node web/serve.mjs DIR [PORT]   (PORT defaults to 8080; 0 picks a free one). Also imported by web/test/browser-test.mjs.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm", ".txt": "text/plain; charset=utf-8", ".ron": "text/plain; charset=utf-8",
  ".png": "image/png", ".json": "application/json", ".css": "text/css; charset=utf-8", ".ico": "image/x-icon",
};

/** Serves `dir` on 127.0.0.1:`port`; resolves to the listening http.Server (its real port is server.address().port). */
export function serve(dir, port = 8080) {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    let rel;
    try { rel = decodeURIComponent(new URL(req.url, "http://x").pathname); } catch { rel = null; }
    let file = rel === null || rel.includes("\0") ? null : path.resolve(root, "." + path.posix.normalize("/" + rel));
    if (file && !(file === root || file.startsWith(root + path.sep))) file = null;   // path traversal
    if (file && fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!file || req.method !== "GET" && req.method !== "HEAD" || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(file ? 404 : 400, { "content-type": "text/plain" }).end(file ? "not found\n" : "bad request\n");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
                         "content-length": fs.statSync(file).size, "cache-control": "no-store" });
    if (req.method === "HEAD") res.end(); else fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => { server.once("error", reject); server.listen(port, "127.0.0.1", () => resolve(server)); });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, port = "8080"] = process.argv.slice(2);
  if (!dir || !fs.existsSync(dir)) { console.error("usage: node web/serve.mjs DIR [PORT]  (DIR must exist)"); process.exit(2); }
  const server = await serve(dir, Number(port));
  console.log(`serving ${path.resolve(dir)} at http://127.0.0.1:${server.address().port}/index.html`);
}
