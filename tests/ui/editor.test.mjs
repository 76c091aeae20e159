// The pipeline editor's forms against a real server: a form for every
// stage type offered, a deploy stage made
// and run through its form only, a type change that resets a stage's and
// a trigger's fields, the stage-type list the server runs, parameters,
// notifications and expected artifacts through their forms, leaving with
// unsaved edits, a six-wide graph beside the JSON panel, a cycle's one
// message, and revision history with a diff and a restore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, browser, screenshot, until, REPO } from './lib/harness.mjs';

const APP = 'forms';
let srv, b, page;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
// A fresh document each time (an editor left with edits would ask first;
// the browser's own beforeunload question is accepted by the harness).
const open = async (url) => { await page.goto('about:blank'); await page.goto(url); };
const json = async () => JSON.parse(await page.locator('#pipeline-json').inputValue());

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

test('the stage-type list offers exactly what the server runs, grouped', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('types');
  await page.getByRole('button', { name: 'Add stage' }).click();
  const offered = await page.locator('#st-type option').evaluateAll((os) => os.map((o) => o.value));
  const server = (await srv.call('GET', '/stageTypes')).body.map((t) => t.type);
  for (const t of offered) assert.ok(server.includes(t), `${t} is offered but the server does not run it`);
  for (const t of ['wait', 'manualJudgment', 'deploy', 'bake', 'runJob', 'webhook', 'jenkins', 'pipeline', 'disableCluster', 'findImage'])
    assert.ok(offered.includes(t), `${t} is not offered`);
  assert.ok(!offered.includes('restrictExecutionDuringTimeWindow'), 'internal steps are not offered');
  const groups = await page.locator('#st-type optgroup').evaluateAll((gs) => gs.map((g) => g.label));
  assert.deepEqual(groups.slice(0, 4), ['Core', 'Build', 'Images', 'Deploy']);
});

test('every stage type offered has a form of its own fields, not only the JSON box', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('every-type');
  await page.getByRole('button', { name: 'Add stage' }).click();
  const offered = await page.locator('#st-type option').evaluateAll((os) => os.map((o) => o.value));
  const missing = [];
  for (const type of offered) {
    await page.locator('#st-type').selectOption(type);
    await srv.expect(until(async () => (await json()).stages[0].type === type, { timeoutMs: 30000, what: `the stage's type to become ${type}` }), APP, b);
    const desc = await page.locator('#st-type-desc').textContent();
    const fields = await page.locator('.type-fields .field, .type-fields fieldset.objects').count();
    if (/No form for this type/.test(desc) || !fields) missing.push(type);
  }
  assert.deepEqual(missing, [], `stage types with no form: ${missing.join(', ')}`);
  assert.ok(offered.length >= 20, `only ${offered.length} types offered`);
  assert.ok(!offered.includes('upsertProject'), 'project orchestrations are not pipeline stages');
  // The plural load balancer stage: its list of load balancers, each with listeners.
  await page.locator('#st-type').selectOption('upsertLoadBalancers');
  const form = page.locator('.type-fields');
  await form.getByRole('button', { name: 'Add load balancer' }).click();
  await form.getByLabel('Name', { exact: false }).fill('front');
  const st = (await json()).stages[0];
  assert.deepEqual([st.credentials, st.region, st.loadBalancers.map((l) => [l.name, l.listeners[0].externalPort, l.healthCheck.path])],
    ['local', 'local', [['front', 8080, '/health']]]);
});

test('a deploy stage edited only through its form saves and runs', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('deployer');
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.locator('#st-type').selectOption('deploy');
  const form = page.locator('.type-fields');
  await form.getByLabel('Stack').fill('web');
  await form.getByLabel('Strategy').selectOption('highlander');
  // The redblack-only options went with the strategy.
  assert.equal(await form.getByLabel('Max remaining server groups').count(), 0);
  await form.getByLabel('Desired').fill('x');
  await page.getByText('Desired: a number (or a ${…} expression)').first().waitFor();
  await form.getByLabel('Desired').fill('1');
  await form.getByLabel('Image').fill(path.join(REPO, 'examples/webapp'));
  await form.getByLabel('Command').fill('python3\n$IMAGE_DIR/app.py');
  await form.getByLabel('Environment').fill('VERSION=v7');
  await screenshot(page, 'editor-deploy-form');
  const cfg = await json();
  const c = cfg.stages[0].clusters[0];
  assert.equal(cfg.stages[0].type, 'deploy');
  assert.deepEqual([c.account, c.region, c.stack, c.strategy, c.capacity.desired], ['local', 'local', 'web', 'highlander', 1]);
  assert.deepEqual(c.command, ['python3', '$IMAGE_DIR/app.py']);
  assert.deepEqual(c.env, { VERSION: 'v7' });
  assert.equal(c.healthCheck.path, '/health');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForURL(/configure\/[0-9a-f-]{36}$/);
  await page.getByRole('link', { name: 'Back to pipelines' }).click();
  const grp = page.locator('section.group', { has: page.getByRole('heading', { name: 'deployer', exact: true }) });
  await grp.getByRole('button', { name: 'Start Manual Execution' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Run' }).click();
  await srv.expect(grp.locator('li.exec .badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 120000 }), APP, b);
  const sgs = (await srv.call('GET', `/applications/${APP}/serverGroups`)).body;
  assert.deepEqual(sgs.map((s) => s.name), ['forms-web-v000']);
  // The deploy stage's details name the server group it made, linked.
  await grp.getByRole('link', { name: 'Details' }).first().click();
  const pane = page.locator('.stage-pane', { hasText: 'Server groups' });
  await pane.waitFor();
  assert.match(await pane.textContent(), /created\s+forms-web-v000/);
  assert.match(await pane.getByRole('link', { name: 'forms-web-v000' }).getAttribute('href'), /\/clusters$/);
});

test('changing a stage\'s type or a trigger\'s type resets its fields', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('resets');
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.locator('#st-type').selectOption('webhook');
  await page.locator('.type-fields').getByLabel('URL').fill('https://example.com/hook');
  assert.equal((await json()).stages[0].url, 'https://example.com/hook');
  await page.locator('#st-type').selectOption('wait');
  const st = (await json()).stages[0];
  assert.equal(st.type, 'wait');
  assert.equal(st.url, undefined);
  assert.equal(st.method, undefined);
  assert.equal(st.waitTime, 30);
  assert.equal(st.name, 'Wait');
  await page.getByRole('button', { name: 'Add Trigger' }).click();
  await page.locator('[data-section="triggers"]').getByLabel('Repository URL').fill('https://example.com/r.git');
  await page.locator('[data-section="triggers"]').getByLabel('Branch').fill('dev');
  await page.locator('#tr-0-type').selectOption('cron');
  const t = (await json()).triggers[0];
  assert.equal(t.type, 'cron');
  assert.equal(t.url, undefined);
  assert.equal(t.branch, undefined);
  assert.equal(t.cronExpression, '0 0 * * * ?');
  await page.locator('[data-section="triggers"]').getByLabel('Cron expression').fill('0 0');
  await page.getByText('6 or 7 fields').first().waitFor();
  await screenshot(page, 'editor-checks');
});

test('parameters, notifications and expected artifacts through their forms', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('lists');
  const params = page.locator('[data-section="parameterConfig"]');
  await params.getByRole('button', { name: 'Add Parameter' }).click();
  await params.getByLabel('Name').fill('env');
  await params.getByLabel('Default').fill('dev');
  await params.getByLabel('Options').fill('dev, prod');
  await params.getByLabel('Required').check();
  const notes = page.locator('[data-section="notifications"]');
  await notes.getByRole('button', { name: 'Add Notification' }).click();
  await notes.getByLabel('Type').selectOption('slack');
  await notes.getByLabel('Address').fill('#deploys');
  await notes.getByLabel('pipeline.complete').check();
  const arts = page.locator('[data-section="expectedArtifacts"]');
  await arts.getByRole('button', { name: 'Add Artifact' }).click();
  await arts.getByLabel('Display name').fill('app');
  await arts.getByLabel('Name matches').fill('app-.*\\.tar\\.gz');
  // A required field left empty is caught before saving.
  await notes.getByLabel('Address').fill('');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('.save-error').waitFor({ state: 'visible', timeout: 30000 });
  assert.match(await page.locator('.check-summary').textContent(), /Address is required/);
  await notes.getByLabel('Address').fill('#deploys');
  const cfg = await json();
  assert.deepEqual(cfg.parameterConfig.map((p) => [p.name, p.default, p.required, p.options]), [['env', 'dev', true, [{ value: 'dev' }, { value: 'prod' }]]]);
  assert.deepEqual(cfg.notifications.map((n) => [n.type, n.address, [...n.when].sort()]), [['slack', '#deploys', ['pipeline.complete', 'pipeline.failed']]]);
  assert.deepEqual(cfg.expectedArtifacts.map((a) => [a.displayName, a.matchArtifact.type, a.matchArtifact.name, typeof a.id]), [['app', 'mizzen/file', 'app-.*\\.tar\\.gz', 'string']]);
  await screenshot(page, 'editor-lists');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForURL(/configure\/[0-9a-f-]{36}$/, { timeout: 30000 });
  const saved = (await srv.call('GET', `/applications/${APP}/pipelineConfigs/lists`)).body;
  assert.equal(saved.parameterConfig[0].name, 'env');
  assert.deepEqual(saved.parameterConfig[0].options, [{ value: 'dev' }, { value: 'prod' }]);
  assert.equal(saved.notifications[0].address, '#deploys');
  assert.equal(saved.expectedArtifacts[0].displayName, 'app');
  // Opened again, the forms show what was saved.
  await open(`${base()}/configure/${saved.id}`);
  await srv.expect(page.locator('[data-section="parameterConfig"]').getByLabel('Default').waitFor({ timeout: 30000 }), APP, b);
  assert.equal(await page.locator('[data-section="parameterConfig"]').getByLabel('Default').inputValue(), 'dev');
  assert.equal(await page.locator('[data-section="notifications"]').getByLabel('Address').inputValue(), '#deploys');
  assert.equal(await page.locator('[data-section="expectedArtifacts"]').getByLabel('Display name').inputValue(), 'app');
});

test('leaving with unsaved changes asks first', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('unsaved');
  await page.getByRole('link', { name: 'Back to pipelines' }).click();
  const dlg = page.getByRole('dialog', { name: 'Discard unsaved changes?' });
  await dlg.waitFor();
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  await dlg.waitFor({ state: 'detached' });
  assert.match(page.url(), /configure\/new$/);
  assert.equal(await page.getByLabel('Pipeline name').inputValue(), 'unsaved');
  await page.getByRole('link', { name: 'Back to pipelines' }).click();
  await dlg.getByRole('button', { name: 'Discard changes' }).click();
  await page.waitForURL(/executions$/);
  await page.getByRole('link', { name: 'Create Pipeline' }).first().waitFor();
});

test('a six-wide graph does not slide under the JSON panel; a cycle gets one message', async () => {
  const six = { application: APP, name: 'wide', stages: Array.from({ length: 6 }, (_, i) => ({
    refId: String(i + 1), requisiteStageRefIds: i ? [String(i)] : [], type: 'wait', name: `Wait number ${i + 1}`, waitTime: 1 })) };
  const saved = await srv.savePipeline(six);
  for (const width of [1440, 1100]) {
    await page.setViewportSize({ width, height: 900 });
    await open(`${base()}/configure/${saved.id}`);
    await page.locator('svg.graph').waitFor();
    const form = await page.locator('.stages-section').boundingBox();
    const graph = await page.locator('.stages-section .graph-wrap').boundingBox();
    const jsonBox = await page.locator('.editor-json').boundingBox();
    assert.ok(form.x + form.width <= jsonBox.x + 1, `stages end at ${form.x + form.width}, JSON starts at ${jsonBox.x} (${width} px)`);
    assert.ok(graph.x + graph.width <= jsonBox.x + 1, 'the graph scrolls inside its box');
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await screenshot(page, 'editor-wide-graph');
  const errors = b.errors.length;
  const cyc = { ...six, stages: six.stages.map((s) => (s.refId === '1' ? { ...s, requisiteStageRefIds: ['6'] } : s)) };
  await page.locator('#pipeline-json').fill(JSON.stringify(cyc, null, 2));
  const msg = page.locator('.graph-error');
  await msg.waitFor();
  assert.equal(await msg.count(), 1);
  assert.match(await msg.textContent(), /cycle \(1 → 6 → 5 → 4 → 3 → 2 → 1\)|cycle \(/);
  assert.equal(await page.locator('svg.graph').count(), 0);
  assert.equal(b.errors.length, errors, `page errors: ${b.errors.slice(errors).join('; ')}`);
  await screenshot(page, 'editor-cycle');
});

test('revision history shows a diff and restores an older revision', async () => {
  const v1 = await srv.savePipeline({ application: APP, name: 'hist', stages: [{ refId: '1', type: 'wait', name: 'Soak', waitTime: 5 }] });
  await srv.savePipeline({ ...v1, stages: [{ refId: '1', type: 'wait', name: 'Soak', waitTime: 99 }] });
  await open(`${base()}/configure/${v1.id}`);
  await page.getByRole('button', { name: 'Revision history' }).click();
  const panel = page.getByRole('region', { name: 'Revision history' });
  const diff = panel.locator('pre.diff');
  await diff.waitFor();
  assert.match(await diff.locator('.del').allTextContents().then((l) => l.join('')), /"waitTime": 5/);
  assert.match(await diff.locator('.add').allTextContents().then((l) => l.join('')), /"waitTime": 99/);
  await screenshot(page, 'editor-history');
  await panel.getByRole('button', { name: 'Restore this revision' }).click();
  assert.equal((await json()).stages[0].waitTime, 5);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await until(async () => (await srv.call('GET', `/applications/${APP}/pipelineConfigs/hist`)).body.stages[0].waitTime === 5, { what: 'the restored revision saved' });
});
