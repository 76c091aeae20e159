// serverGroupActions.js - the actions Deck offers on a server group, each
// submitted as a task (POST /tasks, job of Orca's operation type) and
// followed until done: resize, enable, disable, destroy, rollback.

import { html, render } from '../dom.js';
import { runTask, taskError } from '../api.js';

function base(sg) {
  return {
    serverGroupName: sg.name, asgName: sg.name, region: sg.region, regions: [sg.region],
    credentials: sg.account, cloudProvider: sg.cloudProvider || 'local', moniker: sg.moniker,
  };
}

export async function run(app, description, job) {
  const task = await runTask({ application: app, description, job: [job] });
  if (task.status !== 'SUCCEEDED') throw new Error(taskError(task) || `the task ended ${task.status}`);
  return task;
}

export const enable = (app, sg) => run(app, `Enable Server Group: ${sg.name}`, { type: 'enableServerGroup', ...base(sg) });
export const disable = (app, sg) => run(app, `Disable Server Group: ${sg.name}`, { type: 'disableServerGroup', ...base(sg) });
export const destroy = (app, sg) => run(app, `Destroy Server Group: ${sg.name}`, { type: 'destroyServerGroup', ...base(sg) });
export const resize = (app, sg, capacity) => run(app, `Resize Server Group: ${sg.name} to ${capacity.min}/${capacity.desired}/${capacity.max}`,
  { type: 'resizeServerGroup', ...base(sg), capacity, targetSize: capacity.desired });
export const rollback = (app, sg, restoreName) => run(app, `Rollback ${sg.name} to ${restoreName}`, {
  type: 'rollbackServerGroup', ...base(sg), rollbackType: 'EXPLICIT',
  rollbackContext: { rollbackServerGroupName: sg.name, restoreServerGroupName: restoreName },
});

// A small modal form; resolves with the form's values or null.
export function ask(title, fieldsHTML, submitLabel) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'dialog';
    dlg.setAttribute('aria-label', title);
    render(dlg, html`<form method="dialog" class="dialog-form"><h2>${title}</h2>${fieldsHTML}
      <div class="btn-row"><button type="button" class="btn" data-close>Cancel</button>
      <button type="submit" class="btn btn-primary">${submitLabel}</button></div></form>`);
    document.body.append(dlg);
    let done = false;
    const finish = (v) => { if (!done) { done = true; dlg.close(); dlg.remove(); resolve(v); } };
    dlg.addEventListener('close', () => finish(null));
    dlg.addEventListener('click', (e) => { if (e.target.closest('[data-close]')) finish(null); });
    dlg.addEventListener('submit', (e) => { e.preventDefault(); finish(Object.fromEntries(new FormData(e.target))); });
    dlg.showModal();
    const first = dlg.querySelector('input, select');
    if (first) first.focus();
  });
}
