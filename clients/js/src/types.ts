/** Types of the External Service Proxy API, as aiproxy serves it. */

export type RequestMode = "raw" | "json" | "multipart" | "binary";
export type ResponseMode = "json" | "binary" | "passthrough" | "stream";

/** A service in the discovery list. */
export interface ServiceSummary {
  slug: string;
  display_name: string;
  service_type: string;
  is_enabled: boolean;
  supports_async_jobs: boolean;
  supports_streaming: boolean;
  credential_name: string;
  endpoint_count: number;
}

/** An action of a service. */
export interface EndpointDescriptor {
  slug: string;
  path_template: string;
  http_method: string;
  request_mode: RequestMode;
  response_mode: ResponseMode;
  supports_streaming: boolean;
  callback_mode: "none" | "poll" | "webhook" | string;
  is_enabled: boolean;
}

/** Which credential sources a service may use. */
export interface CredentialPolicy {
  allow_tenant_key: boolean;
  allow_platform_key: boolean;
  default_source: "tenant" | "platform";
  fallback_to_platform_key: boolean;
}

/** One service with its enabled endpoints. */
export interface ServiceDetail {
  slug: string;
  display_name: string;
  base_url: string;
  service_type: string;
  auth_mode: string;
  is_enabled: boolean;
  supports_async_jobs: boolean;
  supports_streaming: boolean;
  default_timeout_seconds: number;
  credential_name: string;
  credential_policy: CredentialPolicy;
  credential_schema: Record<string, string>;
  endpoints: EndpointDescriptor[];
}

/** A query value: a scalar or a list of them. */
export type QueryValue = string | number | boolean | Array<string | number | boolean>;

/** The invoke envelope; every field is optional. */
export interface Envelope {
  body?: unknown;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  path_params?: Record<string, string>;
}

/** Fields common to every decoded answer. */
interface ResultBase {
  status: number;
  headers: Headers;
  /** The answer's media type, without parameters ("" when absent). */
  contentType: string;
}

/** A decoded invoke answer, tagged by how it was decoded. */
export type InvokeResult<T = unknown> =
  | (ResultBase & { type: "json"; data: T })
  | (ResultBase & { type: "blob"; data: Blob })
  | (ResultBase & { type: "bytes"; data: Uint8Array })
  | (ResultBase & { type: "stream"; data: ReadableStream<Uint8Array> });

/** How to decode an answer: by default JSON when the Content-Type says so, a stream for `stream` endpoints, else a Blob. */
export type DecodeAs = "json" | "blob" | "bytes" | "stream";

/** Options of one request. */
export interface RequestOptions {
  /** Cancels the request. */
  signal?: AbortSignal;
  /** Extra headers for this request only, e.g. `Prefer: wait=25`. */
  headers?: Record<string, string>;
}

/** Options of invoke. */
export interface InvokeOptions extends RequestOptions {
  /** Force a decoding instead of choosing by response mode and Content-Type. */
  as?: DecodeAs;
  /** The endpoint's response mode, when known without discovery. */
  responseMode?: ResponseMode;
  /** Files for multipart/binary endpoints: form field name → file. The envelope then travels as form fields. */
  files?: Record<string, Blob | { blob: Blob; filename: string }>;
}

/** What a key or token may call; empty lists mean every service or action of its org. */
export interface Grants {
  services: string[];
  /** As `service/action`. */
  actions: string[];
}

/** A user token as aiproxy describes it; `token`, the secret, only in the answer that mints it. */
export interface UserToken {
  id: string;
  token?: string;
  user: string;
  /** The API key that minted it; revoking that key invalidates the token. */
  key_id: string;
  grants: Grants;
  /** Its own spending cap in US dollars, or null. */
  max_spend: number | null;
  single_use: boolean;
  test_only: boolean;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  used_at: string | null;
}

/** What to mint: only `user` is required; every other field defaults on the server. */
export interface MintUserTokenRequest {
  /** The org's own name for the end user: 1 to 128 characters, no spaces. */
  user: string;
  /** Narrow the token to these services. */
  services?: string[];
  /** Narrow the token to these actions, as `service/action`. */
  actions?: string[];
  /** Its life in seconds, 10 to 3600; the server's default (600) when absent. */
  ttlSeconds?: number;
  /** What it may spend in its life, in US dollars. */
  maxSpend?: number;
  /** Valid for one request only. */
  singleUse?: boolean;
}

/** Who a caller is, from `GET /orgs/{org}/me/`. */
export interface Me {
  org: string;
  /** How the request authenticated. */
  kind: "key" | "user_token" | "sign_in";
  role: "admin" | "invoke";
  /** The user the calls act for, or null for the org itself. */
  user: string | null;
  /** True when the caller reaches only its own user's objects and jobs, and none of the org's administration. */
  member: boolean;
  key_id?: string;
  test_only: boolean;
  grants: Grants;
}

/** Whom a budget caps. */
export type BudgetScope = "org" | "key" | "user" | "token";
/** A budget's calendar window, in UTC; a week starts on Monday. */
export type BudgetWindow = "day" | "week" | "month" | "lifetime";
/** What a budget does at its limit: refuse the call, or only count and alert. */
export type BudgetEnforcement = "block" | "alert_only";
/** How much of a budget is used: below the first alert threshold, past it, past the last, at the limit. */
export type BudgetZone = "ok" | "warning" | "critical" | "exhausted";

/** A spending budget. Amounts are integer micro-USD (1 USD = 1,000,000). */
export interface Budget {
  id: string;
  org: string;
  scope: BudgetScope;
  /** The key id, user or token id it caps; "" for the org, and for the others the default applied to each one. */
  subject: string;
  window: BudgetWindow;
  limit_micros: number;
  /** Fractions of the limit at which an alert fires. */
  alert_thresholds: number[];
  enforcement: BudgetEnforcement;
  created_at: string;
  updated_at: string;
}

/** A budget to create (no `id`) or replace (`id`): only `scope`, `window` and `limitMicros` are required. */
export interface SetBudgetRequest {
  id?: string;
  scope: BudgetScope;
  /** The key id, user or token id; absent for the org, or for the default of each key, user or token. */
  subject?: string;
  window: BudgetWindow;
  /** The cap in micro-USD: $5.00 is 5_000_000. */
  limitMicros: number;
  /** Increasing fractions of the limit at which an alert fires; the server's default is [0.8, 0.95]. */
  alertThresholds?: number[];
  /** Default `block`. */
  enforcement?: BudgetEnforcement;
}

/**
 * Where one budget stands in its current window. An org admin gets every
 * field; a user (a member) gets only its own user and token budgets, with
 * `scope`, `window`, `window_start`, `resets_at`, `percent` and `zone`.
 */
export interface BudgetStatus {
  id?: string;
  scope: BudgetScope;
  /** Whom the counter counts: the budget's subject, or the key, user or token a default budget applies to. */
  subject?: string;
  window: BudgetWindow;
  window_start: string;
  /** When the window ends; null for a lifetime budget. */
  resets_at: string | null;
  limit_micros?: number;
  spent_micros?: number;
  /** What running calls and jobs hold. */
  reserved_micros?: number;
  remaining_micros?: number;
  enforcement?: BudgetEnforcement;
  /** Spent and held as a percentage of the limit, to one decimal. */
  percent: number;
  zone: BudgetZone;
}
