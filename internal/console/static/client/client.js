import { AIProxyError, AuthenticationError, NetworkError, errorFromResponse } from "./errors.js";
import { ElevenLabs } from "./elevenlabs.js";
import { HeyGen } from "./heygen.js";
import { sleep } from "./sleep.js";
import { liveAvatarBody, openLiveSpeech } from "./live.js";
/** The prefix of user tokens; API keys start with `aip_`. */
export const USER_TOKEN_PREFIX = "aipt_";
/** The message of a 401 for a credential that is unknown, expired, revoked or spent. */
const INVALID_TOKEN = "Invalid token.";
const retryable = new Set([429, 502, 503, 504]);
function mediaType(h) {
    return (h.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
}
function isJSON(mt) {
    return mt === "application/json" || mt.endsWith("+json");
}
/**
 * The aiproxy client: discovery, invoke, and typed helpers under
 * `heygen` and `elevenlabs`. Works in browsers and Node 18+ (global fetch).
 */
export class AIProxyClient {
    constructor(opts) {
        this.modes = new Map();
        const problems = [];
        if (!opts || !/^https?:\/\/[^/]/.test(opts.baseUrl ?? ""))
            problems.push("baseUrl must be an absolute http(s) URL");
        if (!opts?.org)
            problems.push("org is required");
        const given = [opts?.apiKey, opts?.token, opts?.getToken].filter(Boolean).length;
        if (given === 0)
            problems.push("apiKey is required (or token, or getToken)");
        if (given > 1)
            problems.push("give only one of apiKey, token and getToken");
        if (problems.length)
            throw new TypeError(`AIProxyClient: ${problems.join("; ")}`);
        this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
        this.org = opts.org;
        this.staticCredential = opts.apiKey || opts.token;
        this.getToken = opts.getToken;
        const keyLike = opts.apiKey !== undefined && !opts.apiKey.startsWith(USER_TOKEN_PREFIX);
        this.scheme = opts.authScheme ?? (keyLike ? "Api-Key" : "Token");
        const f = opts.fetch ?? globalThis.fetch;
        if (!f)
            throw new TypeError("AIProxyClient: no fetch; pass options.fetch");
        this.fetchFn = f.bind(globalThis);
        this.extraHeaders = { ...(opts.headers ?? {}) };
        if (opts.user)
            this.extraHeaders["X-AIProxy-User"] = opts.user;
        this.retry = { retries: opts.retry?.retries ?? 0, baseDelayMs: opts.retry?.baseDelayMs ?? 1000 };
        this.heygen = new HeyGen(this);
        this.elevenlabs = new ElevenLabs(this);
    }
    /** The URL of a path below `/api/ai-proxy/orgs/{org}/`. */
    orgUrl(...parts) {
        return [this.baseUrl, "api/ai-proxy/orgs", encodeURIComponent(this.org), ...parts.map(encodeURIComponent)].join("/") + "/";
    }
    /** The base URL of a service's native passthrough, for the provider's official SDK. */
    nativeBaseUrl(service) {
        return [this.baseUrl, "api/ai-proxy/orgs", encodeURIComponent(this.org), "native", encodeURIComponent(service)].join("/");
    }
    /** Whether the client authenticates with a user token rather than an API key. */
    get usesUserToken() {
        return this.getToken !== undefined || (this.staticCredential ?? "").startsWith(USER_TOKEN_PREFIX);
    }
    /**
     * A URL that a browser can load without headers (`<audio src>`,
     * `<video src>`, `EventSource`), carrying the client's user token as
     * `?access_token=`. aiproxy accepts it on GET native routes and on the job
     * event stream. `pathOrUrl` is an absolute URL, a path from the server's
     * root (`/api/ai-proxy/…`), or a path below the org
     * (`native/elevenlabs/v1/history/ID/audio`, `jobs/events`). An API key is
     * never put in a URL: a client without a user token throws.
     */
    async mediaUrl(pathOrUrl) {
        if (!this.usesUserToken) {
            throw new TypeError("AIProxyClient.mediaUrl: needs a user token; an API key must never travel in a URL");
        }
        return withAccessToken(this.resolve(pathOrUrl), await this.credential(false));
    }
    /** Who the client's key or token is in its org: kind, role, user, grants. */
    async me(opts = {}) {
        return (await this.request("GET", this.orgUrl("me"), undefined, opts)).json();
    }
    /**
     * Mints a user token for one user of the org (only an org's API key may).
     * Run it on your backend and hand `token` to that user's browser.
     */
    async mintUserToken(req, opts = {}) {
        const body = JSON.stringify({
            user: req.user, services: req.services, actions: req.actions, ttl_seconds: req.ttlSeconds,
            max_spend: req.maxSpend, single_use: req.singleUse,
        });
        return (await this.request("POST", this.orgUrl("user-tokens"), () => ({ body, contentType: "application/json" }), opts)).json();
    }
    /** Lists the org's unexpired user tokens, without secrets (revoked ones until they expire); of one user when given. */
    async listUserTokens(user, opts = {}) {
        const q = user ? `?${new URLSearchParams({ user })}` : "";
        return (await this.request("GET", this.orgUrl("user-tokens") + q, undefined, opts)).json();
    }
    /** Revokes a user token by its id and returns it. */
    async revokeUserToken(id, opts = {}) {
        return (await this.request("DELETE", this.orgUrl("user-tokens", id), undefined, opts)).json();
    }
    /**
     * Where each budget the client may see stands in its current window: an
     * org admin sees every budget with amounts, a user token its own user and
     * token budgets as `percent` and `zone` only.
     */
    async budgetStatus(opts = {}) {
        return (await this.request("GET", this.orgUrl("budgets", "status"), undefined, opts)).json();
    }
    /** Lists the org's spending budgets (an org admin key only). */
    async listBudgets(opts = {}) {
        return (await this.request("GET", this.orgUrl("budgets"), undefined, opts)).json();
    }
    /** Creates a budget, or replaces the one with `req.id`, and returns it as stored (an org admin key only). */
    async setBudget(req, opts = {}) {
        const body = JSON.stringify({
            id: req.id, scope: req.scope, subject: req.subject, window: req.window, limit_micros: req.limitMicros,
            alert_thresholds: req.alertThresholds, enforcement: req.enforcement,
        });
        return (await this.request("PUT", this.orgUrl("budgets"), () => ({ body, contentType: "application/json" }), opts)).json();
    }
    /** Deletes a budget and its counters (an org admin key only). */
    async deleteBudget(id, opts = {}) {
        const resp = await this.request("DELETE", this.orgUrl("budgets", id), undefined, opts);
        await resp.body?.cancel().catch(() => undefined);
    }
    /**
     * Opens ElevenLabs' text-to-speech input stream through aiproxy
     * (`native/elevenlabs/v1/text-to-speech/{voice}/stream-input`, or
     * `multi-stream-input` with `multi`) and resolves once it is open: send
     * text as it comes, read `{audio, alignment}` chunks as they arrive, then
     * `end()`. A user token travels as the subprotocol `["aiproxy", token]`
     * (any WebSocket, browsers included); an API key as the Authorization
     * header, which needs `options.WebSocket` that takes headers (the `ws`
     * package).
     */
    async liveSpeech(opts) {
        if (!opts?.voiceId)
            throw new TypeError("liveSpeech: voiceId is required");
        const q = new URLSearchParams();
        if (opts.modelId)
            q.set("model_id", opts.modelId);
        if (opts.outputFormat)
            q.set("output_format", opts.outputFormat);
        for (const [k, v] of Object.entries(opts.query ?? {}))
            q.set(k, String(v));
        const path = `v1/text-to-speech/${encodeURIComponent(opts.voiceId)}/${opts.multi ? "multi-stream-input" : "stream-input"}`;
        const url = this.socketUrl("elevenlabs", path) + (q.toString() ? `?${q}` : "");
        const cred = await this.credential(false);
        return openLiveSpeech(url, this.usesUserToken ? { token: cred } : { authorization: `${this.scheme} ${cred}` }, opts);
    }
    /** The ws(s):// URL of a socket path below a service's native passthrough. */
    socketUrl(service, path) {
        return `${this.nativeBaseUrl(service)}/${path.replace(/^\/+/, "")}`.replace(/^http/, "ws");
    }
    /**
     * Mints a LiveAvatar session through aiproxy (the `liveavatar` service's
     * create-session-token) and returns what the official web SDK needs:
     * `new LiveAvatarSession(sessionToken, { apiUrl })`, whose start, stop
     * and keep-alive then go through aiproxy too.
     */
    async liveAvatarSession(req, opts = {}) {
        const r = await this.invokeJSON("liveavatar", "create-session-token", { body: liveAvatarBody(req) }, opts);
        const id = r?.data?.session_id, token = r?.data?.session_token;
        if (!id || !token) {
            throw new AIProxyError({ status: 200, code: "upstream_failed", detail: `LiveAvatar gave no session (code ${r?.code}: ${r?.message ?? "no message"}).`, body: r });
        }
        return { sessionId: id, sessionToken: token, apiUrl: this.nativeBaseUrl("liveavatar") };
    }
    /** Lists the org's live sessions aiproxy tracks, newest first (a user token: its own), with minutes and credits. */
    async listLiveSessions(opts = {}) {
        const r = await (await this.request("GET", this.orgUrl("live-sessions"), undefined, opts)).json();
        return r?.sessions ?? [];
    }
    /** Stops a live session at the provider (POST /orgs/{org}/live-sessions/{id}/stop/) and returns it. */
    async stopLiveSession(id, opts = {}) {
        return (await this.request("POST", this.orgUrl("live-sessions", id, "stop"), undefined, opts)).json();
    }
    /** Lists the enabled services. */
    async listServices(opts = {}) {
        return (await this.request("GET", this.orgUrl("services"), undefined, opts)).json();
    }
    /** Reads one service and its endpoints; invoke then knows their response modes. */
    async getService(slug, opts = {}) {
        const detail = await (await this.request("GET", this.orgUrl("services", slug), undefined, opts)).json();
        for (const ep of detail.endpoints ?? [])
            this.modes.set(`${slug}/${ep.slug}`, ep.response_mode);
        return detail;
    }
    /**
     * Invokes an action and decodes the answer: JSON when the Content-Type is
     * JSON, a ReadableStream for `stream` endpoints, otherwise a Blob (or bytes
     * with `as: "bytes"`). Error answers throw an {@link AIProxyError}.
     */
    async invoke(service, action, envelope = {}, opts = {}) {
        const resp = await this.invokeResponse(service, action, envelope, opts);
        const mode = opts.responseMode ?? this.modes.get(`${service}/${action}`);
        return decode(resp, opts.as ?? chooseDecoding(mode, mediaType(resp.headers)));
    }
    /** Invokes an action and returns its JSON answer, failing when the answer is not JSON. */
    async invokeJSON(service, action, envelope = {}, opts = {}) {
        const r = await this.invoke(service, action, envelope, { ...opts, as: "json" });
        return r.data;
    }
    /** Invokes an action and returns the fetch Response unread (status already checked). */
    async invokeResponse(service, action, envelope = {}, opts = {}) {
        const url = this.orgUrl("services", service, action);
        if (opts.files && Object.keys(opts.files).length > 0) {
            return this.request("POST", url, () => multipart(envelope, opts.files), opts);
        }
        const body = JSON.stringify(envelope ?? {});
        return this.request("POST", url, () => ({ body, contentType: "application/json" }), opts);
    }
    /**
     * Sends one request with auth, retrying transient failures as configured.
     * With `getToken`, a 401 "Invalid token." asks for a fresh token and
     * retries the request once.
     */
    async request(method, url, body, opts = {}) {
        try {
            return await this.send(method, url, body, opts, false);
        }
        catch (err) {
            const stale = err instanceof AuthenticationError && err.detail === INVALID_TOKEN;
            if (!this.getToken || !stale || opts.signal?.aborted)
                throw err;
            return this.send(method, url, body, opts, true);
        }
    }
    /** The credential to send: the static one, or the callback's. */
    async credential(refresh) {
        if (!this.getToken)
            return this.staticCredential;
        const token = await this.getToken({ refresh });
        if (!token)
            throw new TypeError("AIProxyClient: getToken returned no token");
        return token;
    }
    /** An absolute URL for a path below the server or the org, or an absolute URL as is. */
    resolve(pathOrUrl) {
        if (/^https?:\/\//.test(pathOrUrl))
            return pathOrUrl;
        if (pathOrUrl.startsWith("/"))
            return this.baseUrl + pathOrUrl;
        return this.orgUrl().replace(/\/$/, "") + "/" + pathOrUrl.replace(/^\/+/, "");
    }
    async send(method, url, body, opts, refresh) {
        for (let attempt = 0;; attempt++) {
            const auth = `${this.scheme} ${await this.credential(refresh && attempt === 0)}`;
            const headers = { ...this.extraHeaders, ...opts.headers, Authorization: auth, Accept: "application/json, */*" };
            const b = body?.();
            if (b?.contentType)
                headers["Content-Type"] = b.contentType;
            let resp;
            try {
                resp = await this.fetchFn(url, { method, headers, body: b?.body, signal: opts.signal });
            }
            catch (err) {
                if (opts.signal?.aborted)
                    throw opts.signal.reason ?? err;
                if (attempt < this.retry.retries) {
                    await sleep(this.retry.baseDelayMs * 2 ** attempt, opts.signal);
                    continue;
                }
                throw new NetworkError({ status: 0, code: "network", detail: `Request to ${url} failed: ${err?.message ?? err}` });
            }
            if (resp.ok)
                return resp;
            if (attempt < this.retry.retries && retryable.has(resp.status)) {
                const after = Number.parseInt(resp.headers.get("Retry-After") ?? "", 10);
                await resp.body?.cancel().catch(() => undefined);
                await sleep(Math.max(this.retry.baseDelayMs * 2 ** attempt, Number.isFinite(after) ? after * 1000 : 0), opts.signal);
                continue;
            }
            throw await errorFromResponse(resp);
        }
    }
}
function chooseDecoding(mode, mt) {
    if (mode === "stream")
        return "stream";
    if (isJSON(mt))
        return "json";
    return "blob";
}
async function decode(resp, as) {
    const base = { status: resp.status, headers: resp.headers, contentType: mediaType(resp.headers) };
    switch (as) {
        case "json": {
            if (!isJSON(base.contentType)) {
                await resp.body?.cancel().catch(() => undefined);
                throw new AIProxyError({
                    status: resp.status, code: "unexpected_content_type",
                    detail: `Expected a JSON answer, got ${base.contentType || "no Content-Type"}.`,
                });
            }
            return { ...base, type: "json", data: (await resp.json()) };
        }
        case "stream":
            return { ...base, type: "stream", data: resp.body ?? new ReadableStream({ start: (c) => c.close() }) };
        case "bytes":
            return { ...base, type: "bytes", data: new Uint8Array(await resp.arrayBuffer()) };
        default:
            return { ...base, type: "blob", data: await resp.blob() };
    }
}
/** The contract's upload shape: envelope fields as JSON strings, every other part a file. */
function multipart(envelope, files) {
    const form = new FormData();
    for (const key of ["body", "query", "headers", "path_params"]) {
        if (envelope[key] !== undefined)
            form.append(key, JSON.stringify(envelope[key]));
    }
    for (const [name, f] of Object.entries(files)) {
        if (f instanceof Blob)
            form.append(name, f, f.name ?? name);
        else
            form.append(name, f.blob, f.filename);
    }
    return { body: form };
}
/**
 * Adds `access_token` to a URL's query, for what a browser loads without
 * headers. Use it only with a short-lived user token, never an API key.
 */
export function withAccessToken(url, token) {
    const u = new URL(url);
    u.searchParams.set("access_token", token);
    return u.toString();
}
/**
 * Mints a user token on a backend with the org's API key: a shortcut for
 * `new AIProxyClient(options).mintUserToken(req)`.
 */
export function mintUserToken(options, req, opts = {}) {
    return new AIProxyClient(options).mintUserToken(req, opts);
}
export { AIProxyError };
