// global.js - the views above applications: PROJECTS (Front50's projects:
// #/projects, and a project's dashboard #/projects/{name} with its
// applications, its clusters' health across applications and the newest
// executions of its pipelines) and infrastructure SEARCH (#/search?q=,
// Gate's /search over applications, clusters, server groups, instances,
// load balancers, projects and pipelines).

import { html, render, on, $ } from '../dom.js';
import { get, enc } from '../api.js';
import { timeHTML } from '../format.js';
import { rowHTML } from './execRow.js';

const appHref = (app, tab = 'executions') => `#/applications/${enc(app)}/${tab}`;

export function mountProjects(el) {
  render(el, html`<p class="loading">Loading projects…</p>`);
  get('/projects').then((list) => {
    list = (list || []).sort((a, b) => a.name.localeCompare(b.name));
    render(el, html`<div class="toolbar"><h2>Projects</h2><span class="muted">${list.length} project${list.length === 1 ? '' : 's'}</span></div>
      ${list.length ? html`<div class="table-wrap"><table class="apps-table"><thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Applications</th><th scope="col">Updated</th></tr></thead>
        <tbody>${list.map((p) => html`<tr><td><a href="#/projects/${enc(p.name)}">${p.name}</a></td><td>${p.email || ''}</td>
          <td>${((p.config || {}).applications || []).map((a) => html`<a href="${appHref(a)}">${a}</a> `)}</td><td>${timeHTML(Number(p.updateTs))}</td></tr>`)}</tbody></table></div>`
        : html`<div class="empty-state"><p>No projects yet. A project groups applications, clusters and pipelines a team watches together (Deck's upsertProject task creates one).</p></div>`}`);
  }).catch((e) => render(el, html`<p class="error" role="alert">Cannot load the projects: ${e.message}</p>`));
  return {};
}

export function mountProject(el, ctx) {
  const name = ctx.name;
  render(el, html`<p class="loading">Loading ${name}…</p>`);
  Promise.all([
    get(`/projects/${enc(name)}`),
    get(`/projects/${enc(name)}/clusters`).catch(() => []),
    get(`/projects/${enc(name)}/pipelines?limit=5`).catch(() => []),
  ]).then(([p, clusters, execs]) => {
    const cfg = p.config || {};
    const byPipe = new Map();
    for (const e of execs || []) {
      const k = `${e.application}/${e.name}`;
      if (!byPipe.has(k)) byPipe.set(k, []);
      byPipe.get(k).push(e);
    }
    render(el, html`<div class="toolbar"><h2>Project: ${p.name}</h2><span class="muted">${p.email || ''}</span></div>
      <div class="dashboard">
        <section class="panel" aria-label="Applications"><h3>Applications</h3>
          <ul class="plain">${(cfg.applications || []).map((a) => html`<li><a href="${appHref(a)}">${a}</a> · <a class="muted" href="${appHref(a, 'clusters')}">clusters</a></li>`)}</ul></section>
        <section class="panel" aria-label="Clusters"><h3>Clusters</h3>
          ${(clusters || []).length ? html`<table><thead><tr><th scope="col">Cluster</th><th scope="col">Account</th><th scope="col">Up / total</th></tr></thead><tbody>
            ${clusters.map((c) => { const n = c.instanceCounts || {}; return html`<tr><td>${[c.stack, c.detail].filter(Boolean).join('-') || '(no stack)'}</td><td>${c.account}</td>
              <td><span class="hc-up">${n.up || 0}</span> / ${n.total || 0}${n.down ? html` <span class="hc-down">${n.down} down</span>` : ''}</td></tr>`; })}</tbody></table>`
            : html`<p class="muted">No clusters.</p>`}</section>
      </div>
      <section class="project-pipelines" aria-label="Pipelines"><h3>Pipelines</h3>
        ${byPipe.size ? [...byPipe].map(([k, list]) => html`<div class="group"><header class="group-head"><h2>${k}</h2></header>
          <ol class="exec-list">${list.map((e) => rowHTML(e, `#/applications/${enc(e.application)}/executions`))}</ol></div>`)
          : html`<p class="muted">No executions yet.</p>`}</section>`);
  }).catch((e) => render(el, html`<p class="error" role="alert">${e.status === 404 ? `There is no project named ${name}.` : `Cannot load ${name}: ${e.message}`}</p>`));
  return {};
}

const TYPES = [
  ['applications', 'Applications', (r) => [r.application, appHref(r.application), r.email || '']],
  ['projects', 'Projects', (r) => [r.name, `#/projects/${enc(r.name)}`, r.email || '']],
  ['pipelines', 'Pipelines', (r) => [r.name, `${appHref(r.application)}/configure/${enc(r.id)}`, r.application]],
  ['clusters', 'Clusters', (r) => [r.cluster, appHref(r.application, 'clusters'), `${r.application} · ${r.account}`]],
  ['serverGroups', 'Server groups', (r) => [r.serverGroup, appHref(r.application, 'clusters'), `${r.account} · ${r.region}`]],
  ['instances', 'Instances', (r) => [r.instanceId, appHref(r.application, 'clusters'), `${r.serverGroup} · ${r.region}`]],
  ['loadBalancers', 'Load balancers', (r) => [r.loadBalancer, appHref(r.application, 'loadBalancers'), `${r.account} · ${r.region}`]],
];

export function mountSearch(el, ctx) {
  let seq = 0;
  const draw = (q, results, error) => {
    const by = new Map(TYPES.map(([t]) => [t, []]));
    for (const r of results || []) if (by.has(r.type)) by.get(r.type).push(r);
    render($('.search-results', el), !q ? html`<p class="muted">Type at least two characters: applications, clusters, server groups, instances, load balancers, projects and pipelines match by name.</p>`
      : error ? html`<p class="error" role="alert">${error}</p>`
      : !results ? html`<p class="muted">Searching…</p>`
      : !results.length ? html`<p class="muted">Nothing matches “${q}”.</p>`
      : html`${TYPES.filter(([t]) => by.get(t).length).map(([t, label, f]) => html`<section class="panel search-group" aria-label="${label}"><h3>${label} <span class="badge-count">${by.get(t).length}</span></h3>
          <ul class="plain">${by.get(t).map((r) => { const [name, href, extra] = f(r); return html`<li><a href="${href}">${name}</a> <span class="muted">${extra}</span></li>`; })}</ul></section>`)}`);
  };
  const search = async (q) => {
    const my = ++seq;
    if (q.length < 2) { draw('', null); return; }
    draw(q, null);
    try {
      const page = await get(`/search?q=${enc(q)}&pageSize=500`);
      if (my === seq) draw(q, ((page || [])[0] || {}).results || []);
    } catch (e) { if (my === seq) draw(q, null, e.message); }
  };
  const q0 = ctx.query.get('q') || '';
  render(el, html`<div class="toolbar"><h2>Search</h2>
    <label class="search"><span class="sr-only">Search infrastructure</span><input type="search" id="search-page-input" value="${q0}" placeholder="Name of an application, cluster, server group, instance…" autocomplete="off"></label></div>
    <div class="search-results"></div>`);
  let timer = 0;
  on(el, 'input', '#search-page-input', (e, t) => {
    clearTimeout(timer);
    timer = setTimeout(() => { history.replaceState(null, '', `#/search?q=${enc(t.value)}`); search(t.value.trim()); }, 150);
  });
  search(q0.trim());
  const input = $('#search-page-input', el);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  return { update(c) { const q = c.query.get('q') || ''; if (input.value !== q) { input.value = q; search(q.trim()); } } };
}
