// formFields.js - renders the field specs of stageCatalog.js as form
// controls bound to paths in the pipeline object (data-path), reads a
// control back into a value, and checks values the way Deck does before
// anything is sent (required, numbers, patterns). Rendering records each
// path's spec in a registry so the editor's one input listener knows how
// to read any control.

import { html } from '../dom.js';
import { getIn, optionsOf } from './stageCatalog.js';

const idOf = (path) => `f-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;

function show(f, v) {
  if (v == null) return '';
  switch (f.t) {
    case 'list': return Array.isArray(v) ? v.map((x) => (f.obj && x && typeof x === 'object' ? x[f.obj] : x)).join(', ') : String(v);
    case 'argv': return Array.isArray(v) ? v.join('\n') : String(v);
    case 'kv': return v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join('\n') : String(v);
    case 'json': return JSON.stringify(v, null, 2);
    default: return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

function control(f, v, path, env, obj) {
  const id = idOf(path);
  const common = html`id="${id}" data-path="${path}" aria-describedby="${id}-err ${id}-hint"`;
  switch (f.t) {
    case 'bool':
      return html`<label class="check"><input type="checkbox" ${common} ${v ? 'checked' : ''}> ${f.l}</label>`;
    case 'select': {
      const opts = optionsOf(f, env, obj);
      const labels = f.labels ? f.labels(env) : {};
      const cur = v == null ? '' : String(v);
      const all = cur && !opts.includes(cur) ? [...opts, cur] : opts;
      return html`<select ${common}>${f.req && cur ? '' : html`<option value="">${f.req ? '(choose)' : '(none)'}</option>`}${all.map((o) =>
        html`<option value="${o}" ${String(o) === cur ? 'selected' : ''}>${labels[o] || o}</option>`)}</select>`;
    }
    case 'checks':
      return html`<div class="checks" role="group">${(f.opts || []).map((o) => html`<label class="check"><input type="checkbox" data-path="${path}" data-value="${o}" ${(v || []).includes(o) ? 'checked' : ''}> ${o}</label>`)}</div>`;
    case 'textarea': case 'argv': case 'kv': case 'json': {
      const text = show(f, v);
      return html`<textarea ${common} rows="${Math.max(2, Math.min(8, text.split('\n').length + 1))}" spellcheck="false">${text}</textarea>`;
    }
    case 'number':
      return html`<input ${common} inputmode="numeric" value="${show(f, v)}" ${f.req ? 'required' : ''}>`;
    default:
      return html`<input ${common} value="${show(f, v)}" ${f.req ? 'required' : ''} autocomplete="off">`;
  }
}

// fields of obj, bound under path prefix; reg: Map path -> spec.
export function fieldsHTML(fields, obj, prefix, env, reg) {
  return html`<div class="form-grid">${fields.filter((f) => !f.when || f.when(obj || {})).map((f) => {
    const path = `${prefix}.${f.k}`;
    const v = getIn(obj || {}, f.k);
    reg.set(path, f);
    if (f.t === 'objects') {
      const list = Array.isArray(v) ? v : [];
      return html`<fieldset class="objects wide" data-field="${path}"><legend>${f.l}${f.req ? html` <span class="req">*</span>` : ''}</legend>
        ${list.map((item, j) => html`<div class="obj-item">${fieldsHTML(f.item, item, `${path}.${j}`, env, reg)}
          <button type="button" class="btn btn-sm btn-danger" data-act="obj-remove" data-path="${path}.${j}">Remove</button></div>`)}
        <button type="button" class="btn btn-sm" data-act="obj-add" data-path="${path}">${f.add || 'Add'}</button>
        <p class="field-error" id="${idOf(path)}-err" data-err="${path}" hidden></p></fieldset>`;
    }
    const wide = ['textarea', 'argv', 'kv', 'json', 'checks'].includes(f.t);
    return html`<div class="field${wide ? ' wide' : ''}" data-field="${path}">
      ${f.t === 'bool' ? '' : html`<label for="${idOf(path)}">${f.l}${f.req ? html` <span class="req" aria-hidden="true">*</span>` : ''}</label>`}
      ${control(f, v, path, env, obj)}
      ${f.h ? html`<p class="hint" id="${idOf(path)}-hint">${f.h}</p>` : ''}
      <p class="field-error" id="${idOf(path)}-err" data-err="${path}" hidden></p></div>`;
  })}</div>`;
}

// Reads a control: {value} or {error}. undefined removes the key.
export function readControl(f, el, root) {
  const raw = el.value;
  switch (f.t) {
    case 'bool': return { value: el.checked };
    case 'checks': {
      const vals = [...root.querySelectorAll(`input[data-path="${CSS.escape(el.dataset.path)}"]`)].filter((c) => c.checked).map((c) => c.dataset.value);
      return { value: vals };
    }
    case 'number': {
      const t = raw.trim();
      if (!t) return { value: undefined };
      if (/^-?\d+(\.\d+)?$/.test(t)) return { value: Number(t) };
      return { value: t }; // an expression; checked below
    }
    case 'list': {
      const parts = raw.split(',').map((x) => x.trim()).filter(Boolean);
      if (!parts.length) return { value: undefined };
      return { value: parts.map((x) => (f.num && /^-?\d+(\.\d+)?$/.test(x) ? Number(x) : f.obj ? { [f.obj]: x } : x)) };
    }
    case 'argv': {
      const lines = raw.split('\n').map((x) => x.replace(/\r$/, '')).filter((x) => x.trim() !== '');
      return { value: lines.length ? lines : undefined };
    }
    case 'kv': {
      const o = {};
      for (const line of raw.split('\n')) {
        if (!line.trim()) continue;
        const i = line.indexOf('=');
        if (i <= 0) return { error: `"${line.trim()}" is not NAME=value` };
        o[line.slice(0, i).trim()] = line.slice(i + 1);
      }
      return { value: Object.keys(o).length ? o : undefined };
    }
    case 'json': {
      if (!raw.trim()) return { value: undefined };
      try { return { value: JSON.parse(raw) }; } catch (e) { return { error: `not JSON: ${e.message}` }; }
    }
    default: return { value: raw === '' ? undefined : raw };
  }
}

const isExpr = (v) => typeof v === 'string' && v.includes('${');

// Problems of obj against its fields: [{path, msg}].
export function check(fields, obj, prefix, env, out = []) {
  for (const f of fields || []) {
    if (f.when && !f.when(obj || {})) continue;
    const path = `${prefix}.${f.k}`;
    const v = getIn(obj || {}, f.k);
    const empty = v == null || v === '' || (Array.isArray(v) && !v.length);
    if (f.req && empty && f.t !== 'bool') { out.push({ path, msg: `${f.l} is required` }); continue; }
    if (empty) continue;
    if (f.t === 'number') {
      if (typeof v !== 'number' && !isExpr(v)) out.push({ path, msg: `${f.l}: a number (or a \${…} expression)` });
      else if (typeof v === 'number' && f.min != null && v < f.min) out.push({ path, msg: `${f.l}: at least ${f.min}` });
    }
    if (f.re && typeof v === 'string' && !isExpr(v) && !f.re[0].test(v)) out.push({ path, msg: `${f.l}: ${f.re[1]}` });
    if (f.t === 'objects' && Array.isArray(v)) v.forEach((item, j) => check(f.item, item, `${path}.${j}`, env, out));
  }
  return out;
}
