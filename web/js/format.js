// format.js - how times, durations and statuses are shown. Durations follow
// Deck (mm:ss, HH:mm:ss past an hour, "Nd HH:mm:ss" past a day); times are
// in the browser's time zone.

import { html } from './dom.js';

const pad = (n) => String(n).padStart(2, '0');

export function duration(ms) {
  if (ms == null || !isFinite(ms) || ms < 0) return '-';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d > 0) return `${d}d ${pad(h)}:${pad(m)}:${pad(s)}`;
  if (h > 0) return `${pad(h)}:${pad(m)}:${pad(s)}`;
  return `${pad(m)}:${pad(s)}`;
}

// Elapsed time of something with startTime/endTime (running: until now).
export function elapsed(x, now = Date.now()) {
  if (!x || !x.startTime) return null;
  return (x.endTime || now) - x.startTime;
}

const fmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  second: '2-digit', hour12: false, timeZoneName: 'short',
});

// "2026-04-24 14:53:12 CEST" in the browser's zone.
export function time(ms) {
  if (!ms) return '-';
  const p = {};
  for (const { type, value } of fmt.formatToParts(new Date(Number(ms)))) p[type] = value;
  return `${p.year}-${p.month}-${p.day} ${p.hour === '24' ? '00' : p.hour}:${p.minute}:${p.second} ${p.timeZoneName || ''}`.trim();
}

export function ago(ms, now = Date.now()) {
  if (!ms) return '';
  const s = Math.round((now - Number(ms)) / 1000);
  if (s < 45) return 'just now';
  if (s < 90) return 'a minute ago';
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 5400) return 'an hour ago';
  if (s < 86400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export const ACTIVE = new Set(['RUNNING', 'NOT_STARTED', 'PAUSED', 'SUSPENDED', 'BUFFERED']);
export const isActive = (status) => ACTIVE.has(status);

// CSS class of a status; one colour per status family (base.css).
export function statusClass(status) {
  return `st-${String(status || 'NOT_STARTED').toLowerCase()}`;
}

export function statusLabel(status) {
  return String(status || 'NOT_STARTED').replace(/_/g, ' ');
}

// "2026-04-24 12:53:12 UTC": the title of every shown time.
export function utc(ms) {
  if (!ms) return '';
  return `${new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
}

// A time in the browser's zone; UTC on hover.
export function timeHTML(ms) {
  if (!ms) return html`-`;
  return html`<time datetime="${new Date(Number(ms)).toISOString()}" title="${utc(ms)}">${time(ms)}</time>`;
}
