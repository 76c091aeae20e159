// live.js - one server-sent-event stream per open application
// (GET /events?application=APP). The server pushes execution summaries
// ("execution"), orchestration summaries ("task") and "resync" when it had
// to drop events; views subscribe to what they show, and hear "hello" when
// the stream is first confirmed. After a broken
// connection the browser reconnects by itself; views are then told to
// resync, since events may have been missed meanwhile.

import { enc } from './api.js';

export class Live {
  constructor(app) {
    this.app = app;
    this.subs = new Set();
    this.down = false;
    this.closed = false;
    this.hellos = 0;      // streams the server has confirmed (its "hello")
    this.waiters = [];
    this.connect();
  }

  connect() {
    const es = new EventSource(`/events?application=${enc(this.app)}`);
    this.es = es;
    const emit = (type, data) => { for (const fn of this.subs) fn(type, data); };
    for (const type of ['execution', 'task']) {
      es.addEventListener(type, (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch { return; }
        emit(type, data);
      });
    }
    es.addEventListener('resync', () => emit('resync'));
    // From the "hello" on, the server sends every change: a view that read
    // its list before that may have missed some ("hello"), and after a
    // broken connection every view has ("resync").
    es.addEventListener('hello', () => {
      if (!this.hellos) performance.mark('mz:stream-confirmed');
      indicator(true);
      this.hellos++;
      for (const w of this.waiters.splice(0)) w();
      emit(this.down ? 'resync' : 'hello');
      this.down = false;
    });
    es.onerror = () => {
      this.down = true;
      indicator(false);
      // A non-200 answer (503: too many subscribers) closes the stream for
      // good; try again a little later.
      if (es.readyState === EventSource.CLOSED && !this.closed) {
        setTimeout(() => { if (!this.closed) this.connect(); }, 5000);
      }
    };
  }

  // Resolves once the stream is confirmed, or after ms anyway: a view that
  // reads its list after this misses no change.
  ready(ms) {
    if (this.hellos) return Promise.resolve();
    return new Promise((resolve) => { this.waiters.push(resolve); setTimeout(resolve, ms); });
  }

  // fn(type, data); returns the unsubscribe function.
  subscribe(fn) {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  get connected() { return !this.down && this.es && this.es.readyState === EventSource.OPEN; }

  close() {
    this.closed = true;
    this.es.close();
    this.subs.clear();
    indicator(false, true);
  }
}

function indicator(up, hide = false) {
  const el = document.getElementById('live');
  if (!el) return;
  el.hidden = hide;
  el.classList.toggle('down', !up);
  el.textContent = up ? 'live' : 'reconnecting…';
}
