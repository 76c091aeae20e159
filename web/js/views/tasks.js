// tasks.js - the TASKS view: the application's orchestrations (GET
// /applications/{app}/tasks), newest first, with status, who started it,
// times, and, opened, its steps and error. Live: a "task" event re-reads
// the list (it is short: tasks are operator actions).

import { html, render, on, toast } from '../dom.js';
import { get, api, enc, taskError } from '../api.js';
import { duration, elapsed, timeHTML, statusClass, statusLabel, isActive } from '../format.js';
import { humanise } from './execDetails.js';

export function mount(el, ctx) {
  const app = ctx.app;
  let tasks = [];
  const open = new Set();
  let timer = 0;

  const stepsHTML = (t) => html`<div class="task-steps">
    ${taskError(t) ? html`<pre class="stage-error">${taskError(t)}</pre>` : ''}
    <table class="tasks-table"><thead><tr><th scope="col">Step</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Status</th></tr></thead>
    <tbody>${(t.steps || []).map((s) => html`<tr><td>${humanise(s.name)}</td><td>${timeHTML(s.startTime)}</td>
      <td>${s.startTime && !s.endTime && isActive(s.status) ? html`<span data-since="${s.startTime}">${duration(elapsed(s))}</span>` : duration(elapsed(s))}</td>
      <td><span class="badge ${statusClass(s.status)}">${statusLabel(s.status)}</span></td></tr>`)}</tbody></table></div>`;

  const draw = () => render(el, html`
    <div class="toolbar"><h2>Tasks</h2><span class="muted">Operations on ${app}: application changes, server group actions.</span></div>
    ${tasks.length ? html`<ol class="task-list">${tasks.map((t) => {
      const user = (t.execution && t.execution.authentication && t.execution.authentication.user) || (t.execution && t.execution.trigger && t.execution.trigger.user) || '';
      const isOpen = open.has(t.id);
      return html`<li class="task ${statusClass(t.status)}" id="t-${t.id}">
        <button type="button" class="task-head" data-act="toggle" data-id="${t.id}" aria-expanded="${String(isOpen)}">
          <span class="task-name">${t.name || '(task)'}</span>
          <span class="badge ${statusClass(t.status)}">${statusLabel(t.status)}</span>
          <span class="muted">${user ? `by ${user}` : ''}</span>
          <span class="muted">${timeHTML(t.startTime || t.buildTime)}</span>
          <span class="dur">${t.startTime && !t.endTime && isActive(t.status) ? html`<span data-since="${t.startTime}">${duration(elapsed(t))}</span>` : duration(elapsed(t))}</span>
        </button>
        ${isActive(t.status) ? html`<button type="button" class="btn btn-sm btn-danger" data-act="cancel" data-id="${t.id}">Cancel</button>` : ''}
        ${isOpen ? stepsHTML(t) : ''}</li>`;
    })}</ol>` : html`<div class="empty-state"><p>No tasks for ${app}.</p></div>`}`);

  const load = async () => {
    try {
      tasks = (await get(`/applications/${enc(app)}/tasks?limit=200`)) || [];
      tasks.sort((a, b) => (b.buildTime || 0) - (a.buildTime || 0));
      draw();
    } catch (e) {
      render(el, html`<p class="error" role="alert">Cannot load the tasks: ${e.message}</p>`);
    }
  };

  on(el, 'click', '[data-act]', async (e, t) => {
    const id = t.dataset.id;
    if (t.dataset.act === 'toggle') {
      if (open.has(id)) open.delete(id); else open.add(id);
      draw();
      const b = el.querySelector(`#t-${CSS.escape(id)} .task-head`);
      if (b) b.focus();
    } else if (t.dataset.act === 'cancel') {
      try { await api('PUT', `/tasks/${enc(id)}/cancel`); } catch (err) { toast(`Cancel: ${err.message}`, 'error'); }
    }
  });

  const unsub = ctx.live ? ctx.live.subscribe((type) => {
    if (type !== 'task' && type !== 'resync') return;
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }) : () => {};
  render(el, html`<p class="loading">Loading tasks…</p>`);
  load();
  return { unmount() { unsub(); clearTimeout(timer); } };
}
