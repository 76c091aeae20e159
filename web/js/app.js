// app.js - the router: Deck's hash routes under /ui/.
//   #/applications                              applications list
//   #/applications/{app}/executions             PIPELINES (and …/details/{id}?stage=)
//   #/applications/{app}/executions/configure/{id|new}   pipeline editor
//   #/applications/{app}/clusters | loadBalancers | securityGroups |
//                        properties | tasks | config
// A view module exports mount(el, ctx) returning {update(ctx)?, unmount()?}.
// Views other than the executions list are loaded on first use, so the
// first paint of the busiest page fetches only what it needs.

import { html, render, $ } from './dom.js';
import { duration } from './format.js';
import { Live } from './live.js';
import { get, enc as encode } from './api.js';
import { prefetch } from './views/executionsData.js';
import { hasGuard, mayLeave } from './nav.js';
import { whoami, applyPermissions, installHeader } from './user.js';

const TABS = [
  ['executions', 'Pipelines', () => import('./views/executions.js')],
  ['clusters', 'Clusters', () => import('./views/clusters.js')],
  ['loadBalancers', 'Load Balancers', () => import('./views/loadBalancers.js')],
  ['securityGroups', 'Security Groups', () => import('./views/securityGroups.js')],
  ['properties', 'Properties', () => import('./views/properties.js')],
  ['tasks', 'Tasks', () => import('./views/tasks.js')],
  ['config', 'Config', () => import('./views/config.js')],
  ['audit', 'Audit', () => import('./views/audit.js')],
];
const editorView = () => import('./views/pipelineEditor.js');
const appsView = () => import('./views/applications.js');
const globalViews = () => import('./views/global.js');

let current = null;   // {key, view, el}
let shell = null;     // {app, el, live}
let seq = 0;          // guards against a slow import finishing after a newer route

function parse() {
  const h = location.hash.replace(/^#/, '') || '/applications';
  const [path, qs] = h.split('?');
  const seg = path.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  return { seg, query: new URLSearchParams(qs || '') };
}

let shownHash = null;  // the address of what is on screen

async function route() {
  // A view with unsaved edits is asked first; until it agrees the address
  // goes back to what is shown.
  if (hasGuard() && shownHash != null && location.hash !== shownHash) {
    const target = location.hash;
    history.replaceState(null, '', shownHash);
    if (!await mayLeave()) return;
    history.replaceState(null, '', target);
  }
  shownHash = location.hash;
  const my = ++seq;
  if (!location.hash || location.hash === '#' || location.hash === '#/') { location.replace('#/applications'); return; }
  const { seg, query } = parse();
  markNav(seg[0]);
  if (seg[0] === 'admin') {
    closeShell();
    return show('admin', document.getElementById('main'), () => import('./views/admin.js'), { query });
  }
  if (seg[0] === 'projects' || seg[0] === 'search') {
    closeShell();
    const main = document.getElementById('main');
    if (seg[0] === 'search') return show('search', main, () => globalViews().then((m) => ({ mount: m.mountSearch })), { query });
    if (seg[1]) return show(`project/${seg[1]}`, main, () => globalViews().then((m) => ({ mount: m.mountProject })), { name: seg[1], query });
    return show('projects', main, () => globalViews().then((m) => ({ mount: m.mountProjects })), { query });
  }
  if (seg[0] !== 'applications') { location.replace('#/applications'); return; }
  const app = seg[1];
  if (!app) {
    closeShell();
    return show('apps', document.getElementById('main'), appsView, { query });
  }
  let tab = seg[2] || '';
  if (!TABS.some((t) => t[0] === tab)) { location.replace(`#/applications/${encodeURIComponent(app)}/executions`); return; }
  const rest = seg.slice(3);
  const sh = openShell(app, tab);
  if (sh.missing) return;
  const editing = tab === 'executions' && rest[0] === 'configure';
  if (tab === 'executions' && !editing && !(current && current.key === `${app}/executions`)) prefetch(app);
  const loader = editing ? editorView : TABS.find((t) => t[0] === tab)[2];
  const key = `${app}/${editing ? 'editor' : tab}`;
  if (my !== seq) return;
  return show(key, $('.app-content', sh.el), loader, { app, tab, rest, query, live: sh.live });
}

async function show(key, host, loader, ctx) {
  const my = seq;
  if (current && current.key === key && current.view.update) {
    current.view.update(ctx);
    return;
  }
  unmountCurrent();
  const el = document.createElement('div');
  el.className = 'view';
  host.replaceChildren(el);
  let mod;
  try {
    mod = await loader();
  } catch (e) {
    render(el, html`<p class="error">Cannot load this view: ${e.message}</p>`);
    return;
  }
  if (my !== seq) return;
  current = { key, el, view: mod.mount(el, ctx) || {} };
}

function unmountCurrent() {
  if (current && current.view.unmount) current.view.unmount();
  current = null;
}

function openShell(app, tab) {
  const main = document.getElementById('main');
  if (!shell || shell.app !== app) {
    unmountCurrent();
    closeShell();
    const el = document.createElement('div');
    el.className = 'app-shell perms-pending';
    const a = encodeURIComponent(app);
    render(el, html`
      <header class="app-header">
        <h1><span class="app-icon" aria-hidden="true">▣</span> ${app}</h1>
        <nav class="tabs" aria-label="Application">
          ${TABS.map(([id, label]) => html`<a href="#/applications/${a}/${id}" data-tab="${id}">${label}</a>`)}
        </nav>
      </header>
      <div class="app-content"></div>`);
    main.replaceChildren(el);
    shell = { app, el, live: new Live(app), missing: false };
    document.title = `${app} · mizzen`;
    checkApp(shell);
  }
  for (const t of shell.el.querySelectorAll('.tabs a')) {
    if (t.dataset.tab === tab) t.setAttribute('aria-current', 'page');
    else t.removeAttribute('aria-current');
  }
  return shell;
}

// A mistyped application address must not look like an empty application
// one could save pipelines into: say so instead of showing its tabs.
async function checkApp(sh) {
  let status = 200, attrs = null;
  for (;;) {
    try { attrs = ((await get(`/applications/${encode(sh.app)}`)) || {}).attributes || {}; status = 200; } catch (e) { status = e.status; }
    if (status !== 0 && status < 500) break;
    await new Promise((r) => setTimeout(r, 3000)); // the server is away: ask again
    if (shell !== sh) return;
  }
  if (shell !== sh) return;
  if (status !== 404 && status !== 403) {
    // Buttons for what the user may not do stay hidden.
    const user = await whoami();
    if (shell === sh) applyPermissions(sh.el, user, attrs);
    return;
  }
  unmountCurrent();
  sh.missing = true;
  $('.tabs', sh.el).hidden = true;
  render($('.app-content', sh.el), html`<div class="view"><div class="empty-state" role="alert">
    <h2>${status === 404 ? `There is no application named ${sh.app}.` : `You may not see the application ${sh.app}.`}</h2>
    <p>${status === 404 ? 'Check the address, or create it.' : 'Ask an administrator for READ access.'}</p>
    <p><a class="btn btn-primary" href="#/applications">All applications</a></p></div></div>`);
}

function markNav(section) {
  for (const a of document.querySelectorAll('.topbar nav a')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function closeShell() {
  if (!shell) return;
  shell.live.close();
  shell = null;
  document.title = 'mizzen';
}

// Running things show a ticking duration: elements with data-since (start,
// epoch ms) are refreshed once a second, whatever view made them.
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) {
    el.textContent = duration(now - Number(el.dataset.since));
  }
}, 1000);

window.addEventListener('hashchange', route);
import('./shortcuts.js').then((m) => m.install());
installHeader();
route();
