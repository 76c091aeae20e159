#!/usr/bin/env node
// bench/bench_ui.mjs - time to first paint of the PIPELINES view of an
// application with 10,000 executions across 20 pipelines of 10 stages, in
// headless Chromium, against a same-run baseline: the very same rows (the
// DOM the view rendered, with the same stylesheets) as a static HTML page
// served by mizzen's own /ui/ file server. Then typing into the filter
// (real key presses): from each keystroke to the frame painted after it
// (Chromium's Event Timing), beside the static page showing the very same
// rows and groups after each keystroke, set by a bare loop.
//
//   node bench/bench_ui.mjs [--bin build/mizzen] [--runs 5] [--executions 10000] [--pipelines 20] [--stages 10]
//
// "First paint" is the performance mark the view sets two animation
// frames after it rendered its first screen (mz:executions-painted, ms
// since the navigation started): the groups that fill the window, the
// others following as their pages come. "All rows" is the mark it sets
// once every group is drawn (mz:executions-complete). The static page is
// the whole list as the view ends up (every row, captured after
// mz:executions-complete) and sets its mark the same way. The filter is
// typed on the whole list, the view and the static page in turns, a pass
// each per run; the figure is the slowest keystroke of a pass, the median
// over the runs. Every run fetches everything again (HTTP cache
// disabled). Prints the medians and one line per figure for bench/run:
//   RESULT|ui first paint 10000 executions, 20 pipelines (ms)|<mizzen>|<baseline>|<ratio>|<= 500 ms|<met>
//   RESULT|ui all rows drawn 10000 executions (ms)|<mizzen>|<baseline>|<ratio>|-|-
//   RESULT|ui filter typing to repaint, slowest of N keystrokes, median of RUNS (ms)|<mizzen>|<baseline>|<ratio>|<= 100 ms|<met>
//
// 10,000 executions are 500 per pipeline, more than retention keeps by
// default: the server gets a config keeping them (unless MZ_SERVE_ARGS
// names one already, as bench/run does).
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
// mark's time (ms since that navigation started), the rows painted then,
// and, given completeMark, its time and the rows in the end.
let shared = null;
const markTime = (page, m) => page.waitForFunction((m) => {
  const e = performance.getEntriesByName(m)[0];
  return e ? e.startTime : null;
}, m, { timeout: 60000, polling: 20 }).then((h) => h.jsonValue());
async function paintOnce(url, mark, capture = false, completeMark = null) {
  if (!shared) {
    shared = await browser({ width: 1440, height: 900 });
    const cdp = await shared.context.newCDPSession(shared.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  }
  const page = shared.page;
  await page.goto(new URL('/health', url).href);
  await page.goto(url);
  const ms = await markTime(page, mark);
  // the rows drawn at first paint (the view notes them in its mark; the
  // static page has them all)
  const firstRows = await page.evaluate(() => {
    const r = performance.getEntriesByName('mz:executions-rendered')[0];
    return r && r.detail ? r.detail.rows : document.querySelectorAll('li.exec').length;
  });
  const all = completeMark ? await markTime(page, completeMark) : ms;
  const rows = await page.locator('li.exec').count();
  const markers = await page.locator('li.exec .marker').count();
  const html = capture ? await page.evaluate(() => document.body.innerHTML) : null;
  return { ms, all, firstRows, rows, markers, html };
}

// Filter typing, as a user types: real key presses (Chromium's input
// pipeline, trusted events) into the filter box, one at a time, each once
// the one before has been painted. A keystroke's time is the browser's own
// Event Timing (what INP is made of): from the key event's timestamp to
// the presentation of the first frame painted after its handlers ran,
// the slowest of the keystroke's events (keydown, keypress, input, keyup),
// in steps of 8 ms. Chromium reports only entries of 16 ms or more: a
// keystroke with none is counted as 16 (an upper bound).
//
// The session covers the old query list (r, re, rel, release-0, release-07,
// release-1, b9, b99, and back to nothing): "release-07" typed, two
// Backspaces and "1", select all and "b99", three Backspaces.
const KEYS = [...'release-07', 'Backspace', 'Backspace', '1', 'Control+a', 'b', '9', '9', 'Backspace', 'Backspace', 'Backspace'];

// One typing session on the current page (ready: the filter box is there
// and the rows drawn). Returns, per keystroke that changed the filter's
// value, {value, ms}; and, given record, the hidden state of every row and
// group after each (what the static page replays).
async function typeSession(record = false) {
  const page = shared.page;
  await page.evaluate(() => {
    window.__keys = [];
    window.__entries = [];
    addEventListener('keydown', (e) => { if (!['Control', 'Shift', 'Alt', 'Meta'].includes(e.key)) window.__keys.push(e.timeStamp); }, true);
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__entries.push({ name: e.name, start: e.startTime, ms: e.duration });
    }).observe({ type: 'event', durationThreshold: 16 });
  });
  const box = page.locator('[data-act="filter"]');
  await box.focus();
  const settled = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 30)))));
  const changed = [], states = [];
  for (let i = 0; i < KEYS.length; i++) {
    const before = await box.inputValue();
    await page.keyboard.press(KEYS[i]);
    await settled();
    const value = await box.inputValue();
    if (value === before) continue;
    changed.push({ i, value });
    if (record) states.push(await page.evaluate(() => [...document.querySelectorAll('li.exec, section.group')].map((e) => (e.hidden ? '1' : '0')).join('')));
  }
  // Entries come with the presentation of their frame, which a loaded
  // machine delays: wait until the last keystroke's are in (or 2 s).
  const lastKey = await page.evaluate(() => window.__keys[window.__keys.length - 1]);
  await page.waitForFunction((t) => window.__entries.some((e) => e.start >= t), lastKey, { timeout: 2000, polling: 50 }).catch(() => {});
  const { keys, entries } = await page.evaluate(() => ({ keys: window.__keys, entries: window.__entries }));
  if (keys.length !== KEYS.length) throw new Error(`expected ${KEYS.length} keydowns, saw ${keys.length}`);
  const times = changed.map(({ i, value }) => {
    const from = keys[i], to = i + 1 < keys.length ? keys[i + 1] : Infinity;
    const mine = entries.filter((e) => e.start >= from && e.start < to);
    return { value, ms: Math.max(16, ...mine.map((e) => e.ms)) };
  });
  return { times, states };
}

async function main() {
  const webCopy = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-bench-ui-'));
  const args = [];
  if (!/--config/.test(process.env.MZ_SERVE_ARGS || '')) {
    fs.writeFileSync(path.join(webCopy, 'config.json'), JSON.stringify({ retention: { executionsPerPipeline: 100000 } }));
    args.push('--config', path.join(webCopy, 'config.json'));
  }
  const srv = await Server.start({ args });
  let staticSrv = null;
  try {
    await seed(srv);
    const url = `${srv.url}/ui/#/applications/${APP}/executions`;
    await paintOnce(url, 'mz:executions-painted', false, 'mz:executions-complete'); // warm the server's page cache
    const mz = [], mzAll = [], first = [];
    let shape = null;
    for (let i = 0; i < RUNS; i++) {
      const r = await paintOnce(url, 'mz:executions-painted', i === 0, 'mz:executions-complete');
      mz.push(r.ms);
      mzAll.push(r.all);
      first.push(r.firstRows);
      if (r.html) shape = r;
    }
    console.log(`mizzen UI: first screen per run (ms): ${mz.map((x) => x.toFixed(0)).join(' ')} (rows on the page then: ${first.join(' ')})`);
    console.log(`mizzen UI: all ${shape.rows} rows, ${shape.markers} stage markers drawn per run (ms): ${mzAll.map((x) => x.toFixed(0)).join(' ')}`);

    // The baseline: the same markup, static, same stylesheets, same server
    // code path (mizzen's /ui/ file server, from a copy of web/).
    fs.cpSync(path.join(REPO, 'web', 'css'), path.join(webCopy, 'css'), { recursive: true });
    const page = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>static</title>
<link rel="stylesheet" href="css/base.css"><link rel="stylesheet" href="css/executions.css">
<link rel="stylesheet" href="css/infrastructure.css"></head><body>${shape.html}
<script>requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('static-painted')));
// The filter's baseline: no search, the answer given (window.__answers, the
// hidden state of every row and group after each of the view's keystrokes),
// applied by a bare loop on each input event.
window.__answers = [];
let typed = 0;
const els = [...document.querySelectorAll('li.exec, section.group')];
document.addEventListener('input', (e) => {
  if (!e.target.matches('[data-act="filter"]')) return;
  const a = window.__answers[typed++] || '';
  for (let i = 0; i < els.length; i++) { const h = a[i] === '1'; if (els[i].hidden !== h) els[i].hidden = h; }
});</script>
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

    // Typing: the view and the static page in turns (a pass each, RUNS
    // times), each freshly loaded. The view's first pass records what it
    // shows after each keystroke, which the static page then replays.
    const views = [], statics = [];
    let answers = null;
    const show = (t) => t.map((x) => `${x.value || "''"}:${x.ms.toFixed(0)}`).join(' ');
    const slowest = (t) => Math.max(...t.map((x) => x.ms));
    for (let i = 0; i < RUNS; i++) {
      await shared.page.goto(url);
      await shared.page.waitForSelector('.view[data-complete="true"]', { timeout: 60000 });
      const v = await typeSession(!answers);
      if (!answers) answers = v.states;
      views.push(v.times);
      await shared.page.goto(surl);
      await markTime(shared.page, 'static-painted');
      const n = await shared.page.evaluate((a) => { window.__answers = a; return document.querySelectorAll('li.exec, section.group').length; }, answers);
      if (n !== answers[0].length) throw new Error(`the static page has ${n} rows and groups, the view ${answers[0].length}`);
      statics.push((await typeSession()).times);
      console.log(`typing pass ${i + 1}: mizzen UI ${show(views[i])}`);
      console.log(`typing pass ${i + 1}: static page ${show(statics[i])}`);
    }
    const fm = median(views.map(slowest)), fb = median(statics.map(slowest));
    console.log(`filter typing, keystroke to painted frame (Event Timing), slowest keystroke per pass (ms): mizzen UI ${views.map(slowest).join(' ')}; static page replaying its answers ${statics.map(slowest).join(' ')}`);
    const m = median(mz), ma = median(mzAll), bl = median(base);
    console.log(`median first paint: mizzen UI ${m.toFixed(0)} ms (target <= ${TARGET_MS} ms), all rows ${ma.toFixed(0)} ms, static baseline (all rows) ${bl.toFixed(0)} ms`);
    console.log(`RESULT|ui first paint ${N} executions, ${PIPES} pipelines (ms)|${m.toFixed(0)}|${bl.toFixed(0)} (static HTML, all rows)|${(m / bl).toFixed(2)}|<= ${TARGET_MS} ms|${m <= TARGET_MS ? 'yes' : 'NO'}`);
    console.log(`RESULT|ui all ${shape.rows} rows drawn, ${N} executions (ms)|${ma.toFixed(0)}|${bl.toFixed(0)} (static HTML, all rows)|${(ma / bl).toFixed(2)}|-|-`);
    console.log(`RESULT|ui filter typing to repaint, slowest of ${views[0].length} keystrokes, median of ${RUNS} (ms)|${fm.toFixed(0)}|${fb.toFixed(0)} (static rows, bare loop)|${(fm / Math.max(fb, 1)).toFixed(2)}|<= ${FILTER_TARGET_MS} ms|${fm <= FILTER_TARGET_MS ? 'yes' : 'NO'}`);
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
