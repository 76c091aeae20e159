// pipelineEditor.js - the pipeline editor (#/applications/{app}/executions/
// configure/{id|new}): a form for the name, execution options, triggers,
// parameters and stages, and beside it the pipeline's JSON. Both edit one
// object: a form change rewrites the JSON text; a JSON edit that parses
// redraws the form. Save posts the JSON text exactly as it stands
// (POST /pipelines), so what the server rejects - malformed JSON, a stage
// needing a missing refId, a bad expression - comes back as its own
// message, shown above the editor.

import { html, render, on, toast, $ } from '../dom.js';
import { api, get, enc } from '../api.js';
import { graphSVG } from './graph.js';

const STAGE_TYPES = ['wait', 'manualJudgment', 'evaluateVariables', 'checkPreconditions', 'webhook', 'pipeline',
  'runJob', 'bake', 'deploy', 'enableServerGroup', 'disableServerGroup', 'resizeServerGroup', 'destroyServerGroup',
  'rollbackCluster', 'scaleDownCluster', 'shrinkCluster', 'findImage', 'upsertLoadBalancer'];
const TRIGGER_FIELDS = {
  git: ['source', 'project', 'slug', 'branch', 'url'],
  webhook: ['source'],
  cron: ['cronExpression'],
  pipeline: ['application', 'pipeline'],
  docker: ['account', 'registry', 'repository', 'tag'],
  jenkins: ['master', 'job'],
};
const STAGE_CORE = new Set(['refId', 'name', 'type', 'requisiteStageRefIds']);

export function mount(el, ctx) {
  const app = ctx.app;
  const base = `#/applications/${enc(app)}/executions`;
  let cfg = null;
  let jsonError = null;

  const textarea = () => $('#pipeline-json', el);
  const writeJSON = () => { const t = textarea(); if (t) t.value = JSON.stringify(cfg, null, 2); jsonError = null; showJSONState(); };
  const showJSONState = () => {
    const p = $('.json-state', el);
    if (!p) return;
    p.textContent = jsonError ? `Not valid JSON yet: ${jsonError}. The form shows the last valid version; Save sends the text as it is.` : 'In sync with the form.';
    p.classList.toggle('error', !!jsonError);
  };

  const nextRef = () => String(1 + Math.max(0, ...cfg.stages.map((s) => Number(s.refId) || 0)));

  function stageHTML(s, i) {
    const extra = Object.fromEntries(Object.entries(s).filter(([k]) => !STAGE_CORE.has(k)));
    return html`<li class="stage-edit" aria-label="Stage ${s.name || s.refId}">
      <div class="grid4">
        <div class="field"><label for="st-${i}-name">Name</label><input id="st-${i}-name" data-path="stages.${i}.name" value="${s.name || ''}"></div>
        <div class="field"><label for="st-${i}-type">Type</label><input id="st-${i}-type" data-path="stages.${i}.type" list="stage-types" value="${s.type || ''}"></div>
        <div class="field"><label for="st-${i}-ref">refId</label><input id="st-${i}-ref" data-path="stages.${i}.refId" value="${s.refId ?? ''}"></div>
        <div class="field"><label for="st-${i}-req">Depends on</label><input id="st-${i}-req" data-path="stages.${i}.requisiteStageRefIds" data-kind="csv" value="${(s.requisiteStageRefIds || []).join(', ')}" placeholder="refIds, comma-separated"></div>
      </div>
      <div class="field"><label for="st-${i}-extra">Stage fields (JSON)</label>
        <textarea id="st-${i}-extra" rows="${Math.min(8, 2 + Object.keys(extra).length)}" data-extra="${i}" spellcheck="false">${JSON.stringify(extra, null, 2)}</textarea>
        <p class="hint extra-error" hidden></p></div>
      <button type="button" class="btn btn-sm btn-danger" data-act="remove" data-list="stages" data-index="${i}">Remove stage</button>
    </li>`;
  }

  function triggerHTML(t, i) {
    const fields = TRIGGER_FIELDS[t.type] || [];
    return html`<li class="trigger-edit"><div class="grid4">
      <div class="field"><label for="tr-${i}-type">Type</label><select id="tr-${i}-type" data-path="triggers.${i}.type" data-restructure>
        ${Object.keys(TRIGGER_FIELDS).map((k) => html`<option value="${k}" ${k === t.type ? 'selected' : ''}>${k}</option>`)}
        ${TRIGGER_FIELDS[t.type] ? '' : html`<option selected value="${t.type}">${t.type}</option>`}</select></div>
      ${fields.map((f) => html`<div class="field"><label for="tr-${i}-${f}">${f}</label><input id="tr-${i}-${f}" data-path="triggers.${i}.${f}" value="${t[f] ?? ''}"></div>`)}
      <label class="check"><input type="checkbox" data-path="triggers.${i}.enabled" data-kind="bool" ${t.enabled !== false ? 'checked' : ''}> Enabled</label>
    </div><button type="button" class="btn btn-sm btn-danger" data-act="remove" data-list="triggers" data-index="${i}">Remove trigger</button></li>`;
  }

  function paramHTML(p, i) {
    return html`<li class="param-edit"><div class="grid4">
      <div class="field"><label for="pa-${i}-name">Name</label><input id="pa-${i}-name" data-path="parameterConfig.${i}.name" value="${p.name || ''}"></div>
      <div class="field"><label for="pa-${i}-label">Label</label><input id="pa-${i}-label" data-path="parameterConfig.${i}.label" value="${p.label || ''}"></div>
      <div class="field"><label for="pa-${i}-default">Default</label><input id="pa-${i}-default" data-path="parameterConfig.${i}.default" value="${p.default ?? ''}"></div>
      <div class="field"><label for="pa-${i}-options">Options</label><input id="pa-${i}-options" data-path="parameterConfig.${i}.options" data-kind="options" value="${(p.options || []).map((o) => (o && typeof o === 'object' ? o.value : o)).join(', ')}" placeholder="a, b, c (empty: free text)"></div>
      <div class="field"><label for="pa-${i}-desc">Description</label><input id="pa-${i}-desc" data-path="parameterConfig.${i}.description" value="${p.description || ''}"></div>
      <label class="check"><input type="checkbox" data-path="parameterConfig.${i}.required" data-kind="bool" ${p.required ? 'checked' : ''}> Required</label>
    </div><button type="button" class="btn btn-sm btn-danger" data-act="remove" data-list="parameterConfig" data-index="${i}">Remove parameter</button></li>`;
  }

  function formHTML() {
    const preview = cfg.stages.map((s) => ({ ...s, id: String(s.refId), status: 'NOT_STARTED' }));
    return html`
      <div class="field"><label for="pe-name">Pipeline name</label><input id="pe-name" data-path="name" value="${cfg.name || ''}" required></div>
      <fieldset><legend>Execution options</legend>
        <label class="check"><input type="checkbox" data-path="limitConcurrent" data-kind="bool" ${cfg.limitConcurrent ? 'checked' : ''}> Disable concurrent pipeline executions (only run one at a time)</label>
        <label class="check"><input type="checkbox" data-path="keepWaitingPipelines" data-kind="bool" ${cfg.keepWaitingPipelines ? 'checked' : ''}> Do not automatically cancel pipelines waiting in queue</label>
      </fieldset>
      <fieldset><legend>Automated triggers</legend>
        <ol class="edit-list">${(cfg.triggers || []).map(triggerHTML)}</ol>
        <button type="button" class="btn btn-sm" data-act="add-trigger">Add Trigger</button></fieldset>
      <fieldset><legend>Parameters</legend>
        <ol class="edit-list">${(cfg.parameterConfig || []).map(paramHTML)}</ol>
        <button type="button" class="btn btn-sm" data-act="add-param">Add Parameter</button></fieldset>
      <fieldset><legend>Stages</legend>
        ${preview.length ? html`<div class="graph-wrap">${graphSVG(preview, () => location.hash, null)}</div>` : ''}
        <ol class="edit-list">${cfg.stages.map(stageHTML)}</ol>
        <button type="button" class="btn btn-sm" data-act="add-stage">Add stage</button></fieldset>`;
  }

  function draw() {
    render(el, html`
      <div class="toolbar"><h2>${cfg.id ? `Configure: ${cfg.name}` : 'New pipeline'}</h2><span class="spacer"></span>
        <a class="btn" href="${base}">Back to pipelines</a>
        ${cfg.id ? html`<button type="button" class="btn btn-danger" data-act="delete">Delete</button>` : ''}
        <button type="button" class="btn btn-primary" data-act="save">Save</button></div>
      <div class="save-error stage-error" role="alert" hidden></div>
      <datalist id="stage-types">${STAGE_TYPES.map((t) => html`<option value="${t}"></option>`)}</datalist>
      <div class="editor">
        <form class="panel editor-form" aria-label="Pipeline form" novalidate>${formHTML()}</form>
        <section class="panel editor-json" aria-label="Pipeline JSON">
          <label for="pipeline-json">Pipeline JSON</label>
          <textarea id="pipeline-json" spellcheck="false" rows="30" autocomplete="off"></textarea>
          <p class="hint json-state"></p>
        </section>
      </div>`);
    writeJSON();
  }

  const redrawForm = () => { const f = $('.editor-form', el); if (f) render(f, formHTML()); };

  function setPath(path, value) {
    const keys = path.split('.');
    let o = cfg;
    for (const k of keys.slice(0, -1)) o = o[k];
    const last = keys[keys.length - 1];
    if (value === undefined || value === '') delete o[last]; else o[last] = value;
  }

  on(el, 'input', '[data-path]', (e, t) => {
    const kind = t.dataset.kind;
    let v = t.value;
    if (kind === 'bool') v = t.checked;
    else if (kind === 'csv') v = t.value.split(',').map((x) => x.trim()).filter(Boolean);
    else if (kind === 'options') {
      const list = t.value.split(',').map((x) => x.trim()).filter(Boolean);
      const p = cfg.parameterConfig[Number(t.dataset.path.split('.')[1])];
      p.hasOptions = list.length > 0;
      v = list.length ? list.map((value) => ({ value })) : undefined;
    }
    if (kind === 'csv') setPath(t.dataset.path, v); // an empty list stays a list
    else setPath(t.dataset.path, v);
    writeJSON();
    if (t.hasAttribute('data-restructure')) redrawForm();
  });
  on(el, 'change', '[data-kind="bool"], select[data-path]', (e, t) => t.dispatchEvent(new Event('input', { bubbles: true })));

  on(el, 'input', '[data-extra]', (e, t) => {
    const i = Number(t.dataset.extra);
    const hint = t.parentElement.querySelector('.extra-error');
    let extra;
    try {
      extra = JSON.parse(t.value || '{}');
      if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new Error('an object is expected');
    } catch (err) {
      hint.hidden = false;
      hint.textContent = `Not applied: ${err.message}`;
      return;
    }
    hint.hidden = true;
    const s = cfg.stages[i];
    const core = Object.fromEntries(Object.entries(s).filter(([k]) => STAGE_CORE.has(k)));
    cfg.stages[i] = { ...core, ...extra };
    writeJSON();
  });

  on(el, 'input', '#pipeline-json', (e, t) => {
    try {
      const v = JSON.parse(t.value);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('a pipeline is a JSON object');
      cfg = normalise(v);
      jsonError = null;
      redrawForm();
    } catch (err) {
      jsonError = err.message;
    }
    showJSONState();
  });

  on(el, 'click', '[data-act]', async (e, t) => {
    const a = t.dataset.act;
    if (a === 'add-stage') {
      const prev = cfg.stages[cfg.stages.length - 1];
      cfg.stages.push({ refId: nextRef(), requisiteStageRefIds: prev ? [String(prev.refId)] : [], type: 'wait', name: 'Wait', waitTime: 30 });
    } else if (a === 'add-trigger') {
      (cfg.triggers ||= []).push({ type: 'webhook', source: '', enabled: true });
    } else if (a === 'add-param') {
      (cfg.parameterConfig ||= []).push({ name: '', label: '', default: '', required: false });
    } else if (a === 'remove') {
      cfg[t.dataset.list].splice(Number(t.dataset.index), 1);
    } else if (a === 'save') {
      return save(t);
    } else if (a === 'delete') {
      if (!confirm(`Delete the pipeline ${cfg.name}?`)) return;
      try {
        await api('DELETE', `/pipelines/${enc(app)}/${enc(cfg.name)}`);
        toast(`Deleted ${cfg.name}`);
        location.hash = base;
      } catch (err) { toast(`Delete: ${err.message}`, 'error'); }
      return;
    } else return;
    redrawForm();
    writeJSON();
  });

  async function save(btn) {
    const box = $('.save-error', el);
    box.hidden = true;
    btn.disabled = true;
    try {
      const saved = await api('POST', '/pipelines', textarea().value, { raw: true });
      toast(`Saved ${saved && saved.name ? saved.name : 'the pipeline'}`);
      if (saved && saved.id) {
        cfg = normalise(saved);
        const target = `${base}/configure/${enc(saved.id)}`;
        if (location.hash !== target) history.replaceState(null, '', target);
        draw();
      }
    } catch (err) {
      box.hidden = false;
      box.textContent = `The server rejected the pipeline: ${err.message}`;
      box.focus && box.setAttribute('tabindex', '-1');
      box.focus();
    } finally {
      btn.disabled = false;
    }
  }

  function normalise(v) {
    v.stages = Array.isArray(v.stages) ? v.stages : [];
    if (!v.application) v.application = app;
    return v;
  }

  async function load(c) {
    const id = (c.rest || [])[1];
    try {
      if (!id || id === 'new') {
        cfg = normalise({ application: app, name: '', limitConcurrent: true, keepWaitingPipelines: false, triggers: [], parameterConfig: [], stages: [] });
      } else {
        const list = (await get(`/applications/${enc(app)}/pipelineConfigs`)) || [];
        const found = list.find((p) => p.id === id) || list.find((p) => p.name === id);
        if (!found) { render(el, html`<p class="error" role="alert">No pipeline with id ${id} in ${app}.</p>`); return; }
        cfg = normalise(found);
      }
      draw();
      const n = $('#pe-name', el);
      if (n && !cfg.name) n.focus();
    } catch (e) {
      render(el, html`<p class="error" role="alert">${e.message}</p>`);
    }
  }

  render(el, html`<p class="loading">Loading…</p>`);
  load(ctx);
  return { update(c) { if ((c.rest || [])[1] !== (cfg && cfg.id)) load(c); } };
}
