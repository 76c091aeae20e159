// What an execution's details show for a webhook stage and a bake stage,
// against a real server: a webhook called on a local listener (request,
// response status and body; a 404 with the server's message), and a bake
// in two regions (each region's image, name, reuse on a second run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Server, browser, screenshot, screenshotsEveryWay, until } from './lib/harness.mjs';

const APP = 'panes';
let srv, b, page, listener, hookUrl, confDir;
const received = [];
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
const open = async (url) => { await page.goto('about:blank'); await page.goto(url); await page.waitForSelector('.view[data-painted="true"]'); };
const finished = (id) => until(async () => {
  const e = await srv.execution(id);
  return !['RUNNING', 'NOT_STARTED'].includes(e.status) && e;
}, { timeoutMs: 90000, what: `execution ${id} to finish` });
const stageNamed = (e, name) => e.stages.find((s) => s.name === name);

before(async () => {
  // The far end of the webhooks: /deploy answers 201 with what it got,
  // anything else 404 with a plain-text reason.
  listener = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, body });
      if (req.url === '/deploy') {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ accepted: true, got: JSON.parse(body || '{}') }));
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('no such hook');
      }
    });
  });
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${listener.address().port}`;
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-ui-conf-'));
  const conf = path.join(confDir, 'config.json');
  fs.writeFileSync(conf, JSON.stringify({ providers: { local: { accounts: [{ name: 'local', regions: ['east', 'west'] }] } } }));
  srv = await Server.start({ args: ['--config', conf] });
  await srv.createApp(APP);
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
  if (listener) listener.close();
  if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
});

test('a webhook stage shows the request, the response status and body', async () => {
  await srv.savePipeline({ application: APP, name: 'notify', stages: [{ refId: '1', type: 'webhook', name: 'Tell the deployer',
    url: `${hookUrl}/deploy`, method: 'POST', payload: { version: '1.2.3' } }] });
  const id = await srv.trigger(APP, 'notify');
  const e = await finished(id);
  assert.equal(e.status, 'SUCCEEDED');
  assert.deepEqual(received.map((r) => [r.method, r.url, JSON.parse(r.body)]), [['POST', '/deploy', { version: '1.2.3' }]]);
  await open(`${base()}/details/${id}?stage=${e.stages[0].id}`);
  const pane = page.locator('.webhook-pane');
  await pane.waitFor();
  const facts = Object.fromEntries(await pane.locator('.facts > div').evaluateAll((ds) =>
    ds.map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent.trim()])));
  assert.equal(facts.Request, `POST ${hookUrl}/deploy`);
  assert.equal(facts['Response status'], '201 Created');
  assert.deepEqual(JSON.parse(await pane.getByLabel('Response body').textContent()), { accepted: true, got: { version: '1.2.3' } });
  await screenshot(page, 'execution-webhook');
  await screenshotsEveryWay(page, 'view-execution-webhook', page.url(), '.webhook-pane');

  // A 404: the stage fails with the far end's answer, and the pane says so.
  await srv.savePipeline({ application: APP, name: 'notify-wrong', stages: [{ refId: '1', type: 'webhook', name: 'Wrong hook',
    url: `${hookUrl}/nowhere`, method: 'POST', payload: {} }] });
  const bad = await srv.trigger(APP, 'notify-wrong');
  const eb = await finished(bad);
  assert.equal(eb.status, 'TERMINAL');
  await open(`${base()}/details/${bad}?stage=${eb.stages[0].id}`);
  const pb = page.locator('.webhook-pane');
  await pb.waitFor();
  assert.equal(await pb.locator('.facts > div', { hasText: 'Response status' }).locator('dd').textContent(), '404 Not found');
  assert.match(await pb.getByRole('alert').textContent(), /with status code 404, with response: no such hook/);
  assert.equal(await pb.getByLabel('Response body').textContent(), 'no such hook');
});

test('a bake stage shows the image made in each region, and reuse on the next run', async () => {
  // The build's output is the same bytes every run (its times pinned), so
  // the second bake finds the first one's images.
  const stages = [
    { refId: 'build', type: 'runJob', name: 'Build', cloudProvider: 'local', account: 'local',
      command: ['sh', '-c', 'mkdir -p dist && echo hello > dist/index.html && touch -d @0 dist/index.html dist'], outputArtifacts: [{ name: 'site', path: 'dist' }] },
    { refId: 'bake', type: 'bake', name: 'Bake', requisiteStageRefIds: ['build'], cloudProviderType: 'local',
      package: 'site', regions: ['east', 'west'] },
  ];
  await srv.savePipeline({ application: APP, name: 'image', stages });
  const id = await srv.trigger(APP, 'image');
  const e = await finished(id);
  assert.equal(e.status, 'SUCCEEDED', JSON.stringify(e.stages.map((s) => [s.name, s.status, (s.context || {}).exception])));
  const details = Object.fromEntries(stageNamed(e, 'Bake').outputs.deploymentDetails.map((d) => [d.region, d]));
  const rowsOf = async () => {
    const table = page.getByRole('table', { name: 'Baked images' });
    await table.waitFor();
    return table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
  };
  await open(`${base()}/details/${id}?stage=${stageNamed(e, 'Bake').id}`);
  const rows = await rowsOf();
  assert.deepEqual(rows.map((r) => r.slice(0, 4)), ['east', 'west'].map((r) => [r, details[r].imageId, details[r].imageName, 'no']));
  for (const r of rows) assert.match(r[4], /^\d/, 'a bake time');
  await screenshot(page, 'execution-bake');
  await screenshotsEveryWay(page, 'view-execution-bake', page.url(), '.bake-table');

  // The same package again: each region's image is reused.
  const again = await srv.trigger(APP, 'image');
  const e2 = await finished(again);
  assert.equal(e2.status, 'SUCCEEDED');
  await open(`${base()}/details/${again}?stage=${stageNamed(e2, 'Bake').id}`);
  const rows2 = await rowsOf();
  assert.deepEqual(rows2.map((r) => [r[0], r[1], r[3]]), ['east', 'west'].map((r) => [r, details[r].imageId, 'yes (same package and recipe)']));
  assert.deepEqual(b.errors, []);
});
