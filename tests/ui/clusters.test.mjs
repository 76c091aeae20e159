// CLUSTERS and LOAD BALANCERS against the real local cloud: a load
// balancer made by a task, a deploy pipeline started from the UI, the new
// server group's instances going green (Up) in CLUSTERS, an instance's
// details and log, disable/enable, resize and destroy from the server
// group's actions, the load balancer's view of its server groups, and a
// rollback (the previous group offered first; the red/black that made the
// newest names the group it made and the one it disabled).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, browser, screenshot, until, freePort, REPO } from './lib/harness.mjs';

const APP = 'shop';
const LB = 'shop-web';
let srv, b, page, lbPort;

async function task(jobs) {
  const r = await srv.call('POST', `/applications/${APP}/tasks`, { application: APP, description: 'test', job: jobs });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = r.body.ref.split('/').pop();
  return until(async () => {
    const t = (await srv.call('GET', `/tasks/${id}`)).body;
    return ['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED'].includes(t.status) ? t : null;
  }, { timeoutMs: 60000, what: `task ${id}` });
}

const groups = async () => (await srv.call('GET', `/applications/${APP}/serverGroups`)).body;

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  lbPort = await freePort();
  const t = await task([{ type: 'upsertLoadBalancer', cloudProvider: 'local', credentials: 'local', region: 'local',
    name: LB, listeners: [{ externalPort: lbPort, externalProtocol: 'HTTP' }], healthCheck: { path: '/health' } }]);
  assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.variables));
  await srv.savePipeline({ application: APP, name: 'deploy', stages: [{ refId: '1', type: 'deploy', name: 'Deploy', clusters: [{
    application: APP, stack: 'web', freeFormDetails: '', account: 'local', cloudProvider: 'local', region: 'local',
    capacity: { min: 2, max: 2, desired: 2 }, strategy: 'highlander',
    image: path.join(REPO, 'examples/webapp'), command: ['python3', '$IMAGE_DIR/app.py'],
    env: { VERSION: 'v1', START_DELAY: '0.5' }, healthCheck: { path: '/health' }, loadBalancers: [LB] }] }] });
  b = await browser();
  page = b.page;
});

after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

test('a deployed server group\'s instances go green in CLUSTERS', async () => {
  await page.goto(`${srv.url}/ui/#/applications/${APP}/executions`);
  const grp = page.locator('section.group', { has: page.getByRole('heading', { name: 'deploy', exact: true }) });
  await grp.getByRole('button', { name: 'Start Manual Execution' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Run' }).click();
  await grp.locator('li.exec').first().waitFor();
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  const sg = page.locator('article.sg').first();
  await sg.waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.cluster-name').first().textContent(), 'shop-web');
  // Green: every square Up, as the health checks pass (the view re-reads
  // the server groups every 2 s).
  await until(async () => (await sg.locator('.inst.hs-Up').count()) === 2, { timeoutMs: 60000, what: 'two Up instances' });
  assert.equal(await sg.locator('.inst').count(), 2);
  assert.match(await sg.locator('.seq').textContent(), /^v\d{3}$/);
  assert.match(await sg.textContent(), /2 \/ 2 \/ 2/);
  assert.equal(await sg.locator('.badge').textContent(), 'ENABLED');
  await screenshot(page, 'clusters');
  // The deploy stage finished too.
  await page.getByRole('link', { name: 'Pipelines', exact: true }).click();
  await srv.expect(grp.locator('li.exec .badge', { hasText: 'SUCCEEDED' }).first().waitFor({ timeout: 60000 }), APP, b);
});

test('an instance\'s details and log', async () => {
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  const sg = page.locator('article.sg').first();
  await sg.locator('.inst').first().click();
  const panel = page.locator('.instance-details');
  await panel.waitFor();
  assert.match(await panel.locator('h3').textContent(), /^Instance shop-web-v\d{3}/);
  assert.match(await panel.textContent(), /Up/);
  await panel.getByRole('button', { name: 'Show log' }).click();
  await panel.locator('pre.log').waitFor();
  await screenshot(page, 'clusters-instance');
  await panel.getByRole('button', { name: 'Close instance details' }).click();
  await panel.waitFor({ state: 'detached' });
});

test('LOAD BALANCERS shows the port and the server group behind it', async () => {
  await page.getByRole('link', { name: 'Load Balancers', exact: true }).click();
  const lb = page.locator('section.lb', { has: page.getByRole('heading', { name: LB }) });
  await lb.waitFor();
  assert.match(await lb.textContent(), new RegExp(`:${lbPort}`));
  await until(async () => /2\/2 up/.test(await lb.textContent()), { timeoutMs: 30000, what: '2/2 up behind the load balancer' });
  assert.equal(await lb.locator('.inst.hs-Up').count(), 2);
  await screenshot(page, 'load-balancers');
});

test('server group actions: disable, enable, resize, destroy', async () => {
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  const sg = page.locator('article.sg').first();
  await sg.waitFor();
  const name = (await groups())[0].name;
  const menu = async () => { await sg.locator('summary', { hasText: 'Server Group Actions' }).click(); };
  await menu();
  // Every action asks first; Cancel leaves the group as it was.
  await sg.getByRole('button', { name: 'Disable' }).click();
  const ask = page.getByRole('dialog', { name: `Disable ${name}?` });
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await ask.waitFor({ state: 'detached' });
  assert.equal((await groups())[0].isDisabled, false);
  if (!(await sg.getByRole('button', { name: 'Disable' }).isVisible())) await menu();
  await sg.getByRole('button', { name: 'Disable' }).click();
  await ask.getByRole('button', { name: 'Disable' }).click();
  await until(async () => (await groups())[0].isDisabled === true, { timeoutMs: 60000, what: 'disabled' });
  await sg.locator('.badge', { hasText: 'DISABLED' }).waitFor({ timeout: 10000 });
  if (!(await sg.getByRole('button', { name: 'Enable' }).isVisible())) await menu();
  await sg.getByRole('button', { name: 'Enable' }).click();
  await page.getByRole('dialog', { name: `Enable ${name}?` }).getByRole('button', { name: 'Enable' }).click();
  await until(async () => (await groups())[0].isDisabled === false, { timeoutMs: 60000, what: 'enabled' });
  await sg.locator('.badge', { hasText: 'ENABLED' }).waitFor({ timeout: 10000 });
  if (!(await sg.getByRole('button', { name: 'Resize' }).isVisible())) await menu();
  await sg.getByRole('button', { name: 'Resize' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Min').fill('1');
  await dlg.getByLabel('Desired').fill('1');
  await dlg.getByLabel('Max').fill('1');
  await dlg.getByRole('button', { name: 'Resize' }).click();
  await until(async () => (await sg.locator('.inst').count()) === 1, { timeoutMs: 60000, what: 'one instance after the resize' });
  assert.deepEqual((await groups())[0].capacity, { min: 1, max: 1, desired: 1 });
  if (!(await sg.getByRole('button', { name: 'Destroy' }).isVisible())) await menu();
  await sg.getByRole('button', { name: 'Destroy' }).click();
  // Enabled: its name must be typed before Destroy can be pressed.
  const confirmDestroy = page.getByRole('dialog', { name: `Destroy ${name}?` });
  const go = confirmDestroy.getByRole('button', { name: 'Destroy' });
  assert.equal(await go.isDisabled(), true);
  await confirmDestroy.getByLabel(/Type .* to confirm/).fill('not-it');
  assert.equal(await go.isDisabled(), true);
  await screenshot(page, 'destroy-confirm');
  await confirmDestroy.getByLabel(/Type .* to confirm/).fill(name);
  await go.click();
  await until(async () => (await groups()).length === 0, { timeoutMs: 60000, what: `${name} destroyed` });
  await page.getByText('No server groups in shop').waitFor({ timeout: 10000 });
  // The TASKS tab lists what was done.
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await page.locator('li.task', { hasText: `Destroy Server Group: ${name}` }).waitFor();
  await page.locator('li.task', { hasText: `Resize Server Group: ${name}` }).waitFor();
  assert.deepEqual(b.errors, []);
});

test('rollback offers only older server groups, the previous one first, and rolls back', async () => {
  await srv.savePipeline({ application: APP, name: 'rb', stages: [{ refId: '1', type: 'deploy', name: 'Deploy', clusters: [{
    application: APP, stack: 'rb', account: 'local', cloudProvider: 'local', region: 'local',
    capacity: { min: 1, max: 1, desired: 1 }, strategy: 'redblack', maxRemainingAsgs: 5,
    image: path.join(REPO, 'examples/webapp'), command: ['python3', '$IMAGE_DIR/app.py'], healthCheck: { path: '/health' } }] }] });
  let last = null;
  for (let i = 0; i < 3; i++) {
    const id = await srv.trigger(APP, 'rb');
    await until(async () => (await srv.execution(id)).status === 'SUCCEEDED', { timeoutMs: 120000, what: `deploy ${i}` });
    last = id;
  }
  // The third red/black's deploy stage names the group it made and the one it disabled.
  await page.goto('about:blank');
  await page.goto(`${srv.url}/ui/#/applications/${APP}/executions/details/${last}`);
  const pane = page.locator('.stage-pane', { hasText: 'Server groups' });
  await srv.expect(pane.waitFor({ timeout: 30000 }), APP, b);
  const made = (await pane.locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
  assert.ok(made.includes('created shop-rb-v002 local'), made.join('; '));
  assert.ok(made.includes('disabled shop-rb-v001 local'), made.join('; '));
  await page.goto(`${srv.url}/ui/#/applications/${APP}/clusters`);
  const open = async (seq) => {
    const sg = page.locator('article.sg', { hasText: `shop-rb-${seq}` });
    await sg.waitFor();
    await sg.locator('summary', { hasText: 'Server Group Actions' }).click();
    await sg.getByRole('button', { name: 'Rollback' }).click();
    return page.getByRole('dialog', { name: `Rollback shop-rb-${seq}` });
  };
  let dlg = await open('v001');
  assert.deepEqual(await dlg.locator('#rb-to option').evaluateAll((os) => os.map((o) => o.value)), ['shop-rb-v000']);
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  dlg = await open('v002');
  const sel = dlg.getByLabel('Restore to');
  assert.deepEqual(await sel.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['shop-rb-v001', 'shop-rb-v000']);
  assert.equal(await sel.inputValue(), 'shop-rb-v001');
  await screenshot(page, 'rollback-dialog');
  await dlg.getByRole('button', { name: 'Rollback' }).click();
  await until(async () => {
    const g = Object.fromEntries((await groups()).map((x) => [x.name, x.isDisabled]));
    return g['shop-rb-v001'] === false && g['shop-rb-v002'] === true;
  }, { timeoutMs: 60000, what: 'v001 enabled, v002 disabled' });
});
