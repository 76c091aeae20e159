// PIPELINES paints its first screen before every pipeline's page of
// executions is in, and fills in the rest as the pages come: a page held
// back (playwright holds that one request) leaves its group a header
// with "…" while the first groups are drawn; a filter typed meanwhile
// applies to the group once its page comes; a link to an execution of that
// group opens it once it is there; every group ends up with every row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, until, waitPipeline } from './lib/harness.mjs';

const APP = 'lazy';
const PIPES = 6, RUNS = 12; // 72 executions: more than the newest page, so each pipeline has a page of its own
let srv, b, page, configs;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
const group = (name) => page.locator('section.group', { has: page.getByRole('heading', { name, exact: true }) });

before(async () => {
  srv = await Server.start();
  await srv.createApp(APP);
  for (let p = 1; p <= PIPES; p++) await srv.savePipeline(waitPipeline(APP, `pipe-${p}`, [0, 0]));
  const ids = [];
  for (let i = 0; i < RUNS; i++) {
    for (let p = 1; p <= PIPES; p++) ids.push(await srv.trigger(APP, `pipe-${p}`, { type: 'manual', parameters: { tag: `t${p}-${i}` } }));
  }
  await until(async () => (await srv.call('GET', `/applications/${APP}/pipelines?limit=1&statuses=RUNNING,NOT_STARTED`)).body.length === 0,
    { timeoutMs: 60000, what: 'every execution to finish' });
  configs = (await srv.call('GET', `/applications/${APP}/pipelineConfigs`)).body;
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

// Holds the page of executions of config id until the returned release().
async function hold(id) {
  const held = [];
  let released = false;
  await page.route((url) => url.searchParams.get('pipelineConfigIds') === id, (route) => {
    if (released) route.continue(); else held.push(route);
  });
  return async () => {
    released = true;
    for (const r of held.splice(0)) await r.continue();
  };
}

test('the first screen paints while a later page is held; it fills in when the page comes, filtered', async () => {
  const last = configs[configs.length - 1];
  const release = await hold(last.id);
  await page.goto('about:blank');
  await page.goto(base());
  await page.waitForSelector('.view[data-painted="true"]');
  // The first group is drawn; the held one is a header waiting for its page.
  assert.equal(await group(configs[0].name).locator('li.exec').count(), RUNS);
  const held = group(last.name);
  assert.equal(await held.locator('.count').textContent(), '…');
  assert.equal(await held.locator('li.exec').count(), 0);
  // The other pages came: their groups are drawn, the view is not complete.
  await until(async () => (await page.locator('li.exec').count()) === RUNS * (PIPES - 1), { what: 'the groups whose pages came' });
  assert.equal(await page.locator('.view').getAttribute('data-complete'), null);
  // A filter by a parameter value only the held group has.
  await page.getByPlaceholder(/Filter: pipeline/).fill(`t${PIPES}-3`);
  await until(async () => (await page.locator('section.group:visible').count()) === 0, { what: 'every group hidden' });
  await release();
  await page.waitForSelector('.view[data-complete="true"]');
  await until(async () => (await page.locator('li.exec:visible').count()) === 1, { what: 'the held group, filtered' });
  const shown = await page.locator('li.exec:visible').getAttribute('data-id');
  assert.equal((await srv.execution(shown)).trigger.parameters.tag, `t${PIPES}-3`);
  assert.equal(await held.locator('.count').textContent(), `1 of ${RUNS}`);
  assert.equal(await page.locator('.filter-count').textContent(), '1 shown');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await until(async () => (await page.locator('li.exec:visible').count()) === RUNS * PIPES, { what: 'every row' });
  assert.deepEqual(b.errors, []);
});

test('a link to an execution whose page is held opens it once the page comes', async () => {
  const last = configs[configs.length - 1];
  const target = (await srv.call('GET', `/applications/${APP}/pipelines?pipelineConfigIds=${last.id}&limit=50&startIndex=0`)).body[RUNS - 1];
  const release = await hold(last.id);
  await page.goto('about:blank');
  await page.goto(`${base()}/details/${target.id}`);
  await page.waitForSelector('.view[data-painted="true"]');
  assert.equal(await page.locator(`#x-${target.id}`).count(), 0);
  await release();
  const row = page.locator(`#x-${target.id}`);
  await row.waitFor();
  await page.getByRole('region', { name: 'Trigger and parameters' }).waitFor();
  assert.match(await row.getAttribute('class'), /\bopen\b/);
  await until(async () => {
    const r = await row.boundingBox();
    return r && r.y > -4 && r.y < page.viewportSize().height - 20;
  }, { what: 'the linked execution in view' });
  assert.deepEqual(b.errors, []);
});
