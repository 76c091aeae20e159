// clusters.js - the CLUSTERS view: clusters, then per account and region
// their server groups (sequence, image or build, capacity, enabled or
// disabled, health counts) with one health-coloured square per instance,
// as Deck draws them; an instance's details and log; resize, enable,
// disable, destroy and rollback. Cloud state is not in the event stream,
// so the view re-reads GET /applications/{app}/serverGroups every 2 s
// while it is visible (a summary list: small), and at once after a task.

import { html, render, on, toast, $ } from '../dom.js';
import { get, enc } from '../api.js';
import { time, ago, utc, timeHTML } from '../format.js';
import * as sga from './serverGroupActions.js';
import { confirmDialog } from '../dialogs.js';

const POLL_MS = 2000;
const HEALTH = ['Up', 'Starting', 'Down', 'OutOfService', 'Unknown', 'Draining', 'Failed', 'Succeeded'];

export const healthClass = (s) => `hs-${HEALTH.includes(s) ? s : 'Unknown'}`;

export function sequence(sg) {
  const m = sg.moniker && sg.moniker.sequence;
  if (m != null) return `v${String(m).padStart(3, '0')}`;
  const x = /-(v\d{3,})$/.exec(sg.name || '');
  return x ? x[1] : sg.name;
}

export function clusterOf(sg) {
  return sg.cluster || (sg.moniker && sg.moniker.cluster) || String(sg.name || '').replace(/-v\d{3,}$/, '');
}

export function imageOf(sg) {
  const img = sg.image || (sg.launchConfig && sg.launchConfig.image) || (sg.imageSummary && sg.imageSummary.imageName);
  if (img && typeof img === 'object') return img.imageId || img.name || img.id || null;
  return img || (sg.buildInfo && (sg.buildInfo.imageId || sg.buildInfo.image)) || null;
}

export function instanceSquares(instances, dataAttrs = () => '') {
  const sorted = [...(instances || [])].sort((a, b) => (a.launchTime || 0) - (b.launchTime || 0) || String(a.id).localeCompare(String(b.id)));
  return html`<div class="instances" role="list">${sorted.map((i) => {
    const state = i.healthState || (i.health && !Array.isArray(i.health) && i.health.state) || 'Unknown';
    return html`<button type="button" role="listitem" class="inst ${healthClass(state)}" data-act="instance" data-inst="${i.id}" ${dataAttrs(i)}
      title="${i.id}: ${state}" aria-label="Instance ${i.id}: ${state}"></button>`;
  })}</div>`;
}

function counts(sg) {
  const c = sg.instanceCounts || {};
  const total = c.total ?? (sg.instances || []).length;
  const up = c.up ?? (sg.instances || []).filter((i) => i.healthState === 'Up').length;
  const pct = total ? Math.floor((up * 100) / total) : 0;
  return html`<span class="health-counts" title="up / down / starting or unknown / out of service">
    <span class="hc-up">${up}</span>${c.down ? html` · <span class="hc-down">${c.down} down</span>` : ''}${(c.starting || 0) + (c.unknown || 0) ? html` · <span class="hc-starting">${(c.starting || 0) + (c.unknown || 0)} starting</span>` : ''}${c.outOfService ? html` · <span class="hc-oos">${c.outOfService} out of service</span>` : ''}
    <span class="muted">/ ${total} (${pct}%)</span></span>`;
}

export function mount(el, ctx) {
  const app = ctx.app;
  let groups = null;
  let error = null;
  let selected = null;      // {account, region, id, sg}
  let detail = null;        // full instance, or null
  let log = null;
  let timer = 0;
  let busy = false;
  let alive = true;

  const key = (sg) => `${sg.account}/${sg.region}/${sg.name}`;
  const find = (k) => (groups || []).find((sg) => key(sg) === k);

  function sgHTML(sg, siblings) {
    const img = imageOf(sg);
    const cap = sg.capacity || {};
    const jenkins = sg.buildInfo && sg.buildInfo.jenkins;
    const older = siblings.filter((o) => o !== sg && (o.createdTime || 0) < (sg.createdTime || 0));
    const k = key(sg);
    return html`<article class="sg${sg.isDisabled ? ' disabled' : ''}" data-sg="${k}" aria-label="Server group ${sg.name}">
      <header class="sg-head">
        <h4><span class="seq">${sequence(sg)}</span> <span class="sg-name muted">${sg.name}</span></h4>
        ${sg.isDisabled ? html`<span class="badge st-canceled">DISABLED</span>` : html`<span class="badge st-succeeded">ENABLED</span>`}
      </header>
      <dl class="sg-facts">
        ${jenkins ? html`<div><dt>Build</dt><dd>#${jenkins.number}${jenkins.name ? ` (${jenkins.name})` : ''}</dd></div>` : ''}
        ${img ? html`<div><dt>Image</dt><dd class="mono" title="${img}">${String(img).length > 28 ? `${String(img).slice(0, 27)}…` : img}</dd></div>` : ''}
        <div><dt>Capacity</dt><dd>${cap.min ?? '-'} / ${cap.desired ?? '-'} / ${cap.max ?? '-'} <span class="muted">min/desired/max</span></dd></div>
        ${sg.createdTime ? html`<div><dt>Created</dt><dd title="${time(sg.createdTime)} · ${utc(sg.createdTime)}">${ago(sg.createdTime)}</dd></div>` : ''}
        <div><dt>Health</dt><dd>${counts(sg)}</dd></div>
      </dl>
      ${instanceSquares(sg.instances, () => html`data-sg="${k}"`)}
      <details class="sg-menu" data-need="WRITE"><summary class="btn btn-sm">Server Group Actions</summary>
        <div class="menu">
          <button type="button" class="btn btn-sm" data-act="resize" data-sg="${k}">Resize</button>
          ${sg.isDisabled ? html`<button type="button" class="btn btn-sm" data-act="enable" data-sg="${k}">Enable</button>`
            : html`<button type="button" class="btn btn-sm" data-act="disable" data-sg="${k}">Disable</button>`}
          ${older.length ? html`<button type="button" class="btn btn-sm" data-act="rollback" data-sg="${k}">Rollback</button>` : ''}
          <button type="button" class="btn btn-sm btn-danger" data-act="destroy" data-sg="${k}">Destroy</button>
        </div></details>
    </article>`;
  }

  function detailHTML() {
    if (!selected) return '';
    const sgi = (selected.sg.instances || []).find((i) => i.id === selected.id) || {};
    const d = detail || sgi;
    const health = Array.isArray(d.health) ? d.health : [];
    return html`<aside class="panel instance-details" aria-label="Instance ${selected.id}">
      <header class="row"><h3>Instance ${selected.id}</h3><span class="spacer"></span>
        <button type="button" class="btn btn-sm" data-act="close-instance" aria-label="Close instance details">✕</button></header>
      <dl class="facts">
        <div><dt>Health</dt><dd><span class="inst-dot ${healthClass(d.healthState)}"></span> ${d.healthState || 'Unknown'}</dd></div>
        <div><dt>Server group</dt><dd>${selected.sg.name}</dd></div>
        <div><dt>Region</dt><dd>${selected.region}</dd></div>
        <div><dt>Launched</dt><dd>${timeHTML(d.launchTime)}</dd></div>
        ${d.port ? html`<div><dt>Port</dt><dd>${d.port}</dd></div>` : ''}
        ${d.pid ? html`<div><dt>PID</dt><dd>${d.pid}</dd></div>` : ''}
      </dl>
      ${health.length ? html`<table class="health-table"><thead><tr><th scope="col">Health source</th><th scope="col">State</th></tr></thead>
        <tbody>${health.map((h) => html`<tr><td>${h.type}${h.healthClass ? ` (${h.healthClass})` : ''}</td><td>${h.state}</td></tr>`)}</tbody></table>` : ''}
      <div class="btn-row"><button type="button" class="btn btn-sm" data-act="log">${log == null ? 'Show log' : 'Refresh log'}</button></div>
      ${log != null ? html`<pre class="json log" tabindex="0" aria-label="Instance log">${log || '(empty)'}</pre>` : ''}
    </aside>`;
  }

  function draw() {
    if (error && !groups) { render(el, html`<p class="error" role="alert">Cannot load the server groups: ${error}</p>`); return; }
    if (!groups) return;
    const byCluster = new Map();
    for (const sg of groups) {
      const c = clusterOf(sg);
      if (!byCluster.has(c)) byCluster.set(c, new Map());
      const rk = `${sg.account} · ${sg.region}`;
      const m = byCluster.get(c);
      if (!m.has(rk)) m.set(rk, []);
      m.get(rk).push(sg);
    }
    const openMenus = new Set([...el.querySelectorAll('details.sg-menu[open]')].map((d) => d.closest('[data-sg]').dataset.sg));
    const focusKey = document.activeElement && el.contains(document.activeElement) ? focusSignature(document.activeElement) : null;
    render(el, html`<div class="toolbar"><h2>Clusters</h2><span class="muted">${groups.length} server group${groups.length === 1 ? '' : 's'}</span></div>
      <div class="clusters-layout"><div class="clusters">
      ${byCluster.size ? [...byCluster].sort((a, b) => a[0].localeCompare(b[0])).map(([c, regions]) => html`<section class="cluster" aria-label="Cluster ${c}">
        <h3 class="cluster-name">${c}</h3>
        ${[...regions].map(([rk, sgs]) => {
          sgs.sort((a, b) => (b.createdTime || 0) - (a.createdTime || 0));
          return html`<div class="region"><div class="region-name">${rk}</div><div class="sgs">${sgs.map((sg) => sgHTML(sg, sgs))}</div></div>`;
        })}</section>`)
        : html`<div class="empty-state"><p>No server groups in ${app}. Deploy one with a pipeline's deploy stage.</p></div>`}
      </div>${detailHTML()}</div>`);
    for (const k of openMenus) { const d = el.querySelector(`[data-sg="${CSS.escape(k)}"] details.sg-menu`); if (d) d.open = true; }
    if (focusKey) { const f = el.querySelector(focusKey); if (f) f.focus(); }
  }

  // A selector that finds the same control after a redraw (polling must
  // not steal keyboard focus).
  function focusSignature(a) {
    const parts = [];
    for (const k of ['act', 'sg', 'inst']) if (a.dataset && a.dataset[k]) parts.push(`[data-${k}="${CSS.escape(a.dataset[k])}"]`);
    return parts.length ? parts.join('') : null;
  }

  async function load() {
    try {
      groups = (await get(`/applications/${enc(app)}/serverGroups`)) || [];
      error = null;
      if (selected) {
        const sg = groups.find((g) => g.account === selected.account && g.region === selected.region && (g.instances || []).some((i) => i.id === selected.id));
        if (sg) selected.sg = sg; else { selected = null; detail = null; log = null; }
      }
    } catch (e) {
      error = e.message;
    }
    if (!busy && alive) draw();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!alive) return;
      if (!document.hidden) await load();
      if (alive) schedule();
    }, POLL_MS);
  }

  async function action(label, fn) {
    busy = true;
    toast(`${label}…`);
    try {
      await fn();
      toast(`${label}: done`);
    } catch (e) {
      toast(`${label}: ${e.message}`, 'error');
    } finally {
      busy = false;
      load();
    }
  }

  on(el, 'click', '[data-act]', async (e, t) => {
    const a = t.dataset.act;
    const sg = t.dataset.sg && find(t.dataset.sg);
    if (a === 'instance' && sg) {
      selected = { account: sg.account, region: sg.region, id: t.dataset.inst, sg };
      detail = null; log = null;
      draw();
      try {
        detail = await get(`/instances/${enc(sg.account)}/${enc(sg.region)}/${enc(selected.id)}`);
      } catch { detail = null; }
      draw();
      const close = $('[data-act="close-instance"]', el);
      if (close) close.focus();
      return;
    }
    if (a === 'close-instance') { selected = null; detail = null; log = null; draw(); return; }
    if (a === 'log' && selected) {
      try {
        const c = await get(`/instances/${enc(selected.account)}/${enc(selected.region)}/${enc(selected.id)}/console?cloudProvider=local`);
        log = (c && c.output) || '';
      } catch (err) { log = `Cannot read the log: ${err.message}`; }
      draw();
      return;
    }
    if (!sg) return;
    const n = (sg.instances || []).length;
    if (a === 'enable') {
      if (!await confirmDialog({ title: `Enable ${sg.name}?`, message: `Its ${n} instance(s) go back into its load balancers and take traffic.`, confirmLabel: 'Enable' })) return;
      return action(`Enable ${sg.name}`, () => sga.enable(app, sg));
    }
    if (a === 'disable') {
      if (!await confirmDialog({ title: `Disable ${sg.name}?`, message: `Its ${n} instance(s) leave its load balancers and take no more traffic.`, confirmLabel: 'Disable', danger: true })) return;
      return action(`Disable ${sg.name}`, () => sga.disable(app, sg));
    }
    if (a === 'destroy') {
      // A group still taking traffic needs its name typed, as in Deck.
      if (!await confirmDialog({ title: `Destroy ${sg.name}?`, danger: true, confirmLabel: 'Destroy',
        message: `${sg.isDisabled ? '' : 'It is ENABLED and taking traffic. '}Its ${n} instance(s) are stopped and the server group is deleted.`,
        typeToConfirm: sg.isDisabled ? null : sg.name })) return;
      return action(`Destroy ${sg.name}`, () => sga.destroy(app, sg));
    }
    if (a === 'resize') {
      const c = sg.capacity || {};
      const v = await sga.ask(`Resize ${sg.name}`, html`<div class="grid3">
        <div class="field"><label for="rs-min">Min</label><input id="rs-min" name="min" type="number" min="0" required value="${c.min ?? 0}"></div>
        <div class="field"><label for="rs-des">Desired</label><input id="rs-des" name="desired" type="number" min="0" required value="${c.desired ?? 0}"></div>
        <div class="field"><label for="rs-max">Max</label><input id="rs-max" name="max" type="number" min="0" required value="${c.max ?? 0}"></div></div>`, 'Resize');
      if (!v) return;
      const cap = { min: Number(v.min), desired: Number(v.desired), max: Number(v.max) };
      return action(`Resize ${sg.name}`, () => sga.resize(app, sg, cap));
    }
    if (a === 'rollback') {
      // Only older groups of the same cluster and region, newest first: the
      // default is the one it replaced (Deck's "previous server group").
      const older = groups.filter((o) => clusterOf(o) === clusterOf(sg) && o.region === sg.region && o.account === sg.account
        && o.name !== sg.name && (o.createdTime || 0) < (sg.createdTime || 0)).sort((x, y) => (y.createdTime || 0) - (x.createdTime || 0));
      if (!older.length) { toast(`${sg.name} has no older server group to roll back to`, 'error'); return; }
      const v = await sga.ask(`Rollback ${sg.name}`, html`<div class="field"><label for="rb-to">Restore to</label>
        <select id="rb-to" name="restore">${older.map((o, i) => html`<option value="${o.name}" ${i === 0 ? 'selected' : ''}>${o.name}${i === 0 ? ' (previous)' : ''}${o.isDisabled ? ' · disabled' : ''} · ${(o.instances || []).length} instance(s)</option>`)}</select>
        <p class="hint">Enables the chosen server group, then disables ${sg.name}.</p></div>`, 'Rollback');
      if (!v) return;
      return action(`Rollback ${sg.name}`, () => sga.rollback(app, sg, v.restore));
    }
  });

  const unsub = ctx.live ? ctx.live.subscribe((type) => { if (type === 'task') load(); }) : () => {};
  render(el, html`<p class="loading">Loading clusters…</p>`);
  load().then(schedule);
  return { unmount() { alive = false; clearTimeout(timer); unsub(); } };
}
