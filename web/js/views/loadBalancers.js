// loadBalancers.js - the LOAD BALANCERS view: each load balancer of the
// application with its listeners (port, protocol), health check, address,
// and the server groups behind it with their instances' health. Re-read
// every 3 s while visible (cloud state is not in the event stream).

import { html, render } from '../dom.js';
import { get, enc } from '../api.js';
import { healthClass } from './clusters.js';

export function mount(el, ctx) {
  const app = ctx.app;
  let timer = 0;
  let alive = true;

  const lbHTML = (lb) => {
    const listeners = lb.listeners || [];
    const hc = lb.healthCheck || {};
    return html`<section class="panel lb" aria-label="Load balancer ${lb.name}">
      <header class="row"><h3>${lb.name}</h3><span class="muted">${lb.account} · ${lb.region}</span></header>
      <dl class="facts">
        <div><dt>Listeners</dt><dd>${listeners.length ? listeners.map((l, i) => html`${i ? ', ' : ''}${l.externalProtocol || 'HTTP'} :${l.externalPort}${l.internalPort && l.internalPort !== l.externalPort ? ` → ${l.internalPort}` : ''}`) : '-'}</dd></div>
        <div><dt>Health check</dt><dd>${hc.path || hc.target || '-'}</dd></div>
        ${lb.url ? html`<div><dt>Address</dt><dd class="mono">${lb.url}</dd></div>` : ''}
      </dl>
      <h4>Server groups</h4>
      ${(lb.serverGroups || []).length ? html`<ul class="lb-sgs">${lb.serverGroups.map((sg) => {
        const insts = sg.instances || [];
        const up = insts.filter((i) => (i.health && i.health.state) === 'Up' || i.healthState === 'Up').length;
        return html`<li class="${sg.isDisabled ? 'disabled' : ''}"><span class="sg-name">${sg.name}</span>
          ${sg.isDisabled ? html`<span class="badge st-canceled">DISABLED</span>` : ''}
          <span class="muted">${up}/${insts.length} up</span>
          <span class="instances">${insts.map((i) => {
            const st = (i.health && i.health.state) || i.healthState || 'Unknown';
            return html`<span class="inst ${healthClass(st)}" title="${i.id}: ${st}" role="img" aria-label="Instance ${i.id}: ${st}"></span>`;
          })}</span></li>`;
      })}</ul>` : html`<p class="muted">No server group behind it.</p>`}
    </section>`;
  };

  async function load() {
    try {
      const lbs = ((await get(`/applications/${enc(app)}/loadBalancers`)) || []).sort((a, b) => a.name.localeCompare(b.name));
      if (!alive) return;
      render(el, html`<div class="toolbar"><h2>Load Balancers</h2></div>
        ${lbs.length ? html`<div class="lbs">${lbs.map(lbHTML)}</div>`
          : html`<div class="empty-state"><p>No load balancers in ${app}. Create one with an upsertLoadBalancer task or stage.</p></div>`}`);
    } catch (e) {
      if (alive) render(el, html`<p class="error" role="alert">Cannot load the load balancers: ${e.message}</p>`);
    }
  }
  const loop = async () => {
    if (!alive) return;
    if (!document.hidden) await load();
    if (alive) timer = setTimeout(loop, 3000);
  };
  render(el, html`<p class="loading">Loading load balancers…</p>`);
  loop();
  return { unmount() { alive = false; clearTimeout(timer); } };
}
