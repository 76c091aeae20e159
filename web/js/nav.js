// nav.js - a guard the router asks before leaving the current view (the
// pipeline editor sets one while it holds unsaved edits). The guard is
// async: it may open a dialog; resolving false keeps the page where it is.

let guard = null;

export function setLeaveGuard(fn) { guard = fn; }
export function clearLeaveGuard(fn) { if (!fn || guard === fn) guard = null; }

// true when leaving is allowed (no guard, or the guard agrees).
export async function mayLeave() {
  if (!guard) return true;
  const ok = await guard();
  if (ok) guard = null;
  return ok;
}

export const hasGuard = () => !!guard;
