// GET /events (server-sent events) without a browser: the stream's
// headers and first event, execution summaries (no stage contexts) as an
// execution runs, the application filter, the subscriber cap (503 with a
// JSON error), a client that goes away, and a clean, prompt shutdown with
// subscribers still connected (suspended connections must be resumed
// before the HTTP daemon stops, or it aborts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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

test('at most 256 subscribers; then 503 with a JSON error; gone clients free their place', async () => {
  // A server of its own: streams closed by the tests above are only
  // noticed at the server's next write to them.
  const own = await Server.start();
  try {
    await own.createApp('alpha');
    await own.savePipeline(waitPipeline('alpha', 'p', [0]));
    const opened = await Promise.all(Array.from({ length: 256 }, () => subscribe('?application=alpha', own)));
    assert.ok(opened.every((s) => s.status === 200));
    const extra = await own.call('GET', '/events?application=alpha');
    assert.equal(extra.status, 503);
    assert.equal(extra.body.status, 503);
    assert.match(extra.body.message, /too many live-update subscribers/);
    // Everyone still hears an execution.
    await own.trigger('alpha', 'p');
    await until(() => opened.every((s) => s.events.some((e) => e.event === 'execution')), { what: 'all 256 to hear the execution' });
    for (const s of opened.slice(0, 10)) s.req.destroy();
    // The server notices when a write to them fails: on the events of the
    // next executions (or at the latest on a keep-alive, every 15 s).
    const again = await until(async () => {
      await own.trigger('alpha', 'p');
      const r = await subscribe('?application=alpha', own);
      if (r.status === 200) return r;
      r.req.destroy();
      return null;
    }, { timeoutMs: 30000, intervalMs: 300, what: 'a free place' });
    again.req.destroy();
    for (const s of opened.slice(10)) s.req.destroy();
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
