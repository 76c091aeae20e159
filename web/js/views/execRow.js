// execRow.js - one execution as a row of the PIPELINES view: trigger, build
// number, start time, status, duration and the bar of stage markers. Works
// on summaries (no stage contexts), which is all the list and the live
// events carry. Pure string templates: thousands of rows render in one
// innerHTML assignment.

import { html } from '../dom.js';
import { duration, elapsed, time, ago, utc, statusClass, statusLabel, isActive } from '../format.js';

// Top-level stages in execution order (synthetic stages live inside their
// parent's marker, as in Deck).
export function topStages(exec) {
  return (exec.stages || []).filter((s) => !s.parentStageId && !s.syntheticStageOwner);
}

export function buildNumber(exec) {
  const t = exec.trigger || {};
  const n = t.buildNumber ?? (t.buildInfo && t.buildInfo.number) ?? t.number;
  return n == null ? null : `#${n}`;
}

export function triggerText(exec) {
  const t = exec.trigger || {};
  const type = String(t.type || 'manual');
  const user = t.user && t.user !== '[anonymous]' ? t.user : 'anonymous';
  if (type === 'manual') return `Manual start by ${user}`;
  if (type === 'pipeline') return `Pipeline trigger${t.parentPipelineName ? `: ${t.parentPipelineName}` : ''}`;
  if (type === 'git') return `Git: ${t.branch || ''} ${String(t.hash || '').slice(0, 7)}`.trim();
  if (type === 'cron') return 'Cron trigger';
  if (t.source) return `${type}: ${t.source}`;
  return `${type} trigger`;
}

// The judgment an execution is waiting for, if any.
export function waitingJudgment(exec) {
  return (exec.stages || []).find((s) => s.type === 'manualJudgment' && s.status === 'RUNNING');
}

function durationCell(x) {
  if (!x.startTime) return html`<span class="dur">-</span>`;
  if (!x.endTime && isActive(x.status)) {
    return html`<span class="dur" data-since="${x.startTime}">${duration(elapsed(x))}</span>`;
  }
  return html`<span class="dur">${duration(elapsed(x))}</span>`;
}

// Markers are links for the mouse but not tab stops (20 per row would bury
// the row's buttons): keyboard users open Details and move through the
// stages in the graph, whose nodes are focusable links.
function marker(exec, s, base, n, selected) {
  const label = s.name || s.type;
  const waiting = s.type === 'manualJudgment' && s.status === 'RUNNING';
  const d = s.startTime ? duration(elapsed(s)) : '';
  const title = `${label}: ${waiting ? 'waiting for judgment' : statusLabel(s.status)}${d ? ` (${d})` : ''}`;
  return html`<a class="marker ${statusClass(s.status)}${waiting ? ' waiting' : ''}${selected === s.id ? ' selected' : ''}"
    href="${base}/details/${exec.id}?stage=${s.id}" title="${title}" aria-label="${title}" tabindex="-1"
    ><span class="marker-label">${waiting ? 'waiting' : label}</span></a>`;
}

// base: '#/applications/<app>/executions'; open: the execution whose details
// are shown (its Details link closes them).
export function rowHTML(exec, base, open = null, selectedStage = null) {
  const stages = topStages(exec);
  const bn = buildNumber(exec);
  const active = isActive(exec.status);
  const judgment = waitingJudgment(exec);
  const isOpen = open === exec.id;
  const st = exec.startTime || exec.buildTime;
  return html`<li class="exec ${statusClass(exec.status)}${isOpen ? ' open' : ''}" id="x-${exec.id}" data-id="${exec.id}">
  <div class="exec-info">
    <div class="exec-trigger">${bn ? html`<span class="build">${bn}</span> ` : ''}${triggerText(exec)}</div>
    <div class="exec-time"><time datetime="${st ? new Date(st).toISOString() : ''}" title="${utc(st)} · ${ago(st)}">${time(st)}</time></div>
  </div>
  <div class="exec-status"><span class="badge ${statusClass(exec.status)}">${statusLabel(exec.status)}</span>${durationCell(exec)}</div>
  <div class="exec-bar" aria-label="Stages of this execution">${stages.map((s) => marker(exec, s, base, stages.length, isOpen ? selectedStage : null))}</div>
  <div class="exec-actions">
    ${judgment ? html`<a data-need="EXECUTE" class="btn btn-warn btn-sm" href="${base}/details/${exec.id}?stage=${judgment.id}">Judgment</a>` : ''}
    ${exec.status === 'RUNNING' ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm" data-act="pause" data-id="${exec.id}">Pause</button>` : ''}
    ${exec.status === 'PAUSED' ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm" data-act="resume" data-id="${exec.id}">Resume</button>` : ''}
    ${active ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm btn-danger" data-act="cancel" data-id="${exec.id}">Cancel</button>` : ''}
    <a class="btn btn-sm btn-link" href="${isOpen ? base : `${base}/details/${exec.id}`}" aria-expanded="${String(isOpen)}">${isOpen ? 'Hide details' : 'Details'}</a>
  </div>
</li>`;
}
