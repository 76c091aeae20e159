// api.js - calls to mizzen's Gate-compatible API. Errors come back as
// {error, message, status}; ApiError carries the server's message so views
// can show it as is.

export class ApiError extends Error {
  constructor(status, body, text) {
    super((body && body.message) || text || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// X-RateLimit-App: deck makes the server record origin "deck", as Gate does
// for Deck's requests. The page is signed in by its session cookie, which
// the server takes for a change only with X-Mizzen-CSRF: 1 (a header no
// other site's form can send). A 401 means the session is gone: go to the
// sign-in page, which comes back here afterwards.
export async function api(method, path, body, { raw = false } = {}) {
  const init = { method, headers: { 'X-RateLimit-App': 'deck' }, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-Mizzen-CSRF'] = '1';
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = raw ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, null, `cannot reach the server (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (res.status === 401) signIn();
  if (!res.ok) throw new ApiError(res.status, data, text);
  return data;
}

export function signIn() {
  if (!location.pathname.endsWith('/login.html')) {
    location.assign(`/ui/login.html#${encodeURIComponent(location.pathname + location.hash)}`);
  }
}

export const get = (path) => api('GET', path);
export const enc = encodeURIComponent;

const TASK_DONE = new Set(['SUCCEEDED', 'STOPPED', 'SKIPPED', 'TERMINAL', 'CANCELED', 'FAILED_CONTINUE']);

// The first error a task recorded (Gate reads variables.exception the same way).
export function taskError(task) {
  for (const v of (task && task.variables) || []) {
    if (v.key === 'exception' && v.value) {
      const d = v.value.details || {};
      return (d.errors && d.errors[0]) || d.error || v.value.message || JSON.stringify(v.value);
    }
  }
  for (const st of (task && task.execution && task.execution.stages) || []) {
    const ex = st.context && st.context.exception;
    if (ex) return (ex.details && ((ex.details.errors && ex.details.errors[0]) || ex.details.error)) || ex.message || 'failed';
  }
  return null;
}

// Submits a task (POST /tasks) and polls GET /tasks/{id} until it is done,
// as Deck's task monitor does; resolves with the final task view.
export async function runTask(body, { timeoutMs = 60000, onUpdate } = {}) {
  const { ref } = await api('POST', '/tasks', body);
  const id = ref.split('/').pop();
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const task = await get(`/tasks/${enc(id)}`);
    if (onUpdate) onUpdate(task);
    if (TASK_DONE.has(task.status)) return task;
    if (Date.now() > deadline) throw new ApiError(0, null, `task ${id} still ${task.status} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}
