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
// execution of the application first. Executions of deleted pipelines
// come from the application's newest page (Gate leaves them out; a Deck
// user then loses the record of what ran).
export function page(app, configId, start) {
  return get(`/applications/${enc(app)}/pipelines?limit=${PAGE}&startIndex=${start}&pipelineConfigIds=${enc(configId)}&expand=false`);
}

// The configs and the application's PAGE newest executions are read at
// once; only a pipeline that may have more than it got there (the newest
// page was full and not all its own) needs a page of its own. An
// application with one pipeline, or fewer than PAGE executions, costs one
// round trip. The pages come back as they come, one promise per config,
// so the view paints the first screen from the first pages without
// waiting for the twentieth (the server answers them one after another).
// Resolves with {configs, pages: Map configId -> Promise<summaries>,
// orphans: summaries of deleted pipelines among the newest}.
async function read(app) {
  const newestP = get(`/applications/${enc(app)}/pipelines?limit=${PAGE}&startIndex=0&expand=false`).then((e) => e || []);
  newestP.catch(() => {});
  const configs = (await get(`/applications/${enc(app)}/pipelineConfigs`)) || [];
  // The first pipeline's page is what the first screen shows: asked for
  // now, beside the newest page, unless that page turns out to hold it.
  let firstPage = null;
  const newestNow = await Promise.race([newestP, null]);
  if (configs.length && !newestNow) {
    firstPage = page(app, configs[0].id, 0).then((x) => x || []);
    firstPage.catch(() => {});
  }
  const newest = await newestP;
  const mine = new Map(configs.map((c) => [c.id, []]));
  for (const e of newest) if (mine.has(e.pipelineConfigId)) mine.get(e.pipelineConfigId).push(e);
  const complete = newest.length < PAGE; // every execution of the application is here
  const pages = new Map();
  for (const c of configs) {
    const p = complete || mine.get(c.id).length >= PAGE ? Promise.resolve(mine.get(c.id))
      : firstPage && c === configs[0] ? firstPage : page(app, c.id, 0).then((x) => x || []);
    p.catch(() => {}); // the view handles a failed page when it takes it
    pages.set(c.id, p);
  }
  // Executions of deleted pipelines stay visible (under their name).
  const orphans = newest.filter((e) => !mine.has(e.pipelineConfigId));
  return { configs, pages, orphans };
}

// Pipelines that ran but have no config any more: the newest execution
// of every pipeline (the per-config list ranks on indexed columns and
// reads only the bodies it returns), then a page of each one deleted.
export async function orphans(app, configs) {
  const known = new Set(configs.map((c) => c.id));
  const newest = (await get(`/applications/${enc(app)}/pipelines?limit=1&expand=false`)) || [];
  const gone = [...new Set(newest.map((e) => e.pipelineConfigId).filter((id) => id && !known.has(id)))];
  return (await Promise.all(gone.map((id) => page(app, id, 0)))).flat();
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
