/**
 * Errors thrown by the client. Every answer of 400 or more becomes an
 * {@link AIProxyError} subclass chosen by status, carrying `status`, the
 * machine-readable `code` and the human `detail` (the contract's `detail`,
 * or `error` for credential-policy and path-parameter cases).
 */
/** An error answer from aiproxy (or, with status 0, no answer at all). */
export class AIProxyError extends Error {
    constructor(init) {
        super(init.detail);
        this.name = new.target.name;
        this.status = init.status;
        this.code = init.code;
        this.detail = init.detail;
        this.requestId = init.requestId;
        this.retryAfterSeconds = init.retryAfterSeconds;
        this.body = init.body;
    }
}
/** 400, 413 or 422: the request was malformed (bad envelope, missing path parameter, …). */
export class ValidationError extends AIProxyError {
}
/** 401: no key, or a key or token that is unknown, revoked, expired or spent ("Invalid token."). */
export class AuthenticationError extends AIProxyError {
}
/**
 * 402 `budget_exceeded`: a spending budget, or a user token's max_spend,
 * would be passed by the call. Besides `detail` (which says it in words),
 * it names the refusing budget and when it resets. `available` and
 * `required` are left out for a user refused by the org's or a key's
 * budget, whose amounts are the org's business.
 */
export class BudgetExceededError extends AIProxyError {
    constructor(init) {
        super(init);
        const b = (init.body && typeof init.body === "object" ? init.body : {});
        const str = (v) => (typeof v === "string" ? v : undefined);
        const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
        this.scope = str(b.scope);
        this.budgetId = str(b.budget_id);
        this.resetsAt = b.resets_at === null ? null : str(b.resets_at);
        this.available = num(b.available);
        this.required = num(b.required);
    }
}
/** 403: the key may not do this, e.g. another org's services. */
export class PermissionError extends AIProxyError {
}
/** 404: unknown or disabled service or action, or no allowed credential. */
export class NotFoundError extends AIProxyError {
}
/** 409: the thing already exists. */
export class ConflictError extends AIProxyError {
}
/** 429: rate limited or over quota; see `retryAfterSeconds`. */
export class RateLimitError extends AIProxyError {
}
/** 502: the provider failed or refused aiproxy's credential. */
export class UpstreamError extends AIProxyError {
}
/** 504: the provider did not answer in time. */
export class UpstreamTimeoutError extends AIProxyError {
}
/** The request never got an answer: network failure, DNS, CORS. */
export class NetworkError extends AIProxyError {
}
/** A wait (e.g. `waitForVideo`) ran out of time. */
export class TimeoutError extends AIProxyError {
}
/** A HeyGen render ended as failed (status 0: the answers themselves were fine). */
export class VideoFailedError extends AIProxyError {
    constructor(videoId, detail, body) {
        super({ status: 0, code: "video_failed", detail, body });
        this.videoId = videoId;
    }
}
const byStatus = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    422: ValidationError,
    429: RateLimitError,
    502: UpstreamError,
    504: UpstreamTimeoutError,
};
const codeByStatus = {
    400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited", 502: "upstream_failed", 504: "upstream_timeout",
};
/** aiproxy's own codes; a provider body's `code` is not one of them. */
const knownCodes = new Set([
    "invalid", "unauthenticated", "forbidden", "not_found", "method_not_allowed", "conflict", "too_large",
    "rate_limited", "quota_exceeded", "budget_exceeded", "upstream_failed", "upstream_timeout", "internal",
]);
function text(v) {
    if (v == null)
        return "";
    if (typeof v === "string")
        return v;
    if (typeof v === "object") {
        const o = v;
        for (const k of ["message", "detail"])
            if (typeof o[k] === "string" && o[k])
                return o[k];
    }
    return JSON.stringify(v);
}
/** Builds the typed error of an error answer. */
export async function errorFromResponse(resp) {
    let body;
    let detail = "";
    let code = "";
    const raw = await resp.text().catch(() => "");
    try {
        body = JSON.parse(raw);
        if (body && typeof body === "object") {
            const o = body;
            detail = text(o.detail) || text(o.error) || text(o.message);
            if (typeof o.code === "string" && knownCodes.has(o.code))
                code = o.code;
        }
    }
    catch {
        body = raw || undefined;
    }
    const retry = Number.parseInt(resp.headers.get("Retry-After") ?? "", 10);
    // A provider's own 402 passed through is not aiproxy's budget: choose by code.
    const Ctor = code === "budget_exceeded" ? BudgetExceededError : byStatus[resp.status] ?? AIProxyError;
    return new Ctor({
        status: resp.status,
        code: code || codeByStatus[resp.status] || "internal",
        detail: detail || resp.statusText || `HTTP ${resp.status}`,
        requestId: resp.headers.get("X-Request-Id") ?? undefined,
        retryAfterSeconds: Number.isFinite(retry) ? retry : undefined,
        body,
    });
}
