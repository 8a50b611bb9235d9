import { AIProxyError } from "./errors.js";
import { ElevenLabs } from "./elevenlabs.js";
import { HeyGen } from "./heygen.js";
import type { LiveAvatarSessionInfo, LiveAvatarSessionRequest, LiveSession, LiveSpeech, LiveSpeechOptions } from "./live.js";
import type { Budget, BudgetStatus, Envelope, InvokeOptions, InvokeResult, Me, MintUserTokenRequest, RequestOptions, ServiceDetail, ServiceSummary, SetBudgetRequest, UserToken } from "./types.js";
/** The Authorization schemes aiproxy accepts; all mean the same key or token. */
export type AuthScheme = "Api-Key" | "Token" | "Api-Token" | "Bearer";
/**
 * Returns the user token to send. The client calls it before every request,
 * and once more with `refresh: true` after a 401 "Invalid token." (the token
 * expired, was revoked or spent) before retrying that request once: a
 * callback that caches its token should fetch a new one then.
 */
export type GetToken = (context: {
    refresh: boolean;
}) => string | Promise<string>;
/** The prefix of user tokens; API keys start with `aip_`. */
export declare const USER_TOKEN_PREFIX = "aipt_";
/** Retry of transient failures (429, 502, 503, 504 and network errors). */
export interface RetryOptions {
    /** How many times to retry; 0 disables. */
    retries: number;
    /** First delay; each retry doubles it (the contract's `baseDelay * 2^i`). Retry-After wins when longer. */
    baseDelayMs?: number;
}
/** Options of {@link AIProxyClient}. */
export interface ClientOptions {
    /** The server's base URL, e.g. `http://127.0.0.1:8080` or `https://gateway.example.com/dm`. */
    baseUrl: string;
    /** The org (tenant) key. */
    org: string;
    /**
     * An aiproxy API key (`aip_…`), for servers and scripts. A user token
     * (`aipt_…`) is accepted here too, and then sent with the `Token` scheme.
     * Give exactly one of `apiKey`, `token` and `getToken`.
     */
    apiKey?: string;
    /** A user token (`aipt_…`) that the org's backend minted: the client acts as that one user. */
    token?: string;
    /** Where to get a user token before each request; see {@link GetToken}. For browsers whose tokens expire. */
    getToken?: GetToken;
    /** Authorization scheme; default `Api-Key` for an API key, `Token` for a user token. */
    authScheme?: AuthScheme;
    /** With an org's API key: the user of the org the calls are made for (`X-AIProxy-User`). */
    user?: string;
    /** A fetch implementation; default `globalThis.fetch`. */
    fetch?: typeof fetch;
    /** Extra headers sent with every request. */
    headers?: Record<string, string>;
    /** Retries of transient failures; default none, since generate calls are not idempotent. */
    retry?: RetryOptions;
}
/**
 * The aiproxy client: discovery, invoke, and typed helpers under
 * `heygen` and `elevenlabs`. Works in browsers and Node 18+ (global fetch).
 */
export declare class AIProxyClient {
    readonly baseUrl: string;
    readonly org: string;
    readonly heygen: HeyGen;
    readonly elevenlabs: ElevenLabs;
    private readonly scheme;
    private readonly staticCredential?;
    private readonly getToken?;
    private readonly fetchFn;
    private readonly extraHeaders;
    private readonly retry;
    private readonly modes;
    constructor(opts: ClientOptions);
    /** The URL of a path below `/api/ai-proxy/orgs/{org}/`. */
    orgUrl(...parts: string[]): string;
    /** The base URL of a service's native passthrough, for the provider's official SDK. */
    nativeBaseUrl(service: string): string;
    /** Whether the client authenticates with a user token rather than an API key. */
    get usesUserToken(): boolean;
    /**
     * A URL that a browser can load without headers (`<audio src>`,
     * `<video src>`, `EventSource`), carrying the client's user token as
     * `?access_token=`. aiproxy accepts it on GET native routes and on the job
     * event stream. `pathOrUrl` is an absolute URL, a path from the server's
     * root (`/api/ai-proxy/…`), or a path below the org
     * (`native/elevenlabs/v1/history/ID/audio`, `jobs/events`). An API key is
     * never put in a URL: a client without a user token throws.
     */
    mediaUrl(pathOrUrl: string): Promise<string>;
    /** Who the client's key or token is in its org: kind, role, user, grants. */
    me(opts?: RequestOptions): Promise<Me>;
    /**
     * Mints a user token for one user of the org (only an org's API key may).
     * Run it on your backend and hand `token` to that user's browser.
     */
    mintUserToken(req: MintUserTokenRequest, opts?: RequestOptions): Promise<UserToken>;
    /** Lists the org's unexpired user tokens, without secrets (revoked ones until they expire); of one user when given. */
    listUserTokens(user?: string, opts?: RequestOptions): Promise<UserToken[]>;
    /** Revokes a user token by its id and returns it. */
    revokeUserToken(id: string, opts?: RequestOptions): Promise<UserToken>;
    /**
     * Where each budget the client may see stands in its current window: an
     * org admin sees every budget with amounts, a user token its own user and
     * token budgets as `percent` and `zone` only.
     */
    budgetStatus(opts?: RequestOptions): Promise<BudgetStatus[]>;
    /** Lists the org's spending budgets (an org admin key only). */
    listBudgets(opts?: RequestOptions): Promise<Budget[]>;
    /** Creates a budget, or replaces the one with `req.id`, and returns it as stored (an org admin key only). */
    setBudget(req: SetBudgetRequest, opts?: RequestOptions): Promise<Budget>;
    /** Deletes a budget and its counters (an org admin key only). */
    deleteBudget(id: string, opts?: RequestOptions): Promise<void>;
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
    liveSpeech(opts: LiveSpeechOptions): Promise<LiveSpeech>;
    /** The ws(s):// URL of a socket path below a service's native passthrough. */
    socketUrl(service: string, path: string): string;
    /**
     * Mints a LiveAvatar session through aiproxy (the `liveavatar` service's
     * create-session-token) and returns what the official web SDK needs:
     * `new LiveAvatarSession(sessionToken, { apiUrl })`, whose start, stop
     * and keep-alive then go through aiproxy too.
     */
    liveAvatarSession(req: LiveAvatarSessionRequest, opts?: RequestOptions): Promise<LiveAvatarSessionInfo>;
    /** Lists the org's live sessions aiproxy tracks, newest first (a user token: its own), with minutes and credits. */
    listLiveSessions(opts?: RequestOptions): Promise<LiveSession[]>;
    /** Stops a live session at the provider (POST /orgs/{org}/live-sessions/{id}/stop/) and returns it. */
    stopLiveSession(id: string, opts?: RequestOptions): Promise<LiveSession>;
    /** Lists the enabled services. */
    listServices(opts?: RequestOptions): Promise<ServiceSummary[]>;
    /** Reads one service and its endpoints; invoke then knows their response modes. */
    getService(slug: string, opts?: RequestOptions): Promise<ServiceDetail>;
    /**
     * Invokes an action and decodes the answer: JSON when the Content-Type is
     * JSON, a ReadableStream for `stream` endpoints, otherwise a Blob (or bytes
     * with `as: "bytes"`). Error answers throw an {@link AIProxyError}.
     */
    invoke<T = unknown>(service: string, action: string, envelope?: Envelope, opts?: InvokeOptions): Promise<InvokeResult<T>>;
    /** Invokes an action and returns its JSON answer, failing when the answer is not JSON. */
    invokeJSON<T = unknown>(service: string, action: string, envelope?: Envelope, opts?: RequestOptions): Promise<T>;
    /** Invokes an action and returns the fetch Response unread (status already checked). */
    invokeResponse(service: string, action: string, envelope?: Envelope, opts?: InvokeOptions): Promise<Response>;
    /**
     * Sends one request with auth, retrying transient failures as configured.
     * With `getToken`, a 401 "Invalid token." asks for a fresh token and
     * retries the request once.
     */
    request(method: string, url: string, body: (() => {
        body: BodyInit;
        contentType?: string;
    }) | undefined, opts?: RequestOptions): Promise<Response>;
    /** The credential to send: the static one, or the callback's. */
    private credential;
    /** An absolute URL for a path below the server or the org, or an absolute URL as is. */
    private resolve;
    private send;
}
/**
 * Adds `access_token` to a URL's query, for what a browser loads without
 * headers. Use it only with a short-lived user token, never an API key.
 */
export declare function withAccessToken(url: string, token: string): string;
/**
 * Mints a user token on a backend with the org's API key: a shortcut for
 * `new AIProxyClient(options).mintUserToken(req)`.
 */
export declare function mintUserToken(options: ClientOptions, req: MintUserTokenRequest, opts?: RequestOptions): Promise<UserToken>;
export { AIProxyError };
