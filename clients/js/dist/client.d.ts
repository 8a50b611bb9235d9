import { AIProxyError } from "./errors.js";
import { ElevenLabs } from "./elevenlabs.js";
import { HeyGen } from "./heygen.js";
import type { Envelope, InvokeOptions, InvokeResult, RequestOptions, ServiceDetail, ServiceSummary } from "./types.js";
/** The Authorization schemes aiproxy accepts; all mean the same key. */
export type AuthScheme = "Api-Key" | "Token" | "Api-Token" | "Bearer";
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
    /** An aiproxy key (or token). */
    apiKey: string;
    /** Authorization scheme; default `Api-Key`. */
    authScheme?: AuthScheme;
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
    private readonly auth;
    private readonly fetchFn;
    private readonly extraHeaders;
    private readonly retry;
    private readonly modes;
    constructor(opts: ClientOptions);
    /** The URL of a path below `/api/ai-proxy/orgs/{org}/`. */
    orgUrl(...parts: string[]): string;
    /** The base URL of a service's native passthrough, for the provider's official SDK. */
    nativeBaseUrl(service: string): string;
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
    /** Sends one request with auth, retrying transient failures as configured. */
    request(method: string, url: string, body: (() => {
        body: BodyInit;
        contentType?: string;
    }) | undefined, opts?: RequestOptions): Promise<Response>;
}
export { AIProxyError };
