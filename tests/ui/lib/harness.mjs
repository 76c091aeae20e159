// harness.mjs - what every browser test needs: a real mizzen server on a
// free port with a fresh data dir (the binary is $MIZZEN_BIN, set by ctest,
// else build/mizzen), small API helpers, and Debian's Chromium driven by
// playwright-core with a fresh profile. Screenshots go to
// build/ui-screenshots/ (or $MZ_UI_SCREENSHOTS).
//
// A deploy's image given as a path must lie under providers.local.imageRoots:
// every server gets the repository's examples/ there (see serveArgs).
//
// Authentication is on: the server's first admin password is read from
// DATA/initial-admin-password; srv.call() signs in as admin (HTTP Basic,
// or { auth: null | [user, password] }), srv.headers carries the same
// Authorization header for raw requests, and browser() starts signed in to
// the last server started (the MIZZEN_SESSION cookie of POST /auth/login),
// or to browser({ server }), or to none with browser({ server: null }).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.MIZZEN_BIN || path.join(REPO, 'build', 'mizzen');
export const CHROMIUM = process.env.MZ_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.MZ_UI_SCREENSHOTS || path.join(REPO, 'build', 'ui-screenshots');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns something truthy; throws after timeoutMs.
export async function until(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(intervalMs);
  }
}

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
let lastServer = null;

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer/;

export class Server {
  // args: more arguments of `mizzen serve` (a --config FILE, say).
  static async start({ env = {}, args = [] } = {}) {
    const s = new Server();
    s.port = await freePort();
    s.url = `http://127.0.0.1:${s.port}`;
    s.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-ui-'));
    s.logFile = path.join(s.dir, 'server.log');
    s.env = env;
    s.args = args;
    await s.spawn();
    lastServer = s;
    return s;
  }

  // Stops the server and starts it again on the same port and data.
  async restart() {
    const p = this.proc;
    this.proc = null;
    p.kill('SIGTERM');
    const { code } = await this.exited;
    if (code !== 0) throw new Error(`the server exited with ${code} on restart:\n${this.log().slice(-3000)}`);
    await this.spawn();
  }

  // The test's arguments ($MZ_SERVE_ARGS first: bench/run names its config
  // there), with the repository's examples/ (where the deploy tests' images
  // lie) added to providers.local.imageRoots: a copy of the --config FILE
  // they name, or a config of its own (one --config either way).
  serveArgs() {
    const args = [...(process.env.MZ_SERVE_ARGS ? process.env.MZ_SERVE_ARGS.split(' ') : []), ...(this.args || [])];
    const at = args.indexOf('--config');
    let settings = {};
    if (at >= 0) {
      try { settings = JSON.parse(fs.readFileSync(args[at + 1], 'utf8')); } catch { return args; } // meant to be refused
    }
    if (!settings || typeof settings !== 'object' || Array.isArray(settings)) return args;
    const providers = settings.providers = settings.providers || {};
    const local = providers.local = providers.local || {};
    const roots = local.imageRoots = local.imageRoots || [];
    if (!Array.isArray(roots)) return args;
    const examples = path.join(REPO, 'examples');
    if (!roots.includes(examples)) roots.push(examples);
    const copy = path.join(this.dir, 'harness-config.json');
    fs.writeFileSync(copy, JSON.stringify(settings));
    if (at >= 0) args[at + 1] = copy; else args.push('--config', copy);
    return args;
  }

  async spawn() {
    const s = this, env = this.env;
    const log = fs.openSync(s.logFile, 'a');
    s.proc = spawn(BIN, ["serve", ...s.serveArgs(), "--listen", `127.0.0.1:${s.port}`, '--data', path.join(s.dir, 'data')], {
      env: { ...process.env, MIZZEN_WEB_DIR: path.join(REPO, 'web'), ...env },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    s.exited = new Promise((resolve) => s.proc.on('exit', (code, signal) => resolve({ code, signal })));
    // 30 s: on the shared 2-core machine under a load of 18 a start took more than 10.
    await until(async () => (await fetch(`${s.url}/health`)).status === 200, { timeoutMs: 30000, what: `${BIN} to answer /health` });
    if (!s.password) {
      const file = path.join(s.dir, 'data', 'initial-admin-password');
      s.password = await until(() => { try { return fs.readFileSync(file, 'utf8').trim(); } catch { return null; } },
        { what: `${file}` });
    }
    s.headers = { Authorization: basic('admin', s.password) };
  }

  // A session of admin's (POST /auth/login), for a browser's cookie.
  async session(user = 'admin', password = this.password) {
    const res = await fetch(`${this.url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: user, password }) });
    const m = /MIZZEN_SESSION=([^;]+)/.exec(res.headers.get('set-cookie') || '');
    if (res.status !== 200 || !m) throw new Error(`POST /auth/login as ${user}: ${res.status} ${await res.text()}`);
    return m[1];
  }

  // Creates a user (as admin) and returns its password.
  async addUser(name, roles = [], password = `pw-${name}-${Math.random().toString(36).slice(2)}`) {
    const r = await this.call('POST', '/auth/users', { username: name, password, roles });
    if (r.status !== 201) throw new Error(`add user ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return password;
  }

  log() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  // auth: undefined signs in as admin, null sends no credentials,
  // [user, password] signs in as that user.
  async call(method, p, body, { auth } = {}) {
    const init = { method, headers: {} };
    if (auth === undefined) init.headers.Authorization = basic('admin', this.password);
    else if (auth) init.headers.Authorization = basic(auth[0], auth[1]);
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(this.url + p, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    return { status: res.status, body: data };
  }

  async createApp(name) {
    const r = await this.call('POST', '/tasks', { application: name, description: `Create Application: ${name}`,
      job: [{ type: 'createApplication', application: { name, email: `${name}@example.com` } }] });
    if (r.status !== 200) throw new Error(`createApplication: ${r.status} ${JSON.stringify(r.body)}`);
    await until(async () => (await this.call('GET', `/applications/${name}`)).status === 200, { what: `application ${name}` });
  }

  async savePipeline(cfg) {
    const r = await this.call('POST', '/pipelines', cfg);
    if (r.status !== 200) throw new Error(`save pipeline: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async trigger(app, name, body = { type: 'manual' }) {
    const r = await this.call('POST', `/pipelines/${app}/${name}`, body);
    if (r.status !== 202) throw new Error(`trigger: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.ref.split('/').pop();
  }

  async execution(id) {
    return (await this.call('GET', `/pipelines/${id}`)).body;
  }

  // Awaits what a page should come to show (a locator's waitFor); when it
  // does not, the error also says what the server holds: the application's
  // latest executions (status, and each stage's status and error), the end
  // of the server's log and, given the browser b, the page's journal of
  // errors and refused requests, so a failure far away can be read.
  async expect(waiting, app, b = null) {
    try {
      return await waiting;
    } catch (e) {
      let execs = '';
      try {
        const list = (await this.call('GET', `/applications/${app}/pipelines?limit=3`)).body || [];
        execs = JSON.stringify(list.map((x) => ({ id: x.id, name: x.name, status: x.status,
          stages: (x.stages || []).map((st) => [st.name, st.status, (st.context || {}).exception || null]) })), null, 1);
      } catch (why) { execs = `(cannot read: ${why.message})`; }
      e.message += `\nexecutions of ${app}: ${execs}\nserver log (end):\n${this.log().slice(-4000)}`;
      if (b) e.message += `\nthe page's journal:\n${b.journal.join('\n')}`;
      throw e;
    }
  }

  // Stops the server (SIGTERM), waits for it, kills what its local cloud
  // still runs (instances outlive the server by design; HAProxy too), and
  // fails if it did not exit cleanly or a sanitizer reported an error.
  async stop({ keep = !!process.env.MZ_KEEP_LOGS } = {}) {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    killCloud(this.dir);
    const log = this.log();
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
    if (SANITIZER.test(log)) throw new Error(`the server reported a sanitizer error:\n${log.slice(-6000)}`);
    if (code !== 0) throw new Error(`the server exited with ${code ?? signal}:\n${log.slice(-3000)}`);
  }
}

// SIGKILLs every process (and its group) whose command line or
// environment names dir: the instances and HAProxy of a test's cloud.
export function killCloud(dir) {
  const needle = Buffer.from(dir);
  for (let round = 0; round < 3; round++) {
    let found = 0;
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
      for (const what of ['cmdline', 'environ']) {
        let data;
        try { data = fs.readFileSync(`/proc/${p}/${what}`); } catch { continue; }
        if (data.includes(needle)) {
          found++;
          try { process.kill(-Number(p), 'SIGKILL'); } catch { /* not a group leader */ }
          try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
          break;
        }
      }
    }
    if (!found) return;
  }
}

// Chromium with a fresh profile. The background-networking flags matter
// here: without them Chromium's own connections are refused by this
// machine's closed network and slow everything down.
export async function browser({ width = 1440, height = 900, server = lastServer, user } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mizzen-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width, height },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  if (server) {
    const sid = user ? await server.session(user[0], user[1]) : await server.session();
    await context.addCookies([{ name: 'MIZZEN_SESSION', value: sid, url: server.url, httpOnly: true, sameSite: 'Strict' }]);
  }
  const page = context.pages()[0] || await context.newPage();
  page.on('dialog', (d) => d.accept());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // What went wrong on the page's side, for a failing test's message
  // (Server.expect): script errors, console errors, refused requests.
  const journal = [];
  const note = (line) => { journal.push(`${new Date().toISOString().slice(11, 23)} ${line}`); if (journal.length > 40) journal.shift(); };
  page.on('pageerror', (e) => note(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') note(`console ${m.type()}: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) note(`${r.request().method()} ${r.url()} -> ${r.status()}`); });
  page.on('requestfailed', (r) => note(`${r.method()} ${r.url()} failed: ${(r.failure() || {}).errorText}`));
  return {
    context, page, errors, journal,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name, opts = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, ...opts });
  return file;
}

// A pipeline of wait stages: waits[i] seconds each, linear.
export function waitPipeline(app, name, waits, extra = {}) {
  return {
    application: app, name, limitConcurrent: false,
    stages: waits.map((w, i) => ({ refId: String(i + 1), requisiteStageRefIds: i ? [String(i)] : [], type: 'wait', name: `Wait ${i + 1}`, waitTime: w })),
    ...extra,
  };
}

// Screenshots of url at 1440 and 390 px, light and dark (name-WIDTH-SCHEME),
// each once ready (a selector) is shown; fails if the page is wider than
// the screen at either width. Leaves the page light at 1440 px.
export async function screenshotsEveryWay(page, name, url, ready) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [w, h] of [[1440, 900], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.goto('about:blank');
      await page.goto(url);
      await page.locator(ready).first().waitFor({ timeout: 30000 });
      await page.waitForTimeout(300);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      if (wide > 1) throw new Error(`${name} at ${w} px (${scheme}) is ${wide} px wider than the screen`);
      await screenshot(page, `${name}-${w}-${scheme}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1440, height: 900 });
}
