// The views above applications and the page frame against a real server:
// projects and a project's dashboard, infrastructure search from the
// header (applications, clusters, server groups, instances, load
// balancers), keyboard shortcuts, the dark theme following the system, times
// in the browser's zone with UTC on hover; then every view at 1440 and
// 390 px, light and dark, as screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Server, browser, screenshot, until, waitPipeline, freePort, REPO } from './lib/harness.mjs';

const APP = 'shop';
let srv, b, page, judged;

async function task(app, jobs) {
  const r = await srv.call('POST', `/applications/${app}/tasks`, { application: app, description: 'test', job: jobs });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = r.body.ref.split('/').pop();
  return until(async () => {
    const t = (await srv.call('GET', `/tasks/${id}`)).body;
    return ['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED'].includes(t.status) ? t : null;
  }, { timeoutMs: 60000, what: `task ${id}` });
}

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  await srv.createApp('billing');
  const deploy = await srv.savePipeline({ application: APP, name: 'deploy', parameterConfig: [{ name: 'version', default: 'v1' }], stages: [
    { refId: '1', type: 'wait', name: 'Warm up', waitTime: 0 },
    { refId: '2', requisiteStageRefIds: ['1'], type: 'deploy', name: 'Deploy', clusters: [{ application: APP, stack: 'web', account: 'local', cloudProvider: 'local', region: 'local',
      capacity: { min: 1, max: 1, desired: 1 }, strategy: 'redblack', maxRemainingAsgs: 2, image: path.join(REPO, 'examples/webapp'),
      command: ['python3', '$IMAGE_DIR/app.py'], env: { VERSION: '${parameters.version}' }, healthCheck: { path: '/health' } }] }] });
  await srv.savePipeline({ application: APP, name: 'approve', stages: [
    { refId: '1', type: 'wait', name: 'Soak', waitTime: 0 },
    { refId: '2', requisiteStageRefIds: ['1'], type: 'manualJudgment', name: 'Ship it?', instructions: 'Check staging first.' }] });
  await srv.savePipeline(waitPipeline(APP, 'nightly', [0, 0, 0]));
  const d = await srv.trigger(APP, 'deploy', { type: 'manual', parameters: { version: 'v7' } });
  await srv.trigger(APP, 'nightly');
  judged = await srv.trigger(APP, 'approve');
  await until(async () => (await srv.execution(d)).status === 'SUCCEEDED', { timeoutMs: 120000, what: 'the deploy' });
  await task(APP, [{ type: 'upsertProject', project: { name: 'storefront', email: 'team@example.com', config: {
    applications: [APP, 'billing'], clusters: [{ account: 'local', stack: 'web', detail: '', applications: [APP] }], pipelineConfigs: [{ application: APP, pipelineConfigId: deploy.id }] } } }]);
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

test('projects: the list and a project\'s dashboard', async () => {
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('navigation', { name: 'Global' }).getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('link', { name: 'storefront' }).click();
  await page.getByRole('heading', { name: 'Project: storefront' }).waitFor();
  const apps = page.getByRole('region', { name: 'Applications' });
  assert.deepEqual(await apps.getByRole('link').filter({ hasNotText: 'clusters' }).allTextContents(), [APP, 'billing']);
  const clusters = page.getByRole('region', { name: 'Clusters' });
  await until(async () => /1 \/ 1/.test(await clusters.textContent()), { what: 'the cluster\'s one instance up' });
  await page.getByRole('region', { name: 'Pipelines' }).locator('li.exec').first().waitFor();
  assert.deepEqual(b.errors, []);
});

test('search from the header ("/" focuses it) finds server groups and instances', async () => {
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('link', { name: 'billing' }).waitFor();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'global-search');
  await page.keyboard.type('shop-web');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/search\?q=shop-web$/);
  const sgs = page.getByRole('region', { name: 'Server groups' });
  await sgs.getByRole('link', { name: 'shop-web-v000' }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'Clusters' }).getByRole('link', { name: 'shop-web' }).count(), 1);
  await page.getByRole('region', { name: 'Instances' }).getByRole('link').first().waitFor();
  await sgs.getByRole('link', { name: 'shop-web-v000' }).click();
  await page.waitForURL(/applications\/shop\/clusters$/);
});

test('search finds applications and load balancers too', async () => {
  const port = await freePort();
  const t = await task(APP, [{ type: 'upsertLoadBalancer', cloudProvider: 'local', credentials: 'local', region: 'local',
    name: 'shop-front', listeners: [{ externalPort: port, externalProtocol: 'HTTP' }], healthCheck: { path: '/health' } }]);
  assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.variables));
  await page.goto(`${srv.url}/ui/#/search?q=shop`);
  const apps = page.getByRole('region', { name: 'Applications' });
  await srv.expect(apps.getByRole('link', { name: 'shop', exact: true }).waitFor({ timeout: 30000 }), APP, b);
  assert.equal(await apps.getByRole('link', { name: 'billing' }).count(), 0);
  const lbs = page.getByRole('region', { name: 'Load balancers' });
  await lbs.getByRole('link', { name: 'shop-front' }).waitFor({ timeout: 30000 });
  await lbs.getByRole('link', { name: 'shop-front' }).click();
  await page.waitForURL(/applications\/shop\/loadBalancers$/);
});

test('"?" lists the keyboard shortcuts', async () => {
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('link', { name: 'billing' }).waitFor();
  await page.keyboard.press('?');
  const dlg = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Search applications/);
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });
});

test('times: the browser\'s zone, UTC on hover; the dark theme follows the system', async () => {
  await page.goto(`${srv.url}/ui/#/applications/${APP}/executions/details/${judged}`);
  const t = page.locator('.run-summary time').first();
  await t.waitFor();
  assert.match(await t.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await bg();
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await bg();
  assert.notEqual(light, dark);
  const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, x) => a + Number(x), 0);
  assert.ok(lum(dark) < 150 && lum(light) > 600, `light ${light}, dark ${dark}`);
  await page.emulateMedia({ colorScheme: 'light' });
});

test('times show in the browser\'s own zone (here India, UTC+5:30), UTC on hover', async () => {
  const other = await browser();
  try {
    const cdp = await other.context.newCDPSession(other.page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'Asia/Kolkata' });
    await other.page.goto(`${srv.url}/ui/#/applications/${APP}/executions/details/${judged}`);
    const t = other.page.locator('.run-summary time').first();
    await srv.expect(t.waitFor({ timeout: 30000 }), APP, other);
    const title = await t.getAttribute('title');
    const at = Date.parse(`${title.replace(' UTC', '').replace(' ', 'T')}Z`);
    const local = new Date(at + 330 * 60000).toISOString().replace('T', ' ').slice(0, 19);
    const shown = await t.textContent();
    assert.ok(shown.startsWith(local), `shown ${shown}, UTC ${title}, expected ${local} in India`);
    assert.match(shown, /GMT\+5:30|IST/);
  } finally { await other.close(); }
});

test('every view at 1440 and 390 px, light and dark', async () => {
  const u = `${srv.url}/ui/#`;
  const cfg = (await srv.call('GET', `/applications/${APP}/pipelineConfigs/deploy`)).body;
  const views = [
    ['applications', '/applications', 'a[href="#/applications/billing/executions"]'],
    ['pipelines', `/applications/${APP}/executions`, '.view[data-painted="true"]'],
    ['execution', `/applications/${APP}/executions/details/${judged}`, 'form.judgment'],
    ['editor', `/applications/${APP}/executions/configure/${cfg.id}`, 'svg.graph'],
    ['clusters', `/applications/${APP}/clusters`, 'article.sg'],
    ['load-balancers', `/applications/${APP}/loadBalancers`, '.view'],
    ['tasks', `/applications/${APP}/tasks`, 'li.task'],
    ['config', `/applications/${APP}/config`, '#cfg-email'],
    ['projects', '/projects', 'a[href="#/projects/storefront"]'],
    ['project', '/projects/storefront', '.project-pipelines li.exec'],
    ['search', '/search?q=shop', '.search-group'],
    ['audit', `/applications/${APP}/audit`, '.audit-table, .empty-state, [role="alert"]'],
    ['admin', '/admin', 'tr[data-user="admin"]'],
    ['sign-in', '!login.html', '#login'],
  ];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [w, h] of [[1440, 900], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      for (const [name, hash, ready] of views) {
        await page.goto('about:blank');
        await page.goto(hash.startsWith('!') ? `${srv.url}/ui/${hash.slice(1)}` : u + hash);
        await page.locator(ready).first().waitFor({ timeout: 30000 });
        await page.waitForTimeout(150);
        // Nothing wider than the screen (the page never scrolls sideways).
        const wide = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
        assert.ok(wide <= 1, `${name} at ${w} px (${scheme}) is ${wide} px wider than the screen`);
        await screenshot(page, `view-${name}-${w}-${scheme}`);
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1440, height: 900 });
  assert.deepEqual(b.errors, []);
});
