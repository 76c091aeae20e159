// execPanes.js - what an opened execution shows above its graph and
// inside a stage's details, beyond tasks and raw JSON: the trigger and
// parameters (a commit linked to its repository where the URL allows,
// parent and child executions linked), the artifacts it consumed and
// produced (local ones downloadable), and a pane per stage type: deploy's
// server groups made and disabled, runJob's live log, bake's image per
// region, a pipeline stage's child execution, a webhook's response.

import { html, pretty } from '../dom.js';
import { enc } from '../api.js';
import { timeHTML, duration, statusClass, statusLabel, isActive } from '../format.js';

const execLink = (app, id) => `#/applications/${enc(app)}/executions/details/${enc(id)}`;

// https://github.com/o/r(.git) and the like: a link to the commit.
export function commitUrl(t) {
  const hash = t.hash || t.sha;
  if (!hash) return null;
  const hosts = { github: 'https://github.com', gitlab: 'https://gitlab.com', bitbucket: 'https://bitbucket.org' };
  if (t.project && t.slug && hosts[t.source]) return `${hosts[t.source]}/${t.project}/${t.slug}/commit/${hash}`;
  const m = /^https:\/\/(github\.com|gitlab\.com|bitbucket\.org)\/([^/\s]+)\/([^/\s]+?)(\.git)?\/?$/.exec(t.url || t.repository || '');
  if (m) return `https://${m[1]}/${m[2]}/${m[3]}/${m[1] === 'bitbucket.org' ? 'commits' : 'commit'}/${hash}`;
  return null;
}

function parentOf(exec) {
  const t = exec.trigger || {};
  const pe = t.parentExecution;
  if (pe && pe.id) return { id: pe.id, app: pe.application || exec.application, name: pe.name || 'parent' };
  if (t.parentPipelineId || t.parentExecutionId) return { id: t.parentExecutionId || t.parentPipelineId, app: t.parentPipelineApplication || exec.application, name: t.parentPipelineName || 'parent' };
  return null;
}

function artifactRow(a, how) {
  const local = a.type === 'mizzen/file' && /^[0-9a-f]{64}$/.test(a.reference || '');
  return html`<tr><td>${a.name || '-'}</td><td class="mono">${a.type || '-'}</td><td>${how}</td>
    <td class="mono ref">${local ? html`<a href="/artifacts/local/${a.reference}" download="${String(a.name || a.reference).split('/').pop()}">Download</a> ${a.reference.slice(0, 12)}`
      : (a.reference || '-')}</td></tr>`;
}

export function artifactsOf(exec) {
  const t = exec.trigger || {};
  const out = [];
  const seen = new Set();
  const add = (a, how) => { if (!a) return; const k = `${how}|${a.type}|${a.name}|${a.reference}`; if (!seen.has(k)) { seen.add(k); out.push([a, how]); } };
  for (const a of t.artifacts || []) add(a, 'trigger');
  for (const r of t.resolvedExpectedArtifacts || []) add(r.boundArtifact, `consumed (${r.displayName || 'expected'})`);
  for (const s of exec.stages || []) for (const a of (s.outputs && s.outputs.artifacts) || []) add(a, `produced by ${s.name || s.type}`);
  return out;
}

// Trigger, parameters, links and artifacts of the execution; the re-run
// button when its pipeline still exists.
export function runSummaryHTML(exec, canRerun) {
  const t = exec.trigger || {};
  const params = Object.entries(t.parameters || {});
  const parent = parentOf(exec);
  const url = commitUrl(t);
  const children = (exec.stages || []).filter((s) => s.type === 'pipeline' && s.context && s.context.executionId);
  const arts = artifactsOf(exec);
  return html`<section class="run-summary" aria-label="Trigger and parameters">
    <dl class="facts">
      <div><dt>Execution</dt><dd class="mono">${exec.id}</dd></div>
      <div><dt>Trigger</dt><dd>${t.type || 'manual'}${t.source && t.type !== 'git' ? ` (${t.source})` : ''}</dd></div>
      <div><dt>User</dt><dd>${t.user || 'anonymous'}</dd></div>
      <div><dt>Started</dt><dd>${timeHTML(exec.startTime || exec.buildTime)}</dd></div>
      ${t.hash ? html`<div><dt>Commit</dt><dd class="mono">${url ? html`<a href="${url}" target="_blank" rel="noopener">${String(t.hash).slice(0, 10)}</a>` : String(t.hash).slice(0, 10)}${t.branch ? ` on ${t.branch}` : ''}</dd></div>` : ''}
      ${parent ? html`<div><dt>Started by</dt><dd><a href="${execLink(parent.app, parent.id)}">${parent.name} (${parent.app})</a></dd></div>` : ''}
      ${t.rerunOf ? html`<div><dt>Re-run of</dt><dd><a href="${execLink(exec.application, t.rerunOf)}" class="mono">${t.rerunOf}</a></dd></div>` : ''}
      ${children.length ? html`<div><dt>Child executions</dt><dd>${children.map((s) => html`<a href="${execLink(s.context.application || exec.application, s.context.executionId)}">${s.name}</a> `)}</dd></div>` : ''}
    </dl>
    ${params.length ? html`<table class="params-table" aria-label="Parameters"><thead><tr><th scope="col">Parameter</th><th scope="col">Value</th></tr></thead>
      <tbody>${params.map(([k, v]) => html`<tr><td>${k}</td><td class="mono">${typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>`)}</tbody></table>` : ''}
    ${arts.length ? html`<details class="artifacts" open><summary>Artifacts (${arts.length})</summary>
      <table class="artifacts-table"><thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">How</th><th scope="col">Reference</th></tr></thead>
      <tbody>${arts.map(([a, how]) => artifactRow(a, how))}</tbody></table></details>` : ''}
    <div class="btn-row">${canRerun ? html`<button type="button" data-need="EXECUTE" class="btn btn-sm" data-act="rerun" data-id="${exec.id}">Re-run</button>` : html`<span class="muted">The pipeline was deleted: no re-run.</span>`}</div>
  </section>`;
}

// The stage and every synthetic stage under it (a deploy's work happens
// in its "Deploy in <region>" children and their strategy steps).
function family(exec, stage) {
  const all = exec.stages || [];
  const out = [stage];
  for (let i = 0; i < out.length; i++) for (const k of all) if (k.parentStageId === out[i].id) out.push(k);
  return out;
}

function deployPane(exec, stage) {
  const rows = [];
  const seen = new Set();
  const add = (verb, region, n) => { const k = `${verb}|${region}|${n}`; if (!seen.has(k)) { seen.add(k); rows.push([verb, region, n]); } };
  for (const k of family(exec, stage)) {
    const kc = k.context || {};
    const verb = /^disable/i.test(k.type) ? 'disabled' : /^(destroy|shrink)/i.test(k.type) ? 'destroyed' : /^(scaleDown|resize)/i.test(k.type) ? 'resized' : null;
    if (verb) {
      const dsg = kc['deploy.server.groups'] || {};
      const names = Object.entries(dsg).flatMap(([r, ns]) => (ns || []).map((n) => [r, n]));
      if (!names.length && (kc.serverGroupName || kc.asgName)) names.push([kc.region || (kc.regions || [])[0] || '', kc.serverGroupName || kc.asgName]);
      for (const [r, n] of names) add(verb, r, n);
    } else {
      for (const [region, names] of Object.entries(kc['deploy.server.groups'] || {})) for (const n of names || []) add('created', region, n);
    }
  }
  if (!rows.length) return '';
  const link = `#/applications/${enc(exec.application)}/clusters`;
  return html`<div class="stage-pane"><h4>Server groups</h4><ul class="plain">${rows.map(([verb, region, n]) =>
    html`<li><span class="badge ${verb === 'created' ? 'st-succeeded' : 'st-canceled'}">${verb}</span> <a href="${link}">${n}</a> <span class="muted">${region}</span></li>`)}</ul></div>`;
}

// One row per region: the image the bake made (or reused), from the
// parent's deploymentDetails once it is done, and from each "Bake in
// <region>" step while it runs (its status, then its image and timing).
function bakePane(exec, stage) {
  const kids = family(exec, stage).filter((k) => k !== stage && (k.context || {}).region);
  const details = (stage.outputs || {}).deploymentDetails || (stage.context || {}).deploymentDetails || [];
  const regions = [...new Set([...details.map((d) => d.region), ...kids.map((k) => k.context.region),
    ...((stage.context || {}).regions || [])])].filter(Boolean);
  if (!regions.length) return '';
  const rows = regions.map((region) => {
    const d = details.find((x) => x.region === region) || {};
    const k = kids.find((x) => x.context.region === region);
    const kc = (k && k.context) || {};
    const took = kc.bakeStartTime && kc.bakeEndTime ? duration(kc.bakeEndTime - kc.bakeStartTime) : '';
    return { region, image: d.imageId || d.ami || kc.imageId || kc.ami, name: d.imageName || kc.imageName,
      reused: d.previouslyBaked ?? kc.previouslyBaked, status: k ? k.status : stage.status, took };
  });
  return html`<div class="stage-pane"><h4>Images</h4><table class="bake-table" aria-label="Baked images">
    <thead><tr><th scope="col">Region</th><th scope="col">Image</th><th scope="col">Name</th><th scope="col">Reused</th><th scope="col">Bake time</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr><td>${r.region}</td>
      <td class="mono">${r.image || html`<span class="badge ${statusClass(r.status)}">${isActive(r.status) ? 'baking' : statusLabel(r.status)}</span>`}</td>
      <td class="mono">${r.name || '-'}</td><td>${r.reused == null ? '-' : r.reused ? 'yes (same package and recipe)' : 'no'}</td><td>${r.took || '-'}</td></tr>`)}</tbody></table></div>`;
}

// "201 Created" from Spring's name (CREATED) and the number.
function httpStatus(w) {
  const name = w.statusCode != null && typeof w.statusCode === 'string'
    ? w.statusCode.toLowerCase().replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()) : '';
  const num = w.statusCodeValue ?? (typeof w.statusCode === 'number' ? w.statusCode : null);
  return [num, name].filter((x) => x != null && x !== '').join(' ');
}

const bodyText = (b) => (typeof b === 'string' ? b : pretty(b));

// The call the stage made and what came back; with a status URL, what
// the last poll of it said. Values are the stage's context as recorded:
// a ${#secret(...)} in the URL stays unresolved there.
function webhookPane(stage) {
  const c = stage.context || {};
  const w = c.webhook;
  const sent = html`<div><dt>Request</dt><dd class="mono">${(c.method || 'POST').toUpperCase()} ${c.url || ''}</dd></div>`;
  if (!w) {
    return html`<div class="stage-pane webhook-pane"><h4>Webhook</h4><dl class="facts">${sent}
      <div><dt>Response</dt><dd class="muted">${isActive(stage.status) ? 'waiting for the call' : 'none recorded'}</dd></div></dl></div>`;
  }
  const m = w.monitor;
  const status = httpStatus(w);
  return html`<div class="stage-pane webhook-pane"><h4>Webhook</h4><dl class="facts">${sent}
      <div><dt>Response status</dt><dd>${status ? html`<span class="badge ${Number(w.statusCodeValue) < 400 ? 'st-succeeded' : 'st-terminal'}">${status}</span>` : html`<span class="muted">no response</span>`}</dd></div>
      ${w.statusEndpoint ? html`<div><dt>Status URL</dt><dd class="mono">${w.statusEndpoint}</dd></div>` : ''}
      ${m && httpStatus(m) ? html`<div><dt>Last status poll</dt><dd>${httpStatus(m)}</dd></div>` : ''}
      ${m && m.progressMessage ? html`<div><dt>Progress</dt><dd>${m.progressMessage}</dd></div>` : ''}</dl>
    ${w.error ? html`<p class="error" role="alert">${w.error}</p>` : ''}
    ${w.body != null ? html`<h5>Response body</h5><pre class="json" aria-label="Response body">${bodyText(w.body)}</pre>` : ''}
    ${m && m.error ? html`<p class="error">${m.error}</p>` : ''}
    ${m && m.body != null ? html`<h5>Status response body</h5><pre class="json" aria-label="Status response body">${bodyText(m.body)}</pre>` : ''}
  </div>`;
}

export function stagePaneHTML(exec, stage) {
  const c = stage.context || {};
  switch (stage.type) {
    case 'deploy': case 'createServerGroup': case 'cloneServerGroup': return deployPane(exec, stage);
    case 'bake': return bakePane(exec, stage);
    case 'runJob':
      return c.jobLogUrl ? html`<div class="stage-pane"><h4>Log ${stage.status === 'RUNNING' ? html`<span class="badge st-running">live</span>` : ''}</h4>
        <pre class="json log" data-joblog="${c.jobLogUrl}" data-live="${String(stage.status === 'RUNNING')}" tabindex="0" aria-label="Job log">Loading the log…</pre>
        <a href="${c.jobLogUrl}" target="_blank" rel="noopener">Open the raw log</a></div>` : '';
    case 'pipeline':
      return c.executionId ? html`<div class="stage-pane"><h4>Child execution</h4>
        <a href="${execLink(c.application || exec.application, c.executionId)}">${c.executionName || c.pipelineName || 'the child pipeline'} <span class="mono">${c.executionId}</span></a></div>` : '';
    case 'webhook': return webhookPane(stage);
    default: return '';
  }
}
