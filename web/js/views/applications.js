// applications.js - the applications list (Deck's ApplicationsTable): name,
// owner, description, created, updated; a search box that filters as you
// type; "Create Application" submits Spinnaker's createApplication task
// (POST /tasks) and follows it (GET /tasks/{id}) to the new application.

import { html, render, on, $, toast } from '../dom.js';
import { get, runTask, taskError, enc } from '../api.js';
import { timeHTML } from '../format.js';

export function mount(el, ctx) {
  let apps = [];
  let filter = '';
  let creating = false;
  let error = '';

  const rowsHTML = () => {
    const f = filter.toLowerCase();
    const shown = apps.filter((a) => !f || [a.name, a.email, a.description].some((v) => String(v || '').toLowerCase().includes(f)));
    if (!shown.length) return html`<tr><td colspan="5" class="muted">${apps.length ? 'No application matches.' : 'No applications yet: create one.'}</td></tr>`;
    return shown.map((a) => html`<tr>
      <td><a href="#/applications/${enc(a.name)}/executions">${a.name}</a></td>
      <td>${a.email || ''}</td><td>${a.description || ''}</td>
      <td>${a.createTs ? timeHTML(Number(a.createTs)) : ''}</td><td>${a.updateTs ? timeHTML(Number(a.updateTs)) : ''}</td></tr>`);
  };

  const formHTML = () => html`<form class="panel create-app" data-form="create" aria-label="New application">
    <h2>New Application</h2>
    <div class="grid2">
      <div class="field"><label for="app-name">Name <span class="req">*</span></label>
        <input id="app-name" name="name" required pattern="[A-Za-z0-9]+" autocomplete="off" placeholder="letters and digits, e.g. shop">
        <p class="hint">Letters and digits only (Frigga's rule: the name is the first part of cluster names).</p></div>
      <div class="field"><label for="app-email">Owner email <span class="req">*</span></label>
        <input id="app-email" name="email" type="email" required autocomplete="off"></div>
      <div class="field"><label for="app-desc">Description</label><input id="app-desc" name="description" autocomplete="off"></div>
      <div class="field"><label for="app-providers">Cloud providers</label><input id="app-providers" name="cloudProviders" value="local" autocomplete="off"></div>
    </div>
    <p class="error" role="alert" ${error ? '' : 'hidden'}>${error}</p>
    <div class="btn-row"><button class="btn btn-primary" type="submit">Create</button>
      <button class="btn" type="button" data-act="cancel-create">Cancel</button></div></form>`;

  const draw = () => render(el, html`
    <div class="toolbar"><h2>Applications</h2>
      <label class="search"><span class="sr-only">Search applications</span>
        <input type="search" data-act="search" placeholder="Search applications" value="${filter}" autocomplete="off"></label>
      <span class="spacer"></span>
      <button type="button" class="btn btn-primary" data-act="create" ${creating ? 'hidden' : ''}>Create Application</button></div>
    ${creating ? formHTML() : ''}
    <div class="table-wrap"><table class="apps-table">
      <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Description</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
      <tbody>${rowsHTML()}</tbody></table></div>`);

  let retry = 0;
  const load = async () => {
    clearTimeout(retry);
    try {
      apps = (await get('/applications')) || [];
      apps.sort((a, b) => a.name.localeCompare(b.name));
    } catch (e) {
      toast(`Applications: ${e.message}`, 'error');
      if (e.status === 0 || e.status >= 500) retry = setTimeout(load, 3000); // the server is away: try again
    }
    const focused = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.act === 'search';
    draw();
    if (focused) { const s = $('[data-act="search"]', el); s.focus(); s.setSelectionRange(s.value.length, s.value.length); }
  };

  on(el, 'input', '[data-act="search"]', (e, t) => {
    filter = t.value;
    render($('tbody', el), html`${rowsHTML()}`);
  });
  on(el, 'click', '[data-act="create"]', () => { creating = true; error = ''; draw(); $('#app-name', el).focus(); });
  on(el, 'click', '[data-act="cancel-create"]', () => { creating = false; draw(); });
  el.addEventListener('submit', async (e) => {
    const form = e.target.closest('[data-form="create"]');
    if (!form) return;
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const name = f.name.trim().toLowerCase();
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    btn.textContent = 'Creating…';
    const showError = (m) => { const p = $('.error', form); p.hidden = false; p.textContent = m; btn.disabled = false; btn.textContent = 'Create'; };
    // Creating is not updating: an existing application (its owner, its
    // permissions) is never overwritten from this form.
    try {
      await get(`/applications/${enc(name)}`);
      return showError(`An application named ${name} already exists. Open it from the list, or choose another name.`);
    } catch (err) {
      if (err.status !== 404) return showError(err.message);
    }
    try {
      const task = await runTask({
        application: name, description: `Create Application: ${name}`,
        job: [{ type: 'createApplication', application: {
          name, email: f.email.trim(), description: f.description.trim() || undefined,
          cloudProviders: f.cloudProviders.trim() || undefined } }],
      });
      if (task.status !== 'SUCCEEDED') return showError(taskError(task) || `The task ended ${task.status}.`);
      toast(`Created ${name}`);
      location.hash = `#/applications/${enc(name)}/executions`;
    } catch (err) {
      showError(err.message);
    }
  });

  render(el, html`<p class="loading">Loading applications…</p>`);
  load();
  return { update() { load(); }, unmount() { clearTimeout(retry); } };
}
