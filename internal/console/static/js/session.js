// The sign-in session, kept in sessionStorage: it lasts for this tab only and
// is cleared on sign-out. The org is remembered separately so the sign-in
// form can offer it again after signing out. The credential is an API key
// or a user token; who it is comes from GET /orgs/{org}/me/ at sign-in.

const KEY = 'aiproxy.console.apiKey';
const ORG = 'aiproxy.console.org';
const ROLE = 'aiproxy.console.role';
const WHO = 'aiproxy.console.who';
const JOBS = 'aiproxy.console.jobs';
const EVENT = 'aiproxy.console.lastEventId';
const REMOVED = 'aiproxy.console.removedJobs';

/**
 * load returns the stored session, or null when signed out: the credential
 * (apiKey: a key or a user token), the org, the role ("platform", "admin",
 * "invoke" or "member"), and for a user, who it is: user, member (reaches
 * only its own objects), services (its grants; empty means all) and
 * expiresAt ("" when unknown).
 */
export function load() {
  const apiKey = sessionStorage.getItem(KEY);
  const org = sessionStorage.getItem(ORG);
  if (!apiKey || !org) return null;
  let who = {};
  try { who = JSON.parse(sessionStorage.getItem(WHO) || '{}') || {}; } catch { /* an old session: a key */ }
  return {
    apiKey, org, role: sessionStorage.getItem(ROLE) || 'invoke',
    user: who.user || '', member: Boolean(who.member), services: who.services || [], expiresAt: who.expiresAt || '',
  };
}

/** save stores a session after a successful sign-in. */
export function save({ apiKey, org, role, user = '', member = false, services = [], expiresAt = '' }) {
  sessionStorage.setItem(KEY, apiKey);
  sessionStorage.setItem(ORG, org);
  sessionStorage.setItem(ROLE, role);
  sessionStorage.setItem(WHO, JSON.stringify({ user, member, services, expiresAt }));
}

/** clear forgets the key, role and jobs but remembers the org. */
export function clear() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
  sessionStorage.removeItem(WHO);
  sessionStorage.removeItem(JOBS);
  sessionStorage.removeItem(EVENT);
  sessionStorage.removeItem(REMOVED);
}

/** rememberedOrg is the org of the last sign-in in this tab. */
export const rememberedOrg = () => sessionStorage.getItem(ORG) || '';

/** loadJobs and saveJobs keep the jobs this tab started. */
export function loadJobs() {
  try { return JSON.parse(sessionStorage.getItem(JOBS) || '[]'); } catch { return []; }
}
export function saveJobs(jobs) { sessionStorage.setItem(JOBS, JSON.stringify(jobs)); }

/** lastEventId is the id of the last job event seen, to resume the stream. */
export const lastEventId = () => sessionStorage.getItem(EVENT) || '';
export const setLastEventId = (id) => sessionStorage.setItem(EVENT, String(id));

/** removedJobs are the jobs removed from the list, kept out when the server lists them again. */
export function removedJobs() {
  try { return JSON.parse(sessionStorage.getItem(REMOVED) || '[]'); } catch { return []; }
}
export function addRemovedJob(id) { sessionStorage.setItem(REMOVED, JSON.stringify([...removedJobs(), id].slice(-200))); }
