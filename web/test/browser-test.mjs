// Browser test for the KafkaScope web build: serves DIST, opens it in headless Chromium (WebGL2 via SwiftShader),
// checks the DOM contract (ready, trace hash, share URL), crashes broker 1 by click + "c", and checks the screenshot is not blank.
// Usage: node web/test/browser-test.mjs --dist DIR --expect-hash HEX --scenario NAME --seed N --out PNG [--port P] [--verbose]
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
    verbose: { type: "boolean", default: false },
  },
});
for (const k of ["dist", "expect-hash", "scenario", "seed", "out"]) {
  if (!opt[k]) {
    console.error("usage: node web/test/browser-test.mjs --dist DIR --expect-hash HEX --scenario NAME --seed N --out PNG [--port P] [--verbose]");
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
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("console", (m) => {
    const text = m.text();
    if (m.type() === "error" && !text.includes(CONTROL_FLOW)) { errors.push(text); console.error(`[page error] ${text}`); }
    else if (opt.verbose) console.error(`[page ${m.type()}] ${text}`);
  });
  page.on("pageerror", (e) => {
    const text = String(e && e.stack || e);
    if (!text.includes(CONTROL_FLOW)) { errors.push(text); console.error(`[page exception] ${text}`); }
  });

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
  await page.mouse.click(box.x + x + w / 2, box.y + y + h / 2);   // select broker 1
  await page.waitForTimeout(300);                                  // a frame or two: the click selects the broker
  await page.keyboard.press("c");                                  // crash the selection
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
  if (errors.length) fail(`${errors.length} console error(s):\n  ${errors.join("\n  ")}`);

  console.log(JSON.stringify({
    ok: true, scenario: opt.scenario, seed: Number(opt.seed), hash, first_frame_ms: firstFrameMs, ready_ms: readyMs,
    distinct_colours: distinct, top_colour_share: Number(topShare.toFixed(4)), image: `${img.width}x${img.height}`,
    down_brokers: downBrokers, share_url: shareUrl, screenshot: opt.out,
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
