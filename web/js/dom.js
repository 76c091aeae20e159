// dom.js - the UI's tiny DOM helper: HTML templates that escape every value
// (server data never reaches innerHTML unescaped), query shortcuts and
// delegated event listeners (one listener per view, not one per row: the
// executions list can hold thousands of clickable elements).

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(v) {
  return v == null ? '' : String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Markup that is already safe (built by html`` from escaped parts).
export class Safe {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

function part(v) {
  if (v instanceof Safe) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v == null || v === false) return '';
  return esc(v);
}

// html`<p>${text}</p>`: every interpolated value is escaped unless it is a
// Safe (an inner html`` result); arrays are concatenated; null/false vanish.
export function html(strings, ...vals) {
  let out = strings[0];
  for (let i = 0; i < vals.length; i++) out += part(vals[i]) + strings[i + 1];
  return new Safe(out);
}

// Replaces el's content. Only Safe markup is accepted as HTML; anything
// else is shown as text.
export function render(el, markup) {
  if (markup instanceof Safe) el.innerHTML = markup.s;
  else el.textContent = markup == null ? '' : String(markup);
}

// Replaces el itself with the markup (one element), returns the new element.
export function replaceWith(el, markup) {
  const t = document.createElement('template');
  t.innerHTML = markup instanceof Safe ? markup.s : esc(markup);
  const node = t.content.firstElementChild;
  el.replaceWith(t.content);
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// One listener on root for every element matching selector, now or later.
export function on(root, type, selector, fn) {
  root.addEventListener(type, (e) => {
    const t = e.target instanceof Element ? e.target.closest(selector) : null;
    if (t && root.contains(t)) fn(e, t);
  });
}

// Transient message at the bottom of the page (errors stay longer).
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const div = document.createElement('div');
  div.className = `toast toast-${kind}`;
  div.textContent = message;
  box.append(div);
  setTimeout(() => div.remove(), kind === 'error' ? 8000 : 3500);
}

// Pretty JSON for <pre> blocks (escaped by the caller's html``).
export function pretty(v) {
  try { return JSON.stringify(v, null, 2); } catch { return String(v); }
}
