// The applications list: create an application from the UI (a
// createApplication task, followed to its end), find it with the search
// box, and land on its PIPELINES tab with Deck's tabs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, screenshot } from './lib/harness.mjs';

let srv, b;
before(async () => {
  srv = await Server.start();
  await srv.createApp('billing');
  b = await browser();
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

test('/ redirects to the UI, which lists the applications', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/`);
  assert.match(page.url(), /\/ui\/#\/applications$/);
  await page.getByRole('link', { name: 'billing' }).waitFor();
  assert.deepEqual(b.errors, []);
});

test('create an application from the UI', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('button', { name: 'Create Application' }).click();
  await page.getByLabel('Name').fill('shop');
  await page.getByLabel('Owner email').fill('team@example.com');
  await page.getByLabel('Description').fill('The shop <b>front</b>');
  await screenshot(page, 'applications-create');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  // The UI follows the task, then opens the new application.
  await page.waitForURL(/#\/applications\/shop\/executions$/);
  await page.getByRole('heading', { name: 'shop' }).waitFor();
  for (const tab of ['Pipelines', 'Clusters', 'Load Balancers', 'Security Groups', 'Properties', 'Tasks', 'Config']) {
    assert.ok(await page.getByRole('link', { name: tab, exact: true }).isVisible(), `tab ${tab}`);
  }
  const stored = await srv.call('GET', '/applications/shop');
  assert.equal(stored.status, 200);
  assert.equal(stored.body.attributes.email, 'team@example.com');
});

test('search filters the list; server text is shown as text, not markup', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('link', { name: 'shop' }).waitFor();
  assert.equal(await page.locator('b', { hasText: 'front' }).count(), 0, 'no <b> element from the description');
  await page.getByText('The shop <b>front</b>').waitFor();
  await screenshot(page, 'applications');
  await page.getByPlaceholder('Search applications').fill('bill');
  await page.getByRole('link', { name: 'billing' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'shop' }).count(), 0);
  await page.getByPlaceholder('Search applications').fill('nothing-like-this');
  await page.getByText('No application matches.').waitFor();
});

test('a failed create shows the task error', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('button', { name: 'Create Application' }).click();
  await page.getByLabel('Name').fill('billing'); // exists already
  await page.getByLabel('Owner email').fill('x@example.com');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  // Either the server refuses a duplicate, or it updates it: both are
  // shown as what the task said; here we only require no crash and a
  // visible outcome.
  await page.waitForFunction(() => location.hash.includes('/billing/') || !document.querySelector('.create-app .error').hidden);
  assert.deepEqual(b.errors, []);
});

test('creating an application that exists is refused; its owner stays', async () => {
  const { page } = b;
  await page.goto('about:blank');
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('button', { name: 'Create Application' }).click();
  await page.getByLabel('Name').fill('billing');
  await page.getByLabel('Owner email').fill('intruder@example.com');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByText('An application named billing already exists').waitFor();
  await screenshot(page, 'applications-duplicate');
  assert.equal((await srv.call('GET', '/applications/billing')).body.attributes.email, 'billing@example.com');
});

test('an unknown application says so instead of looking empty', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/ui/#/applications/nosuchapp/executions`);
  await page.getByRole('heading', { name: 'There is no application named nosuchapp.' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Create Pipeline' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Clusters', exact: true }).isVisible(), false);
  await screenshot(page, 'application-unknown');
});

test('a page opened while the server was away recovers when it is back', async () => {
  const { page } = b;
  await page.goto(`${srv.url}/ui/#/applications`);
  await page.getByRole('link', { name: 'billing' }).waitFor();
  // The server goes away; the user opens an application meanwhile.
  const p = srv.proc;
  srv.proc = null;
  p.kill('SIGTERM');
  await srv.exited;
  await page.evaluate(() => { window.__same = true; location.hash = '#/applications/billing/executions'; });
  await page.getByText(/Cannot load the pipelines of billing/).waitFor({ timeout: 20000 });
  await srv.spawn();
  await srv.savePipeline({ application: 'billing', name: 'invoice', stages: [{ refId: '1', type: 'wait', waitTime: 0 }] });
  // No reload: the view and the event stream come back by themselves.
  await page.locator('section.group', { has: page.getByRole('heading', { name: 'invoice', exact: true }) }).waitFor({ timeout: 30000 });
  await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__same), true);
});
