// configHistory.js - a pipeline config's revision history in the editor
// (GET /pipelineConfigs/{id}/history, newest first): each revision with
// its time and author; choosing one shows a line diff of its JSON against
// the editor's current version, and Restore loads it into the editor
// (saving it makes it current again). A config managed in git names the
// commit of each revision; it has no Restore (onRestore null: read-only).

import { html, render, on, $ } from '../dom.js';
import { get, enc } from '../api.js';
import { time, ago, utc, timeHTML } from '../format.js';

const STRIP = new Set(['updateTs', 'lastModifiedBy', 'createTs', 'managedBy']);
const norm = (c) => JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => !STRIP.has(k)).sort(([a], [b]) => a.localeCompare(b))), null, 2).split('\n');

// Line diff (longest common subsequence): [[' '|'-'|'+', line]].
export function diffLines(a, b) {
  const n = a.length, m = b.length;
  if (n * m > 4e6) return [...a.map((l) => ['-', l]), ...b.map((l) => ['+', l])];
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push(['-', a[i++]]); else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

// Only changed lines and three lines around each.
function hunks(d) {
  const keep = new Array(d.length).fill(false);
  d.forEach(([k], i) => { if (k !== ' ') for (let x = Math.max(0, i - 3); x <= Math.min(d.length - 1, i + 3); x++) keep[x] = true; });
  const out = [];
  let gap = false;
  d.forEach((x, i) => { if (keep[i]) { out.push(x); gap = false; } else if (!gap) { out.push(['…', '']); gap = true; } });
  return out;
}

export function historyPanel(parent, current, onRestore) {
  const host = document.createElement('div'); // fresh listeners per opening
  parent.replaceChildren(host);
  let revs = null, chosen = 0, error = null;
  const draw = () => {
    if (error) { render(host, html`<section class="panel history"><p class="error" role="alert">History: ${error}</p></section>`); return; }
    if (!revs) { render(host, html`<section class="panel history"><p class="muted">Loading the history…</p></section>`); return; }
    const rev = revs[chosen];
    const d = rev ? hunks(diffLines(norm(rev), norm(current))) : [];
    const changed = d.some(([k]) => k === '-' || k === '+');
    render(host, html`<section class="panel history" aria-label="Revision history">
      <div class="history-grid">
        <ol class="revisions">${revs.map((r, i) => html`<li><button type="button" class="rev${i === chosen ? ' chosen' : ''}" data-rev="${i}" aria-pressed="${String(i === chosen)}">
          <span>${i === 0 ? 'Current (saved)' : `Revision ${revs.length - i}`}</span>
          <span class="muted" title="${time(Number(r.updateTs))} · ${utc(Number(r.updateTs))}">${r.updateTs ? ago(Number(r.updateTs)) : ''}${r.lastModifiedBy ? ` · ${r.lastModifiedBy}` : ''}</span>
          ${r.managedBy && r.managedBy.commit ? html`<span class="muted mono" title="${r.managedBy.commit}">commit ${String(r.managedBy.commit).slice(0, 12)}</span>` : ''}</button></li>`)}</ol>
        <div class="diff-wrap">
          <p class="hint">Lines <span class="del">removed</span> and <span class="add">added</span> going from this revision to the editor's version.</p>
          ${changed ? html`<pre class="diff" aria-label="Differences">${d.map(([k, l]) => html`<span class="${k === '-' ? 'del' : k === '+' ? 'add' : k === '…' ? 'gap' : ''}">${k === '…' ? '⋯' : `${k} ${l}`}\n</span>`)}</pre>`
            : html`<p class="muted">No difference from the editor's version.</p>`}
          ${rev && chosen > 0 && onRestore ? html`<div class="btn-row"><button type="button" class="btn" data-restore="${chosen}">Restore this revision</button></div>` : ''}
        </div></div></section>`);
  };
  on(host, 'click', '[data-rev]', (e, t) => { chosen = Number(t.dataset.rev); draw(); const b = $(`[data-rev="${chosen}"]`, host); if (b) b.focus(); });
  on(host, 'click', '[data-restore]', (e, t) => onRestore(revs[Number(t.dataset.restore)]));
  draw();
  get(`/pipelineConfigs/${enc(current.id)}/history?limit=50`).then((r) => { revs = r || []; chosen = revs.length > 1 ? 1 : 0; draw(); })
    .catch((e) => { error = e.message; draw(); });
}
