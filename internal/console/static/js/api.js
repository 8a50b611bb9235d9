// The console's one door to the server. Pages call these functions, never
// fetch: everything goes through the project's JS client (@aiproxy/client,
// vendored into ../client/ by scripts/sync-console-client.sh), including the
// admin routes, which use the client's authenticated request() so that every
// error is the client's typed AIProxyError with status, code and detail.
import { AIProxyClient, AIProxyError, NetworkError, USER_TOKEN_PREFIX, videoErrorText } from '../client/index.js';

export { AIProxyError, NetworkError, videoErrorText };

let client = null;

/** isUserToken tells a user token (aipt_…) from an API key (aip_…). */
export const isUserToken = (credential) => String(credential || '').startsWith(USER_TOKEN_PREFIX);

/** connect makes the client for a session; its credential is an API key or a user token. */
export function connect({ apiKey, org }) {
  const credential = isUserToken(apiKey) ? { token: apiKey } : { apiKey };
  client = new AIProxyClient({ baseUrl: location.origin, org, ...credential });
  return client;
}

/** disconnect forgets the session's client. */
export function disconnect() { client = null; }

function c() {
  if (!client) throw new Error('Not signed in.');
  return client;
}

// Discovery and invoke.
export const listServices = (opts) => c().listServices(opts);
export const getService = (slug, opts) => c().getService(slug, opts);

/**
 * invoke returns the decoded answer: JSON, a Blob, or with {stream: true}
 * a ReadableStream. files ({field: File}) sends a multipart upload, as
 * multipart and binary endpoints take it.
 */
export async function invoke(service, action, envelope, { stream = false, signal, files } = {}) {
  const r = await c().invoke(service, action, envelope, { signal, files, as: stream ? 'stream' : undefined });
  return r.data;
}

// HeyGen.
export const listAvatars = (opts) => c().heygen.listAvatars(opts);
export const listHeyGenVoices = (opts) => c().heygen.listVoices(opts);
export const listTemplates = async (opts) => {
  const r = await c().invokeJSON('heygen', 'list-templates', {}, opts);
  return (r && r.data && r.data.templates) || [];
};
/** generateVideo starts a render and returns its video id. */
export const generateVideo = (body, opts) => c().heygen.generateVideo(body, opts);
/** v3All reads every page of a HeyGen v3 list ({data, has_more, next_token}), at most pages of 50. */
async function v3All(action, pages, opts) {
  const out = [];
  let token;
  for (let i = 0; i < pages; i++) {
    const r = await c().invokeJSON('heygen', action, { query: token ? { limit: 50, token } : { limit: 50 } }, opts);
    out.push(...((r && r.data) || []));
    if (!r || !r.has_more || !r.next_token) break;
    token = r.next_token;
  }
  return out;
}
/** listLooks reads HeyGen v3's avatar looks (GET /v3/avatars/looks): a look's id is a v3 video's avatar_id. */
export const listLooks = (opts) => v3All('v3-list-avatar-looks', 20, opts);
/** listAvatarGroups reads HeyGen v3's avatar groups (GET /v3/avatars), the people the looks belong to. */
export const listAvatarGroups = (opts) => v3All('v3-list-avatars', 20, opts);
/** createV3Video starts a v3 render (POST /v3/videos) and returns its video id. */
export async function createV3Video(body, opts) {
  const r = await c().invokeJSON('heygen', 'v3-create-video', { body }, opts);
  const id = r && r.data && r.data.video_id;
  if (!id) throw new Error('HeyGen answered without a video id.');
  return id;
}
/** generateTemplateVideo starts a template render and returns its video id. */
export const generateTemplateVideo = (id, body, opts) => c().heygen.generateTemplateVideo(id, body, opts);
/** videoStatus returns HeyGen's status object (data of video-status). */
export const videoStatus = (id, opts) => c().heygen.videoStatus(id, opts);

// ElevenLabs.
export const listElevenLabsVoices = (opts) => c().elevenlabs.listVoices(opts);
export const listModels = (opts) => c().elevenlabs.listModels(opts);
/** tts returns the clip as a Blob; req is {voiceId, text, modelId, voiceSettings}. */
export const tts = (req, opts) => c().elevenlabs.tts(req, opts);
/** ttsStream returns the clip as a ReadableStream. */
export const ttsStream = (req, opts) => c().elevenlabs.ttsStream(req, opts);

// The admin API (docs/api.md).

/** adminRequest calls an admin route below /api/ai-proxy and returns its JSON (or null for 204). */
export async function adminRequest(method, path, body, opts) {
  const cl = c();
  const url = `${cl.baseUrl}/api/ai-proxy${path}`;
  const payload = body === undefined ? undefined : () => ({ body: JSON.stringify(body), contentType: 'application/json' });
  const res = await cl.request(method, url, payload, opts);
  return res.status === 204 ? null : res.json();
}

const orgPath = () => `/orgs/${encodeURIComponent(c().org)}`;

/**
 * credentialChecks maps a service slug to the action that tests its
 * credential, read from the OpenAPI document's x-aiproxy-credential-check
 * tags (discovery keeps to the contract's fields, so it cannot carry them).
 */
export async function credentialChecks(opts) {
  const doc = await adminRequest('GET', '/openapi.json', undefined, opts);
  const out = {};
  for (const t of doc.tags || []) if (t['x-aiproxy-credential-check']) out[t.name] = t['x-aiproxy-credential-check'];
  return out;
}

/** scopePath is the org's admin prefix, or the platform's for scope "platform". */
export const scopePath = (scope) => (scope === 'platform' ? '/admin' : orgPath());

export const listKeys = (scope) => adminRequest('GET', `${scopePath(scope)}/keys/`);
export const createKey = (scope, name, role) =>
  adminRequest('POST', `${scopePath(scope)}/keys/`, scope === 'platform' ? { name } : { name, role });
export const revokeKey = (scope, id) => adminRequest('DELETE', `${scopePath(scope)}/keys/${encodeURIComponent(id)}/`);

export const listCredentials = (scope) => adminRequest('GET', `${scopePath(scope)}/credentials/`);
export const setCredential = (scope, name, value) =>
  adminRequest('PUT', `${scopePath(scope)}/credentials/${encodeURIComponent(name)}/`, { value });
export const deleteCredential = (scope, name) =>
  adminRequest('DELETE', `${scopePath(scope)}/credentials/${encodeURIComponent(name)}/`);
/** credentialPool reads a credential's keys with their health (key pools). */
export const credentialPool = (scope, name) =>
  adminRequest('GET', `${scopePath(scope)}/credentials/${encodeURIComponent(name)}/pool/`);
export const restorePoolKey = (scope, name, keyID) =>
  adminRequest('POST', `${scopePath(scope)}/credentials/${encodeURIComponent(name)}/pool/${encodeURIComponent(keyID)}/restore/`);

/** orgGet reads an org-scoped admin route such as "/usage/". */
export const orgGet = (path) => adminRequest('GET', `${orgPath()}${path}`);

/**
 * whoAmI tells who the credential is (GET /orgs/{org}/me/): kind, role,
 * user, member and grants; null from a server without the route.
 */
export async function whoAmI(opts) {
  try { return await c().me(opts); } catch (err) {
    if (err instanceof AIProxyError && err.status === 404) return null;
    throw err;
  }
}

/** probeRole tells what the key may do: "platform", "admin" or "invoke". */
export async function probeRole() {
  const ok = async (path) => {
    try { await adminRequest('GET', path); return true; } catch (err) {
      if (err instanceof AIProxyError && err.status === 403) return false;
      throw err;
    }
  };
  if (!(await ok(`${orgPath()}/keys/`))) return 'invoke';
  return (await ok('/admin/orgs/')) ? 'platform' : 'admin';
}

// Jobs (docs/jobs.md): the org's jobs and their event stream.

/**
 * listJobs reads a page of the org's jobs, newest first: {jobs, next_cursor}.
 * q searches titles and scripts; avatar, user, from and to filter.
 */
export function listJobs({ q, state, service, action, avatar, user, from, to, limit, cursor } = {}, opts) {
  return adminRequest('GET', `${orgPath()}/jobs/${query({ q, state, service, action, avatar, user, from, to, limit, cursor })}`, undefined, opts);
}

/** getJob reads one of the org's jobs by its id. */
export const getJob = (id, opts) => adminRequest('GET', `${orgPath()}/jobs/${encodeURIComponent(id)}/`, undefined, opts);

/**
 * jobTotals adds up the org's jobs started from..to (YYYY-MM-DD, to
 * included): {jobs, completed, failed, video_seconds}.
 */
export const jobTotals = ({ service, action, user, from, to } = {}, opts) =>
  adminRequest('GET', `${orgPath()}/jobs/totals/${query({ service, action, user, from, to })}`, undefined, opts);

/** jobHistory reads a job's event history, oldest first: {events: [{id, type, created_at, data}]}. */
export const jobHistory = (id, opts) => adminRequest('GET', `${orgPath()}/jobs/${encodeURIComponent(id)}/events/`, undefined, opts);

/**
 * listRequests reads a page of the org's request log, newest first:
 * {requests, next_cursor}. Org admin keys only.
 */
export function listRequests({ from, to, service, action, status, key, user, limit, cursor } = {}, opts) {
  return adminRequest('GET', `${orgPath()}/requests/${query({ from, to, service, action, status, key, user, limit, cursor })}`, undefined, opts);
}

/** usage reads the org's usage rows ({day, service, units, cost_usd, …}) for from..to (YYYY-MM-DD). */
export const usage = ({ from, to, service, group_by: groupBy } = {}, opts) =>
  adminRequest('GET', `${orgPath()}/usage/${query({ from, to, service, group_by: groupBy })}`, undefined, opts);

/**
 * jobEvents opens the org's Server-Sent Events stream of job events through
 * the client (EventSource cannot send the Authorization header), resuming
 * after lastEventId. It calls onOpen once the server answers, onEvent with
 * {id, type, data} for each event (data parsed as JSON), and resolves when
 * the server ends the stream; it rejects when it cannot open or breaks.
 */
export async function jobEvents({ lastEventId, signal, onOpen, onEvent, onActivity }) {
  const cl = c();
  const headers = lastEventId ? { 'Last-Event-ID': String(lastEventId) } : {};
  const res = await cl.request('GET', `${cl.baseUrl}/api/ai-proxy${orgPath()}/jobs/events`, undefined, { headers, signal });
  if (onOpen) onOpen();
  await readSSE(res.body, onEvent, onActivity);
}

/**
 * readSSE parses a text/event-stream body (the WHATWG format: "field: value"
 * lines, events ended by a blank line, comment lines starting with ":").
 */
export async function readSSE(body, onEvent, onActivity = () => {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { id: null, type: 'message', data: [] };
  const line = (l) => {
    if (l === '') {
      if (ev.data.length) {
        const text = ev.data.join('\n');
        let data = text;
        try { data = JSON.parse(text); } catch { /* not JSON: pass the text */ }
        onEvent({ id: ev.id, type: ev.type, data });
      }
      ev = { id: ev.id, type: 'message', data: [] };
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') ev.data.push(value);
    else if (field === 'event') ev.type = value;
    else if (field === 'id') ev.id = value;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onActivity();
    buf += value;
    let m;
    while ((m = /\r\n|\n|\r(?=[^\n])/.exec(buf))) {
      line(buf.slice(0, m.index));
      buf = buf.slice(m.index + m[0].length);
    }
  }
}

/** query builds "?a=1&b=2" from the set fields of an object ("" when none). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Guardrails (docs/guardrails.md): quotas and per-org access. Org admins
// read them; changing them needs a platform admin key.

/** listQuotas lists the org's quotas with their use in the current window. */
export const listQuotas = () => adminRequest('GET', `${orgPath()}/quotas/`);
/** setQuota creates or updates a quota ({service, metric, period, limit}); service "" is every service. */
export const setQuota = (q) => adminRequest('PUT', `${orgPath()}/quotas/`, q);
/** deleteQuota removes the quota of {service, metric, period}. */
export const deleteQuota = ({ service, metric, period }) =>
  adminRequest('DELETE', `${orgPath()}/quotas/?${new URLSearchParams({ service: service || '', metric, period })}`);

/** listAccess lists what the org may not use: [{service, endpoint}], endpoint "" for a whole service. */
export const listAccess = () => adminRequest('GET', `${orgPath()}/access/`);
/** setAccess turns a service (endpoint "") or one endpoint on or off for the org. */
export const setAccess = (service, endpoint, enabled) =>
  adminRequest('PUT', `${orgPath()}/access/`, { service, endpoint: endpoint || '', enabled });

// Outbound webhooks (docs/jobs.md#webhooks-out-to-orgs).

export const listWebhooks = () => adminRequest('GET', `${orgPath()}/webhooks/`);
/** createWebhook registers an endpoint; the answer carries its secret, shown once. */
export const createWebhook = (url, events) =>
  adminRequest('POST', `${orgPath()}/webhooks/`, events && events.length ? { url, events } : { url });
export const deleteWebhook = (id) => adminRequest('DELETE', `${orgPath()}/webhooks/${encodeURIComponent(id)}/`);
/** listDeliveries reads the delivery log, newest first: {deliveries, next_cursor}. */
export const listDeliveries = ({ endpointId, limit, cursor } = {}) =>
  adminRequest('GET', `${orgPath()}/webhook-deliveries/${query({ endpoint_id: endpointId, limit, cursor })}`);

// Audit log (docs/api.md). A platform admin may read every org's with org "*".

/** listAudit reads audit events newest first; before pages back from an event id. */
export function listAudit({ org, before, limit } = {}) {
  if (org === '*') return adminRequest('GET', `/admin/audit/${query({ before, limit })}`);
  if (org && org !== c().org) return adminRequest('GET', `/admin/audit/${query({ org, before, limit })}`);
  return adminRequest('GET', `${orgPath()}/audit/${query({ before, limit })}`);
}

// Spending budgets (docs/budgets.md). Org admins manage them; anyone of
// the org reads the status of those they may see (a user: their own, as
// percent and zone only). Amounts are integer micro-USD.

/** budgetStatus is where each visible budget stands in its current window. */
export const budgetStatus = (opts) => c().budgetStatus(opts);
/** listBudgets lists the org's budgets. */
export const listBudgets = (opts) => c().listBudgets(opts);
/** setBudget creates a budget ({scope, subject, window, limitMicros, enforcement}), or replaces the one with id. */
export const setBudget = (req, opts) => c().setBudget(req, opts);
/** deleteBudget removes a budget and its counters. */
export const deleteBudget = (id, opts) => c().deleteBudget(id, opts);
