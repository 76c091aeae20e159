// admin.js - users, roles and API tokens (#/admin, admins only): the
// users (GET/POST /auth/users, PUT/DELETE /auth/users/{name}) with their
// roles editable and a new password settable; the signed-in user's API
// tokens (GET/POST /auth/tokens, DELETE /auth/tokens/{name}), a new token
// shown once.

import { html, render, on, toast, $ } from '../dom.js';
import { api, get, enc } from '../api.js';
import { timeHTML } from '../format.js';
import { confirmDialog } from '../dialogs.js';
import { whoami } from '../user.js';

const roles = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export function mount(el) {
  let users = [], tokens = [], fresh = null, me = null;
  const draw = () => render(el, html`<div class="toolbar"><h2>Users, roles and tokens</h2></div>
    <div class="admin-grid">
      <section class="panel" aria-label="Users"><h3>Users</h3>
        <div class="table-wrap"><table><thead><tr><th scope="col">User</th><th scope="col">Roles</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${users.map((u) => html`<tr data-user="${u.username}"><td>${u.username}${u.admin ? html` <span class="badge st-running">admin</span>` : ''}</td>
          <td><label class="sr-only" for="roles-${u.username}">Roles of ${u.username}</label><input id="roles-${u.username}" value="${(u.roles || []).join(', ')}" data-roles="${u.username}"></td>
          <td>${timeHTML(u.createdAt)}</td>
          <td class="actions"><button type="button" class="btn btn-sm" data-act="save-roles" data-user="${u.username}">Save roles</button>
            <button type="button" class="btn btn-sm" data-act="password" data-user="${u.username}">Set password</button>
            ${me && me.username === u.username ? '' : html`<button type="button" class="btn btn-sm btn-danger" data-act="delete-user" data-user="${u.username}">Delete</button>`}</td></tr>`)}</tbody></table></div>
        <form class="inline-form" data-form="add-user" aria-label="Add a user"><h4>Add a user</h4>
          <div class="form-grid">
            <div class="field"><label for="nu-name">User name</label><input id="nu-name" name="username" required autocomplete="off" pattern="[A-Za-z0-9._@-]+"></div>
            <div class="field"><label for="nu-pass">Password</label><input id="nu-pass" name="password" type="password" required minlength="8" autocomplete="new-password"></div>
            <div class="field"><label for="nu-roles">Roles</label><input id="nu-roles" name="roles" placeholder="devs, ops (admin: everything)"></div>
          </div>
          <p class="error" role="alert" hidden></p>
          <div class="btn-row"><button type="submit" class="btn btn-primary">Add user</button></div></form>
      </section>
      <section class="panel" aria-label="API tokens"><h3>Your API tokens</h3>
        <p class="hint">A token acts as you: <span class="mono">Authorization: Bearer TOKEN</span>, or <span class="mono">mizzen --token</span>.</p>
        ${fresh ? html`<div class="token-once" role="status"><strong>Token ${fresh.name}</strong> (shown once, copy it now):<pre class="json mono" id="new-token">${fresh.token}</pre></div>` : ''}
        ${tokens.length ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${tokens.map((t) => html`<tr><td>${t.name}</td><td>${timeHTML(t.createdAt)}</td><td>${t.lastUsed ? timeHTML(t.lastUsed) : 'never'}</td>
            <td><button type="button" class="btn btn-sm btn-danger" data-act="delete-token" data-token="${t.name}">Revoke</button></td></tr>`)}</tbody></table>` : html`<p class="muted">No tokens.</p>`}
        <form class="inline-form" data-form="add-token" aria-label="Create a token"><div class="form-grid">
          <div class="field"><label for="nt-name">Token name</label><input id="nt-name" name="name" required autocomplete="off" placeholder="ci"></div></div>
          <p class="error" role="alert" hidden></p>
          <div class="btn-row"><button type="submit" class="btn">Create token</button></div></form>
      </section>
    </div>`);

  async function load() {
    try {
      me = await whoami();
      if (me && !me.admin) { render(el, html`<p class="error" role="alert">Only administrators manage users and tokens.</p>`); return; }
      [users, tokens] = await Promise.all([get('/auth/users'), get('/auth/tokens').catch(() => [])]);
      users = (users || []).sort((a, b) => a.username.localeCompare(b.username));
      draw();
    } catch (e) {
      render(el, html`<p class="error" role="alert">${e.status === 403 ? 'Only administrators manage users and tokens.' : e.message}</p>`);
    }
  }

  on(el, 'click', '[data-act]', async (e, t) => {
    const a = t.dataset.act, name = t.dataset.user;
    try {
      if (a === 'save-roles') {
        const input = el.querySelector(`[data-roles="${CSS.escape(name)}"]`);
        await api('PUT', `/auth/users/${enc(name)}`, { roles: roles(input.value) });
        toast(`Roles of ${name} saved`);
        await load();
      } else if (a === 'password') {
        const { ask } = await import('./serverGroupActions.js');
        const v = await ask(`New password for ${name}`, html`<div class="field"><label for="np">Password</label><input id="np" name="password" type="password" minlength="8" required autocomplete="new-password"></div>`, 'Set password');
        if (!v) return;
        await api('PUT', `/auth/users/${enc(name)}`, { password: v.password });
        toast(`Password of ${name} changed`);
      } else if (a === 'delete-user') {
        if (!await confirmDialog({ title: `Delete ${name}?`, message: 'The user can no longer sign in; their tokens stop working.', confirmLabel: 'Delete user', danger: true })) return;
        await api('DELETE', `/auth/users/${enc(name)}`);
        toast(`Deleted ${name}`);
        await load();
      } else if (a === 'delete-token') {
        const tn = t.dataset.token;
        if (!await confirmDialog({ title: `Revoke the token ${tn}?`, message: 'Whatever uses it is refused from now on.', confirmLabel: 'Revoke', danger: true })) return;
        await api('DELETE', `/auth/tokens/${enc(tn)}`);
        fresh = null;
        await load();
      }
    } catch (err) { toast(err.message, 'error'); }
  });

  el.addEventListener('submit', async (e) => {
    const form = e.target.closest('form[data-form]');
    if (!form) return;
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const err = $('.error', form);
    err.hidden = true;
    try {
      if (form.dataset.form === 'add-user') {
        await api('POST', '/auth/users', { username: f.username.trim(), password: f.password, roles: roles(f.roles || '') });
        toast(`Added ${f.username}`);
      } else {
        fresh = await api('POST', '/auth/tokens', { name: f.name.trim() });
      }
      await load();
    } catch (x) { err.hidden = false; err.textContent = x.message; }
  });

  render(el, html`<p class="loading">Loading…</p>`);
  load();
  return {};
}
