// Signing in against a real server with authentication on: the sign-in
// page (a wrong password says so, the right one goes back to where the
// user was), the user and Sign out in the header, the admin page for
// users, roles and tokens, the AUDIT tab, and a user who may only READ an
// application seeing none of its action buttons.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, screenshot, until, waitPipeline } from './lib/harness.mjs';

let srv, viewerPw, slow;

before(async () => {
  srv = await Server.start();
  const r = await srv.call('POST', '/tasks', { application: 'guarded', description: 'Create Application: guarded', job: [{ type: 'createApplication',
    application: { name: 'guarded', email: 'ops@example.com', permissions: { READ: ['viewers', 'devs'], WRITE: ['devs'], EXECUTE: ['devs'] } } }] });
  assert.equal(r.status, 200);
  await until(async () => (await srv.call('GET', '/applications/guarded')).status === 200, { what: 'guarded' });
  await srv.savePipeline(waitPipeline('guarded', 'ship', [600]));
  slow = await srv.trigger('guarded', 'ship');
  viewerPw = await srv.addUser('viewer', ['viewers']);
});
after(async () => { if (srv) await srv.stop(); });

test('sign in: a wrong password is refused with a message, the right one goes back to the page asked for', async () => {
  const b = await browser({ server: null });
  try {
    const { page } = b;
    await page.goto(`${srv.url}/ui/#/applications/guarded/executions`);
    await page.waitForURL(/\/ui\/login\.html#/);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor();
    await screenshot(page, 'sign-in-failed');
    await page.getByLabel('Password').fill(srv.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/#\/applications\/guarded\/executions$/);
    await page.locator('.user-name', { hasText: 'admin' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 1);
    // Sign out: back to the sign-in page, and the session is gone.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/ui\/login\.html/);
    assert.equal(await page.evaluate(async () => (await fetch('/auth/user')).status), 401);
  } finally { await b.close(); }
});

test('a user who may only READ sees no action buttons', async () => {
  const admin = await browser();
  const viewer = await browser({ user: ['viewer', viewerPw] });
  try {
    const url = `${srv.url}/ui/#/applications/guarded/executions`;
    await admin.page.goto(url);
    const arow = admin.page.locator(`#x-${slow}`);
    await arow.getByRole('button', { name: 'Cancel' }).waitFor();
    assert.ok(await admin.page.getByRole('button', { name: 'Start Manual Execution' }).first().isVisible());
    await viewer.page.goto(url);
    const row = viewer.page.locator(`#x-${slow}`);
    await row.waitFor();
    await viewer.page.locator('.app-shell.may-not-execute.may-not-write').waitFor({ state: 'attached' });
    await viewer.page.locator('.user-name', { hasText: 'viewer' }).waitFor();
    for (const name of ['Start Manual Execution', 'Cancel', 'Pause']) {
      assert.equal(await viewer.page.getByRole('button', { name }).filter({ visible: true }).count(), 0, `${name} is shown to a reader`);
    }
    assert.equal(await viewer.page.getByRole('link', { name: 'Create Pipeline' }).filter({ visible: true }).count(), 0);
    assert.equal(await viewer.page.getByRole('link', { name: 'Admin' }).count(), 0);
    await row.getByRole('link', { name: 'Details' }).click();
    await viewer.page.getByRole('region', { name: 'Trigger and parameters' }).waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: 'Re-run' }).filter({ visible: true }).count(), 0);
    await screenshot(viewer.page, 'read-only-user');
    // Neither the pipeline editor nor CONFIG offers to save or delete.
    const ship = (await srv.call('GET', '/applications/guarded/pipelineConfigs/ship')).body;
    await viewer.page.goto(`${srv.url}/ui/#/applications/guarded/executions/configure/${ship.id}`);
    await srv.expect(viewer.page.getByLabel('Pipeline name').waitFor({ timeout: 30000 }), 'guarded', viewer);
    for (const name of ['Save', 'Delete']) {
      assert.equal(await viewer.page.getByRole('button', { name, exact: true }).filter({ visible: true }).count(), 0, `${name} is shown to a reader in the editor`);
    }
    await viewer.page.goto(`${srv.url}/ui/#/applications/guarded/config`);
    await srv.expect(viewer.page.getByLabel('Owner email').waitFor({ timeout: 30000 }), 'guarded', viewer);
    assert.equal(await viewer.page.getByRole('button', { name: 'Save changes' }).filter({ visible: true }).count(), 0);
    // The admin sees them (the same check, so the buttons are not simply gone).
    await admin.page.goto(`${srv.url}/ui/#/applications/guarded/config`);
    await admin.page.getByRole('button', { name: 'Save changes' }).waitFor({ timeout: 30000 });
  } finally { await admin.close(); await viewer.close(); }
});

test('admin page: add a user with roles, make and revoke an API token', async () => {
  const b = await browser();
  try {
    const { page } = b;
    await page.goto(`${srv.url}/ui/#/admin`);
    const users = page.getByRole('region', { name: 'Users' });
    await users.locator('tr[data-user="viewer"]').waitFor();
    await page.getByLabel('User name').fill('dev1');
    await page.getByLabel('Password', { exact: true }).fill('a-long-password');
    await page.getByLabel('Roles', { exact: true }).fill('devs, ops');
    await page.getByRole('button', { name: 'Add user' }).click();
    await users.locator('tr[data-user="dev1"]').waitFor();
    const u = (await srv.call('GET', '/auth/users/dev1')).body;
    assert.deepEqual(u.roles, ['devs', 'ops']);
    await page.getByLabel('Token name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    const tok = (await page.locator('#new-token').textContent()).trim();
    const res = await fetch(`${srv.url}/auth/user`, { headers: { Authorization: `Bearer ${tok}` } });
    assert.equal((await res.json()).username, 'admin');
    await screenshot(page, 'admin-users-tokens');
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke the token ci?' }).getByRole('button', { name: 'Revoke' }).click();
    await until(async () => (await fetch(`${srv.url}/auth/user`, { headers: { Authorization: `Bearer ${tok}` } })).status === 401, { what: 'the token revoked' });
    // The AUDIT tab reads the application's audit log: the trigger made
    // before the tests is listed, by admin, with its status.
    await page.goto(`${srv.url}/ui/#/applications/guarded/audit`);
    const table = page.locator('.audit-table');
    await srv.expect(table.waitFor({ timeout: 30000 }), 'guarded', b);
    const trigger = table.locator('tbody tr', { hasText: 'POST /pipelines/guarded/ship' });
    assert.equal(await trigger.count(), 1);
    assert.deepEqual((await trigger.locator('td').allTextContents()).slice(1).map((t) => t.trim()).filter((t, i) => i !== 1),
      ['admin', 'POST /pipelines/guarded/ship', '202']);
    assert.deepEqual(b.errors, []);
  } finally { await b.close(); }
});
