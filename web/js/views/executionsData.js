// executionsData.js - the two reads the PIPELINES view starts from (its
// pipeline configs, and the newest PAGE executions of each as summaries).
// The router starts them as soon as the address names the view, so they
// run while the view's modules are still loading: on a first visit that
// takes the module round trips off the time to first paint.

import { get, enc } from '../api.js';

export const PAGE = 50;

const early = new Map(); // app -> {at, promise}

// One page per pipeline config, all in parallel: a paged read
// (startIndex, LIMIT in the store) costs the same whatever the history,
// where the per-config form of the list (limit=N alone) reads every
// execution of the application first. Executions of deleted pipelines are
// left out, as Gate does (it lists the configs, then their executions).
export function page(app, configId, start) {
  return get(`/applications/${enc(app)}/pipelines?limit=${PAGE}&startIndex=${start}&pipelineConfigIds=${enc(configId)}&expand=false`);
}

async function read(app) {
  const configs = (await get(`/applications/${enc(app)}/pipelineConfigs`)) || [];
  const pages = await Promise.all(configs.map((c) => page(app, c.id, 0)));
  return [configs, pages.flat()];
}

export function prefetch(app) {
  if (!early.has(app)) {
    const promise = read(app);
    promise.catch(() => {}); // the view reports errors when it takes it
    early.set(app, { at: Date.now(), promise });
  }
}

// The prefetched reads if fresh (started in the last 5 s), else new ones.
export function take(app) {
  const x = early.get(app);
  early.delete(app);
  return x && Date.now() - x.at < 5000 ? x.promise : read(app);
}
