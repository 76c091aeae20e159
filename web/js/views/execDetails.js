// execDetails.js - the details of one execution (the whole execution JSON,
// fetched once when opened and again when its summary changes): the
// pipeline graph, then the selected stage's details as Deck shows them -
// status and times, the manual judgment's Continue/Stop with its inputs,
// skip/restart, and tabs with the task list (Step | Started | Duration |
// Status), the stage context and its outputs.

import { html, pretty } from '../dom.js';
import { duration, elapsed, timeHTML, statusClass, statusLabel, isActive } from '../format.js';
import { runSummaryHTML, stagePaneHTML } from './execPanes.js';
import { graphSVG } from './graph.js';
import { topStages } from './execRow.js';

const COMPLETE = new Set(['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED', 'FAILED_CONTINUE', 'SKIPPED']);

// "waitForUpInstances" -> "Wait For Up Instances"
export function humanise(name) {
  return String(name || '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .replace(/^./, (c) => c.toUpperCase())
    .replace(/ (.)/g, (m, c) => ` ${c.toUpperCase()}`);
}

// The stage shown when none is chosen: a waiting judgment, else the first
// running, else the first that failed, else the last that ran.
export function defaultStage(exec) {
  const top = topStages(exec);
  return top.find((s) => s.type === 'manualJudgment' && s.status === 'RUNNING')
    || top.find((s) => s.status === 'RUNNING')
    || top.find((s) => ['TERMINAL', 'STOPPED', 'CANCELED', 'FAILED_CONTINUE'].includes(s.status))
    || [...top].reverse().find((s) => s.startTime)
    || top[0];
}

function errorOf(stage) {
  const ex = stage.context && stage.context.exception;
  if (!ex) return null;
  const d = ex.details || {};
  const list = d.errors && d.errors.length ? d.errors : [d.error || ex.message || 'failed'];
  return list.join('\n');
}

// The stage's own error and those of its synthetic steps (a failed
// precondition is recorded on the step that checked it).
function errorsOf(exec, stage) {
  const out = [];
  const walk = (s, label) => {
    const e = errorOf(s);
    if (e) out.push(label ? `${label}: ${e}` : e);
    for (const k of (exec.stages || []).filter((x) => x.parentStageId === s.id)) walk(k, k.name || k.type);
  };
  walk(stage, null);
  return out.length ? out.join('\n') : null;
}

// The stage and its synthetic descendants, in Orca's order (before-stages
// ahead of their parent's own tasks, after-stages behind).
function steps(exec, stage) {
  const all = exec.stages || [];
  const out = [];
  const walk = (s, level) => {
    const kids = all.filter((k) => k.parentStageId === s.id);
    const before = kids.filter((k) => k.syntheticStageOwner !== 'STAGE_AFTER');
    const after = kids.filter((k) => k.syntheticStageOwner === 'STAGE_AFTER');
    for (const k of before) walk(k, level + 1);
    if (level > 0) out.push({ kind: 'stage', stage: s, level });
    for (const t of s.tasks || []) out.push({ kind: 'task', task: t, level });
    for (const k of after) walk(k, level + 1);
  };
  walk(stage, 0);
  return out;
}

function taskRows(exec, stage) {
  const rows = steps(exec, stage);
  if (!rows.length) return html`<p class="muted">No tasks yet: the stage has not started.</p>`;
  return html`<table class="tasks-table">
    <thead><tr><th scope="col">Step</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Status</th></tr></thead>
    <tbody>${rows.map((r) => {
      const x = r.kind === 'task' ? r.task : r.stage;
      const name = r.kind === 'task' ? humanise(x.name) : (x.name || humanise(x.type));
      const running = !x.endTime && x.startTime && isActive(x.status);
      return html`<tr class="${r.kind === 'stage' ? 'substage' : ''}">
        <td style="padding-left:${0.5 + r.level * 1.2}em">${name}</td>
        <td>${x.startTime ? timeHTML(x.startTime) : '-'}</td>
        <td>${running ? html`<span data-since="${x.startTime}">${duration(elapsed(x))}</span>` : (x.startTime ? duration(elapsed(x)) : '-')}</td>
        <td><span class="badge ${statusClass(x.status)}">${statusLabel(x.status)}</span></td></tr>`;
    })}</tbody></table>`;
}

function judgmentForm(exec, stage) {
  const c = stage.context || {};
  const inputs = (c.judgmentInputs || []).map((i) => (i && typeof i === 'object' ? i.value : i)).filter((v) => v != null && v !== '');
  return html`<form class="judgment" data-need="EXECUTE" data-act="judge-form" data-id="${exec.id}" data-stage="${stage.id}">
    <h4>Manual judgment</h4>
    ${c.instructions ? html`<p class="instructions">${c.instructions}</p>` : ''}
    ${inputs.length ? html`<label>Judgment input
      <select name="judgmentInput">${inputs.map((v) => html`<option value="${v}">${v}</option>`)}</select></label>` : ''}
    <div class="btn-row">
      <button type="submit" class="btn btn-primary" name="judgmentStatus" value="continue">Continue</button>
      <button type="submit" class="btn btn-danger" name="judgmentStatus" value="stop">Stop</button>
    </div></form>`;
}

// tab: 'tasks' | 'context' | 'outputs'; canRerun: its pipeline exists.
export function detailsHTML(exec, stageId, tab, base, canRerun = true) {
  const top = topStages(exec);
  const stage = top.find((s) => s.id === stageId) || (exec.stages || []).find((s) => s.id === stageId) || defaultStage(exec);
  const href = (s) => `${base}/details/${exec.id}?stage=${s.id}`;
  if (!stage) return html`<div class="details">${runSummaryHTML(exec, canRerun)}<p class="muted">This execution has no stages.</p></div>`;
  const err = errorsOf(exec, stage);
  const c = stage.context || {};
  const canRestart = COMPLETE.has(stage.status) && stage.status !== 'SUCCEEDED' && stage.status !== 'SKIPPED';
  return html`<div class="details" data-exec="${exec.id}" data-stage="${stage.id}">
  ${runSummaryHTML(exec, canRerun)}
  <div class="graph-wrap" tabindex="0" aria-label="Pipeline graph, scrolls sideways">${graphSVG(top, href, stage.id)}</div>
  <section class="stage-details" aria-labelledby="sd-${stage.id}">
    <header>
      <h3 id="sd-${stage.id}">Stage details: ${stage.name || stage.type}</h3>
      <dl class="facts">
        <div><dt>Type</dt><dd>${stage.type}</dd></div>
        <div><dt>Status</dt><dd><span class="badge ${statusClass(stage.status)}">${statusLabel(stage.status)}</span></dd></div>
        <div><dt>Started</dt><dd>${timeHTML(stage.startTime)}</dd></div>
        <div><dt>Duration</dt><dd>${stage.startTime && !stage.endTime && isActive(stage.status)
          ? html`<span data-since="${stage.startTime}">${duration(elapsed(stage))}</span>` : duration(elapsed(stage))}</dd></div>
        ${c.restartDetails ? html`<div><dt>Restarted</dt><dd>by ${c.restartDetails.restartedBy} at ${timeHTML(c.restartDetails.restartTime)}</dd></div>` : ''}
        ${c.judgedBy ? html`<div><dt>Judged by</dt><dd>${c.judgedBy}${c.judgmentInput ? ` (${c.judgmentInput})` : ''}</dd></div>` : ''}
      </dl>
    </header>
    ${err ? html`<pre class="stage-error" role="alert">${err}</pre>` : ''}
    ${stagePaneHTML(exec, stage)}
    ${stage.type === 'manualJudgment' && stage.status === 'RUNNING' ? judgmentForm(exec, stage) : ''}
    <div class="btn-row">
      ${stage.type === 'wait' && stage.status === 'RUNNING' ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm" data-act="skip-wait" data-id="${exec.id}" data-stage="${stage.id}">Skip remaining wait</button>` : ''}
      ${canRestart ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm" data-act="restart" data-id="${exec.id}" data-stage="${stage.id}">Restart stage</button>` : ''}
    </div>
    <div class="subtabs" role="tablist">
      ${[['tasks', 'Tasks'], ['context', 'Context'], ['outputs', 'Outputs']].map(([id, label]) =>
        html`<button type="button" role="tab" aria-selected="${tab === id}" data-act="stage-tab" data-tab="${id}">${label}</button>`)}
    </div>
    <div class="subtab-body" role="tabpanel">
      ${tab === 'context' ? html`<pre class="json">${pretty(stage.context || {})}</pre>`
        : tab === 'outputs' ? html`<pre class="json">${pretty(stage.outputs || {})}</pre>`
        : taskRows(exec, stage)}
    </div>
  </section>
</div>`;
}
