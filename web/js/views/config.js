// config.js - the CONFIG view: the application's attributes (GET
// /applications/{app}), editable owner email and description (an
// updateApplication task, as Deck does), and every other attribute as
// stored.

import { html, render, toast, $ } from '../dom.js';
import { get, runTask, taskError, enc } from '../api.js';
import { timeHTML } from '../format.js';

export function mount(el, ctx) {
  const app = ctx.app;
  let attrs = null;

  const draw = () => {
    const known = new Set(['name', 'email', 'description', 'createTs', 'updateTs', 'lastModifiedBy', 'cloudProviders']);
    const extra = Object.entries(attrs).filter(([k]) => !known.has(k));
    render(el, html`
      <div class="toolbar"><h2>Application config</h2></div>
      <div class="config-grid">
        <form class="panel" data-form="attrs" aria-label="Application attributes">
          <h3>Attributes</h3>
          <div class="field"><label>Name</label><p class="mono">${attrs.name}</p></div>
          <div class="field"><label for="cfg-email">Owner email</label><input id="cfg-email" name="email" type="email" value="${attrs.email || ''}"></div>
          <div class="field"><label for="cfg-desc">Description</label><textarea id="cfg-desc" name="description" rows="3">${attrs.description || ''}</textarea></div>
          <div class="field"><label for="cfg-cp">Cloud providers</label><input id="cfg-cp" name="cloudProviders" value="${attrs.cloudProviders || ''}"></div>
          <p class="error" role="alert" hidden></p>
          <div class="btn-row" data-need="WRITE"><button type="submit" class="btn btn-primary">Save changes</button></div>
        </form>
        <section class="panel" aria-label="Record">
          <h3>Record</h3>
          <dl class="facts vertical">
            <div><dt>Created</dt><dd>${attrs.createTs ? timeHTML(Number(attrs.createTs)) : '-'}</dd></div>
            <div><dt>Updated</dt><dd>${attrs.updateTs ? timeHTML(Number(attrs.updateTs)) : '-'}</dd></div>
            <div><dt>Last modified by</dt><dd>${attrs.lastModifiedBy || '-'}</dd></div>
          </dl>
          ${extra.length ? html`<h3>Other attributes</h3><pre class="json">${JSON.stringify(Object.fromEntries(extra), null, 2)}</pre>` : ''}
        </section>
      </div>`);
  };

  el.addEventListener('submit', async (e) => {
    const form = e.target.closest('[data-form="attrs"]');
    if (!form) return;
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const task = await runTask({ application: app, description: `Update Application: ${app}`,
        job: [{ type: 'updateApplication', application: { ...attrs, email: f.email, description: f.description, cloudProviders: f.cloudProviders } }] });
      if (task.status !== 'SUCCEEDED') throw new Error(taskError(task) || `the task ended ${task.status}`);
      toast('Saved');
      await load();
    } catch (err) {
      const p = $('.error', form); p.hidden = false; p.textContent = err.message; btn.disabled = false;
    }
  });

  async function load() {
    try {
      const a = await get(`/applications/${enc(app)}`);
      attrs = a.attributes || { name: app };
      draw();
    } catch (e) {
      render(el, html`<p class="error" role="alert">${e.status === 404 ? `There is no application named ${app}.` : e.message}</p>`);
    }
  }
  render(el, html`<p class="loading">Loading…</p>`);
  load();
}
