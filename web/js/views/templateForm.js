// templateForm.js - pipelines made from Spinnaker's v2 pipeline templates
// in the editor: the template chosen (GET /v2/pipelineTemplates), its
// variables as a form typed by their declarations (int, float, string,
// boolean, list, object), and a preview of the pipeline the server
// renders from them (POST /v2/pipelineTemplates/plan) with the server's
// own message when it cannot. A templated config is Deck's shape:
// {"schema": "v2", "template": {"reference": "spinnaker://ID"},
// "variables": {...}, "stages": [...], "exclude": [...]}; its own stages
// (with "inject") are edited in its JSON.

import { html } from '../dom.js';
import { api, get } from '../api.js';
import { graphSVG } from './graph.js';

export const isTemplated = (cfg) => !!(cfg && cfg.schema === 'v2' && cfg.template && typeof cfg.template === 'object');

// "spinnaker://ID" or "spinnaker://ID:TAG" -> {id, tag}.
export function referenceOf(cfg) {
  const m = /^spinnaker:\/\/([^:]+)(?::(.+))?$/.exec(String((cfg.template || {}).reference || ''));
  return m ? { id: m[1], tag: m[2] || null } : { id: null, tag: null };
}

export function listTemplates() {
  return get('/v2/pipelineTemplates').then((l) => l || []);
}

// The variables a template declares, each filled with its default (the
// form starts from them, as Deck's "Configure template" does).
function defaultsOf(tmpl) {
  const out = {};
  for (const v of (tmpl && tmpl.variables) || []) if (v.defaultValue !== undefined) out[v.name] = v.defaultValue;
  return out;
}

// A new templated config with base's application and name, from tmpl
// (none yet: the form asks for one). Triggers, parameters and
// notifications of base stay: they merge with the template's.
export function templatedConfig(base, tmpl) {
  return {
    schema: 'v2',
    application: base.application,
    name: base.name || '',
    template: { artifactAccount: 'front50ArtifactCredentials', reference: tmpl ? `spinnaker://${tmpl.id}` : '', type: 'front50/pipelineTemplate' },
    variables: defaultsOf(tmpl),
    exclude: [],
    triggers: base.triggers || [],
    parameterConfig: base.parameterConfig || [],
    notifications: base.notifications || [],
    stages: [],
  };
}

// Another template for the same config: its variables start from the new
// template's defaults, keeping a value the user gave to a variable of the
// same name.
export function switchTemplate(cfg, tmpl) {
  const keep = cfg.variables || {};
  const names = new Set(((tmpl && tmpl.variables) || []).map((v) => v.name));
  cfg.template = { ...(cfg.template || {}), reference: `spinnaker://${tmpl.id}` };
  cfg.variables = { ...defaultsOf(tmpl), ...Object.fromEntries(Object.entries(keep).filter(([k]) => names.has(k))) };
}

const varId = (name) => `tv-${String(name).replace(/[^A-Za-z0-9_-]/g, '-')}`;
const TYPE_HINTS = {
  int: 'a whole number', float: 'a number', string: 'text', boolean: '',
  list: 'a JSON list, e.g. ["a", "b"]', object: 'a JSON object, e.g. {"key": "value"}',
};

function shown(v, value) {
  if (value === undefined || value === null) return '';
  if (v.type === 'list' || v.type === 'object' || (typeof value === 'object')) return JSON.stringify(value);
  return String(value);
}

function variableField(v, value) {
  const id = varId(v.name);
  const type = v.type || 'string';
  const required = v.defaultValue === undefined;
  const hint = [v.description, TYPE_HINTS[type], v.defaultValue !== undefined ? `default: ${JSON.stringify(v.defaultValue)}` : ''].filter(Boolean).join(' · ');
  const common = html`id="${id}" data-tvar="${v.name}" data-tvtype="${type}" aria-describedby="${id}-hint ${id}-err"`;
  const control = type === 'boolean'
    ? html`<label class="check"><input type="checkbox" ${common} ${value === true ? 'checked' : ''}> ${v.name}</label>`
    : type === 'list' || type === 'object'
      ? html`<textarea ${common} rows="2" spellcheck="false">${shown(v, value)}</textarea>`
      : html`<input ${common} value="${shown(v, value)}" ${type === 'int' || type === 'float' ? 'inputmode="decimal"' : ''} autocomplete="off">`;
  return html`<div class="field${type === 'list' || type === 'object' ? ' wide' : ''}">
    ${type === 'boolean' ? '' : html`<label for="${id}">${v.name}${required ? html` <span class="req" aria-hidden="true">*</span>` : ''} <span class="muted">(${type})</span></label>`}
    ${control}
    ${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}
    <p class="field-error" id="${id}-err" data-err="variables.${v.name}" hidden></p></div>`;
}

// Reads a variable's control: {value} (undefined: not given, the default
// applies) or {error}.
export function readVariable(el) {
  const type = el.dataset.tvtype;
  if (type === 'boolean') return { value: el.checked };
  const raw = el.value.trim();
  if (!raw) return { value: undefined };
  if (raw.includes('${')) return { value: raw }; // an expression, rendered by the server
  switch (type) {
    case 'int': return /^-?\d+$/.test(raw) ? { value: Number(raw) } : { error: 'a whole number' };
    case 'float': return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw) ? { value: Number(raw) } : { error: 'a number' };
    case 'list': case 'object': {
      let v;
      try { v = JSON.parse(raw); } catch (e) { return { error: `not JSON: ${e.message}` }; }
      if (type === 'list' && !Array.isArray(v)) return { error: 'a JSON list, e.g. ["a", "b"]' };
      if (type === 'object' && (!v || typeof v !== 'object' || Array.isArray(v))) return { error: 'a JSON object' };
      return { value: v };
    }
    default: return { value: el.value };
  }
}

// Problems the form can see before the server does: [{path, msg}].
export function templateProblems(cfg, tmpl) {
  const out = [];
  const { id } = referenceOf(cfg);
  if (!id) { out.push({ path: 'template', msg: 'Choose a template' }); return out; }
  if (!tmpl) return out; // not loaded (or gone): the server's plan says
  const given = cfg.variables || {};
  for (const v of tmpl.variables || []) {
    if (v.defaultValue === undefined && (given[v.name] === undefined || given[v.name] === '')) {
      out.push({ path: `variables.${v.name}`, msg: `Template variable ${v.name} is required` });
    }
  }
  return out;
}

// The template section of the form. templates: the list (null while it
// loads); tmpl: the chosen one.
export function templateSectionHTML(cfg, templates, tmpl) {
  const { id, tag } = referenceOf(cfg);
  const known = templates && templates.some((t) => t.id === id);
  const md = (tmpl && tmpl.metadata) || {};
  return html`<fieldset class="section template-section" aria-label="Template"><legend>Template</legend>
    <div class="form-grid">
      <div class="field"><label for="tmpl-select">Pipeline template</label>
        <select id="tmpl-select" data-template-select>
          ${!id ? html`<option value="">(choose)</option>` : ''}
          ${id && !known ? html`<option value="${id}" selected>${id}${templates ? ' (not found)' : ''}</option>` : ''}
          ${(templates || []).map((t) => html`<option value="${t.id}" ${t.id === id ? 'selected' : ''}>${(t.metadata || {}).name || t.id} (${t.id})</option>`)}
        </select>
        <p class="field-error" id="tmpl-select-err" data-err="template" hidden></p></div>
      ${tag ? html`<div class="field"><span class="label">Version</span><span class="mono">${tag}</span></div>` : ''}
    </div>
    ${tmpl ? html`<p class="hint template-desc">${md.description || ''}${md.owner ? html` <span class="muted">Owner: ${md.owner}</span>` : ''}</p>` : ''}
    ${tmpl && (tmpl.variables || []).length ? html`<fieldset class="template-variables"><legend>Variables</legend>
      <div class="form-grid">${tmpl.variables.map((v) => variableField(v, (cfg.variables || {})[v.name]))}</div></fieldset>`
      : tmpl ? html`<p class="muted">This template has no variables.</p>` : ''}
    <div class="template-preview" aria-live="polite" aria-label="Rendered pipeline"></div>
    <p class="hint">The pipeline runs the template's stages with these values. Triggers, parameters and notifications below are added to the template's; stages of this pipeline's own (with <span class="mono">inject</span>) are edited in the JSON.</p>
  </fieldset>`;
}

// The rendered pipeline (POST /v2/pipelineTemplates/plan) as a graph, or
// the server's message. Returns markup.
export async function previewHTML(cfg) {
  let plan;
  try {
    plan = await api('POST', '/v2/pipelineTemplates/plan', { ...cfg, name: cfg.name || 'preview' });
  } catch (e) {
    return html`<p class="graph-error" role="alert">The template does not render: ${e.message}</p>`;
  }
  const stages = (plan && plan.stages) || [];
  if (!stages.length) return html`<p class="muted">The rendered pipeline has no stages.</p>`;
  const nodes = stages.map((s) => ({ ...s, id: String(s.refId), status: 'NOT_STARTED' }));
  return html`<p class="hint">Rendered pipeline: ${stages.length} stage${stages.length > 1 ? 's' : ''}
    (${stages.map((s) => s.name || s.type).join(', ')})</p>
    <div class="graph-wrap" tabindex="0" aria-label="Rendered pipeline graph">${graphSVG(nodes, () => '#', '')}</div>`;
}
