// GET /events (server-sent events) without a browser: the stream's
// headers and first event, execution summaries (no stage contexts) as an
// execution runs, the application filter, no small subscriber cap, a client
// that goes away (its connection freed at once), and a clean, prompt shutdown with
// subscribers still connected (suspended connections must be resumed
// before the HTTP daemon stops, or it aborts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { Server, until, waitPipeline, sleep } from './lib/harness.mjs';

let srv;
before(async () => {
  srv = await Server.start();
  await srv.createApp('alpha');
  await srv.createApp('beta');
  await srv.savePipeline(waitPipeline('alpha', 'p', [0, 0, 0]));
  await srv.savePipeline(waitPipeline('beta', 'p', [0]));
});
after(async () => { if (srv) await srv.stop(); });

// Opens a stream; collects parsed events in .events.
function subscribe(query = '', server = srv) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}/events${query}`, { headers: server.headers }, (res) => {
      const sub = { res, req, status: res.statusCode, headers: res.headers, events: [], text: '' };
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk) => {
        sub.text += chunk;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { ev.comment = line; continue; }
            const k = line.slice(0, line.indexOf(':'));
            const v = line.slice(line.indexOf(':') + 1).replace(/^ /, '');
            if (k === 'data') ev.data += v; else ev[k] = v;
          }
          sub.events.push(ev);
        }
      });
      res.on('error', () => {});
      resolve(sub);
    });
    req.on('error', reject);
  });
}

test('the stream: headers, hello, and summaries of a running execution', async () => {
  const sub = await subscribe('?application=alpha');
  assert.equal(sub.status, 200);
  assert.match(sub.headers['content-type'], /^text\/event-stream/);
  assert.equal(sub.headers['cache-control'], 'no-cache');
  await until(() => sub.events.some((e) => e.event === 'hello'), { what: 'hello' });
  assert.equal(sub.events[0].retry, '2000');
  const id = await srv.trigger('alpha', 'p');
  await until(() => sub.events.some((e) => e.event === 'execution' && JSON.parse(e.data).status === 'SUCCEEDED'), { what: 'the SUCCEEDED summary' });
  const execs = sub.events.filter((e) => e.event === 'execution').map((e) => JSON.parse(e.data));
  assert.ok(execs.every((x) => x.id === id && x.application === 'alpha'));
  for (const x of execs) {
    assert.equal(x.stages.length, 3);
    for (const s of x.stages) assert.ok(!('context' in s) && !('tasks' in s) && !('outputs' in s), 'summaries carry no contexts');
  }
  const ids = sub.events.filter((e) => e.id).map((e) => Number(e.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'event ids increase');
  sub.req.destroy();
});

test('the application filter, and task events', async () => {
  const a = await subscribe('?application=alpha');
  const all = await subscribe('');
  await until(() => a.events.length && all.events.length, { what: 'hello events' });
  const id = await srv.trigger('beta', 'p');
  await until(() => all.events.some((e) => e.event === 'execution' && JSON.parse(e.data).id === id && JSON.parse(e.data).status === 'SUCCEEDED'), { what: 'beta on the unfiltered stream' });
  await sleep(200);
  assert.ok(!a.events.some((e) => e.event === 'execution'), 'alpha subscriber hears nothing of beta');
  await srv.createApp('gamma');
  await until(() => all.events.some((e) => e.event === 'task'), { what: 'a task event' });
  a.req.destroy();
  all.req.destroy();
});

test('no small fixed cap: 300 subscribers all hear an execution; gone clients free their place', async () => {
  // A server of its own, so the count of its connections is this test's.
  // (The 256th subscriber used to be the last; test_server_limits.py
  // drives 1,000 and bench/bench_events.py 5,000.)
  const own = await Server.start();
  try {
    await own.createApp('alpha');
    await own.savePipeline(waitPipeline('alpha', 'p', [0]));
    const opened = await Promise.all(Array.from({ length: 300 }, () => subscribe('?application=alpha', own)));
    assert.ok(opened.every((s) => s.status === 200));
    await own.trigger('alpha', 'p');
    await until(() => opened.every((s) => s.events.some((e) => e.event === 'execution')), { what: 'all 300 to hear the execution' });
    // A client that goes frees its connection at once (the server watches
    // for the peer closing), not at the next write to it.
    const sockets = () => fs.readdirSync(`/proc/${own.proc.pid}/fd`).filter((fd) => {
      try { return fs.readlinkSync(`/proc/${own.proc.pid}/fd/${fd}`).startsWith('socket:'); } catch { return false; }
    }).length;
    const before = sockets();
    for (const s of opened.slice(0, 100)) s.req.destroy();
    const t0 = Date.now();
    await until(() => sockets() <= before - 100, { timeoutMs: 5000, intervalMs: 20, what: '100 connections to close' });
    assert.ok(Date.now() - t0 < 1500, `closed in ${Date.now() - t0} ms`);
    for (const s of opened.slice(100)) s.req.destroy();
  } finally {
    await own.stop();
  }
});

test('the server stops promptly and cleanly with subscribers connected', async () => {
  const s1 = await subscribe('?application=alpha');
  const s2 = await subscribe('');
  await until(() => s1.events.length && s2.events.length, { what: 'hello events' });
  const ended = Promise.all([s1, s2].map((s) => new Promise((r) => s.res.on('close', r))));
  const t0 = Date.now();
  await srv.stop({ keep: false }); // throws on a non-zero exit or a sanitizer report
  srv = null;
  await ended;
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
});
