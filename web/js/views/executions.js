// executions.js - the PIPELINES view (Deck's executions): every pipeline
// of the application with its executions, newest first, each a row with a
// stage bar; a page of PAGE executions per pipeline, "Show more" pages on
// (GET /applications/{app}/pipelines?startIndex=&pipelineConfigIds=).
//
// Live: the server's events carry execution summaries; a changed row is
// re-rendered alone (batched per animation frame), an open details panel
// re-fetches its one execution. Under the stream, a slow re-read of the
// executions still shown as active catches any change the stream missed
// (poll). Every click is handled by one delegated
// listener on the view.
//
// First paint: only the first screen. Pages of executions arrive one per
// pipeline; the view paints once the groups that fill the window have
// theirs, with the other groups as headers, then fills those in small
// steps between frames as their pages come (a group's rows are in the
// page only once "drawn"; a click, a link or a live change draws it at
// once). Ten thousand executions take a first screen of about fifty rows.

import { html, render, replaceWith, on, toast, $ } from '../dom.js';
import { api, get, enc } from '../api.js';
import { rowHTML } from './execRow.js';
import { detailsHTML, defaultStage } from './execDetails.js';
import * as manual from './manualExecution.js';
import { confirmDialog } from '../dialogs.js';
import { PAGE, take, page as readPage, orphans } from './executionsData.js';
import { isActive } from '../format.js';

export { PAGE };

// Heights the first screen is reckoned in: a group's header, a row (the
// rows' contain-intrinsic-size).
const GROUP_PX = 60, ROW_PX = 52;

export function mount(el, ctx) {
  const app = ctx.app;
  const base = `#/applications/${enc(app)}/executions`;
  const s = {
    configs: [],
    execs: new Map(),        // id -> summary
    groups: new Map(),       // key -> {key, name, config, ids: [], more}
    open: null,              // {id, stage, tab, exec (full), loading, dirty}
    filter: '',              // free text, lower case
    statuses: new Set(),     // shown statuses (empty: all)
    triggerType: '',         // shown trigger type ('' : all)
    running: false,          // only active executions
    collapsed: new Set(JSON.parse(localStorage.getItem(`mz:collapsed:${app}`) || '[]')),
    hay: new Map(),          // id -> lower-case text the filter searches
    pending: new Map(),      // summaries waiting for the next frame
    during: null,            // ids of summaries received while the list is read
    readStarted: false,      // the list has been asked for
    helloAtLoad: 0,          // the stream's hellos when the list was last read
    reloadAfter: false, // the stream was confirmed while a read ran
    frame: 0,
    loaded: false,           // every page is in (links, paging, reloads act from here)
    gen: 0,                  // the current read (a newer one supersedes)
    rendered: false,         // the groups are on the page
    drawn: new Set(),        // keys of groups whose rows are on the page
    restTimer: 0,
    complete: false,         // every group drawn
    dom: 0,                  // counts re-renders of rows (applyFilter's answers hold within one)
    heard: new Map(),        // id -> when its summary was last taken (ms)
    polling: false,          // a safety-net read is in flight
  };

  const groupKey = (e) => e.pipelineConfigId || `name:${e.name}`;
  const byNewest = (a, b) => (b.buildTime || 0) - (a.buildTime || 0) || (a.id < b.id ? 1 : -1);

  function groupFor(e) {
    const key = groupKey(e);
    let g = s.groups.get(key);
    if (!g) {
      g = { key, name: e.name || '(unnamed)', config: null, ids: [], more: false, ready: true };
      s.groups.set(key, g);
    }
    return g;
  }

  // A summary that arrives while the list is being read may be newer or
  // older than what the read returns, and the read replaces it: so the
  // executions it named are fetched once more after the read (a fetch made
  // after the event was received is at least as new as the event), or a
  // pipeline that finished during a resync would show RUNNING for good.
  //
  // Resolves once the groups that fill the first screen have their pages
  // (all of them unless firstScreen), with {rest}: the promise of the rest
  // (in an object: an async function's result would wait for it).
  async function load(firstScreen = false) {
    s.readStarted = true;
    s.helloAtLoad = ctx.live ? ctx.live.hellos : 1;
    const gen = ++s.gen;
    const during = new Set();
    s.during = during;
    const done = () => { if (s.during === during) s.during = null; };
    let plan;
    try {
      plan = await take(app);
    } catch (e) { done(); throw e; }
    if (gen !== s.gen) return new Promise(() => {}); // a newer read took over
    s.loaded = false;
    s.complete = false;
    s.configs = plan.configs || [];
    s.groups.clear();
    s.execs.clear();
    s.heard.clear();
    for (const c of s.configs) s.groups.set(c.id, { key: c.id, name: c.name, config: c, ids: [], more: false, ready: false });
    for (const e of plan.orphans) {
      s.execs.set(e.id, e);
      groupFor(e).ids.push(e.id);
    }
    // A page merges into its group as it comes (live summaries already
    // there stay listed; the catch-up below refreshes them).
    const take1 = (c) => plan.pages.get(c.id).then((page) => {
      if (gen !== s.gen) return;
      const g = s.groups.get(c.id);
      const now = Date.now();
      for (const e of page) {
        if (!s.execs.has(e.id)) g.ids.push(e.id);
        s.execs.set(e.id, e);
        s.heard.set(e.id, now);
      }
      g.ids.sort((a, b) => byNewest(s.execs.get(a), s.execs.get(b)));
      g.more = page.length >= PAGE;
      g.ready = true;
      if (s.rendered) arrived(g);
    });
    const arrivals = s.configs.map(take1);
    if (firstScreen) {
      let px = 0;
      for (let i = 0; i < s.configs.length && px < innerHeight; i++) {
        await arrivals[i];
        const g = s.groups.get(s.configs[i].id);
        px += GROUP_PX + (s.collapsed.has(g.key) ? 0 : Math.max(1, g.ids.length) * ROW_PX);
      }
      if (gen !== s.gen) return new Promise(() => {});
    }
    const rest = Promise.all(arrivals).then(() => {
      done();
      if (gen !== s.gen) return new Promise(() => {});
      if (during.size) setTimeout(() => catchUp(during), 0);
      s.loaded = true;
      // the stream was confirmed while this read ran: read again
      if (s.reloadAfter) { s.reloadAfter = false; setTimeout(reload, 0); }
    }, (err) => { done(); throw err; });
    if (!firstScreen) await rest;
    return { rest };
  }

  // ---- filters ----------------------------------------------------------

  // What the free text searches: pipeline, execution id, trigger user,
  // type and source, parameter values, branch, commit and build number.
  function hay(e) {
    let h = s.hay.get(e.id);
    if (h && h.e === e) return h.text;
    const t = e.trigger || {};
    const text = [e.name, e.id, t.user, t.type, t.source, t.branch, t.hash, t.buildNumber, t.rerunOf,
      ...Object.entries(t.parameters || {}).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)]
      .filter((x) => x != null).join(' ').toLowerCase();
    s.hay.set(e.id, { e, text });
    return text;
  }
  const filtering = () => !!(s.filter || s.statuses.size || s.triggerType || s.running);
  function shown(e, nameMatches) {
    if (s.running && !isActive(e.status)) return false;
    if (s.statuses.size && !s.statuses.has(e.status)) return false;
    if (s.triggerType && String((e.trigger || {}).type || 'manual') !== s.triggerType) return false;
    if (s.filter && !nameMatches && !hay(e).includes(s.filter)) return false;
    return true;
  }
  // Hides rows and groups that do not match; updates each group's count.
  // A keystroke touches only the rows whose answer changed: a group keeps
  // the answers it last put on the page (g.shown) with the page's
  // generation then (s.dom, counted up by every re-render of rows), so
  // after a re-render the next pass sets every row again.
  function applyFilter(only = null) {
    const on = filtering();
    const openId = s.open ? s.open.id : null;
    const openKey = openId && s.execs.has(openId) ? groupKey(s.execs.get(openId)) : null;
    let total = 0;
    for (const g of only ? [only] : s.groups.values()) {
      const sec = document.getElementById(`g-${g.key}`);
      if (!sec) continue;
      const nameMatches = !!s.filter && g.name.toLowerCase().includes(s.filter);
      // Decide first, touch the page after: the rows of a group that ends
      // up hidden are left as they are (a hidden section costs no layout;
      // they are set again when it shows).
      const ids = g.ids;
      const oks = new Uint8Array(ids.length);
      let n = 0;
      for (let i = 0; i < ids.length; i++) {
        if (!on || ids[i] === openId || shown(s.execs.get(ids[i]), nameMatches)) { oks[i] = 1; n++; }
      }
      total += n;
      const hide = on && !n && !nameMatches && g.key !== openKey;
      if (sec.hidden !== hide) sec.hidden = hide;
      if (!hide) {
        const was = g.shown && g.shown.dom === s.dom && g.shown.oks.length === oks.length ? g.shown.oks : null;
        for (let i = 0; i < ids.length; i++) {
          if (was && was[i] === oks[i]) continue;
          const row = document.getElementById(`x-${ids[i]}`);
          if (!row) continue;
          const ok = oks[i] === 1;
          if (row.hidden === ok) row.hidden = !ok;
          const d = row.nextElementSibling;
          if (d && d.classList.contains('details-row') && d.hidden === ok) d.hidden = !ok;
        }
        g.shown = { dom: s.dom, oks };
      }
      const c = sec.querySelector('.count');
      const text = on ? `${n} of ${ids.length}${g.more ? '+' : ''}` : `${ids.length}${g.more ? '+' : ''}`;
      if (c && c.textContent !== text) c.textContent = text;
    }
    const box = $('.filter-count', el);
    if (box && !only) box.textContent = on ? `${total} shown` : '';
  }

  // ---- rendering --------------------------------------------------------

  const openId = () => (s.open ? s.open.id : null);
  const openStage = () => (s.open && s.open.exec ? (s.open.stage || (defaultStage(s.open.exec) || {}).id) : null);

  function detailsRow(id) {
    const o = s.open;
    if (!o || o.id !== id) return '';
    const canRerun = !!(o.exec && s.configs.some((c) => c.id === o.exec.pipelineConfigId || c.name === o.exec.name));
    return html`<li class="details-row" id="d-${id}">${o.exec ? detailsHTML(o.exec, openStage(), o.tab, base, canRerun)
      : html`<p class="muted">${o.error || 'Loading the execution…'}</p>`}</li>`;
  }

  // full: with its rows (the group is "drawn"); else its header and a
  // placeholder of about the rows' height, filled in soon after.
  function groupHTML(g, full = true) {
    const cfg = g.config;
    const collapsed = s.collapsed.has(g.key);
    if (full) s.drawn.add(g.key); else s.drawn.delete(g.key);
    const rows = collapsed || !full ? [] : g.ids.map((id) => html`${rowHTML(s.execs.get(id), base, openId(), openStage())}${detailsRow(id)}`);
    const count = g.ready ? `${g.ids.length}${g.more ? '+' : ''}` : '…';
    return html`<section class="group${collapsed ? ' collapsed' : ''}" id="g-${g.key}" data-group="${g.key}" aria-label="Pipeline ${g.name}">
      <header class="group-head">
        <button type="button" class="collapse" data-act="collapse" data-group="${g.key}" aria-expanded="${String(!collapsed)}" aria-label="${collapsed ? 'Expand' : 'Collapse'} ${g.name}">${collapsed ? '▸' : '▾'}</button>
        <h2>${g.name}</h2><span class="count badge-count" title="executions loaded">${count}</span>
        ${cfg && cfg.disabled ? html`<span class="badge st-canceled">DISABLED</span>` : ''}
        ${cfg && cfg.locked && cfg.locked.ui ? html`<span class="muted" title="${cfg.locked.description || ''}"><svg class="lock-icon" viewBox="0 0 16 16" width="13" height="13" aria-hidden="true"><path fill="currentColor" d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z"/></svg> ${cfg.managedBy ? 'managed in git' : 'locked'}</span>` : ''}
        ${cfg && (cfg.triggers || []).length ? html`<span class="muted">${cfg.triggers.length} trigger${cfg.triggers.length > 1 ? 's' : ''}</span>` : ''}
        <span class="spacer"></span>
        ${cfg ? html`<a class="btn btn-sm btn-link" href="${base}/configure/${enc(cfg.id)}">Configure</a>
          <button type="button" class="btn btn-sm btn-primary" data-act="start" data-group="${g.key}" data-need="EXECUTE">Start Manual Execution</button>` : html`<span class="muted">(pipeline deleted)</span>`}
      </header>
      ${collapsed ? '' : !full ? html`<div class="rows-pending" style="height:${(g.ready ? Math.max(1, g.ids.length) : PAGE) * ROW_PX}px"><span class="muted">Loading…</span></div>`
        : g.ids.length ? html`<ol class="exec-list">${rows}</ol>` : html`<p class="muted empty">No executions yet.</p>`}
      ${g.more && !collapsed && full ? html`<button type="button" class="btn btn-sm more" data-act="more" data-group="${g.key}">Show ${PAGE} more</button>` : ''}
    </section>`;
  }

  function pinnedHTML() {
    // Details asked for (a link) of an execution outside the loaded pages.
    const o = s.open;
    if (!o || s.execs.has(o.id)) return '';
    if (!o.exec) return html`<section class="group pinned"><p class="muted">${o.error || 'Loading the execution…'}</p></section>`;
    return html`<section class="group pinned" aria-label="Selected execution"><header class="group-head"><h2>${o.exec.name}</h2></header>
      <ol class="exec-list">${rowHTML(o.exec, base, o.id, openStage())}${detailsRow(o.id)}</ol></section>`;
  }

  const STATUSES = ['RUNNING', 'PAUSED', 'NOT_STARTED', 'SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED'];
  function filtersHTML() {
    const types = new Set(['manual', 'git', 'cron', 'webhook', 'pipeline', 'jenkins', 'docker']);
    for (const e of s.execs.values()) types.add(String((e.trigger || {}).type || 'manual'));
    return html`<div class="filters" role="group" aria-label="Execution filters">
      <label class="check"><input type="checkbox" data-filter="running" ${s.running ? 'checked' : ''}> Show only running</label>
      <fieldset class="status-filter"><legend class="sr-only">Status</legend>${STATUSES.map((st) =>
        html`<label class="check st-chip"><input type="checkbox" data-filter="status" value="${st}" ${s.statuses.has(st) ? 'checked' : ''}> ${st.replace('_', ' ').toLowerCase()}</label>`)}</fieldset>
      <label class="inline">Trigger <select data-filter="trigger"><option value="">any</option>${[...types].sort().map((t) =>
        html`<option value="${t}" ${s.triggerType === t ? 'selected' : ''}>${t}</option>`)}</select></label>
      <span class="filter-count muted" aria-live="polite"></span>
      <button type="button" class="btn btn-sm btn-link" data-act="clear-filters" ${filtering() ? '' : 'hidden'}>Clear filters</button>
    </div>`;
  }

  // The groups that fill the window are drawn; the rest follow.
  function renderAll() {
    const groups = [...s.groups.values()];
    s.drawn.clear();
    s.rendered = true;
    let px = 0;
    const full = new Set();
    for (const g of groups) {
      if (px >= innerHeight || !g.ready) break;
      full.add(g);
      px += GROUP_PX + (s.collapsed.has(g.key) ? 0 : Math.max(1, g.ids.length) * ROW_PX);
    }
    render(el, html`
      <div class="toolbar">
        <label class="search"><span class="sr-only">Filter executions</span>
          <input type="search" placeholder="Filter: pipeline, execution id, parameter, user" value="${s.filter}" data-act="filter" autocomplete="off"></label>
        <span class="spacer"></span>
        <a class="btn" href="${base}/configure/new" data-need="WRITE">Create Pipeline</a>
        ${s.configs.length ? html`<button type="button" class="btn btn-primary" data-act="start-any" data-need="EXECUTE">Start Manual Execution</button>` : ''}
      </div>
      ${filtersHTML()}
      <div class="pinned-host">${pinnedHTML()}</div>
      <div class="groups">${groups.length ? groups.map((g) => groupHTML(g, full.has(g)))
        : html`<div class="empty-state"><p>No pipelines in ${app} yet.</p><a class="btn btn-primary" href="${base}/configure/new">Create a pipeline</a></div>`}</div>`);
    s.dom++;
    if (filtering()) applyFilter();
    s.complete = false;
    drawSoon();
  }

  // A group's page came after the first paint: drawn when its turn comes
  // (at once if it holds the execution a link asked for).
  function arrived(g) {
    if (s.drawn.has(g.key) || (s.open && g.ids.includes(s.open.id))) renderGroup(g);
    else if (filtering()) applyFilter(g); // its count and whether it shows
    else {
      const c = document.querySelector(`#g-${CSS.escape(g.key)} .count`);
      if (c) c.textContent = `${g.ids.length}${g.more ? '+' : ''}`;
    }
    drawSoon();
  }

  // Draws the groups not drawn yet whose pages are in, in order, a few at
  // a time between frames (each step stops after about 12 ms, so typing
  // and clicks are answered meanwhile). Once every group is drawn the view
  // is complete (the mark the benchmark and tests read).
  function drawSoon() {
    if (!s.restTimer && !s.complete) s.restTimer = setTimeout(drawRest, 0);
  }
  function drawRest() {
    s.restTimer = 0;
    const t0 = performance.now();
    for (const g of s.groups.values()) {
      if (s.drawn.has(g.key) || !g.ready) continue;
      if (!document.getElementById(`g-${g.key}`)) continue;
      renderGroup(g);
      if (performance.now() - t0 > 12) { drawSoon(); return; }
    }
    if (!s.loaded || [...s.groups.values()].some((g) => !s.drawn.has(g.key) && document.getElementById(`g-${g.key}`))) return;
    s.complete = true;
    if (filtering()) applyFilter();
    performance.mark('mz:executions-complete');
    requestAnimationFrame(() => requestAnimationFrame(() => { el.dataset.complete = 'true'; }));
  }

  function renderGroup(g) {
    if (!s.rendered) return;
    s.dom++;
    const old = document.getElementById(`g-${g.key}`);
    if (old) replaceWith(old, groupHTML(g));
    else {
      const host = $('.groups', el);
      if (!host) return renderAll();
      const empty = $('.empty-state', host);
      if (empty) empty.remove();
      host.insertAdjacentHTML('beforeend', groupHTML(g).s);
    }
    if (filtering()) applyFilter(g);
  }

  function renderRow(id) {
    const e = s.execs.get(id) || (s.open && s.open.id === id ? s.open.exec : null);
    const row = document.getElementById(`x-${id}`);
    if (e && row) {
      s.dom++;
      const hidden = row.hidden;
      const n = replaceWith(row, rowHTML(e, base, openId(), openStage()));
      if (filtering() && s.execs.has(id)) {
        const g = s.groups.get(groupKey(e));
        n.hidden = !(shown(e, !!g && !!s.filter && g.name.toLowerCase().includes(s.filter)) || (s.open && s.open.id === id));
      } else if (hidden) n.hidden = false;
    }
  }

  function renderDetails() {
    const o = s.open;
    if (!o) return;
    if (!s.execs.has(o.id)) {
      render($('.pinned-host', el), pinnedHTML());
      return;
    }
    const g = s.groups.get(groupKey(s.execs.get(o.id)));
    if (g && !s.drawn.has(g.key)) renderGroup(g);
    const d = document.getElementById(`d-${o.id}`);
    const row = document.getElementById(`x-${o.id}`);
    if (!row) return;
    s.dom++;
    if (d) replaceWith(d, detailsRow(o.id));
    else row.insertAdjacentHTML('afterend', detailsRow(o.id).s);
    renderRow(o.id);
    if (o.exec) { reveal(o); pollLog(); }
  }

  // A linked execution is scrolled to and flashed once it is on the page
  // (notifications link to it; it may be far down its group).
  function reveal(o) {
    if (!o.scroll) return;
    const row = document.getElementById(`x-${o.id}`);
    if (!row) return;
    o.scroll = false;
    s.dom++;
    row.hidden = false;
    const r = row.getBoundingClientRect();
    if (r.top < 0 || r.top > innerHeight - 80) row.scrollIntoView({ block: 'start' });
    row.classList.add('flash');
    setTimeout(() => { const x = document.getElementById(`x-${o.id}`); if (x) x.classList.remove('flash'); }, 2500);
  }

  // An execution linked but beyond the loaded pages: its group pages on
  // until it is there (newest first, so until one as old is loaded).
  async function pageTo(o) {
    const e = o.exec;
    const g = e && s.groups.get(groupKey(e));
    if (!g || !g.config || s.execs.has(o.id)) return;
    s.collapsed.delete(g.key);
    for (let i = 0; i < 40 && g.more && !s.execs.has(o.id) && s.open === o; i++) {
      const page = await readPage(app, g.key, g.ids.length);
      if (s.groups.get(g.key) !== g) return; // the list was read again meanwhile
      for (const x of page) if (!s.execs.has(x.id)) { s.execs.set(x.id, x); g.ids.push(x.id); }
      g.more = page.length >= PAGE;
    }
    if (s.open !== o) return;
    g.ids.sort((a, b) => byNewest(s.execs.get(a), s.execs.get(b)));
    render($('.pinned-host', el), '');
    renderGroup(g);
    renderDetails();
  }

  // runJob's log while the stage runs (the log is plain text, not JSON).
  let logTimer = 0;
  async function pollLog() {
    clearTimeout(logTimer);
    const pre = $('[data-joblog]', el);
    if (!pre) return;
    try {
      const res = await fetch(pre.dataset.joblog, { headers: { 'X-RateLimit-App': 'deck' } });
      const text = await res.text();
      const cur = $('[data-joblog]', el);
      if (cur) {
        const atEnd = cur.scrollTop + cur.clientHeight >= cur.scrollHeight - 4;
        cur.textContent = res.ok ? (text || '(empty so far)') : `Cannot read the log: HTTP ${res.status}`;
        if (atEnd) cur.scrollTop = cur.scrollHeight;
      }
    } catch { /* the next tick tries again */ }
    const again = $('[data-joblog]', el);
    if (again && again.dataset.live === 'true') logTimer = setTimeout(pollLog, 2000);
  }

  // ---- live updates -----------------------------------------------------

  function onSummary(e) {
    if (e.application !== app) return;
    if (s.during) s.during.add(e.id);
    s.pending.set(e.id, e);
    if (!s.frame) s.frame = requestAnimationFrame(flush);
  }

  async function catchUp(ids) {
    for (const id of ids) {
      try { onSummary(await get(`/pipelines/${enc(id)}`)); } catch { /* the next event or resync brings it */ }
    }
  }

  // A safety net under the event stream. Events are the live path; every
  // POLL_MS this re-reads, in one request, the executions shown as active
  // whose summary has not been heard of for that long, and takes those that
  // moved on. A lost event, a proxy that holds the stream back, or a race
  // between a read and the stream would otherwise leave an execution
  // RUNNING on the page for good (Deck polls its running executions too).
  // Nothing is read while every shown execution is finished, or while the
  // tab is hidden.
  const POLL_MS = 4000, POLL_BATCH = 100;
  const sig = (e) => `${e.status}|${e.endTime || ''}|${(e.stages || []).map((x) => x.status).join(',')}`;
  async function poll() {
    pollTimer = setTimeout(poll, POLL_MS);
    if (document.hidden || !s.loaded || s.polling) return;
    const now = Date.now();
    const ids = [];
    for (const e of s.execs.values()) {
      if (isActive(e.status) && now - (s.heard.get(e.id) || 0) >= POLL_MS) ids.push(e.id);
    }
    const o = s.open;
    if (o && o.exec && !s.execs.has(o.id) && isActive(o.exec.status)) ids.push(o.id);
    if (!ids.length) return;
    s.polling = true;
    try {
      for (let i = 0; i < ids.length; i += POLL_BATCH) {
        const batch = ids.slice(i, i + POLL_BATCH);
        const got = (await get(`/executions?executionIds=${batch.map(enc).join(',')}&expand=false`)) || [];
        const at = Date.now();
        for (const e of got) {
          const had = s.execs.get(e.id) || (s.open && s.open.id === e.id ? s.open.exec : null);
          if (had && sig(had) === sig(e)) s.heard.set(e.id, at);
          else onSummary(e);
        }
      }
    } catch { /* the next tick tries again */ } finally {
      s.polling = false;
    }
  }
  let pollTimer = setTimeout(poll, POLL_MS);

  // An execution of a pipeline saved since the list was read: read the
  // configs again so its group gets its Start and Configure buttons.
  async function refreshConfigs() {
    if (s.configsLoading) return;
    s.configsLoading = true;
    try {
      s.configs = (await get(`/applications/${enc(app)}/pipelineConfigs`)) || [];
      for (const c of s.configs) {
        const g = s.groups.get(c.id);
        if (g && !g.config) { g.config = c; g.name = c.name; renderGroup(g); }
      }
    } catch { /* the next change tries again */ } finally {
      s.configsLoading = false;
    }
  }

  function flush() {
    s.frame = 0;
    if (!s.rendered) { s.frame = requestAnimationFrame(flush); return; } // after the first paint
    const touched = new Set();
    const now = Date.now();
    for (const e of s.pending.values()) {
      const known = s.execs.has(e.id);
      s.execs.set(e.id, e);
      s.heard.set(e.id, now);
      const g = groupFor(e);
      if (!known) {
        if (!g.config && e.pipelineConfigId) refreshConfigs();
        g.ids.push(e.id);
        g.ids.sort((a, b) => byNewest(s.execs.get(a), s.execs.get(b)));
        touched.add(g);
      } else if (!touched.has(g)) {
        renderRow(e.id);
      }
      if (s.open && s.open.id === e.id) refreshDetails();
    }
    s.pending.clear();
    for (const g of touched) renderGroup(g);
    if (s.open && !s.execs.has(s.open.id)) renderDetails();
    else if (s.open) render($('.pinned-host', el), ''); // now shown in its group
  }

  // Fetches the open execution; when its summary changes while a fetch is
  // in flight, fetches once more after it.
  async function refreshDetails() {
    const o = s.open;
    if (!o) return;
    if (o.loading) { o.dirty = true; return; }
    o.loading = true;
    try {
      const full = await get(`/pipelines/${enc(o.id)}`);
      if (s.open !== o) return;
      o.exec = full;
      o.error = null;
      if (!s.execs.has(o.id)) pageTo(o);
    } catch (err) {
      if (s.open !== o) return;
      o.error = err.status === 404 ? `Execution ${o.id} not found.` : err.message;
    } finally {
      o.loading = false;
    }
    renderDetails();
    if (o.dirty) { o.dirty = false; refreshDetails(); }
  }

  function applyRoute(c) {
    const rest = c.rest || [];
    const id = rest[0] === 'details' ? rest[1] : null;
    const stage = c.query.get('stage');
    const prev = s.open;
    if (!id) {
      s.open = null;
      if (prev) {
        const d = document.getElementById(`d-${prev.id}`);
        if (d) d.remove();
        renderRow(prev.id);
        render($('.pinned-host', el), '');
      }
      return;
    }
    if (prev && prev.id === id) {
      prev.stage = stage;
      renderDetails();
      return;
    }
    if (prev) applyRoute({ rest: [], query: new URLSearchParams() });
    s.open = { id, stage, tab: 'tasks', exec: null, loading: false, dirty: false, scroll: true };
    const known = s.execs.get(id);
    if (known && s.collapsed.has(groupKey(known))) { s.collapsed.delete(groupKey(known)); renderGroup(s.groups.get(groupKey(known))); }
    renderDetails();
    refreshDetails();
  }

  // ---- actions ----------------------------------------------------------

  async function act(label, fn) {
    try {
      await fn();
    } catch (err) {
      toast(`${label}: ${err.message}`, 'error');
    }
  }

  // Always through the dialog, parameters or not: a deploy is never one
  // stray click away (Deck does the same).
  async function start(cfg) {
    const id = await manual.open(app, [cfg], cfg.id);
    if (id) { toast(`Started ${cfg.name}`); ensureShown(id); }
  }

  // The live event shows a new execution; only when the stream is down is
  // it fetched (and the stream's next "hello" resyncs the list anyway).
  async function ensureShown(id) {
    if ((ctx.live && ctx.live.connected) || s.execs.has(id) || !s.loaded) return;
    try {
      const full = await get(`/pipelines/${enc(id)}`);
      if (!s.execs.has(id)) onSummary(full);
    } catch { /* it comes with the next reload */ }
  }

  async function more(g) {
    await act('Show more', async () => {
      const page = await readPage(app, g.key, g.ids.length);
      if (s.groups.get(g.key) !== g) return; // the list was read again meanwhile
      for (const e of page) {
        if (!s.execs.has(e.id)) { s.execs.set(e.id, e); g.ids.push(e.id); }
      }
      g.ids.sort((a, b) => byNewest(s.execs.get(a), s.execs.get(b)));
      g.more = page.length >= PAGE;
      renderGroup(g);
    });
  }

  on(el, 'click', '[data-act]', async (e, t) => {
    const a = t.dataset.act;
    const id = t.dataset.id;
    if (a === 'filter' || t.tagName === 'FORM') return;
    e.preventDefault();
    const g = t.dataset.group && s.groups.get(t.dataset.group);
    if (a === 'start' && g && g.config) return start(g.config);
    if (a === 'start-any') {
      const nid = await manual.open(app, s.configs, null);
      if (nid) { toast('Started'); ensureShown(nid); }
      return;
    }
    if (a === 'more' && g) { t.disabled = true; return more(g); }
    if (a === 'collapse' && g) {
      if (s.collapsed.has(g.key)) s.collapsed.delete(g.key); else s.collapsed.add(g.key);
      localStorage.setItem(`mz:collapsed:${app}`, JSON.stringify([...s.collapsed]));
      renderGroup(g);
      const b = el.querySelector(`[data-act="collapse"][data-group="${CSS.escape(g.key)}"]`);
      if (b) b.focus();
      return;
    }
    if (a === 'clear-filters') {
      s.filter = ''; s.statuses.clear(); s.triggerType = ''; s.running = false;
      const box = $('.filters', el);
      if (box) replaceWith(box, filtersHTML());
      $('[data-act="filter"]', el).value = '';
      return applyFilter();
    }
    if (a === 'rerun') return rerun(id);
    if (a === 'cancel') {
      const e2 = s.execs.get(id);
      if (!await confirmDialog({ title: `Cancel ${e2 ? e2.name : 'this execution'}?`, message: `Execution ${id} stops; stages that are running are canceled.`, confirmLabel: 'Cancel execution', danger: true })) return;
      return act('Cancel', () => api('PUT', `/pipelines/${enc(id)}/cancel`));
    }
    if (a === 'pause') return act('Pause', () => api('PUT', `/pipelines/${enc(id)}/pause`));
    if (a === 'resume') return act('Resume', () => api('PUT', `/pipelines/${enc(id)}/resume`));
    if (a === 'skip-wait') return act('Skip wait', () => api('PATCH', `/pipelines/${enc(id)}/stages/${enc(t.dataset.stage)}`, { skipRemainingWait: true }));
    if (a === 'restart') {
      return act('Restart', async () => {
        await api('PUT', `/pipelines/${enc(id)}/stages/${enc(t.dataset.stage)}/restart`, {});
        toast('Stage restarted');
      });
    }
    if (a === 'stage-tab' && s.open) {
      s.open.tab = t.dataset.tab;
      renderDetails();
      const tab = el.querySelector(`[data-act="stage-tab"][data-tab="${t.dataset.tab}"]`);
      if (tab) tab.focus();
    }
  });

  // Re-run: the dialog of its pipeline, filled with the parameters it ran
  // with; the trigger names the execution it repeats (rerunOf).
  async function rerun(id) {
    const ex = s.open && s.open.id === id ? s.open.exec : s.execs.get(id);
    if (!ex) return;
    const cfg = s.configs.find((c) => c.id === ex.pipelineConfigId) || s.configs.find((c) => c.name === ex.name);
    if (!cfg) { toast(`The pipeline ${ex.name} was deleted: it cannot run again`, 'error'); return; }
    const nid = await manual.open(app, [cfg], cfg.id, { parameters: (ex.trigger || {}).parameters || {}, rerunOf: id, title: `Re-run ${cfg.name}` });
    if (nid) { toast(`Re-running ${cfg.name}`); ensureShown(nid); }
  }

  on(el, 'change', '[data-filter]', (e, t) => {
    const k = t.dataset.filter;
    if (k === 'running') s.running = t.checked;
    else if (k === 'status') { if (t.checked) s.statuses.add(t.value); else s.statuses.delete(t.value); }
    else if (k === 'trigger') s.triggerType = t.value;
    const clear = $('[data-act="clear-filters"]', el);
    if (clear) clear.hidden = !filtering();
    applyFilter();
  });

  // Manual judgment: Continue or Stop, with the chosen input.
  el.addEventListener('submit', async (e) => {
    const form = e.target.closest('form[data-act="judge-form"]');
    if (!form) return;
    e.preventDefault();
    const status = e.submitter ? e.submitter.value : 'continue';
    const input = form.elements.namedItem('judgmentInput');
    const body = { judgmentStatus: status };
    if (input && input.value) body.judgmentInput = input.value;
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    await act('Judgment', async () => {
      const exec = await api('PATCH', `/pipelines/${enc(form.dataset.id)}/stages/${enc(form.dataset.stage)}`, body);
      if (s.open && s.open.id === form.dataset.id && exec && exec.stages) { s.open.exec = exec; renderDetails(); }
    });
    for (const b of form.querySelectorAll('button')) b.disabled = false;
  });

  // Typing: the first key after a frame is applied at once (the browser
  // lays it out while it waits for the next frame); keys that follow before
  // that frame are applied once, just before it is painted, so keys typed
  // faster than frames are drawn (a loaded machine) cost one pass, not one
  // each. Nothing shows later than it would.
  let filterFrame = 0, filterDue = false;
  const filterNow = () => { applyFilter(); performance.mark('mz:filtered'); };
  on(el, 'input', '[data-act="filter"]', (e, t) => {
    s.filter = t.value.trim().toLowerCase();
    const clear = $('[data-act="clear-filters"]', el);
    if (clear) clear.hidden = !filtering();
    if (filterFrame) { filterDue = true; return; }
    filterNow();
    filterFrame = requestAnimationFrame(() => {
      filterFrame = 0;
      if (filterDue) { filterDue = false; filterNow(); }
    });
  });

  const unsubscribe = ctx.live ? ctx.live.subscribe((type, data) => {
    if (type === 'execution') onSummary(data);
    else if (type === 'resync') { if (s.loaded) reload(); else { clearTimeout(retry); first(); } }
    // the list was read before the stream was confirmed: read it again
    else if (type === 'hello' && s.readStarted && !s.helloAtLoad) { if (s.loaded) reload(); else s.reloadAfter = true; }
  }) : () => {};

  // After the first paint: executions of deleted pipelines, older than
  // the application's newest page.
  async function loadOrphans() {
    try {
      const found = await orphans(app, s.configs);
      const touched = new Set();
      for (const e of found) {
        if (s.execs.has(e.id)) continue;
        s.execs.set(e.id, e);
        const g = groupFor(e);
        g.ids.push(e.id);
        touched.add(g);
      }
      for (const g of touched) {
        g.ids.sort((a, b) => byNewest(s.execs.get(a), s.execs.get(b)));
        renderGroup(g);
      }
    } catch { /* the list of configs' executions stands on its own */ }
  }

  async function reload() {
    try {
      await load();
      renderAll();
      // an address changed while the list was read waited for it (update)
      applyRoute(ctx);
      if (s.open) refreshDetails();
      loadOrphans();
    } catch (err) {
      toast(`Reload: ${err.message}`, 'error');
      if (!s.loaded) { clearTimeout(retry); retry = setTimeout(reload, 3000); } // a page is still missing
    }
  }

  // The first load retries by itself until the server answers (a tab
  // left open across a restart, or opened while the server was starting).
  // It paints the first screen, then acts on the address (a linked
  // execution) once every page is in.
  let retry = 0;
  const first = () => (ctx.live ? ctx.live.ready(500) : Promise.resolve()).then(() => load(true)).then(({ rest }) => {
    performance.mark('mz:executions-first-data');
    renderAll();
    performance.mark('mz:executions-rendered', { detail: { rows: el.querySelectorAll('li.exec').length } });
    // Two frames later the browser has painted the list: what the bench
    // and the tests wait for.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      performance.mark('mz:executions-painted');
      el.dataset.painted = 'true';
    }));
    rest.then(() => {
      drawSoon();
      applyRoute(ctx);
      loadOrphans();
    }, (err) => {
      toast(`Cannot load every pipeline's executions: ${err.message}. Trying again…`, 'error');
      retry = setTimeout(reload, 3000);
    });
  }).catch((err) => {
    render(el, html`<p class="error" role="alert">Cannot load the pipelines of ${app}: ${err.message}. Trying again…</p>`);
    retry = setTimeout(first, 3000);
  });
  render(el, html`<p class="loading">Loading pipelines…</p>`);
  first();

  return {
    update(c) { if (s.loaded) applyRoute(c); else ctx = c; },
    unmount() { unsubscribe(); s.gen++; clearTimeout(logTimer); clearTimeout(pollTimer); clearTimeout(retry); clearTimeout(s.restTimer); if (s.frame) cancelAnimationFrame(s.frame); cancelAnimationFrame(filterFrame); s.open = null; },
  };
}
