// user.js - who is signed in (GET /auth/user, read once per page), the
// header's user name and Sign out, and what the user may do in an
// application: Fiat's rules over the application's `permissions`
// ({READ, WRITE, EXECUTE: [roles]}; none set: open to every signed-in
// user; EXECUTE unset falls back to WRITE's roles; admins may do all).
// Buttons for what the user may not do are hidden, not merely refused.

import { html, render, on } from './dom.js';
import { api, get } from './api.js';

let me = null;

export function whoami() {
  if (!me) me = get('/auth/user').catch(() => { me = null; return null; });
  return me;
}

const norm = (l) => (Array.isArray(l) ? l : []).map((r) => String(r).trim().toLowerCase()).filter(Boolean);

export function can(user, attrs, kind) {
  if (!user || user.admin) return true;
  const p = (attrs && attrs.permissions) || {};
  const sets = { READ: norm(p.READ), WRITE: norm(p.WRITE), EXECUTE: norm(p.EXECUTE) };
  if (!sets.READ.length && !sets.WRITE.length && !sets.EXECUTE.length) return true;
  if (!sets.EXECUTE.length) sets.EXECUTE = sets.WRITE;
  if (kind === 'READ') sets.READ = [...sets.READ, ...sets.WRITE];
  const roles = norm(user.roles);
  return sets[kind].some((r) => roles.includes(r));
}

// Marks el (an application's frame) with what the user may not do; CSS
// hides every [data-need="WRITE"] / [data-need="EXECUTE"] inside it.
export function applyPermissions(el, user, attrs) {
  el.classList.toggle('may-not-write', !can(user, attrs, 'WRITE'));
  el.classList.toggle('may-not-execute', !can(user, attrs, 'EXECUTE'));
  el.classList.remove('perms-pending');
}

export async function installHeader() {
  const slot = document.getElementById('user-slot');
  if (!slot) return;
  const u = await whoami();
  if (!u || !u.username || u.username === 'anonymous') { render(slot, ''); return; }
  render(slot, html`<span class="user-name" title="${u.roles && u.roles.length ? `roles: ${u.roles.join(', ')}` : 'no roles'}">${u.username}</span>
    ${u.admin ? html`<a href="#/admin" data-nav="admin">Admin</a>` : ''}
    <button type="button" class="signout" data-act="sign-out">Sign out</button>`);
  on(slot, 'click', '[data-act="sign-out"]', async () => {
    try { await api('POST', '/auth/logout', {}); } catch { /* signed out either way */ }
    location.assign('/ui/login.html');
  });
}
