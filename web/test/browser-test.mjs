// Browser test for the KafkaScope web build: serves DIST, opens it in headless Chromium (WebGL2 via SwiftShader),
// checks the DOM contract (ready, trace hash, share URL), crashes broker 1 by click + "c", and checks the screenshot is not blank.
// Then it shares the run with the Share button (the clipboard must hold the link, and the link opened in a new page
// must replay the same run, crash included), loads a malformed file through the file picker (the app must show the
// CLI's error) and a good one by drag-and-drop (the app must run it, with the CLI's trace hash).
// Usage: node web/test/browser-test.mjs --dist DIR --expect-hash HEX --scenario NAME --seed N --out PNG
//        [--load-file RON --load-hash HEX] [--bad-file RON --bad-error TEXT] [--port P] [--verbose]
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { serve } from "../serve.mjs";

const CONTROL_FLOW = "Using exceptions for control flow";   // winit throws this on purpose on the web

const { values: opt } = parseArgs({
  options: {
    dist: { type: "string" }, "expect-hash": { type: "string" }, scenario: { type: "string" },
    seed: { type: "string" }, out: { type: "string" }, port: { type: "string", default: "0" },
    "load-file": { type: "string" }, "load-hash": { type: "string" },
    "bad-file": { type: "string" }, "bad-error": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
for (const k of ["dist", "expect-hash", "scenario", "seed", "out"]) {
  if (!opt[k]) {
    console.error("usage: node web/test/browser-test.mjs --dist DIR --expect-hash HEX --scenario NAME --seed N --out PNG [--load-file RON --load-hash HEX] [--bad-file RON --bad-error TEXT] [--port P] [--verbose]");
    process.exit(2);
  }
}
for (const [file, expected] of [["load-file", "load-hash"], ["bad-file", "bad-error"]]) {
  if (Boolean(opt[file]) !== Boolean(opt[expected])) {
    console.error(`browser-test: --${file} and --${expected} go together`);
    process.exit(2);
  }
}
if (!fs.existsSync(path.join(opt.dist, "index.html"))) {
  console.error(`browser-test: FAIL: ${opt.dist}/index.html not found (run web/build.sh first)`);
  process.exit(1);
}

// ---- minimal PNG decoder (8-bit RGB/RGBA, non-interlaced, filter types 0-4) ----
function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  let off = 8, width = 0, height = 0, depth = 0, ctype = 0, interlace = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off), type = buf.toString("latin1", off + 4, off + 8), data = buf.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") { width = data.readUInt32BE(0); height = data.readUInt32BE(4); depth = data[8]; ctype = data[9]; interlace = data[12]; }
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    off += 12 + len;
  }
  if (depth !== 8 || (ctype !== 2 && ctype !== 6) || interlace !== 0) {
    throw new Error(`unsupported PNG (bit depth ${depth}, colour type ${ctype}, interlace ${interlace})`);
  }
  const bpp = ctype === 6 ? 4 : 3, stride = width * bpp, raw = zlib.inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], src = y * (stride + 1) + 1, dst = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[dst + x - bpp] : 0, b = y > 0 ? px[dst + x - stride] : 0;
      const c = x >= bpp && y > 0 ? px[dst + x - stride - bpp] : 0;
      let p = raw[src + x];
      if (f === 1) p += a;
      else if (f === 2) p += b;
      else if (f === 3) p += (a + b) >> 1;
      else if (f === 4) { const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c); p += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      else if (f !== 0) throw new Error(`bad PNG filter type ${f} on row ${y}`);
      px[dst + x] = p & 0xff;
    }
  }
  return { width, height, bpp, px };
}

function colourStats({ width, height, bpp, px }) {
  const counts = new Map();
  for (let i = 0; i < width * height * bpp; i += bpp) {
    const key = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = Math.max(...counts.values());
  return { distinct: counts.size, topShare: top / (width * height) };
}

// Waits until attribute `name` of #app satisfies `ok`, or fails naming `what`.
async function waitForAttr(p, name, ok, timeout, what) {
  const deadline = Date.now() + timeout;
  let value = null;
  while (Date.now() < deadline) {
    value = await p.getAttribute("#app", name);
    if (ok(value)) return value;
    await p.waitForTimeout(100);
  }
  throw new Error(`waited ${timeout / 1000} s for ${what}; ${name}=${JSON.stringify(value)}`);
}

// ---- the test ----
const server = await serve(opt.dist, Number(opt.port));
const port = server.address().port;
const errors = [];
let browser, page;
function fail(msg) { throw new Error(msg); }

try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
  });
  // The Share button writes to the clipboard, and the test reads it back.
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 }, permissions: ["clipboard-read", "clipboard-write"],
  });
  const watch = (p, label) => {
    p.on("console", (m) => {
      const text = m.text();
      if (m.type() === "error" && !text.includes(CONTROL_FLOW)) { errors.push(text); console.error(`[${label} error] ${text}`); }
      else if (opt.verbose) console.error(`[${label} ${m.type()}] ${text}`);
    });
    p.on("pageerror", (e) => {
      const text = String(e && e.stack || e);
      if (!text.includes(CONTROL_FLOW)) { errors.push(text); console.error(`[${label} exception] ${text}`); }
    });
  };
  page = await context.newPage();
  watch(page, "page");

  const query = new URLSearchParams({ scenario: opt.scenario, seed: opt.seed });
  const url = `http://127.0.0.1:${port}/index.html?${query}`;
  console.error(`browser-test: opening ${url}`);
  const t0 = Date.now();
  await page.goto(url);
  try {
    await page.waitForSelector('#app[data-ready="1"]', { state: "attached", timeout: 120_000 });
  } catch {
    fail(`#app never got data-ready="1" within 120 s${errors.length ? ` (page errors: ${errors.join(" | ")})` : ""}`);
  }
  const readyMs = Date.now() - t0;
  const attr = (name) => page.getAttribute("#app", name);
  const firstFrame = await attr("data-first-frame-ms");
  const firstFrameMs = firstFrame === null ? null : Math.round(Number(firstFrame));
  console.error(`browser-test: ready after ${readyMs} ms (wall, from navigation); first frame at ${firstFrameMs ?? "?"} ms (performance.now)`);
  if (firstFrameMs === null || !Number.isFinite(firstFrameMs)) fail(`data-first-frame-ms missing or not a number: ${firstFrame}`);

  const hash = await attr("data-trace-hash");
  if (hash !== opt["expect-hash"]) fail(`trace hash mismatch: page has ${hash}, expected ${opt["expect-hash"]}`);

  const shareUrl = await attr("data-share-url");
  if (!shareUrl) fail("data-share-url missing");
  if (!shareUrl.includes("scenario=")) fail(`data-share-url has no scenario=: ${shareUrl}`);
  if (!new RegExp(`[?&]seed=${opt.seed}(?:[&#]|$)`).test(shareUrl)) fail(`data-share-url has no seed=${opt.seed}: ${shareUrl}`);

  let rects;
  try { rects = JSON.parse(await attr("data-broker-rects")); } catch (e) { fail(`data-broker-rects is not JSON: ${e.message}`); }
  const r = rects && rects["1"];
  if (!Array.isArray(r) || r.length !== 4 || !r.every(Number.isFinite)) fail(`data-broker-rects has no [x,y,w,h] for broker "1": ${JSON.stringify(rects)}`);
  const box = await page.locator("#kafkascope-canvas").boundingBox();
  if (!box) fail("#kafkascope-canvas has no bounding box");
  const [x, y, w, h] = r;
  // Select broker 1 and crash it with "c" at once: the app applies a click and a key of one frame in that order.
  await page.mouse.click(box.x + x + w / 2, box.y + y + h / 2);
  await page.keyboard.press("c");
  try {
    await page.waitForFunction(
      () => (document.querySelector("#app").dataset.downBrokers || "").split(",").map((s) => s.trim()).includes("1"),
      null, { timeout: 10_000 });
  } catch {
    fail(`broker 1 not in data-down-brokers 10 s after click + "c" (data-down-brokers=${JSON.stringify(await attr("data-down-brokers"))})`);
  }
  const downBrokers = await attr("data-down-brokers");

  fs.mkdirSync(path.dirname(path.resolve(opt.out)), { recursive: true });
  await page.locator("#app").screenshot({ path: opt.out });
  const img = decodePng(fs.readFileSync(opt.out));
  const { distinct, topShare } = colourStats(img);
  if (distinct < 16 || topShare >= 0.97) {
    fail(`screenshot ${opt.out} looks blank: ${distinct} distinct colours, most common covers ${(topShare * 100).toFixed(1)}%`);
  }

  // The crash forked the run: wait for the new end-of-run hash, then share it.
  await waitForAttr(page, "data-trace-hash", (v) => v && v !== hash, 60_000, "a new trace hash after the crash");
  const crashedHash = await attr("data-trace-hash");
  let shareRect;
  try { shareRect = JSON.parse(await attr("data-share-button-rect")); } catch (e) { fail(`data-share-button-rect is not JSON: ${e.message}`); }
  if (!Array.isArray(shareRect) || shareRect.length !== 4) fail(`data-share-button-rect is not [x,y,w,h]: ${shareRect}`);
  await page.mouse.click(box.x + shareRect[0] + shareRect[2] / 2, box.y + shareRect[1] + shareRect[3] / 2);
  let copied = "";
  const clipboardDeadline = Date.now() + 10_000;
  while (Date.now() < clipboardDeadline && !copied.includes("scenario=")) {
    await page.waitForTimeout(200);
    copied = await page.evaluate(() => navigator.clipboard.readText()).catch(() => "");
  }
  if (!copied.startsWith(`http://127.0.0.1:${port}/`) || !copied.includes("scenario=")) {
    fail(`the Share button did not put the link on the clipboard (clipboard: ${JSON.stringify(copied)})`);
  }
  // Whoever opens the link sees the same run: the crash replays and the end-of-run hash is the same.
  const shared = await context.newPage();
  watch(shared, "shared page");
  await shared.goto(copied);
  await shared.waitForSelector('#app[data-ready="1"]', { state: "attached", timeout: 120_000 })
    .catch(() => fail(`the shared link never got ready: ${copied}`));
  const sharedHash = await shared.getAttribute("#app", "data-trace-hash");
  const sharedDown = await shared.getAttribute("#app", "data-down-brokers");
  if (sharedHash !== crashedHash) fail(`the shared link replays another run: hash ${sharedHash}, expected ${crashedHash}`);
  if (!(sharedDown || "").split(",").includes("1")) fail(`the shared link does not show broker 1 down: ${sharedDown}`);
  await shared.close();

  // A malformed file through the file picker: the app shows the CLI's message, file:line:col and hint.
  let badError = null;
  if (opt["bad-file"]) {
    await page.setInputFiles("#scenario-file", {
      name: path.basename(opt["bad-file"]), mimeType: "text/plain", buffer: fs.readFileSync(opt["bad-file"]),
    });
    await waitForAttr(page, "data-error", (v) => v === opt["bad-error"], 20_000,
      `the CLI's error ${JSON.stringify(opt["bad-error"])}`);
    badError = opt["bad-error"];
  }
  // A good file dropped on the view: the app runs it, to the same trace hash as the CLI.
  let loadedHash = null;
  if (opt["load-file"]) {
    const name = path.basename(opt["load-file"]);
    const text = fs.readFileSync(opt["load-file"], "utf8");
    const dataTransfer = await page.evaluateHandle(({ name, text }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], name, { type: "text/plain" }));
      return dt;
    }, { name, text });
    await page.dispatchEvent("#app", "dragover", { dataTransfer });
    await page.dispatchEvent("#app", "drop", { dataTransfer });
    await waitForAttr(page, "data-scenario", (v) => v === name, 20_000, `data-scenario=${name} after the drop`);
    await waitForAttr(page, "data-trace-hash", (v) => v === opt["load-hash"], 120_000,
      `the dropped file's trace hash ${opt["load-hash"]}`);
    const error = await attr("data-error");
    if (error) fail(`data-error is still set after a good file loaded: ${error}`);
    loadedHash = opt["load-hash"];
  }
  if (errors.length) fail(`${errors.length} console error(s):\n  ${errors.join("\n  ")}`);

  console.log(JSON.stringify({
    ok: true, scenario: opt.scenario, seed: Number(opt.seed), hash, first_frame_ms: firstFrameMs, ready_ms: readyMs,
    distinct_colours: distinct, top_colour_share: Number(topShare.toFixed(4)), image: `${img.width}x${img.height}`,
    down_brokers: downBrokers, share_url: shareUrl, screenshot: opt.out, hash_after_crash: crashedHash,
    shared_link: copied, shared_link_hash: sharedHash, bad_file_error: badError, dropped_file_hash: loadedHash,
  }));
} catch (e) {
  console.error(`browser-test: FAIL: ${e.message}`);
  if (page) {
    const failShot = opt.out.replace(/\.png$/i, "") + "-failed.png";
    await page.screenshot({ path: failShot }).then(() => console.error(`browser-test: page at failure saved to ${failShot}`), () => {});
  }
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  server.close();
}
