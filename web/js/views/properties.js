// properties.js - PROPERTIES: Netflix's "Fast Properties" tab from Deck's
// former netflix module, which open-source Spinnaker dropped. Kept as a tab
// for users who look for it, with the application's pipeline parameters'
// defaults as the closest thing mizzen has.

import { html, render } from '../dom.js';
import { get, enc } from '../api.js';

export function mount(el, ctx) {
  render(el, html`<p class="loading">Loading…</p>`);
  get(`/applications/${enc(ctx.app)}/pipelineConfigs`).then((configs) => {
    const rows = [];
    for (const c of configs || []) for (const p of c.parameterConfig || []) rows.push([c.name, p.name, p.default ?? '', p.description || '']);
    render(el, html`<div class="toolbar"><h2>Properties</h2></div>
      <p class="muted">Fast Properties are not part of open-source Spinnaker, nor of mizzen. The pipeline parameters of ${ctx.app} and their defaults:</p>
      ${rows.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Pipeline</th><th scope="col">Parameter</th><th scope="col">Default</th><th scope="col">Description</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr>${r.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody></table></div>`
        : html`<div class="empty-state"><p>No pipeline of ${ctx.app} has parameters.</p></div>`}`);
  }).catch((e) => render(el, html`<p class="error">${e.message}</p>`));
}
