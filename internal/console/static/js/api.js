// The console's one door to the server. Pages call these functions, never
// fetch: everything goes through the project's JS client (@aiproxy/client,
// vendored into ../client/ by scripts/sync-console-client.sh), including the
// admin routes, which use the client's authenticated request() so that every
// error is the client's typed AIProxyError with status, code and detail.
import { AIProxyClient, AIProxyError, NetworkError, videoErrorText } from '../client/index.js';

export { AIProxyError, NetworkError, videoErrorText };

let client = null;

/** connect makes the client for a session. */
export function connect({ apiKey, org }) {
  client = new AIProxyClient({ baseUrl: location.origin, apiKey, org });
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
 * a ReadableStream.
 */
export async function invoke(service, action, envelope, { stream = false, signal } = {}) {
  const r = await c().invoke(service, action, envelope, { signal, as: stream ? 'stream' : undefined });
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

/** orgGet reads an org-scoped admin route such as "/usage/". */
export const orgGet = (path) => adminRequest('GET', `${orgPath()}${path}`);

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
