// pipelineEditor.js - the pipeline editor (#/applications/{app}/executions/
// configure/{id|new}). Beside a form, the pipeline's JSON: both edit one
// object (a form change rewrites the JSON text; a JSON edit that parses
// redraws the form). Every stage type the server runs (GET /stageTypes)
// has its own form from stageCatalog.js, grouped as Deck groups them, with
// defaults, help and checks; its JSON is one click away. Triggers,
// parameters, notifications and expected artifacts have forms too.
// Changing a stage's or a trigger's type starts it afresh; leaving with
// unsaved edits asks first; revision history (GET /pipelineConfigs/{id}/
// history) shows a diff and restores. Save posts the JSON text as it
// stands (POST /pipelines) so the server's own messages show.
// A new pipeline is created from a blank form or from a v2 pipeline
// template (templateForm.js: the template, its variables, the rendered
// pipeline). A pipeline managed in git (pipelineRepos: "locked" and
// "managedBy") is shown read-only, with its repository, file and commit.

import { html, render, on, toast, $, $$ } from '../dom.js';
import { api, get, enc } from '../api.js';
import { confirmDialog } from '../dialogs.js';
import { setLeaveGuard, clearLeaveGuard } from '../nav.js';
import { graphSVG } from './graph.js';
import { commitUrl } from './execPanes.js';
import * as cat from './stageCatalog.js';
import { fieldsHTML, readControl, check } from './formFields.js';
import { historyPanel } from './configHistory.js';
import * as tf from './templateForm.js';

const CORE = new Set(['refId', 'name', 'type', 'requisiteStageRefIds']);
const FAILURE = [
  ['halt', 'Halt the entire pipeline', { failPipeline: true, continuePipeline: false, completeOtherBranchesThenFail: false }],
  ['branch', 'Halt this branch', { failPipeline: false, continuePipeline: false, completeOtherBranchesThenFail: false }],
  ['others', 'Halt this branch, complete the others, then fail', { failPipeline: false, continuePipeline: false, completeOtherBranchesThenFail: true }],
  ['ignore', 'Ignore the failure', { failPipeline: false, continuePipeline: true, completeOtherBranchesThenFail: false }],
];
const failureOf = (s) => (s.continuePipeline ? 'ignore' : s.completeOtherBranchesThenFail ? 'others' : s.failPipeline === false ? 'branch' : 'halt');

let typesCache = null; // the server's stage types do not change while it runs

// Stages whose requisites loop back to themselves: the first cycle found,
// as a list of refIds, or null. Unknown requisites: reported separately.
export function findCycle(stages) {
  const by = new Map(stages.map((s) => [String(s.refId), s]));
  const state = new Map();
  const stack = [];
  const visit = (k) => {
    state.set(k, 1); stack.push(k);
    for (const r of (by.get(k).requisiteStageRefIds || []).map(String)) {
      if (!by.has(r)) continue;
      if (state.get(r) === 1) return [...stack.slice(stack.indexOf(r)), r];
      if (!state.has(r)) { const c = visit(r); if (c) return c; }
    }
    stack.pop(); state.set(k, 2);
    return null;
  };
  for (const k of by.keys()) if (!state.has(k)) { const c = visit(k); if (c) return c; }
  return null;
}

export function mount(el, ctx) {
  const app = ctx.app;
  const base = `#/applications/${enc(app)}/executions`;
  const env = { app, accounts: [], pipelines: [], types: [], templates: null };
  let cfg = null;
  let saved = '';        // the JSON of the last loaded or saved version
  let jsonError = null;  // the JSON text does not parse
  let sel = 0;           // the selected stage
  let reg = new Map();   // path -> field spec, rebuilt with each form
  let showHistory = false;
  let blank = null;      // a new pipeline's blank form, kept while a template is tried
  let previewTimer = 0, previewSeq = 0;
  const badControls = new Map(); // path -> message of a control that could not be read

  const textarea = () => $('#pipeline-json', el);
  const dirty = () => !!cfg && (jsonError != null || JSON.stringify(cfg) !== saved);
  const locked = () => !!(cfg && cfg.locked && cfg.locked.ui);
  const templated = () => tf.isTemplated(cfg);
  const chosenTemplate = () => (env.templates || []).find((t) => t.id === tf.referenceOf(cfg).id) || null;

  const guard = async () => !dirty() || confirmDialog({ title: 'Discard unsaved changes?',
    message: `The pipeline ${cfg.name || '(new)'} has changes that are not saved.`, confirmLabel: 'Discard changes', danger: true });
  setLeaveGuard(guard);
  const beforeUnload = (e) => { if (dirty()) { e.preventDefault(); e.returnValue = ''; } };
  window.addEventListener('beforeunload', beforeUnload);

  // ---- problems ----------------------------------------------------------

  function problems() {
    const out = [];
    if (!cfg.name || !String(cfg.name).trim()) out.push({ path: 'name', msg: 'The pipeline needs a name' });
    const refs = new Map();
    cfg.stages.forEach((s, i) => {
      const p = `stages.${i}`;
      const label = s.name || s.refId || `#${i + 1}`;
      if (s.refId == null || s.refId === '') out.push({ path: `${p}.refId`, msg: `Stage ${label}: refId is required` });
      else if (refs.has(String(s.refId))) out.push({ path: `${p}.refId`, msg: `Stage ${label}: refId ${s.refId} is used twice` });
      refs.set(String(s.refId), s);
      if (!s.type) out.push({ path: `${p}.type`, msg: `Stage ${label}: choose a type` });
      else if (env.types.length && !env.types.some((t) => t.type === s.type)) out.push({ path: `${p}.type`, msg: `Stage ${label}: this server cannot run type ${s.type}` });
      for (const x of check(cat.stageFields(s.type, env), s, p, env)) out.push({ ...x, msg: `Stage ${label}: ${x.msg}` });
    });
    cfg.stages.forEach((s, i) => {
      for (const r of s.requisiteStageRefIds || []) {
        if (!refs.has(String(r))) out.push({ path: `stages.${i}.requisiteStageRefIds`, msg: `Stage ${s.name || s.refId}: depends on ${r}, which no stage has` });
      }
    });
    (cfg.triggers || []).forEach((t, i) => check([...(cat.TRIGGERS[t.type] || []), ...cat.TRIGGER_COMMON], t, `triggers.${i}`, env, out));
    (cfg.parameterConfig || []).forEach((p, i) => check(cat.PARAMETER, p, `parameterConfig.${i}`, env, out));
    (cfg.notifications || []).forEach((n, i) => check(cat.NOTIFICATION, n, `notifications.${i}`, env, out));
    (cfg.expectedArtifacts || []).forEach((a, i) => check(cat.ARTIFACT, a, `expectedArtifacts.${i}`, env, out));
    if (templated()) out.push(...tf.templateProblems(cfg, chosenTemplate()));
    for (const [path, msg] of badControls) out.push({ path, msg });
    return out;
  }

  function showProblems() {
    const list = problems();
    const byPath = new Map();
    for (const p of list) if (!byPath.has(p.path)) byPath.set(p.path, p.msg);
    for (const e of $$('[data-err]', el)) {
      const m = byPath.get(e.dataset.err);
      e.hidden = !m; e.textContent = m || '';
      const ctl = document.getElementById(e.id.replace(/-err$/, ''));
      if (ctl) { if (m) ctl.setAttribute('aria-invalid', 'true'); else ctl.removeAttribute('aria-invalid'); }
    }
    const box = $('.check-summary', el);
    if (box) {
      box.hidden = !list.length;
      render(box, list.length ? html`<strong>${list.length} problem${list.length > 1 ? 's' : ''} to fix before saving:</strong>
        <ul>${list.slice(0, 8).map((p) => html`<li>${p.msg}</li>`)}${list.length > 8 ? html`<li>…</li>` : ''}</ul>` : '');
    }
    // A refusal for problems goes once they are fixed.
    const refused = $('.save-error', el);
    if (refused && !list.length && refused.dataset.kind === 'problems') refused.hidden = true;
    const st = $('.dirty-state', el);
    if (st) st.textContent = dirty() ? 'Unsaved changes' : 'Saved';
    return list;
  }

  // ---- JSON ---------------------------------------------------------------

  const writeJSON = () => {
    const t = textarea();
    if (t) t.value = JSON.stringify(cfg, null, 2);
    jsonError = null;
    const sj = $('#stage-json', el);
    if (sj && document.activeElement !== sj && cfg.stages[sel]) sj.value = JSON.stringify(cfg.stages[sel], null, 2);
    showJSONState();
    showProblems();
  };
  const showJSONState = () => {
    const p = $('.json-state', el);
    if (!p) return;
    p.textContent = jsonError ? `Not valid JSON yet: ${jsonError}. The form shows the last valid version; Save sends the text as it is.` : 'In sync with the form.';
    p.classList.toggle('error', !!jsonError);
  };

  // ---- the form -------------------------------------------------------------

  function typeSelect(s, i) {
    const offered = env.types;
    const groups = cat.GROUPS.map((g) => [g, offered.filter((t) => t.group === g)]).filter(([, l]) => l.length);
    const known = offered.some((t) => t.type === s.type);
    return html`<select id="st-type" data-stage-type="${i}" aria-describedby="st-type-desc">
      ${s.type && !known ? html`<option value="${s.type}" selected>${s.type} (not run by this server)</option>` : ''}
      ${groups.map(([g, l]) => html`<optgroup label="${g}">${l.map((t) => html`<option value="${t.type}" ${t.type === s.type ? 'selected' : ''}>${t.label}</option>`)}</optgroup>`)}
    </select>`;
  }

  function stageForm() {
    const s = cfg.stages[sel];
    if (!s) return '';
    const i = sel;
    const d = cat.describe(s.type);
    const fields = cat.stageFields(s.type, env);
    const others = cfg.stages.filter((o) => o !== s);
    const p = `stages.${i}`;
    return html`<div class="stage-form" aria-label="Stage ${s.name || s.refId}">
      <div class="form-grid">
        <div class="field"><label for="st-name">Stage name</label><input id="st-name" data-path="${p}.name" value="${s.name || ''}"></div>
        <div class="field"><label for="st-type">Type</label>${typeSelect(s, i)}
          <p class="field-error" id="f-${p.replace('.', '-')}-type-err" data-err="${p}.type" hidden></p></div>
        <div class="field"><label for="f-${p.replace('.', '-')}-refId">refId</label><input id="f-${p.replace('.', '-')}-refId" data-path="${p}.refId" data-kind="ref" value="${s.refId ?? ''}">
          <p class="field-error" id="f-${p.replace('.', '-')}-refId-err" data-err="${p}.refId" hidden></p></div>
      </div>
      <p class="hint stage-desc" id="st-type-desc">${d ? d.desc : 'No form for this type: edit its fields as JSON below.'}</p>
      <fieldset class="depends"><legend>Depends on</legend>
        ${others.length ? others.map((o) => html`<label class="check"><input type="checkbox" data-dep="${o.refId}" ${(s.requisiteStageRefIds || []).map(String).includes(String(o.refId)) ? 'checked' : ''}> ${o.name || o.type} <span class="muted">(${o.refId})</span></label>`)
          : html`<p class="muted">No other stage: this one starts the pipeline.</p>`}
        <p class="field-error" id="f-${p.replace('.', '-')}-requisiteStageRefIds-err" data-err="${p}.requisiteStageRefIds" hidden></p>
      </fieldset>
      ${fields ? html`<fieldset class="type-fields"><legend>${d.label}</legend>${fieldsHTML(fields, s, p, env, reg)}</fieldset>` : ''}
      <details class="stage-options"><summary>Execution options</summary>
        <div class="form-grid">
          <div class="field"><label for="st-fail">If this stage fails</label><select id="st-fail" data-failure="${i}">
            ${FAILURE.map(([k, label]) => html`<option value="${k}" ${failureOf(s) === k ? 'selected' : ''}>${label}</option>`)}</select></div>
          ${fieldsHTML([{ k: 'stageTimeoutMs', l: 'Timeout (ms)', t: 'number', min: 1, h: 'fails the stage after this long' },
            { k: 'stageEnabled.expression', l: 'Run only when', t: 'text', h: 'an expression, e.g. ${parameters.env == "prod"}' },
            { k: 'restrictExecutionDuringTimeWindow', l: 'Restrict execution to a time window (UTC)', t: 'bool' }], s, p, env, reg)}
        </div></details>
      <details class="stage-json-wrap" ${fields ? '' : 'open'}><summary>Edit stage as JSON</summary>
        <textarea id="stage-json" data-stage-json="${i}" rows="10" spellcheck="false">${JSON.stringify(s, null, 2)}</textarea>
        <p class="hint stage-json-error error" hidden></p></details>
      <div class="btn-row"><button type="button" class="btn btn-sm btn-danger" data-act="remove" data-list="stages" data-index="${i}">Remove stage</button></div>
    </div>`;
  }

  function graphHTML() {
    if (!cfg.stages.length) return html`<p class="muted">No stages yet.</p>`;
    const cycle = findCycle(cfg.stages);
    if (cycle) return html`<p class="graph-error" role="alert">The stages form a cycle (${cycle.join(' → ')}): a stage cannot depend, directly or not, on itself. Change "Depends on" to break it.</p>`;
    const preview = cfg.stages.map((s) => ({ ...s, id: String(s.refId), status: sel === cfg.stages.indexOf(s) ? 'RUNNING' : 'NOT_STARTED' }));
    return html`<div class="graph-wrap" tabindex="0" aria-label="Pipeline graph, scrolls sideways">${graphSVG(preview, (s) => `#stage-${s.refId}`, String((cfg.stages[sel] || {}).refId))}</div>`;
  }

  function listSection(title, key, fields, add, itemTitle) {
    const list = cfg[key] || [];
    return html`<fieldset class="section" data-section="${key}"><legend>${title}</legend>
      ${list.length ? html`<ol class="edit-list">${list.map((x, i) => html`<li>
        <div class="item-head"><strong>${itemTitle(x, i)}</strong><span class="spacer"></span>
          <button type="button" class="btn btn-sm btn-danger" data-act="remove" data-list="${key}" data-index="${i}">Remove</button></div>
        ${typeof fields === 'function' ? fields(x, i) : fieldsHTML(fields, x, `${key}.${i}`, env, reg)}</li>`)}</ol>` : ''}
      ${add}</fieldset>`;
  }

  function triggerFields(t, i) {
    return html`<div class="form-grid"><div class="field"><label for="tr-${i}-type">Type</label>
      <select id="tr-${i}-type" data-trigger-type="${i}">${Object.keys(cat.TRIGGERS).map((k) => html`<option value="${k}" ${k === t.type ? 'selected' : ''}>${k}</option>`)}
      ${cat.TRIGGERS[t.type] ? '' : html`<option selected value="${t.type}">${t.type}</option>`}</select></div></div>
      ${fieldsHTML([...(cat.TRIGGERS[t.type] || []), ...cat.TRIGGER_COMMON], t, `triggers.${i}`, env, reg)}`;
  }

  // A new pipeline starts blank or from a template (Deck's "Create from").
  function createFromHTML() {
    if (cfg.id) return '';
    const none = env.templates && !env.templates.length;
    return html`<fieldset class="create-from"><legend>Create from</legend>
      <label class="check"><input type="radio" name="create-from" value="blank" data-create-from ${templated() ? '' : 'checked'}> Blank pipeline</label>
      <label class="check"><input type="radio" name="create-from" value="template" data-create-from ${templated() ? 'checked' : ''} ${none ? 'disabled' : ''}> Template</label>
      ${none ? html`<p class="hint">No pipeline templates on this server yet (POST /v2/pipelineTemplates/create, or <span class="mono">spin pipeline-template save</span>).</p>` : ''}
    </fieldset>`;
  }

  function stagesSectionHTML() {
    const s = cfg.stages;
    if (templated()) return tf.templateSectionHTML(cfg, env.templates, chosenTemplate());
    return html`<fieldset class="section stages-section"><legend>Stages</legend>
        <div class="graph-host">${graphHTML()}</div>
        <div class="stage-chips" role="tablist" aria-label="Stages">${s.map((x, i) => html`<button type="button" role="tab" class="chip" aria-selected="${String(i === sel)}" data-act="select-stage" data-index="${i}">${x.name || x.type || 'stage'} <span class="muted">${x.refId}</span></button>`)}
          <button type="button" class="btn btn-sm" data-act="add-stage">Add stage</button></div>
        ${stageForm()}
      </fieldset>`;
  }

  function formHTML() {
    reg = new Map();
    return html`${createFromHTML()}
      <div class="field"><label for="f-name">Pipeline name <span class="req" aria-hidden="true">*</span></label><input id="f-name" data-path="name" value="${cfg.name || ''}" required>
        <p class="field-error" id="f-name-err" data-err="name" hidden></p></div>
      <fieldset><legend>Execution options</legend>
        <label class="check"><input type="checkbox" data-path="limitConcurrent" data-kind="bool" ${cfg.limitConcurrent ? 'checked' : ''}> Disable concurrent pipeline executions (only run one at a time)</label>
        <label class="check"><input type="checkbox" data-path="keepWaitingPipelines" data-kind="bool" ${cfg.keepWaitingPipelines ? 'checked' : ''}> Do not automatically cancel pipelines waiting in queue</label>
        <label class="check"><input type="checkbox" data-path="disabled" data-kind="bool" ${cfg.disabled ? 'checked' : ''}> Disabled (triggers do not start it)</label>
      </fieldset>
      ${stagesSectionHTML()}
      ${listSection('Automated triggers', 'triggers', triggerFields, html`<button type="button" class="btn btn-sm" data-act="add-trigger">Add Trigger</button>`, (t) => `${t.type} trigger`)}
      ${listSection('Parameters', 'parameterConfig', cat.PARAMETER, html`<button type="button" class="btn btn-sm" data-act="add" data-list="parameterConfig">Add Parameter</button>`, (p) => p.name || 'New parameter')}
      ${listSection('Notifications', 'notifications', cat.NOTIFICATION, html`<button type="button" class="btn btn-sm" data-act="add" data-list="notifications">Add Notification</button>`, (n) => `${n.type || 'email'}: ${n.address || '…'}`)}
      ${listSection('Expected artifacts', 'expectedArtifacts', cat.ARTIFACT, html`<button type="button" class="btn btn-sm" data-act="add" data-list="expectedArtifacts">Add Artifact</button>`, (a) => a.displayName || 'New artifact')}
`;
  }

  function toolbar() {
    return html`<div class="toolbar"><h2>${cfg.id ? `Configure: ${cfg.name}` : 'New pipeline'}</h2>
      <span class="dirty-state muted" aria-live="polite"></span><span class="spacer"></span>
      ${cfg.id ? html`<button type="button" class="btn" data-act="history" aria-expanded="${String(showHistory)}">Revision history</button>` : ''}
      <a class="btn" href="${base}">Back to pipelines</a>
      ${cfg.id && !locked() ? html`<button type="button" class="btn btn-danger" data-act="delete" data-need="WRITE">Delete</button>` : ''}
      <button type="button" class="btn btn-primary" data-act="save" data-need="WRITE" ${locked() ? 'disabled' : ''}>Save</button></div>`;
  }

  // Spinnaker's "locked" says the UI may not change it; mizzen's
  // pipelineRepos add "managedBy" {type: "git", url, branch, file, commit}:
  // where to change it instead.
  function lockedHTML() {
    if (!locked()) return '';
    const g = cfg.managedBy || {};
    const url = g.commit ? commitUrl({ hash: g.commit, url: g.url }) : null;
    const short = g.commit ? String(g.commit).slice(0, 12) : '';
    return html`<div class="locked-banner" role="note" aria-label="Locked pipeline">
      <strong><svg class="lock-icon" viewBox="0 0 16 16" width="13" height="13" aria-hidden="true"><path fill="currentColor" d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z"/></svg> ${g.type === 'git' ? 'Managed in git: read-only here.' : 'Locked: read-only here.'}</strong>
      ${g.url ? html`<dl class="facts">
        <div><dt>Repository</dt><dd class="mono">${g.url}</dd></div>
        ${g.branch ? html`<div><dt>Branch</dt><dd class="mono">${g.branch}</dd></div>` : ''}
        ${g.file ? html`<div><dt>Path</dt><dd class="mono">${g.file}</dd></div>` : ''}
        ${g.commit ? html`<div><dt>Commit</dt><dd class="mono" title="${g.commit}">${url ? html`<a href="${url}" target="_blank" rel="noopener">${short}</a>` : short}</dd></div>` : ''}
      </dl>
      <span class="hint">Change it with a commit to ${g.file || 'its file'} on ${g.branch || 'its branch'}: mizzen applies each new commit.</span>`
      : cfg.locked.description ? html`<span>${cfg.locked.description}</span>` : ''}</div>`;
  }

  // Read-only: every control of the form refuses edits; choosing a stage
  // to look at it (chips, graph nodes) and the history still work.
  function lockForm() {
    if (!locked()) return;
    const f = $('.editor-form', el);
    if (!f) return;
    for (const c of f.querySelectorAll('input, textarea, select')) {
      if (c.tagName === 'SELECT' || c.type === 'checkbox' || c.type === 'radio') c.disabled = true;
      else c.readOnly = true;
    }
    for (const b of f.querySelectorAll('[data-act="add-stage"], [data-act="add-trigger"], [data-act="add"], [data-act="remove"], [data-act="obj-add"], [data-act="obj-remove"]')) b.hidden = true;
  }

  // The template's rendered pipeline, a moment after the last change.
  function schedulePreview() {
    clearTimeout(previewTimer);
    if (!templated() || !tf.referenceOf(cfg).id) {
      const host = $('.template-preview', el);
      if (host) render(host, '');
      return;
    }
    const my = ++previewSeq;
    previewTimer = setTimeout(async () => {
      if (!cfg) return;
      const markup = await tf.previewHTML(cfg);
      const host = $('.template-preview', el);
      if (my === previewSeq && host) render(host, markup);
    }, 250);
  }

  // After the form is drawn anew.
  function formDrawn() {
    lockForm();
    schedulePreview();
  }

  function draw() {
    render(el, html`${toolbar()}${lockedHTML()}
      <div class="save-error stage-error" role="alert" hidden></div>
      <div class="check-summary" role="status" hidden></div>
      <div class="history-host"></div>
      <div class="editor">
        <form class="panel editor-form" aria-label="Pipeline form" novalidate>${formHTML()}</form>
        <section class="panel editor-json" aria-label="Pipeline JSON">
          <label for="pipeline-json">Pipeline JSON</label>
          <textarea id="pipeline-json" spellcheck="false" rows="30" autocomplete="off" ${locked() ? 'readonly' : ''}></textarea>
          <p class="hint json-state"></p>
        </section>
      </div>`);
    if (showHistory) historyPanel($('.history-host', el), cfg, locked() ? null : restore);
    writeJSON();
    formDrawn();
  }

  function redrawForm(focusId) {
    const f = $('.editor-form', el);
    if (!f) return;
    const active = focusId || (document.activeElement && f.contains(document.activeElement) ? document.activeElement.id : null);
    render(f, formHTML());
    formDrawn();
    if (active) { const a = document.getElementById(active); if (a) a.focus(); }
    showProblems();
  }

  const redrawGraph = () => { const g = $('.graph-host', el); if (g) render(g, graphHTML()); };

  function setPath(path, value) {
    cat.setIn(cfg, path, value);
  }

  // ---- edits ----------------------------------------------------------------

  on(el, 'input', '[data-path]', (e, t) => {
    const path = t.dataset.path;
    const spec = reg.get(path);
    if (t.dataset.kind === 'bool') setPath(path, t.checked);
    else if (t.dataset.kind === 'ref') {
      // A refId rename carries the stages that depend on it along.
      const old = String(cfg.stages[sel].refId);
      const v = t.value.trim();
      cfg.stages[sel].refId = v;
      for (const o of cfg.stages) if (o.requisiteStageRefIds) o.requisiteStageRefIds = o.requisiteStageRefIds.map((r) => (String(r) === old ? v : r));
    } else if (spec) {
      const r = readControl(spec, t, el);
      if (r.error) badControls.set(path, `${spec.l}: ${r.error}`);
      else { badControls.delete(path); setPath(path, r.value); }
    } else setPath(path, t.value === '' ? undefined : t.value);
    writeJSON();
    if (/^stages\.\d+\.(name|refId)$/.test(path)) {
      redrawGraph();
      const chip = $(`.chip[data-index="${sel}"]`, el);
      if (chip) render(chip, html`${cfg.stages[sel].name || cfg.stages[sel].type} <span class="muted">${cfg.stages[sel].refId}</span>`);
    }
    // A choice that shows or hides other fields redraws the form.
    if (spec && (spec.t === 'select' || spec.t === 'bool')) redrawForm(t.id);
  });

  // Blank or from a template: the name (and triggers, parameters,
  // notifications) carry over; the blank form comes back as it was left.
  on(el, 'change', '[data-create-from]', (e, t) => {
    if (locked() || cfg.id) return;
    if (t.value === 'template' && !templated()) {
      blank = cfg;
      cfg = normalise(tf.templatedConfig(cfg, env.templates && env.templates.length === 1 ? env.templates[0] : null));
    } else if (t.value === 'blank' && templated()) {
      const keep = { name: cfg.name, triggers: cfg.triggers, parameterConfig: cfg.parameterConfig, notifications: cfg.notifications };
      cfg = normalise({ ...(blank || { application: app, limitConcurrent: true, keepWaitingPipelines: false, stages: [] }), ...keep });
      sel = 0;
    }
    for (const k of [...badControls.keys()]) if (k.startsWith('variables.')) badControls.delete(k);
    redrawForm(t.value === 'template' ? 'tmpl-select' : null);
    writeJSON();
  });

  on(el, 'change', '[data-template-select]', (e, t) => {
    const tmpl = (env.templates || []).find((x) => x.id === t.value);
    if (!tmpl || locked()) return;
    tf.switchTemplate(cfg, tmpl);
    for (const k of [...badControls.keys()]) if (k.startsWith('variables.')) badControls.delete(k);
    redrawForm(t.id);
    writeJSON();
  });

  const onVariable = (e, t) => {
    if (locked()) return;
    const name = t.dataset.tvar;
    const r = tf.readVariable(t);
    const path = `variables.${name}`;
    if (r.error) badControls.set(path, `Template variable ${name}: ${r.error}`);
    else {
      badControls.delete(path);
      cfg.variables = { ...(cfg.variables || {}) };
      if (r.value === undefined) delete cfg.variables[name]; else cfg.variables[name] = r.value;
    }
    writeJSON();
    schedulePreview();
  };
  on(el, 'input', '[data-tvar]', onVariable);
  on(el, 'change', '[data-tvar][type="checkbox"]', onVariable);

  on(el, 'change', '[data-stage-type]', async (e, t) => {
    const i = Number(t.dataset.stageType);
    const s = cfg.stages[i];
    const d = cat.describe(s.type);
    const extra = Object.keys(s).filter((k) => !CORE.has(k));
    const nameWasDefault = !s.name || (d && s.name === d.label) || s.name === s.type;
    // A new type starts from its own defaults: the old type's fields go.
    const core = { refId: s.refId, requisiteStageRefIds: s.requisiteStageRefIds || [], name: nameWasDefault ? '' : s.name };
    cfg.stages[i] = cat.newStage(t.value, env, core);
    if (extra.length) toast(`Type changed to ${t.value}: the fields of ${s.type} were reset`);
    redrawForm('st-type');
    writeJSON();
  });

  on(el, 'change', '[data-trigger-type]', (e, t) => {
    const i = Number(t.dataset.triggerType);
    const old = cfg.triggers[i];
    cfg.triggers[i] = { ...cat.newTrigger(t.value, env), enabled: old.enabled !== false };
    redrawForm(t.id);
    writeJSON();
  });

  on(el, 'change', '[data-failure]', (e, t) => {
    const s = cfg.stages[Number(t.dataset.failure)];
    const f = FAILURE.find(([k]) => k === t.value);
    Object.assign(s, f[2]);
    writeJSON();
  });

  on(el, 'change', '[data-dep]', (e, t) => {
    const s = cfg.stages[sel];
    const set = new Set((s.requisiteStageRefIds || []).map(String));
    if (t.checked) set.add(String(t.dataset.dep)); else set.delete(String(t.dataset.dep));
    s.requisiteStageRefIds = cfg.stages.map((o) => String(o.refId)).filter((r) => set.has(r));
    writeJSON();
    redrawGraph();
  });

  on(el, 'input', '[data-stage-json]', (e, t) => {
    const i = Number(t.dataset.stageJson);
    const hint = $('.stage-json-error', el);
    let v;
    try {
      v = JSON.parse(t.value || '{}');
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('a stage is a JSON object');
    } catch (err) {
      hint.hidden = false;
      hint.textContent = `Not applied: ${err.message}`;
      return;
    }
    hint.hidden = true;
    cfg.stages[i] = v;
    writeJSON();
  });
  // The stage's own JSON redraws its form once the cursor leaves it.
  el.addEventListener('focusout', (e) => { if (e.target.id === 'stage-json' && $('.stage-json-error', el).hidden) redrawForm(); });

  on(el, 'input', '#pipeline-json', (e, t) => {
    try {
      const v = JSON.parse(t.value);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('a pipeline is a JSON object');
      cfg = normalise(v);
      jsonError = null;
      if (sel >= cfg.stages.length) sel = Math.max(0, cfg.stages.length - 1);
      redrawForm();
    } catch (err) {
      jsonError = err.message;
    }
    showJSONState();
    const st = $('.dirty-state', el);
    if (st) st.textContent = dirty() ? 'Unsaved changes' : 'Saved';
  });

  // Graph nodes select the stage they show (their href is only a fallback).
  on(el, 'click', 'a.node', (e, t) => {
    e.preventDefault();
    const ref = (t.getAttribute('href') || '').replace(/^#stage-/, '');
    const i = cfg.stages.findIndex((s) => String(s.refId) === ref);
    if (i >= 0) { sel = i; redrawForm(); }
  });

  on(el, 'click', '[data-act]', async (e, t) => {
    const a = t.dataset.act;
    if (a === 'add-stage') {
      const prev = cfg.stages[sel] || cfg.stages[cfg.stages.length - 1];
      const ref = String(1 + Math.max(0, ...cfg.stages.map((s) => Number(s.refId) || 0)));
      cfg.stages.push(cat.newStage('wait', env, { refId: ref, requisiteStageRefIds: prev ? [String(prev.refId)] : [], name: '' }));
      sel = cfg.stages.length - 1;
      redrawForm('st-name');
    } else if (a === 'select-stage') {
      sel = Number(t.dataset.index);
      redrawForm();
    } else if (a === 'add-trigger') {
      (cfg.triggers ||= []).push(cat.newTrigger('git', env));
      redrawForm();
    } else if (a === 'add') {
      const key = t.dataset.list;
      const fields = { parameterConfig: cat.PARAMETER, notifications: cat.NOTIFICATION, expectedArtifacts: cat.ARTIFACT }[key];
      const item = cat.defaults(fields, env);
      if (key === 'expectedArtifacts') item.id = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
      (cfg[key] ||= []).push(item);
      redrawForm();
    } else if (a === 'remove') {
      const key = t.dataset.list;
      const i = Number(t.dataset.index);
      const gone = cfg[key][i];
      cfg[key].splice(i, 1);
      if (key === 'stages') {
        // Stages that depended on it now depend on what it depended on.
        for (const o of cfg.stages) {
          const r = (o.requisiteStageRefIds || []).map(String);
          if (r.includes(String(gone.refId))) o.requisiteStageRefIds = [...new Set([...r.filter((x) => x !== String(gone.refId)), ...(gone.requisiteStageRefIds || []).map(String)])];
        }
        sel = Math.min(sel, Math.max(0, cfg.stages.length - 1));
      }
      redrawForm();
    } else if (a === 'obj-add') {
      const spec = reg.get(t.dataset.path);
      const list = cat.getIn(cfg, t.dataset.path);
      const item = spec.make ? spec.make() : cat.defaults(spec.item, env);
      if (Array.isArray(list)) list.push(item); else setPath(t.dataset.path, [item]);
      redrawForm();
    } else if (a === 'obj-remove') {
      setPath(t.dataset.path, undefined);
      redrawForm();
    } else if (a === 'save') {
      return save(t);
    } else if (a === 'history') {
      showHistory = !showHistory;
      t.setAttribute('aria-expanded', String(showHistory));
      const host = $('.history-host', el);
      if (showHistory) historyPanel(host, cfg, locked() ? null : restore); else render(host, '');
      return;
    } else if (a === 'delete') {
      if (!await confirmDialog({ title: `Delete ${cfg.name}?`, message: 'The pipeline and its history go; its executions stay visible.', confirmLabel: 'Delete pipeline', danger: true })) return;
      try {
        await api('DELETE', `/pipelines/${enc(app)}/${enc(cfg.name)}`);
        toast(`Deleted ${cfg.name}`);
        saved = JSON.stringify(cfg); jsonError = null;
        clearLeaveGuard(guard);
        location.hash = base;
      } catch (err) { toast(`Delete: ${err.message}`, 'error'); }
      return;
    } else return;
    writeJSON();
  });

  // A revision chosen in the history replaces the form (not saved yet).
  function restore(rev) {
    const keep = { id: cfg.id, application: cfg.application };
    cfg = normalise({ ...structuredClone(rev), ...keep });
    for (const k of ['updateTs', 'lastModifiedBy']) delete cfg[k];
    sel = 0;
    redrawForm();
    writeJSON();
    toast('Revision loaded: Save to make it current');
  }

  async function save(btn) {
    const box = $('.save-error', el);
    box.hidden = true;
    const list = jsonError ? [] : showProblems();
    if (list.length) {
      box.hidden = false;
      box.textContent = `Not saved: ${list.length} problem${list.length > 1 ? 's' : ''} to fix first (listed below).`;
      box.dataset.kind = 'problems';
      return;
    }
    btn.disabled = true;
    try {
      const res = await api('POST', '/pipelines', textarea().value, { raw: true });
      toast(`Saved ${res && res.name ? res.name : 'the pipeline'}`);
      if (res && res.id) {
        cfg = normalise(res);
        saved = JSON.stringify(cfg);
        const target = `${base}/configure/${enc(res.id)}`;
        if (location.hash !== target) {
          history.replaceState(null, '', target);
          window.dispatchEvent(new HashChangeEvent('hashchange')); // the router notes the new address
        }
        draw();
      }
    } catch (err) {
      box.hidden = false;
      box.textContent = `The server rejected the pipeline: ${err.message}`;
      box.dataset.kind = 'server';
      box.setAttribute('tabindex', '-1');
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

  async function loadEnv() {
    const [types, creds, pipes, templates] = await Promise.all([
      typesCache || get('/stageTypes').then((t) => (typesCache = t)).catch(() => null),
      get('/credentials').catch(() => []),
      get(`/applications/${enc(app)}/pipelineConfigs`).catch(() => []),
      tf.listTemplates().catch(() => []),
    ]);
    env.templates = templates;
    env.types = cat.offered((types || []).map((t) => t.type));
    env.accounts = (creds || []).map((c) => ({ name: c.name, regions: c.regions || [] }));
    env.pipelines = pipes || [];
    return env.pipelines;
  }

  async function load(c) {
    const id = (c.rest || [])[1];
    // Another pipeline (or a new one) in the same view: the old form goes
    // at once, not after the reads (nothing is typed into it meanwhile).
    if (cfg) { cfg = null; render(el, html`<p class="loading">Loading…</p>`); }
    try {
      const list = await loadEnv();
      if (!id || id === 'new') {
        cfg = normalise({ application: app, name: '', limitConcurrent: true, keepWaitingPipelines: false, triggers: [], parameterConfig: [], stages: [] });
      } else {
        const found = list.find((p) => p.id === id) || list.find((p) => p.name === id);
        if (!found) { render(el, html`<p class="error" role="alert">No pipeline with id ${id} in ${app}.</p>`); return; }
        cfg = normalise(found);
      }
      saved = JSON.stringify(cfg);
      jsonError = null; sel = 0; badControls.clear(); blank = null;
      draw();
      const n = $('#f-name', el);
      if (n && !cfg.name) n.focus();
    } catch (e) {
      render(el, html`<p class="error" role="alert">${e.message}</p>`);
    }
  }

  render(el, html`<p class="loading">Loading…</p>`);
  load(ctx);
  return {
    update(c) { if ((c.rest || [])[1] !== (cfg && cfg.id)) load(c); },
    unmount() { clearLeaveGuard(guard); clearTimeout(previewTimer); window.removeEventListener('beforeunload', beforeUnload); },
  };
}
