// shortcuts.js - the header's search box and the keyboard shortcuts:
// "/" jumps to search, "?" lists the shortcuts, "g a" / "g p" go to
// applications / projects, Esc leaves a field. Keys typed into a field
// are the field's, except Esc.

import { html, render } from './dom.js';

const HELP = [
  ['/', 'Search applications, clusters, server groups, instances, load balancers'],
  ['?', 'Show this list'],
  ['g a', 'Go to applications'],
  ['g p', 'Go to projects'],
  ['Esc', 'Leave a field, close a dialog'],
];

function help() {
  if (document.querySelector('dialog.help')) return;
  const dlg = document.createElement('dialog');
  dlg.className = 'dialog help';
  dlg.setAttribute('aria-label', 'Keyboard shortcuts');
  render(dlg, html`<form method="dialog" class="dialog-form"><h2>Keyboard shortcuts</h2>
    <table class="shortcuts"><tbody>${HELP.map(([k, what]) => html`<tr><td>${k.split(' ').map((x) => html`<kbd>${x}</kbd> `)}</td><td>${what}</td></tr>`)}</tbody></table>
    <div class="btn-row"><button class="btn btn-primary" value="close">Close</button></div></form>`);
  document.body.append(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  dlg.showModal();
}

const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

export function install() {
  const form = document.querySelector('.global-search');
  const input = document.getElementById('global-search');
  if (form) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      location.hash = `#/search?q=${encodeURIComponent(input.value.trim())}`;
      input.value = '';
      input.blur();
    });
  }
  document.getElementById('help-btn')?.addEventListener('click', help);
  let g = 0;
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && typing(document.activeElement) && !document.querySelector('dialog[open]')) { document.activeElement.blur(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector('dialog[open]')) return;
    if (e.key === '/') { e.preventDefault(); const page = document.getElementById('search-page-input'); (page || input).focus(); return; }
    if (e.key === '?') { e.preventDefault(); help(); return; }
    if (e.key === 'g') { g = Date.now(); return; }
    if (Date.now() - g < 1500) {
      if (e.key === 'a') location.hash = '#/applications';
      if (e.key === 'p') location.hash = '#/projects';
      g = 0;
    }
  });
}
