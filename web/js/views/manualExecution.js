// manualExecution.js - Deck's "Start Manual Execution" dialog: pick the
// pipeline (when started from the page header), fill its parameters
// (parameterConfig: text, a select when it has options, required marked,
// defaults filled), then POST /pipelines/{app}/{name} with a manual
// trigger. A native <dialog>: focus stays inside, Esc closes it. A
// pipeline made from a v2 template takes the parameters of the pipeline
// the template renders (POST /v2/pipelineTemplates/plan), as Deck does.

import { html, render } from '../dom.js';
import { api, enc } from '../api.js';

// (templateForm.js's test, not imported: this module loads with PIPELINES.)
const isTemplated = (cfg) => !!(cfg && cfg.schema === 'v2' && cfg.template && typeof cfg.template === 'object');

export function hasParameters(cfg) {
  return Array.isArray(cfg.parameterConfig) && cfg.parameterConfig.length > 0;
}

export async function trigger(app, cfg, parameters, extra = {}) {
  const body = { type: 'manual', ...extra };
  if (parameters && Object.keys(parameters).length) body.parameters = parameters;
  const res = await api('POST', `/pipelines/${enc(app)}/${enc(cfg.name)}`, body);
  return res && res.ref ? res.ref.split('/').pop() : null;
}

function paramField(p, given) {
  const id = `param-${p.name}`;
  const label = p.label || p.name;
  const opts = (p.options || []).map((o) => (o && typeof o === 'object' ? o.value : o)).filter((v) => v != null);
  const value = given && given[p.name] != null ? given[p.name] : p.default;
  const input = p.hasOptions || opts.length
    ? html`<select id="${id}" name="${p.name}" ${p.required ? 'required' : ''}>${opts.map((v) =>
        html`<option value="${v}" ${String(v) === String(value ?? '') ? 'selected' : ''}>${v}</option>`)}</select>`
    : html`<input id="${id}" name="${p.name}" value="${value ?? ''}" ${p.required ? 'required' : ''}
        type="${p.constraint === 'date' ? 'date' : 'text'}" autocomplete="off">`;
  return html`<div class="field"><label for="${id}">${label}${p.required ? html` <span class="req" aria-label="required">*</span>` : ''}</label>
    ${input}${p.description ? html`<p class="hint">${p.description}</p>` : ''}</div>`;
}

// The config as it runs: a templated one rendered by the server (its
// parameters come from the template); null while that is asked.
const rendered = new Map(); // config id -> {cfg} or {error}
function effective(cfg, redraw) {
  if (!isTemplated(cfg)) return { cfg };
  const got = rendered.get(cfg.id);
  if (got && got.of === cfg) return got;
  rendered.set(cfg.id, { of: cfg, cfg: null });
  api('POST', '/v2/pipelineTemplates/plan', cfg)
    .then((plan) => rendered.set(cfg.id, { of: cfg, cfg: { ...cfg, parameterConfig: (plan && plan.parameterConfig) || [] } }))
    .catch((e) => rendered.set(cfg.id, { of: cfg, cfg: null, error: e.message }))
    .then(redraw);
  return rendered.get(cfg.id);
}

function formHTML(configs, chosen, opts, redraw) {
  const picked = configs.find((c) => c.id === chosen) || configs[0];
  const eff = effective(picked, redraw);
  const cfg = eff.cfg || picked;
  return html`<form method="dialog" class="dialog-form">
    <h2>${configs.length > 1 ? 'Select Pipeline' : opts.title || `Start Manual Execution: ${cfg.name}`}</h2>
    ${opts.rerunOf ? html`<p class="muted">With the parameters of execution <span class="mono">${opts.rerunOf}</span>.</p>` : ''}
    ${configs.length > 1 ? html`<div class="field"><label for="me-pipeline">Pipeline</label>
      <select id="me-pipeline" name="__pipeline">${configs.map((c) =>
        html`<option value="${c.id}" ${c.id === cfg.id ? 'selected' : ''}>${c.name}</option>`)}</select></div>` : ''}
    ${eff.error ? html`<p class="error" role="alert">Its template does not render: ${eff.error}</p>`
      : !eff.cfg ? html`<p class="muted">Reading the parameters of its template…</p>`
      : hasParameters(cfg) ? html`<fieldset><legend>Parameters</legend>${cfg.parameterConfig.map((p) => paramField(p, opts.parameters))}</fieldset>`
      : html`<p class="muted">This pipeline has no parameters.</p>`}
    <p class="dialog-error error" role="alert" hidden></p>
    <div class="btn-row">
      <button type="button" class="btn" value="cancel" data-close>Cancel</button>
      <button type="submit" class="btn btn-primary" value="run">Run</button>
    </div></form>`;
}

// Opens the dialog; resolves with the new execution id, or null.
// opts: {parameters (prefilled), rerunOf, title}.
export function open(app, configs, chosenId, opts = {}) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'dialog';
    dlg.setAttribute('aria-label', 'Start Manual Execution');
    let chosen = chosenId || (configs[0] && configs[0].id);
    let done = false;
    const draw = () => {
      if (done) return;
      render(dlg, formHTML(configs, chosen, opts, draw));
      const first = dlg.querySelector('input, select, button[type=submit]');
      if (first && dlg.open) first.focus();
    };
    draw();
    document.body.append(dlg);
    const finish = (v) => { if (!done) { done = true; dlg.close(); dlg.remove(); resolve(v); } };
    dlg.addEventListener('close', () => finish(null));
    dlg.addEventListener('click', (e) => { if (e.target.closest('[data-close]')) finish(null); });
    dlg.addEventListener('change', (e) => {
      if (e.target.name === '__pipeline') { chosen = e.target.value; draw(); }
    });
    dlg.addEventListener('submit', async (e) => {
      e.preventDefault();
      const form = e.target;
      const picked = configs.find((c) => c.id === chosen) || configs[0];
      const cfg = effective(picked, draw).cfg || picked;
      const params = {};
      for (const p of cfg.parameterConfig || []) {
        const el = form.elements.namedItem(p.name);
        if (el) params[p.name] = el.value;
      }
      const errEl = form.querySelector('.dialog-error');
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        finish(await trigger(app, cfg, params, opts.rerunOf ? { rerunOf: opts.rerunOf } : {}));
      } catch (err) {
        errEl.hidden = false;
        errEl.textContent = err.message;
        btn.disabled = false;
      }
    });
    dlg.showModal();
    const first = dlg.querySelector('input, select, button[type=submit]');
    if (first) first.focus();
  });
}
