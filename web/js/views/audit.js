// audit.js - the AUDIT tab of an application (GET /audit?application=):
// every change made to it, and every refused attempt, newest first: when,
// who, from where, what (method and path) and the answer's status.

import { html, render } from '../dom.js';
import { get, enc } from '../api.js';
import { timeHTML } from '../format.js';

export function mount(el, ctx) {
  const app = ctx.app;
  render(el, html`<p class="loading">Loading the audit log…</p>`);
  get(`/audit?application=${enc(app)}&limit=500`).then((rows) => {
    rows = rows || [];
    render(el, html`<div class="toolbar"><h2>Audit</h2><span class="muted">${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}, newest first</span></div>
      ${rows.length ? html`<div class="table-wrap"><table class="audit-table"><thead><tr><th scope="col">Time</th><th scope="col">User</th><th scope="col">Address</th><th scope="col">Request</th><th scope="col">Status</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr class="${r.status >= 400 ? 'refused' : ''}"><td>${timeHTML(r.time)}</td><td>${r.user || '-'}</td><td class="mono">${r.address || ''}</td>
          <td class="mono">${r.method} ${r.path}</td><td><span class="badge ${r.status >= 400 ? 'st-terminal' : 'st-succeeded'}">${r.status}</span></td></tr>`)}</tbody></table></div>`
        : html`<div class="empty-state"><p>Nothing recorded for ${app} yet.</p></div>`}`);
  }).catch((e) => render(el, html`<p class="${e.status === 404 ? 'muted' : 'error'}" role="alert">${e.status === 404 ? 'This server keeps no audit log yet.' : e.status === 403 ? 'You may not read the audit log of this application.' : `Cannot read the audit log: ${e.message}`}</p>`));
  return {};
}
