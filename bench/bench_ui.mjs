#!/usr/bin/env node
// bench/bench_ui.mjs - time to first paint of the PIPELINES view of an
// application with 10,000 executions across 20 pipelines of 10 stages, in
// headless Chromium, against a same-run baseline: the very same rows (the
// DOM the view rendered, with the same stylesheets) as a static HTML page
// served by mizzen's own /ui/ file server. Then typing into the filter:
// from the input event to the repaint, beside the same filtering done by a
// bare loop over the static page's rows.
//
//   node bench/bench_ui.mjs [--bin build/mizzen] [--runs 5] [--executions 10000] [--pipelines 20] [--stages 10]
//
// "First paint" is the performance mark the view sets two animation
// frames after it rendered the list (mz:executions-painted, ms since the
// navigation started); the static page sets the same mark the same way.
// Every run fetches everything again (HTTP cache disabled). Prints the medians and
// one line for bench/run:
//   RESULT|ui first paint 10000 executions, 20 pipelines (ms)|<mizzen>|<baseline>|<ratio>|<= 500 ms|<met>
//   RESULT|ui filter typing to repaint (ms)|<mizzen>|<baseline>|<ratio>|<= 100 ms|<met>
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server, browser, until, REPO } from '../tests/ui/lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
if (opt('bin')) process.env.MIZZEN_BIN = path.resolve(opt('bin'));
const RUNS = Number(opt('runs', 5));
const N = Number(opt('executions', 10000));
const PIPES = Number(opt('pipelines', 20));
const STAGES = Number(opt('stages', 10));
const FILTER_TARGET_MS = 100;
const TARGET_MS = 500;
const APP = 'bench';

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function seed(srv) {
  await srv.createApp(APP);
  const stages = Array.from({ length: STAGES }, (_, i) => ({
    refId: String(i + 1), requisiteStageRefIds: i ? [String(i)] : [], type: 'wait', name: `stage ${i + 1}`, waitTime: 0 }));
  const names = Array.from({ length: PIPES }, (_, i) => `release-${String(i + 1).padStart(2, '0')}`);
  for (const name of names) await srv.savePipeline({ application: APP, name, limitConcurrent: false, stages });
  const t0 = Date.now();
  // A few triggers in flight at a time: the server answers each in about a
  // millisecond; the engine runs the stages behind.
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < N) { const i = next++; await srv.trigger(APP, names[i % PIPES], { type: 'manual', parameters: { build: `b${i}` } }); }
  }));
  await until(async () => {
    const r = await srv.call('GET', `/applications/${APP}/pipelines?limit=1&statuses=NOT_STARTED,RUNNING,PAUSED,SUSPENDED,BUFFERED`);
    return r.status === 200 && r.body.length === 0;
  }, { timeoutMs: 1800000, intervalMs: 500, what: `${N} executions to finish` });
  const done = await srv.call('GET', `/applications/${APP}/pipelines?limit=${N}&statuses=SUCCEEDED`);
  if (done.body.length !== N) throw new Error(`expected ${N} SUCCEEDED executions, found ${done.body.length}`);
  console.log(`seeded ${N} executions across ${PIPES} pipelines of ${STAGES} stages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// One browser for every run. Each run first opens the server's /health
// (so a renderer process for the origin is up: browser and renderer
// start-up are not what is measured), then navigates to url with the HTTP
// cache disabled (every file and the API are fetched again). Returns the
// mark's time (ms since that navigation started) and the page's rows.
let shared = null;
async function paintOnce(url, mark, capture = false) {
  if (!shared) {
    shared = await browser({ width: 1440, height: 900 });
    const cdp = await shared.context.newCDPSession(shared.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  }
  const page = shared.page;
  await page.goto(new URL('/health', url).href);
  await page.goto(url);
  const t = await page.waitForFunction((m) => {
    const e = performance.getEntriesByName(m)[0];
    return e ? e.startTime : null;
  }, mark, { timeout: 30000, polling: 20 });
  const ms = await t.jsonValue();
  const rows = await page.locator('li.exec').count();
  const markers = await page.locator('li.exec .marker').count();
  const html = capture ? await page.evaluate(() => document.body.innerHTML) : null;
  return { ms, rows, markers, html };
}

// Types each query into the filter box and times the input event to the
// repaint after it (two animation frames: the frame the change is painted
// in has run). The static page gets the same queries through a bare loop
// that hides the rows whose text lacks the query.
const QUERIES = ['r', 're', 'rel', 'release-0', 'release-07', 'release-1', 'b9', 'b99', ''];
async function filterTimes(bare) {
  return shared.page.evaluate(async ({ queries, bare }) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const input = document.querySelector('[data-act="filter"]');
    const rows = [...document.querySelectorAll('li.exec')];
    const out = [];
    for (const q of queries) {
      await frame();
      const t0 = performance.now();
      if (bare) { const ql = q.toLowerCase(); for (const r of rows) r.hidden = !!ql && !r.textContent.toLowerCase().includes(ql); } else {
        input.value = q;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }
      await frame();
      out.push(performance.now() - t0);
    }
    return out;
  }, { queries: QUERIES, bare });
}

async function main() {
  const srv = await Server.start();
  let staticSrv = null;
  const webCopy = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-bench-ui-'));
  try {
    await seed(srv);
    const url = `${srv.url}/ui/#/applications/${APP}/executions`;
    await paintOnce(url, 'mz:executions-painted'); // warm the server's page cache
    const mz = [];
    let shape = null;
    for (let i = 0; i < RUNS; i++) {
      const r = await paintOnce(url, 'mz:executions-painted', i === 0);
      mz.push(r.ms);
      if (r.html) shape = r;
    }
    console.log(`mizzen UI: ${shape.rows} rows, ${shape.markers} stage markers painted; first paint per run (ms): ${mz.map((x) => x.toFixed(0)).join(' ')}`);
    const typed = await filterTimes(false);
    console.log(`mizzen UI filter, input to repaint per query (ms): ${typed.map((x) => x.toFixed(0)).join(' ')}`);

    // The baseline: the same markup, static, same stylesheets, same server
    // code path (mizzen's /ui/ file server, from a copy of web/).
    fs.cpSync(path.join(REPO, 'web', 'css'), path.join(webCopy, 'css'), { recursive: true });
    const page = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>static</title>
<link rel="stylesheet" href="css/base.css"><link rel="stylesheet" href="css/executions.css">
<link rel="stylesheet" href="css/infrastructure.css"></head><body>${shape.html}
<script>requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('static-painted')));</script>
</body></html>`;
    fs.writeFileSync(path.join(webCopy, 'index.html'), page);
    staticSrv = await Server.start({ env: { MIZZEN_WEB_DIR: webCopy } });
    const surl = `${staticSrv.url}/ui/`;
    await paintOnce(surl, 'static-painted');
    const base = [];
    let srows = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await paintOnce(surl, 'static-painted');
      base.push(r.ms);
      srows = r.rows;
    }
    console.log(`static page (${(page.length / 1024).toFixed(0)} KB, ${srows} rows) from mizzen's /ui/ file server: first paint per run (ms): ${base.map((x) => x.toFixed(0)).join(' ')}`);
    const bare = await filterTimes(true);
    console.log(`static page, bare loop hiding rows per query (ms): ${bare.map((x) => x.toFixed(0)).join(' ')}`);
    const m = median(mz), bl = median(base);
    console.log(`median first paint: mizzen UI ${m.toFixed(0)} ms (target <= ${TARGET_MS} ms), static baseline ${bl.toFixed(0)} ms`);
    console.log(`RESULT|ui first paint ${N} executions, ${PIPES} pipelines (ms)|${m.toFixed(0)}|${bl.toFixed(0)} (static HTML, same rows)|${(m / bl).toFixed(2)}|<= ${TARGET_MS} ms|${m <= TARGET_MS ? 'yes' : 'NO'}`);
    const fm = Math.max(...typed), fb = Math.max(...bare);
    console.log(`RESULT|ui filter typing to repaint, slowest of ${QUERIES.length} (ms)|${fm.toFixed(0)}|${fb.toFixed(0)} (bare loop, static rows)|${(fm / Math.max(fb, 1)).toFixed(2)}|<= ${FILTER_TARGET_MS} ms|${fm <= FILTER_TARGET_MS ? 'yes' : 'NO'}`);
  } finally {
    if (shared) await shared.close();
    if (staticSrv) await staticSrv.stop();
    await srv.stop();
    fs.rmSync(webCopy, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench_ui: ${e.stack || e.message}`);
  process.exit(1);
});
