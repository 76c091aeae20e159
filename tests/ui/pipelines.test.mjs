// The PIPELINES view against a real server: save a pipeline in the editor,
// a bad pipeline rejected with the server's own message, start with one
// click, the stage bar moving to SUCCEEDED with no reload (server-sent
// events), a manual judgment approved from the UI, pause/resume and cancel
// of a running execution, a stage's task list, the graph of parallel
// branches, paging, and the TASKS and CONFIG tabs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, screenshot, until, waitPipeline } from './lib/harness.mjs';

const APP = 'shop';
let srv, b, page;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

const group = (name) => page.locator('section.group', { has: page.getByRole('heading', { name, exact: true }) });
const rows = (name) => group(name).locator('li.exec');

test('save a pipeline in the editor (form and JSON)', async () => {
  await page.goto(base());
  await page.getByRole('link', { name: 'Create Pipeline' }).first().click();
  await page.waitForURL(/configure\/new$/);
  await page.getByLabel('Pipeline name').fill('quick');
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.getByLabel('Wait time (seconds)').fill('1');
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.getByLabel('Stage name').fill('Second');
  await page.getByLabel('Wait time (seconds)').fill('1');
  // The JSON beside the form follows it.
  const json = JSON.parse(await page.locator('#pipeline-json').inputValue());
  assert.equal(json.name, 'quick');
  assert.deepEqual(json.stages.map((s) => [s.refId, s.type, s.waitTime, s.requisiteStageRefIds]), [['1', 'wait', 1, []], ['2', 'wait', 1, ['1']]]);
  await screenshot(page, 'pipeline-editor');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForURL(/configure\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Configure: quick' }).waitFor();
  const saved = await srv.call('GET', `/applications/${APP}/pipelineConfigs/quick`);
  assert.equal(saved.status, 200);
  assert.equal(saved.body.stages[1].name, 'Second');
  assert.deepEqual(saved.body.stages[1].requisiteStageRefIds, ['1']);
});

test('a bad pipeline is rejected with the server\'s message shown', async () => {
  await page.goto(`${base()}/configure/new`);
  const ta = page.locator('#pipeline-json');
  await ta.fill(JSON.stringify({ application: APP, name: 'broken', stages: [{ refId: '1', type: 'wait', waitTime: 1, requisiteStageRefIds: ['9'] }] }));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  // Caught before sending: the form's own check.
  const alert = page.locator('.save-error');
  await alert.waitFor({ state: 'visible' });
  assert.match(await alert.textContent(), /Not saved: 1 problem/);
  assert.match(await page.locator('.check-summary').textContent(), /depends on 9, which no stage has/);
  // What only the server knows comes back as its own message.
  await ta.fill(JSON.stringify({ application: APP, name: 'broken', stages: [{ refId: '1', type: 'wait', waitTime: '${ 1 + }' }] }));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await until(async () => /The server rejected the pipeline/.test(await alert.textContent()), { what: 'the server\'s message' });
  // Malformed JSON goes to the server as typed: its parser's message.
  await ta.fill('{"application": "shop", "name": "broken",');
  await page.getByText('Not valid JSON yet').waitFor();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await until(async () => /malformed JSON at line 1/.test(await alert.textContent()), { what: 'the parse error' });
  await screenshot(page, 'pipeline-editor-error');
  assert.equal((await srv.call('GET', `/applications/${APP}/pipelineConfigs/broken`)).status, 404);
});

test('start from the dialog; the stage bar moves to SUCCEEDED without a reload', async () => {
  await page.goto(base());
  await group('quick').waitFor();
  await page.waitForSelector('.view[data-painted="true"]');
  await page.evaluate(() => { window.__sameDocument = true; });
  const listReads = [];
  const onReq = (r) => { if (/\/applications\/shop\/pipelines|\/pipelines\/[0-9A-Z]{26}$/.test(r.url())) listReads.push(r.url()); };
  page.on('request', onReq);
  await group('quick').getByRole('button', { name: 'Start Manual Execution' }).click();
  // The dialog opens even without parameters: nothing starts on one click.
  const dlg = page.getByRole('dialog', { name: 'Start Manual Execution' });
  await dlg.getByText('This pipeline has no parameters.').waitFor();
  await dlg.getByRole('button', { name: 'Run' }).click();
  const row = rows('quick').first();
  await row.waitFor();
  // It is seen running first...
  await row.locator('.marker.st-running').first().waitFor({ timeout: 5000 });
  await screenshot(page, 'executions-running');
  // ...then done, with every marker green.
  await srv.expect(row.locator('.badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 30000 }), APP, b);
  assert.equal(await row.locator('.marker').count(), 2);
  assert.equal(await row.locator('.marker.st-succeeded').count(), 2);
  assert.match(await row.locator('.dur').textContent(), /^00:0[1-9]$/);
  page.off('request', onReq);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.deepEqual(listReads, [], 'no list or execution re-reads: the events carried the changes');
  const id = await row.getAttribute('data-id');
  assert.equal((await srv.execution(id)).status, 'SUCCEEDED');
});

test('a stage\'s details: task list, context, and back', async () => {
  await page.goto(base());
  const row = rows('quick').first();
  await row.locator('.marker').first().click();
  await page.getByRole('heading', { name: 'Stage details: Wait', exact: true }).waitFor();
  const table = page.locator('.tasks-table');
  await table.waitFor();
  assert.deepEqual(await table.locator('th').allTextContents(), ['Step', 'Started', 'Duration', 'Status']);
  const first = table.locator('tbody tr').first();
  assert.match(await first.locator('td').first().textContent(), /Wait/);
  assert.equal(await first.locator('.badge').textContent(), 'SUCCEEDED');
  await screenshot(page, 'stage-details');
  await page.getByRole('tab', { name: 'Context' }).click();
  assert.match(await page.locator('pre.json').textContent(), /"waitTime": 1/);
  // The graph links the other stage; keyboard users follow it too.
  await page.locator('svg.graph a.node').nth(1).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Stage details: Second' }).waitFor();
  await row.getByRole('link', { name: 'Hide details' }).click();
  await page.locator('.details-row').waitFor({ state: 'detached' });
});

test('approve a manual judgment from the UI', async () => {
  await srv.savePipeline({ application: APP, name: 'judged', stages: [
    { refId: '1', type: 'wait', name: 'Bake', waitTime: 0 },
    { refId: '2', requisiteStageRefIds: ['1'], type: 'manualJudgment', name: 'Approve',
      instructions: 'Ship <it>?', judgmentInputs: [{ value: 'ship' }, { value: 'hold' }] },
    { refId: '3', requisiteStageRefIds: ['2'], type: 'wait', name: 'Promote', waitTime: 0 }] });
  await page.goto(base());
  const id = await srv.trigger(APP, 'judged');
  const row = page.locator(`#x-${id}`);
  await row.getByRole('link', { name: 'Judgment', exact: true }).click();
  const form = page.locator('form.judgment');
  await form.waitFor();
  assert.equal(await form.locator('.instructions').textContent(), 'Ship <it>?');
  await form.getByLabel('Judgment input').selectOption('hold');
  await screenshot(page, 'manual-judgment');
  await form.getByRole('button', { name: 'Continue' }).click();
  await srv.expect(row.locator('.badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 30000 }), APP, b);
  const exec = await srv.execution(id);
  const judged = exec.stages.find((s) => s.refId === '2');
  assert.equal(judged.context.judgmentStatus, 'continue');
  assert.equal(judged.context.judgmentInput, 'hold');
  assert.equal(exec.status, 'SUCCEEDED');
});

test('stop at a manual judgment', async () => {
  const id = await srv.trigger(APP, 'judged');
  await page.goto(`${base()}/details/${id}`);
  const form = page.locator('form.judgment');
  await form.waitFor();
  await form.getByRole('button', { name: 'Stop' }).click();
  await srv.expect(page.locator(`#x-${id} .badge`, { hasText: 'TERMINAL' }).waitFor({ timeout: 20000 }), APP, b);
  assert.equal((await srv.execution(id)).status, 'TERMINAL');
});

test('pause, resume and cancel a running execution', async () => {
  await srv.savePipeline(waitPipeline(APP, 'slow', [60]));
  await page.goto(base());
  const id = await srv.trigger(APP, 'slow');
  const row = page.locator(`#x-${id}`);
  await row.getByRole('button', { name: 'Pause' }).click();
  await srv.expect(row.locator('.badge', { hasText: 'PAUSED' }).waitFor({ timeout: 20000 }), APP, b);
  await row.getByRole('button', { name: 'Resume' }).click();
  await srv.expect(row.locator('.badge', { hasText: 'RUNNING' }).waitFor({ timeout: 20000 }), APP, b);
  await row.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('dialog', { name: 'Cancel slow?' }).getByRole('button', { name: 'Cancel execution' }).click();
  await srv.expect(row.locator('.badge', { hasText: 'CANCELED' }).waitFor({ timeout: 20000 }), APP, b);
  assert.equal(await row.getByRole('button', { name: 'Cancel' }).count(), 0);
  const exec = await srv.execution(id);
  assert.equal(exec.status, 'CANCELED');
  assert.equal(exec.canceled, true);
});

test('skip a wait, and restart a failed stage', async () => {
  await srv.savePipeline({ application: APP, name: 'gated', stages: [
    { refId: '1', type: 'wait', name: 'Soak', waitTime: 600 },
    { refId: '2', requisiteStageRefIds: ['1'], type: 'checkPreconditions', name: 'Gate',
      preconditions: [{ type: 'expression', context: { expression: '${1 == 2}' }, failPipeline: true }] }] });
  const id = await srv.trigger(APP, 'gated');
  await page.goto(`${base()}/details/${id}`);
  await page.getByRole('heading', { name: 'Stage details: Soak' }).waitFor();
  await page.getByRole('button', { name: 'Skip remaining wait' }).click();
  await srv.expect(page.locator(`#x-${id} .badge`, { hasText: 'TERMINAL' }).waitFor({ timeout: 20000 }), APP, b);
  const gate = page.locator(`#x-${id} .marker`).nth(1);
  await gate.click();
  await page.getByRole('heading', { name: 'Stage details: Gate' }).waitFor();
  await page.locator('.stage-error').waitFor(); // the precondition's failure, shown
  await page.getByRole('button', { name: 'Restart stage' }).click();
  // Restarted (and failed again: the expression is still false).
  await until(async () => {
    const e = await srv.execution(id);
    const st = e.stages.find((x) => x.refId === '2');
    return st.context.restartDetails && e.status === 'TERMINAL';
  }, { what: 'the restart' });
  await page.locator('.facts dt', { hasText: 'Restarted' }).waitFor({ timeout: 10000 });
  await screenshot(page, 'stage-restarted');
});

test('parameters: the Start Manual Execution form', async () => {
  await srv.savePipeline({ ...waitPipeline(APP, 'params', [0]), parameterConfig: [
    { name: 'env', label: 'Environment', required: true, hasOptions: true, options: [{ value: 'staging' }, { value: 'prod' }], default: 'staging' },
    { name: 'note', description: 'Free text' }] });
  await page.goto(base());
  await page.reload(); // the list reads the pipeline configs when it opens
  await group('params').getByRole('button', { name: 'Start Manual Execution' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Environment').selectOption('prod');
  await dlg.getByLabel('note').fill('from the UI');
  await screenshot(page, 'manual-execution-dialog');
  await dlg.getByRole('button', { name: 'Run' }).click();
  const row = rows('params').first();
  await srv.expect(row.locator('.badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 30000 }), APP, b);
  const exec = await srv.execution(await row.getAttribute('data-id'));
  assert.deepEqual(exec.trigger.parameters, { env: 'prod', note: 'from the UI' });
});

test('parallel branches sit side by side in the graph', async () => {
  await srv.savePipeline({ application: APP, name: 'fanout', stages: [
    { refId: '1', type: 'wait', name: 'Build', waitTime: 0 },
    { refId: '2', requisiteStageRefIds: ['1'], type: 'wait', name: 'Bake us-east', waitTime: 0 },
    { refId: '3', requisiteStageRefIds: ['1'], type: 'wait', name: 'Bake eu-west', waitTime: 0 },
    { refId: '4', requisiteStageRefIds: ['2', '3'], type: 'wait', name: 'Deploy', waitTime: 0 }] });
  const id = await srv.trigger(APP, 'fanout');
  await until(async () => (await srv.execution(id)).status === 'SUCCEEDED', { what: 'fanout to finish' });
  await page.goto(`${base()}/details/${id}`);
  const nodes = page.locator('svg.graph a.node');
  await nodes.first().waitFor();
  assert.equal(await nodes.count(), 4);
  // The graph may be drawn again while the details settle (a late event for
  // the finished execution): read all four boxes from one drawing.
  const box = (name) => page.locator('svg.graph a.node', { hasText: name }).locator('rect').boundingBox();
  let boxes;
  await until(async () => {
    boxes = await Promise.all(['Bake us-east', 'Bake eu-west', 'Build', 'Deploy'].map(box));
    return boxes.every(Boolean);
  }, { what: 'the four graph nodes laid out' });
  const [east, west, build, deploy] = boxes;
  assert.equal(east.x, west.x, 'the two bakes share a column');
  assert.notEqual(east.y, west.y);
  assert.ok(build.x < east.x && east.x < deploy.x, 'left to right by dependency');
  assert.equal(await page.locator('svg.graph path.edge').count(), 4);
  await screenshot(page, 'execution-graph');
});

test('paging: 50 executions per pipeline, then Show more', async () => {
  await srv.savePipeline(waitPipeline(APP, 'many', [0]));
  for (let i = 0; i < 55; i++) await srv.trigger(APP, 'many');
  await page.goto(base());
  await page.reload(); // a fresh list: the first page only
  await rows('many').first().waitFor();
  assert.equal(await rows('many').count(), 50);
  await group('many').getByRole('button', { name: 'Show 50 more' }).click();
  await until(async () => (await rows('many').count()) === 55, { what: '55 rows' });
  assert.equal(await group('many').getByRole('button', { name: /Show .* more/ }).count(), 0);
  const ids = await rows('many').evaluateAll((els) => els.map((e) => e.dataset.id));
  assert.equal(new Set(ids).size, 55, 'no duplicates');
  assert.deepEqual([...ids].sort().reverse(), ids, 'newest first');
});

test('after a server restart the page reconnects and catches up by itself', async () => {
  await page.goto('about:blank');
  await page.goto(base());
  await rows('quick').first().waitFor();
  await page.evaluate(() => { window.__sameDocument = true; });
  const before = await rows('quick').count();
  await srv.restart();
  // Started while the page may still be reconnecting: it must show up
  // either from its events or from the resync after the reconnection.
  const id = await srv.trigger(APP, 'quick');
  await srv.expect(page.locator(`#x-${id} .badge`, { hasText: 'SUCCEEDED' }).waitFor({ timeout: 30000 }), APP, b);
  assert.equal(await rows('quick').count(), before + 1);
  assert.equal(await page.locator('#live').textContent(), 'live');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
});

// The event stream is the live path; when it carries nothing (here every
// request for it is refused, as a proxy that buffers it would), the view's
// slow re-read of active executions still brings the row to its end.
test('with no event stream at all, a running execution still reaches its final status', async () => {
  const b2 = await browser();
  try {
    await b2.context.route((url) => url.pathname === '/events', (route) => route.abort());
    const p2 = b2.page;
    await srv.savePipeline(waitPipeline(APP, 'unheard', [600]));
    const id = await srv.trigger(APP, 'unheard');
    await until(async () => (await srv.execution(id)).stages[0].status === 'RUNNING', { what: 'the wait to start' });
    await p2.goto(base());
    const row = p2.locator(`#x-${id}`);
    await srv.expect(row.locator('.badge', { hasText: 'RUNNING' }).waitFor({ timeout: 20000 }), APP, b2);
    const stage = (await srv.execution(id)).stages[0].id;
    assert.equal((await srv.call('PATCH', `/pipelines/${id}/stages/${stage}`, { skipRemainingWait: true })).status, 200);
    // No event reaches the page: the re-read of active executions does.
    await srv.expect(row.locator('.badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 20000 }), APP, b2);
    assert.equal(await p2.locator('#live').textContent(), 'reconnecting…', 'the stream never came up');
  } finally {
    await b2.close();
  }
});

test('TASKS and CONFIG', async () => {
  await page.goto(`${srv.url}/ui/#/applications/${APP}/tasks`);
  const task = page.locator('li.task', { hasText: `Create Application: ${APP}` });
  await task.waitFor();
  await task.locator('.task-head').click();
  await task.locator('.tasks-table').waitFor();
  assert.match(await task.locator('.tasks-table tbody').textContent(), /Create Application/);
  await screenshot(page, 'tasks');
  await page.getByRole('link', { name: 'Config', exact: true }).click();
  await page.getByLabel('Owner email').waitFor();
  assert.equal(await page.getByLabel('Owner email').inputValue(), `${APP}@example.com`);
  await page.getByLabel('Description').fill('Sells things');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await until(async () => (await srv.call('GET', `/applications/${APP}`)).body.attributes.description === 'Sells things', { what: 'the update' });
  await screenshot(page, 'config');
});

test('laptop and phone widths', async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(base());
  await rows('quick').first().waitFor();
  await screenshot(page, 'executions', { fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base());
  await rows('quick').first().waitFor();
  // Nothing wider than the screen but the scrollable graph and tabs.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows the phone width by ${overflow}px`);
  await screenshot(page, 'executions-phone');
  await rows('quick').first().locator('.marker').first().click();
  await page.locator('.stage-details').waitFor();
  await page.locator('.stage-details').scrollIntoViewIfNeeded();
  await screenshot(page, 'stage-details-phone');
  await page.setViewportSize({ width: 1440, height: 900 });
  assert.deepEqual(b.errors, [], 'no script errors on the page');
});
