// A pipeline managed in git (pipelineRepos) in the UI, against a real git
// repository and a real server: PIPELINES marks it locked; the editor shows
// it read-only with the repository, branch, file and commit the server
// recorded (managedBy), refuses every edit, offers no Save or Delete, and
// follows a new commit pushed to the repository; its revision history
// names each revision's commit and restores nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server, browser, screenshot, screenshotsEveryWay, until } from './lib/harness.mjs';

const APP = 'gitops';
let srv, b, page, repo, confDir;
const base = () => `${srv.url}/ui/#/applications/${APP}/executions`;
const open = async (url) => { await page.goto('about:blank'); await page.goto(url); };

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
const git = (...args) => execFileSync('git', ['-C', repo, ...args], { env: gitEnv, encoding: 'utf8' }).trim();

function commitPipeline(waitTime, message) {
  fs.mkdirSync(path.join(repo, 'pipelines'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'pipelines', 'deploy.json'), JSON.stringify({
    application: APP, name: 'deploy', stages: [{ refId: '1', type: 'wait', name: 'Soak', waitTime }] }, null, 2));
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

// A push webhook makes the server fetch the repository at once.
async function pushAndSync(commit) {
  const r = await fetch(`${srv.url}/webhooks/git/github`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ repository: { name: 'pipelines', owner: { name: 'team' } }, ref: 'refs/heads/main', after: commit }) });
  assert.equal(r.status, 200, await r.text());
  await until(async () => ((await srv.call('GET', '/pipelineRepos')).body || [])[0]?.commit === commit,
    { timeoutMs: 30000, what: `the server to sync ${commit.slice(0, 12)}` });
}

let c1;
before(async () => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-ui-git-'));
  git('init', '-q', '-b', 'main');
  c1 = commitPipeline(0, 'the deploy pipeline');
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-ui-conf-'));
  const conf = path.join(confDir, 'config.json');
  fs.writeFileSync(conf, JSON.stringify({ pollers: { intervalSeconds: 3600 }, pipelineRepos: [{ url: repo, branch: 'main', path: 'pipelines' }] }));
  srv = await Server.start({ args: ['--config', conf] });
  await srv.createApp(APP);
  await pushAndSync(c1);
  b = await browser();
  page = b.page;
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
  for (const d of [repo, confDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('a pipeline from git is read-only in the editor, with its repository, path and commit', async () => {
  const cfg = (await srv.call('GET', `/applications/${APP}/pipelineConfigs/deploy`)).body;
  assert.equal(cfg.managedBy.commit, c1);
  await open(base());
  const grp = page.locator('section.group', { has: page.getByRole('heading', { name: 'deploy', exact: true }) });
  await grp.getByText('managed in git').waitFor();
  await grp.getByRole('link', { name: 'Configure' }).click();
  const banner = page.getByRole('note', { name: 'Locked pipeline' });
  await banner.waitFor();
  const facts = Object.fromEntries(await banner.locator('.facts > div').evaluateAll((ds) =>
    ds.map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent.trim()])));
  assert.deepEqual(facts, { Repository: repo, Branch: 'main', Path: 'pipelines/deploy.json', Commit: c1.slice(0, 12) });
  assert.equal(await banner.locator('[title]').first().getAttribute('title'), c1);
  await screenshot(page, 'editor-git-locked');

  // Nothing can be changed or sent.
  assert.equal(await page.getByRole('button', { name: 'Save', exact: true }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Add stage' }).isVisible(), false);
  assert.equal(await page.getByRole('button', { name: 'Remove stage' }).isVisible(), false);
  assert.equal(await page.locator('#pipeline-json').getAttribute('readonly'), '');
  await page.getByLabel('Pipeline name').press('End');
  await page.keyboard.type('-edited');
  await page.getByLabel('Wait time').first().press('End');
  await page.keyboard.type('9');
  assert.equal(await page.getByLabel('Pipeline name').inputValue(), 'deploy');
  const shown = JSON.parse(await page.locator('#pipeline-json').inputValue());
  assert.equal(shown.name, 'deploy');
  assert.equal(shown.stages[0].waitTime, 0);
  assert.equal(await page.locator('.dirty-state').textContent(), 'Saved');
  assert.equal(await page.locator('.editor-form select:not([disabled])').count(), 0);
});

test('a new commit shows in the editor and in the revision history, which restores nothing', async () => {
  const c2 = commitPipeline(3, 'a longer soak');
  await pushAndSync(c2);
  await open(`${base()}/configure/${(await srv.call('GET', `/applications/${APP}/pipelineConfigs/deploy`)).body.id}`);
  const banner = page.getByRole('note', { name: 'Locked pipeline' });
  await banner.getByText(c2.slice(0, 12)).waitFor();
  assert.equal(await page.getByLabel('Wait time').first().inputValue(), '3');
  await page.getByRole('button', { name: 'Revision history' }).click();
  const hist = page.getByRole('region', { name: 'Revision history' });
  await hist.waitFor();
  const revs = await hist.locator('.rev').allTextContents();
  assert.equal(revs.length, 2);
  assert.match(revs[0], new RegExp(`commit ${c2.slice(0, 12)}`));
  assert.match(revs[1], new RegExp(`commit ${c1.slice(0, 12)}`));
  assert.match(await hist.locator('pre.diff').textContent(), /-\s+"waitTime": 0/);
  assert.equal(await hist.getByRole('button', { name: 'Restore this revision' }).count(), 0);
  await screenshot(page, 'editor-git-history');
  await screenshotsEveryWay(page, 'view-editor-git-locked', page.url(), '.locked-banner .facts');
  assert.deepEqual(b.errors, []);
});
