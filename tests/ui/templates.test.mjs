// A pipeline made from a v2 pipeline template in the editor, against a
// real server: "Create from: Template", the template chosen, its
// variables filled through their typed form (a wrong type is refused
// before saving, a missing required one too), the rendered pipeline
// previewed by the server's plan, saved, run from PIPELINES, and opened
// again with its values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, screenshot, screenshotsEveryWay, until } from './lib/harness.mjs';

const APP = 'templated';
let srv, b, page;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
const open = async (url) => { await page.goto('about:blank'); await page.goto(url); };
const json = async () => JSON.parse(await page.locator('#pipeline-json').inputValue());

const TEMPLATE = {
  schema: 'v2', id: 'soak-and-report',
  metadata: { name: 'Soak and report', description: 'waits, then reports where it ran', owner: 'platform@example.com', scopes: ['global'] },
  variables: [
    { name: 'label', type: 'string', description: 'names the soak stage' },
    { name: 'soakSeconds', type: 'int', defaultValue: 5 },
    { name: 'regions', type: 'list', defaultValue: ['local'] },
    { name: 'verbose', type: 'boolean', defaultValue: false },
  ],
  pipeline: {
    limitConcurrent: false, keepWaitingPipelines: false, triggers: [], notifications: [],
    parameterConfig: [{ name: 'env', default: 'staging' }],
    stages: [
      { refId: 'soak', type: 'wait', name: 'Soak ${templateVariables.label}', waitTime: '${templateVariables.soakSeconds}', requisiteStageRefIds: [] },
      { refId: 'report', type: 'evaluateVariables', name: 'Report', requisiteStageRefIds: ['soak'],
        variables: [{ key: 'where', value: '${templateVariables.regions[0]}' }, { key: 'verbose', value: '${templateVariables.verbose}' }] },
    ],
  },
};

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  const r = await srv.call('POST', '/v2/pipelineTemplates/create', TEMPLATE);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const other = await srv.call('POST', '/v2/pipelineTemplates/create', { ...TEMPLATE, id: 'other', metadata: { name: 'Other', scopes: ['global'] }, variables: [] ,
    pipeline: { ...TEMPLATE.pipeline, stages: [{ refId: '1', type: 'wait', name: 'Just wait', waitTime: 0, requisiteStageRefIds: [] }] } });
  assert.equal(other.status, 202, JSON.stringify(other.body));
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

test('a pipeline from a template: choose it, fill its variables, preview, save, run', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('from-template');
  await page.getByRole('radio', { name: 'Template' }).check();
  const section = page.getByRole('group', { name: 'Template' });
  await section.getByLabel('Pipeline template').selectOption('soak-and-report');
  assert.match(await section.textContent(), /waits, then reports where it ran/);
  // Defaults come filled; the required one (no default) is asked for.
  assert.equal(await section.getByLabel(/^soakSeconds/).inputValue(), '5');
  assert.equal(await section.getByLabel(/^regions/).inputValue(), '["local"]');
  await page.getByText('Template variable label is required').first().waitFor();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText(/Not saved: 1 problem/).waitFor();
  // The preview shows the server's own message until it renders.
  await section.getByText(/does not render: missing value for template variable 'label'/).waitFor();
  await section.getByLabel(/^label/).fill('blue');
  // A wrong type is refused before anything is sent.
  await section.getByLabel(/^soakSeconds/).fill('ten');
  await page.getByText('Template variable soakSeconds: a whole number').first().waitFor();
  await section.getByLabel(/^soakSeconds/).fill('0');
  await section.getByLabel(/^regions/).fill('["local-b", "local"]');
  await section.getByLabel('verbose').check();
  await until(async () => /Soak blue, Report/.test(await section.locator('.template-preview').textContent()), { what: 'the rendered preview' });
  assert.equal(await section.locator('.template-preview svg a.node').count(), 2);
  const cfg = await json();
  assert.equal(cfg.schema, 'v2');
  assert.equal(cfg.template.reference, 'spinnaker://soak-and-report');
  assert.deepEqual(cfg.variables, { label: 'blue', soakSeconds: 0, regions: ['local-b', 'local'], verbose: true });
  await screenshot(page, 'editor-from-template');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForURL(/configure\/[0-9a-f-]{36}$/);
  const saved = (await srv.call('GET', `/applications/${APP}/pipelineConfigs/from-template`)).body;
  assert.equal(saved.schema, 'v2');
  assert.deepEqual(saved.variables, cfg.variables);

  // Run it from PIPELINES: the template's parameter is offered.
  await page.getByRole('link', { name: 'Back to pipelines' }).click();
  const grp = page.locator('section.group', { has: page.getByRole('heading', { name: 'from-template', exact: true }) });
  await grp.getByRole('button', { name: 'Start Manual Execution' }).click();
  const dlg = page.getByRole('dialog', { name: 'Start Manual Execution' });
  assert.equal(await dlg.getByLabel('env').inputValue(), 'staging');
  await dlg.getByRole('button', { name: 'Run' }).click();
  await srv.expect(grp.locator('li.exec .badge', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 60000 }), APP, b);
  assert.deepEqual(await grp.locator('li.exec .marker-label').allTextContents(), ['Soak blue', 'Report']);
  const id = await grp.locator('li.exec').first().getAttribute('data-id');
  const ex = await srv.execution(id);
  const report = ex.stages.find((s) => s.name === 'Report');
  assert.equal(report.outputs.where, 'local-b');
  assert.equal(String(report.outputs.verbose), 'true');

  // Opened again: the template and the values it was saved with.
  await open(`${base()}/configure/${saved.id}`);
  const again = page.getByRole('group', { name: 'Template' });
  await again.waitFor();
  assert.equal(await page.getByRole('radio', { name: 'Template' }).count(), 0, 'no "Create from" for a saved pipeline');
  assert.equal(await again.getByLabel('Pipeline template').inputValue(), 'soak-and-report');
  assert.equal(await again.getByLabel(/^label/).inputValue(), 'blue');
  assert.equal(await again.getByLabel('verbose').isChecked(), true);
  await screenshotsEveryWay(page, 'view-editor-templated', `${base()}/configure/${saved.id}`, '.template-preview svg');
  await open(`${base()}/configure/${saved.id}`);
  await again.getByLabel('Pipeline template').waitFor();
  // Another template keeps no variable the new one lacks.
  await again.getByLabel('Pipeline template').selectOption('other');
  await until(async () => /Just wait/.test(await again.locator('.template-preview').textContent()), { what: 'the other template rendered' });
  assert.deepEqual((await json()).variables, {});
  assert.deepEqual(b.errors, []);
});

test('back to a blank pipeline keeps the name and the stages left there', async () => {
  await open(`${base()}/configure/new`);
  await page.getByLabel('Pipeline name').fill('undecided');
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.getByRole('radio', { name: 'Template' }).check();
  await page.getByRole('group', { name: 'Template' }).waitFor();
  assert.equal((await json()).schema, 'v2');
  await page.getByRole('radio', { name: 'Blank pipeline' }).check();
  await page.getByRole('button', { name: 'Add stage' }).waitFor();
  const cfg = await json();
  assert.equal(cfg.name, 'undecided');
  assert.equal(cfg.schema, undefined);
  assert.equal(cfg.stages.length, 1);
});
