// Finding executions in PIPELINES against a real server: filters by
// status, trigger type, free text (parameter value, execution id) and
// "show only running", counts per pipeline, typing that hides a group and
// shows it again, collapsing a group, a deep
// link to the 900th execution of a pipeline, trigger and parameters in
// the details with parent/child links, a git commit linked, re-run, a
// runJob's log and the artifact it produced, an artifact consumed, and
// executions of a deleted pipeline.
import { test, before, after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Server, browser, screenshot, until, waitPipeline } from './lib/harness.mjs';

const APP = 'finder';
let srv, b, page;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
const group = (name) => page.locator('section.group', { has: page.getByRole('heading', { name, exact: true }) });
const visibleRows = (name) => group(name).locator('li.exec:visible');
const done = (id) => until(async () => !['RUNNING', 'NOT_STARTED'].includes((await srv.execution(id)).status), { timeoutMs: 60000, what: `execution ${id} to finish` });
const open = async (url) => { await page.goto('about:blank'); await page.goto(url); await page.waitForSelector('.view[data-painted="true"]'); };

const ids = {};

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  await srv.savePipeline({ ...waitPipeline(APP, 'alpha', [0]), parameterConfig: [{ name: 'env', default: 'dev' }] });
  await srv.savePipeline(waitPipeline(APP, 'beta', [0]));
  await srv.savePipeline(waitPipeline(APP, 'gamma', [600]));
  await srv.savePipeline({ application: APP, name: 'delta', stages: [{ refId: '1', type: 'checkPreconditions', name: 'Gate',
    preconditions: [{ type: 'expression', context: { expression: '${1 == 2}' }, failPipeline: true }] }] });
  await srv.savePipeline({ application: APP, name: 'parent', stages: [{ refId: '1', type: 'pipeline', name: 'Run beta',
    application: APP, pipeline: (await srv.call('GET', `/applications/${APP}/pipelineConfigs/beta`)).body.id, waitForCompletion: true }] });
  ids.alpha = [];
  for (const env of ['prod', 'prod', 'staging', 'prod', 'staging']) ids.alpha.push(await srv.trigger(APP, 'alpha', { type: 'manual', parameters: { env } }));
  ids.beta = await srv.trigger(APP, 'beta');
  ids.delta = await srv.trigger(APP, 'delta');
  ids.parent = await srv.trigger(APP, 'parent');
  for (const id of [...ids.alpha, ids.beta, ids.delta, ids.parent]) await done(id);
  ids.gamma = await srv.trigger(APP, 'gamma');
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

test('filters: status, free text (a parameter value, an execution id), only running; counts per pipeline', async () => {
  await open(base());
  await group('alpha').waitFor();
  assert.equal(await group('alpha').locator('.count').textContent(), '5');
  // Status TERMINAL: delta's failed execution only.
  await page.getByRole('checkbox', { name: 'terminal' }).check();
  await until(async () => (await group('alpha').isHidden()) && (await visibleRows('delta').count()) === 1, { what: 'only TERMINAL shown' });
  assert.equal(await group('delta').locator('.count').textContent(), '1 of 1');
  await screenshot(page, 'executions-filter-status');
  await page.getByRole('checkbox', { name: 'terminal' }).uncheck();
  // A parameter value.
  await page.getByPlaceholder(/Filter: pipeline/).fill('staging');
  await until(async () => (await visibleRows('alpha').count()) === 2 && (await group('beta').isHidden()), { what: 'the two staging runs' });
  assert.equal(await group('alpha').locator('.count').textContent(), '2 of 5');
  const shownIds = await visibleRows('alpha').evaluateAll((rs) => rs.map((r) => r.dataset.id));
  assert.deepEqual(shownIds.sort(), [ids.alpha[2], ids.alpha[4]].sort());
  await screenshot(page, 'executions-filter-parameter');
  // An execution id.
  await page.getByPlaceholder(/Filter: pipeline/).fill(ids.alpha[1].toLowerCase());
  await until(async () => (await page.locator('li.exec:visible').count()) === 1, { what: 'one execution by id' });
  assert.equal(await page.locator('li.exec:visible').getAttribute('data-id'), ids.alpha[1]);
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await until(async () => (await visibleRows('alpha').count()) === 5, { what: 'filters cleared' });
  // Trigger type and "show only running".
  await page.getByLabel('Trigger').selectOption('pipeline');
  await until(async () => (await page.locator('li.exec:visible').count()) === 1 && (await visibleRows('beta').count()) === 1, { what: 'the pipeline-triggered run' });
  await page.getByLabel('Trigger').selectOption('');
  await page.getByLabel('Show only running').check();
  await until(async () => (await page.locator('li.exec:visible').count()) === 1 && (await visibleRows('gamma').count()) === 1, { what: 'only the running one' });
  await page.getByLabel('Show only running').uncheck();
});

test('typing narrows and widens the filter: a group hidden and shown again shows exactly its matching rows', async () => {
  await open(base());
  await group('alpha').waitFor();
  const box = page.getByPlaceholder(/Filter: pipeline/);
  const shownIn = (name) => visibleRows(name).evaluateAll((rs) => rs.map((r) => r.dataset.id).sort());
  const expectRows = (name, want, what) => srv.expect(until(async () => JSON.stringify(await shownIn(name)) === JSON.stringify([...want].sort()),
    { timeoutMs: 30000, what }), APP, b);
  await box.fill('prod');
  await expectRows('alpha', [ids.alpha[0], ids.alpha[1], ids.alpha[3]], 'the three prod runs');
  // alpha hides (its rows are left as they were), beta shows by its name...
  await box.fill('beta');
  await srv.expect(until(async () => (await group('alpha').isHidden()) && (await visibleRows('beta').count()) === 2 && (await page.locator('li.exec:visible').count()) === 2,
    { timeoutMs: 30000, what: 'only beta\'s two runs (its own and the one parent started)' }), APP, b);
  // ...and alpha comes back with the staging runs only, not the prod ones it last showed.
  await box.fill('staging');
  await expectRows('alpha', [ids.alpha[2], ids.alpha[4]], 'the two staging runs');
  assert.equal(await group('alpha').locator('.count').textContent(), '2 of 5');
  // Typed and erased a key at a time.
  await box.fill('');
  await expectRows('alpha', ids.alpha, 'every alpha run');
  await box.pressSequentially('stag');
  await expectRows('alpha', [ids.alpha[2], ids.alpha[4]], 'the staging runs, typed');
  for (let i = 0; i < 4; i++) await box.press('Backspace');
  await expectRows('alpha', ids.alpha, 'every alpha run again');
  // Keys faster than frames: six input events in one task; the first is
  // applied at once, the rest once before the next frame: the last wins.
  await page.evaluate(() => {
    const input = document.querySelector('[data-act="filter"]');
    for (const v of ['p', 'pr', 'pro', 'prod', 'stagin', 'staging']) { input.value = v; input.dispatchEvent(new Event('input', { bubbles: true })); }
  });
  await expectRows('alpha', [ids.alpha[2], ids.alpha[4]], 'the last of the keys typed within one frame');
  assert.equal(await group('alpha').locator('.count').textContent(), '2 of 5');
  await box.fill('');
  await expectRows('alpha', ids.alpha, 'every alpha run once more');
  assert.equal(await group('alpha').locator('.count').textContent(), '5');
  assert.equal(await page.locator('.filter-count').textContent(), '');
});

test('a group collapses, and stays collapsed after a reload', async () => {
  await open(base());
  await group('alpha').getByRole('button', { name: 'Collapse alpha' }).click();
  await until(async () => (await group('alpha').locator('li.exec').count()) === 0, { what: 'alpha collapsed' });
  await open(base());
  const expand = group('alpha').getByRole('button', { name: 'Expand alpha' });
  await expand.waitFor();
  assert.equal(await group('alpha').locator('li.exec').count(), 0);
  await expand.click();
  await until(async () => (await group('alpha').locator('li.exec').count()) === 5, { what: 'alpha expanded' });
});

test('details: trigger, parameters, parent and child links; re-run with the same parameters', async () => {
  await open(`${base()}/details/${ids.alpha[2]}`);
  const summary = page.getByRole('region', { name: 'Trigger and parameters' });
  await summary.waitFor();
  assert.deepEqual(await summary.getByRole('table', { name: 'Parameters' }).locator('tbody td').allTextContents(), ['env', 'staging']);
  assert.match(await summary.textContent(), new RegExp(ids.alpha[2]));
  // Parent -> child -> parent.
  await open(`${base()}/details/${ids.parent}`);
  const child = (await srv.execution(ids.parent)).stages[0].context.executionId;
  await page.getByRole('region', { name: 'Trigger and parameters' }).getByRole('link', { name: 'Run beta' }).click();
  await page.waitForURL(new RegExp(`details/${child}`));
  const back = page.getByRole('region', { name: 'Trigger and parameters' }).getByRole('link', { name: /parent/ });
  await back.waitFor();
  await screenshot(page, 'execution-child');
  await back.click();
  await page.waitForURL(new RegExp(`details/${ids.parent}`));
  // Re-run: the dialog comes filled with what it ran with.
  await open(`${base()}/details/${ids.alpha[2]}`);
  await page.getByRole('button', { name: 'Re-run' }).click();
  const dlg = page.getByRole('dialog', { name: 'Start Manual Execution' });
  assert.equal(await dlg.getByLabel('env').inputValue(), 'staging');
  await dlg.getByRole('button', { name: 'Run' }).click();
  await until(async () => (await group('alpha').locator('li.exec').count()) === 6, { what: 'the re-run listed' });
  const newest = await group('alpha').locator('li.exec').first().getAttribute('data-id');
  const ex = await srv.execution(newest);
  assert.equal(ex.trigger.parameters.env, 'staging');
  assert.equal(ex.trigger.rerunOf, ids.alpha[2]);
});

test('a git trigger\'s commit links to its repository where the URL allows', async () => {
  await srv.savePipeline({ ...waitPipeline(APP, 'pushed', [0]), triggers: [{ type: 'git', source: 'github', project: 'acme', slug: 'shop', branch: 'main', enabled: true }] });
  const sha = '0123456789abcdef0123456789abcdef01234567';
  const r = await fetch(`${srv.url}/webhooks/git/github`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ repository: { name: 'shop', owner: { name: 'acme' } }, ref: 'refs/heads/main', after: sha }) });
  assert.equal(r.status, 200, await r.text());
  const cfg = (await srv.call('GET', `/applications/${APP}/pipelineConfigs/pushed`)).body;
  const pushed = await until(async () => (await srv.call('GET', `/applications/${APP}/pipelines?pipelineConfigIds=${cfg.id}&limit=1`)).body[0],
    { timeoutMs: 30000, what: 'the push to start pushed' });
  await open(`${base()}/details/${pushed.id}`);
  const summary = page.getByRole('region', { name: 'Trigger and parameters' });
  await srv.expect(summary.waitFor({ timeout: 30000 }), APP, b);
  const link = summary.getByRole('link', { name: sha.slice(0, 10) });
  assert.equal(await link.getAttribute('href'), `https://github.com/acme/shop/commit/${sha}`);
  assert.match(await summary.textContent(), /on main/);
  // A repository on a path: the commit is named, not linked.
  const local = await srv.trigger(APP, 'pushed', { type: 'git', hash: 'fedcba9876543210fedcba9876543210fedcba98', url: '/srv/repos/shop.git', branch: 'dev' });
  await open(`${base()}/details/${local}`);
  await srv.expect(summary.getByText('fedcba9876 on dev').waitFor({ timeout: 30000 }), APP, b);
  assert.equal(await summary.getByRole('link', { name: 'fedcba9876' }).count(), 0);
});

test('a deep link to the 900th execution scrolls to it and marks it', async () => {
  const many = await srv.savePipeline(waitPipeline(APP, 'many', [0]));
  const made = [];
  for (let i = 0; i < 1000; i += 25) {
    made.push(...await Promise.all(Array.from({ length: 25 }, () => srv.trigger(APP, 'many'))));
  }
  const target = made[899]; // the 101st newest: on the third page of its group
  await until(async () => (await srv.call('GET', `/applications/${APP}/pipelines?pipelineConfigIds=${many.id}&statuses=RUNNING,NOT_STARTED&limit=5&startIndex=0`)).body.length === 0,
    { timeoutMs: 120000, what: 'all 1000 finished' });
  await page.goto('about:blank');
  await page.goto(`${base()}/details/${target}`);
  // First shown pinned at the top while its group pages on to it (three
  // pages of 50): wait for it in its group, then in view.
  const row = group('many').locator(`#x-${target}`);
  await srv.expect(row.waitFor({ timeout: 60000 }), APP, b);
  await srv.expect(page.getByRole('region', { name: 'Trigger and parameters' }).waitFor({ timeout: 30000 }), APP, b);
  let seen = null;
  await srv.expect(until(async () => {
    const r = await row.boundingBox();
    const vh = page.viewportSize().height;
    seen = { box: r, scrollY: await page.evaluate(() => scrollY), rows: await group('many').locator('li.exec').count() };
    return r && r.y > -4 && r.y < vh - 20;
  }, { timeoutMs: 30000, what: 'the 900th execution in view' }).catch((e) => { e.message += ` (last seen: ${JSON.stringify(seen)})`; throw e; }), APP, b);
  assert.match(await row.getAttribute('class'), /\bopen\b/);
  assert.ok(await group('many').locator('li.exec').count() >= 101);
  await screenshot(page, 'executions-deep-link');
});

test('a runJob\'s log and its artifact, downloadable', async () => {
  await srv.savePipeline({ application: APP, name: 'build', stages: [{ refId: '1', type: 'runJob', name: 'Build', cloudProvider: 'local', account: 'local',
    command: ['sh', '-c', 'echo compiling the thing; echo built > out.txt'], outputArtifacts: [{ name: 'out.txt', path: 'out.txt' }] }] });
  const id = await srv.trigger(APP, 'build');
  await done(id);
  const ran = await srv.execution(id);
  assert.equal(ran.status, 'SUCCEEDED', `the build: ${JSON.stringify(ran.stages.map((x) => [x.name, x.status, x.context]))}\nserver log (end):\n${srv.log().slice(-3000)}`);
  await open(`${base()}/details/${id}`);
  const log = page.getByLabel('Job log');
  await until(async () => /compiling the thing/.test(await log.textContent()), { what: 'the job log' });
  const link = page.locator('.artifacts-table').getByRole('link', { name: 'Download' });
  assert.deepEqual((await page.locator('.artifacts-table tbody tr', { has: page.getByRole('link', { name: 'Download' }) }).locator('td').allTextContents()).slice(0, 3), ['out.txt', 'mizzen/file', 'produced by Build']);
  const href = await link.getAttribute('href');
  const got = await page.evaluate(async (h) => (await fetch(h)).text(), href);
  assert.equal(got.trim(), 'built');
  await screenshot(page, 'execution-runjob');
});

test('a running runJob\'s log follows the job while it runs', async () => {
  // The job writes a line, waits for a file the test puts in its workspace
  // once the page shows that line, then writes another and keeps running
  // (the lines are computed: the log starts with the command itself).
  await srv.savePipeline({ application: APP, name: 'long-build', stages: [{ refId: '1', type: 'runJob', name: 'Long build', cloudProvider: 'local', account: 'local',
    command: ['sh', '-c', 'echo waiting $((20+1)); while [ ! -e go ]; do sleep 0.2; done; echo released $((40+2)); exec sleep 600'] }] });
  const id = await srv.trigger(APP, 'long-build');
  await open(`${base()}/details/${id}`);
  const log = page.getByLabel('Job log');
  await srv.expect(until(async () => /waiting 21/.test(await log.textContent()), { timeoutMs: 60000, what: 'the first line of the running job\'s log' }), APP, b);
  assert.doesNotMatch(await log.textContent(), /released 42/);
  assert.equal(await log.getAttribute('data-live'), 'true');
  const jobId = (await srv.execution(id)).stages.find((st) => st.context && st.context.jobId).context.jobId;
  const job = JSON.parse(fs.readFileSync(path.join(srv.dir, 'data', 'jobs', jobId, 'job.json'), 'utf8'));
  fs.writeFileSync(path.join(job.workspace, 'go'), '');
  // The page reads the log again by itself: no reload, no click.
  await srv.expect(until(async () => /released 42/.test(await log.textContent()), { timeoutMs: 60000, what: 'the line written after the page opened' }), APP, b);
  assert.equal((await srv.execution(id)).status, 'RUNNING');
  assert.equal((await srv.call('PUT', `/pipelines/${id}/cancel`)).status, 200);
  await done(id);
});

test('an artifact the trigger brought and an expected artifact bound to it are listed as such', async () => {
  await srv.savePipeline({ ...waitPipeline(APP, 'consumer', [0]),
    expectedArtifacts: [{ id: 'pkg', displayName: 'the package', matchArtifact: { type: 'http/file', name: 'pkg.tgz' } }] });
  const id = await srv.trigger(APP, 'consumer', { type: 'manual', artifacts: [{ type: 'http/file', name: 'pkg.tgz', reference: 'https://example.com/pkg.tgz' }] });
  await done(id);
  await open(`${base()}/details/${id}`);
  const table = page.locator('.artifacts-table');
  await srv.expect(table.waitFor({ timeout: 30000 }), APP, b);
  const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(rows, [['pkg.tgz', 'http/file', 'trigger', 'https://example.com/pkg.tgz'],
    ['pkg.tgz', 'http/file', 'consumed (the package)', 'https://example.com/pkg.tgz']]);
  assert.equal(await table.getByRole('link', { name: 'Download' }).count(), 0, 'only local artifacts are downloadable');
});

test('executions of a deleted pipeline are still listed', async () => {
  assert.equal((await srv.call('DELETE', `/pipelines/${APP}/delta`)).status, 200);
  await open(base());
  const g = group('delta');
  await g.waitFor();
  assert.equal(await g.locator('li.exec').count(), 1);
  assert.match(await g.textContent(), /pipeline deleted/);
  assert.deepEqual(b.errors, []);
});
