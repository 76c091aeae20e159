// graph.js - the pipeline graph of an execution as SVG: stages in columns
// by depth (longest path from a stage without requisites), stages that can
// run at the same time stacked in the same column, so parallel branches
// (a multi-region bake, say) sit side by side; edges from each requisite.

import { html } from '../dom.js';
import { statusClass, statusLabel } from '../format.js';

const W = 168, H = 40, GX = 44, GY = 12, PAD = 8;

export function layout(stages) {
  const byRef = new Map(stages.map((s) => [String(s.refId), s]));
  const depth = new Map();
  const visiting = new Set();
  const d = (s) => {
    const k = String(s.refId);
    if (depth.has(k)) return depth.get(k);
    if (visiting.has(k)) return 0; // a cycle: the server rejects them, be safe anyway
    visiting.add(k);
    let v = 0;
    for (const r of s.requisiteStageRefIds || []) {
      const p = byRef.get(String(r));
      if (p) v = Math.max(v, d(p) + 1);
    }
    visiting.delete(k);
    depth.set(k, v);
    return v;
  };
  const cols = [];
  for (const s of stages) {
    const c = d(s);
    (cols[c] ||= []).push(s);
  }
  const pos = new Map();
  cols.forEach((col, ci) => col.forEach((s, ri) => pos.set(String(s.refId), { x: PAD + ci * (W + GX), y: PAD + ri * (H + GY) })));
  const rows = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
  return { pos, byRef, width: PAD * 2 + cols.length * W + Math.max(0, cols.length - 1) * GX, height: PAD * 2 + rows * H + (rows - 1) * GY };
}

// stages: top-level stages; href(stage) gives each node's link.
export function graphSVG(stages, href, selectedId) {
  const { pos, byRef, width, height } = layout(stages);
  const edges = [];
  for (const s of stages) {
    const to = pos.get(String(s.refId));
    for (const r of s.requisiteStageRefIds || []) {
      const from = pos.get(String(r));
      if (!from || !byRef.has(String(r))) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2, mx = (x1 + x2) / 2;
      edges.push(html`<path class="edge" d="M${x1} ${y1} C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}"/>`);
    }
  }
  const nodes = stages.map((s) => {
    const p = pos.get(String(s.refId));
    const name = s.name || s.type;
    const short = name.length > 22 ? `${name.slice(0, 21)}…` : name;
    return html`<a href="${href(s)}" class="node ${statusClass(s.status)}${s.id === selectedId ? ' selected' : ''}" aria-label="${name}: ${statusLabel(s.status)}">
      <title>${name}: ${statusLabel(s.status)}</title>
      <rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6"/>
      <circle cx="${p.x + 14}" cy="${p.y + H / 2}" r="6"/>
      <text x="${p.x + 28}" y="${p.y + H / 2 + 4}">${short}</text></a>`;
  });
  return html`<svg class="graph" role="img" aria-label="Pipeline graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${edges}${nodes}</svg>`;
}
