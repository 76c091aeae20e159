// dialogs.js - the UI's own confirmation dialog (a native <dialog>, so
// focus stays inside and Esc cancels). Used before anything that cannot
// be taken back: destroy, disable, rollback, cancel, delete, leaving
// unsaved edits. typeToConfirm asks for a name to be typed first, as Deck
// does before destroying a server group that still takes traffic.

import { html, render } from './dom.js';

export function confirmDialog({ title, message = '', confirmLabel = 'Confirm', danger = false, typeToConfirm = null, details = '' }) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'dialog';
    dlg.setAttribute('aria-label', title);
    render(dlg, html`<form method="dialog" class="dialog-form">
      <h2>${title}</h2>
      ${message ? html`<p>${message}</p>` : ''}${details}
      ${typeToConfirm ? html`<div class="field"><label for="confirm-name">Type <strong class="mono">${typeToConfirm}</strong> to confirm</label>
        <input id="confirm-name" name="confirmName" autocomplete="off" spellcheck="false"></div>` : ''}
      <div class="btn-row">
        <button type="button" class="btn" data-close>Cancel</button>
        <button type="submit" class="btn ${danger ? 'btn-danger-solid' : 'btn-primary'}" ${typeToConfirm ? 'disabled' : ''}>${confirmLabel}</button>
      </div></form>`);
    document.body.append(dlg);
    let done = false;
    const finish = (v) => { if (!done) { done = true; if (dlg.open) dlg.close(); dlg.remove(); resolve(v); } };
    const submit = dlg.querySelector('button[type=submit]');
    dlg.addEventListener('close', () => finish(false));
    dlg.addEventListener('click', (e) => { if (e.target.closest('[data-close]')) finish(false); });
    dlg.addEventListener('input', (e) => { if (e.target.name === 'confirmName') submit.disabled = e.target.value.trim() !== typeToConfirm; });
    dlg.addEventListener('submit', (e) => { e.preventDefault(); if (!submit.disabled) finish(true); });
    dlg.showModal();
    (dlg.querySelector('input') || submit).focus();
  });
}
