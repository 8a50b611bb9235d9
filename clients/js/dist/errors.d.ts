/**
 * Errors thrown by the client. Every answer of 400 or more becomes an
 * {@link AIProxyError} subclass chosen by status, carrying `status`, the
 * machine-readable `code` and the human `detail` (the contract's `detail`,
 * or `error` for credential-policy and path-parameter cases).
 */
import type { BudgetScope } from "./types.js";
/** Fields of an error answer. */
export interface ErrorInit {
    status: number;
    code: string;
    detail: string;
    requestId?: string;
    retryAfterSeconds?: number;
    body?: unknown;
}
/** An error answer from aiproxy (or, with status 0, no answer at all). */
export declare class AIProxyError extends Error {
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number;
    /** aiproxy's machine-readable code, e.g. `not_found`, `upstream_failed`. */
    readonly code: string;
    /** The message: the body's `detail || error`. */
    readonly detail: string;
    /** The X-Request-Id of the failed request, for support. */
    readonly requestId?: string;
    /** Seconds to wait, from Retry-After. */
    readonly retryAfterSeconds?: number;
    /** The decoded body, when it was JSON. */
    readonly body?: unknown;
    constructor(init: ErrorInit);
}
/** 400, 413 or 422: the request was malformed (bad envelope, missing path parameter, …). */
export declare class ValidationError extends AIProxyError {
}
/** 401: no key, or a key or token that is unknown, revoked, expired or spent ("Invalid token."). */
export declare class AuthenticationError extends AIProxyError {
}
/**
 * 402 `budget_exceeded`: a spending budget, or a user token's max_spend,
 * would be passed by the call. Besides `detail` (which says it in words),
 * it names the refusing budget and when it resets. `available` and
 * `required` are left out for a user refused by the org's or a key's
 * budget, whose amounts are the org's business.
 */
export declare class BudgetExceededError extends AIProxyError {
    /** The refusing budget's scope, the most specific one exhausted: `token`, `user`, `key` or `org`. */
    readonly scope?: BudgetScope;
    /** The refusing budget's id; `token_max_spend` for a user token's own cap. */
    readonly budgetId?: string;
    /** When the budget's window ends (ISO 8601); null for a lifetime budget, undefined when the server did not say. */
    readonly resetsAt?: string | null;
    /** What the budget has left, in US dollars. */
    readonly available?: number;
    /** What the call needs (an estimate for a video), in US dollars. */
    readonly required?: number;
    constructor(init: ErrorInit);
}
/** 403: the key may not do this, e.g. another org's services. */
export declare class PermissionError extends AIProxyError {
}
/** 404: unknown or disabled service or action, or no allowed credential. */
export declare class NotFoundError extends AIProxyError {
}
/** 409: the thing already exists. */
export declare class ConflictError extends AIProxyError {
}
/** 429: rate limited or over quota; see `retryAfterSeconds`. */
export declare class RateLimitError extends AIProxyError {
}
/** 502: the provider failed or refused aiproxy's credential. */
export declare class UpstreamError extends AIProxyError {
}
/** 504: the provider did not answer in time. */
export declare class UpstreamTimeoutError extends AIProxyError {
}
/** The request never got an answer: network failure, DNS, CORS. */
export declare class NetworkError extends AIProxyError {
}
/** A wait (e.g. `waitForVideo`) ran out of time. */
export declare class TimeoutError extends AIProxyError {
}
/** A HeyGen render ended as failed (status 0: the answers themselves were fine). */
export declare class VideoFailedError extends AIProxyError {
    readonly videoId: string;
    constructor(videoId: string, detail: string, body?: unknown);
}
/** Builds the typed error of an error answer. */
export declare function errorFromResponse(resp: Response): Promise<AIProxyError>;
