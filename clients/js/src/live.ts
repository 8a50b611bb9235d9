/**
 * Real-time helpers: ElevenLabs' text-to-speech input stream relayed by
 * aiproxy over a WebSocket (text in as it is typed, audio out as it is
 * made), and LiveAvatar sessions minted through aiproxy for the official
 * LiveAvatar web SDK.
 */

import { AIProxyError } from "./errors.js";

/** Character timing of one audio chunk, in milliseconds from the chunk's start. */
export interface Alignment {
  chars: string[];
  charStartTimesMs: number[];
  charDurationsMs: number[];
}

/** One piece of audio as the provider sent it. */
export interface LiveSpeechChunk {
  /** The audio bytes, in the socket's output format (e.g. MP3, or PCM16 little-endian for `pcm_*`). */
  audio: Uint8Array;
  /** Which characters the chunk speaks and when; null when the provider sent none. */
  alignment: Alignment | null;
  /** The same for the normalized text (numbers spelt out, …). */
  normalizedAlignment: Alignment | null;
  /** The context of a multi-context socket; undefined on a single one. */
  contextId?: string;
}

/** How a live speech socket ended normally. */
export interface LiveSpeechEnd {
  /** The close code: 1000 after the provider's `isFinal`, or the one {@link LiveSpeech.close} gave. */
  closeCode: number;
  closeReason: string;
  /** Whether the provider said `isFinal` before the close. */
  final: boolean;
  /** Whether the client closed the socket itself (close()). */
  closedByClient: boolean;
}

/**
 * The part of a WebSocket that the helpers use; the browser's WebSocket,
 * Node's global one (Node 22+, or 20 with --experimental-websocket), and
 * the `ws` package all have it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/**
 * A WebSocket constructor: the browser's, Node's, or the `ws` package's
 * (typed loosely so that each one's own types fit). The third argument is
 * the `ws` package's options; the helpers pass `{ headers }` only for an
 * API key, which a browser's WebSocket cannot carry. Instances are used as
 * {@link WebSocketLike}.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], ...rest: any[]) => any;

/** Options of {@link AIProxyClient.liveSpeech}. */
export interface LiveSpeechOptions {
  voiceId: string;
  /** Sent as the `model_id` query parameter; default the provider's. */
  modelId?: string;
  /** E.g. `mp3_44100_128` or `pcm_24000`; sent as `output_format`. Default the provider's (MP3). */
  outputFormat?: string;
  /** Use `multi-stream-input`: several contexts on one socket, chosen per call by `contextId`. */
  multi?: boolean;
  /** Other query parameters (`sync_alignment`, `inactivity_timeout`, `auto_mode`, `language_code`, …). */
  query?: Record<string, string | number | boolean>;
  /** Sent once with the opening message (`voice_settings`). */
  voiceSettings?: Record<string, unknown>;
  /** Sent once with the opening message (`generation_config`, e.g. `{chunk_length_schedule: [50]}`). */
  generationConfig?: Record<string, unknown>;
  /**
   * The WebSocket implementation; default `globalThis.WebSocket`. A client
   * with an API key needs one that takes headers, such as the `ws` package
   * (`import WebSocket from "ws"`); a user token travels as a subprotocol
   * and works with any.
   */
  WebSocket?: WebSocketConstructor;
  /** Called with each chunk as it arrives, besides the async iterator. */
  onChunk?: (chunk: LiveSpeechChunk) => void;
  /** Aborting closes the socket (1000) and ends it like close(). */
  signal?: AbortSignal;
}

/**
 * The error a live socket ends with: an error frame of aiproxy or the
 * provider and the close that followed, or a close that was not normal.
 * `code` is the frame's `error` (`quota_exceeded`, `budget_exceeded`,
 * `max_active_conversations`, `input_timeout_exceeded`, …) or, without a
 * frame, the one the close code stands for.
 */
export class LiveSocketError extends AIProxyError {
  /** The WebSocket close code: 4429 quota, 4402 budget, 4401 credential gone, 1008 provider policy, 1011 upstream failed, 1001 restarting, 1006 no close frame (refused upgrade, network). */
  readonly closeCode: number;
  readonly closeReason: string;
  constructor(init: { closeCode: number; closeReason: string; code: string; detail: string; body?: unknown }) {
    super({ status: 0, code: init.code, detail: init.detail, body: init.body });
    this.closeCode = init.closeCode;
    this.closeReason = init.closeReason;
  }
}

/** The error code a close code stands for when no error frame came before it. */
const codeByClose: Record<number, string> = {
  4429: "quota_exceeded",
  4402: "budget_exceeded",
  4401: "unauthenticated",
  1001: "going_away",
  1006: "network",
  1008: "policy_violation",
  1009: "too_large",
  1011: "upstream_failed",
};

/** Where a live socket gets its credential, from the client. */
export interface SocketCredential {
  /** A user token, sent as the subprotocol `["aiproxy", token]`. */
  token?: string;
  /** An Authorization header value, for an API key. */
  authorization?: string;
}

/** The subprotocol aiproxy selects when a browser offers `["aiproxy", token]`. */
export const SOCKET_SUBPROTOCOL = "aiproxy";

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function alignmentOf(v: unknown): Alignment | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.chars)) return null;
  return {
    chars: o.chars as string[],
    charStartTimesMs: (o.charStartTimesMs as number[]) ?? [],
    charDurationsMs: (o.charDurationsMs as number[]) ?? (o.charsDurationsMs as number[]) ?? [],
  };
}

function textOf(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data as Uint8Array);
  return undefined;
}

/**
 * An open text-to-speech input stream. Send text as it comes, read audio
 * chunks as they arrive (async iteration or `onChunk`), then `end()`.
 * `done` resolves when the socket ends normally and rejects with a
 * {@link LiveSocketError} otherwise.
 */
export class LiveSpeech implements AsyncIterable<LiveSpeechChunk> {
  /** Settles when the socket ends; see the class comment. */
  readonly done: Promise<LiveSpeechEnd>;
  /** The chunks received so far, counted. */
  chunks = 0;
  private readonly queue: LiveSpeechChunk[] = [];
  private waiting: ((r: IteratorResult<LiveSpeechChunk>) => void) | null = null;
  private failWaiting: ((err: unknown) => void) | null = null;
  private ended = false;
  private failure: LiveSocketError | null = null;
  private frame: Record<string, unknown> | null = null;
  private final = false;
  private closedByClient = false;
  private resolveDone!: (e: LiveSpeechEnd) => void;
  private rejectDone!: (e: unknown) => void;

  /** @internal Use {@link AIProxyClient.liveSpeech}. */
  constructor(private readonly ws: WebSocketLike, private readonly multi: boolean, private readonly opts: LiveSpeechOptions) {
    this.done = new Promise<LiveSpeechEnd>((res, rej) => { this.resolveDone = res; this.rejectDone = rej; });
    // Iterating alone must not leave an unhandled rejection behind; awaiting done still throws.
    this.done.catch(() => undefined);
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ev.code, ev.reason);
    ws.onerror = () => undefined; // the close that follows says what happened
    opts.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** The subprotocol the server selected (`aiproxy` for a user token). */
  get protocol(): string { return this.ws.protocol; }

  /**
   * Sends text. A space is added when it does not end with whitespace, as
   * the provider wants words whole. `flush` generates what is buffered now.
   */
  send(text: string, opts: { flush?: boolean; contextId?: string } = {}): void {
    if (text === "") return;
    const msg: Record<string, unknown> = { text: /\s$/.test(text) ? text : text + " " };
    if (opts.flush) msg.flush = true;
    this.write(msg, opts.contextId);
  }

  /** Generates the buffered text now and keeps the socket open. */
  flush(opts: { contextId?: string } = {}): void {
    this.write({ text: " ", flush: true }, opts.contextId);
  }

  /** Closes one context of a multi-context socket; its audio still arrives, then its `isFinal`. */
  closeContext(contextId: string): void {
    this.write({ context_id: contextId, close_context: true });
  }

  /**
   * Says the text is over: the provider speaks the rest, sends `isFinal`
   * and closes (multi: every context). Returns `done`.
   */
  end(): Promise<LiveSpeechEnd> {
    this.write(this.multi ? { close_socket: true } : { text: "" });
    return this.done;
  }

  /** Closes the socket now, dropping audio not yet received; `done` resolves. */
  close(code = 1000, reason = ""): void {
    if (this.ended) return;
    this.closedByClient = true;
    try { this.ws.close(code, reason); } catch { /* already closing */ }
  }

  [Symbol.asyncIterator](): AsyncIterator<LiveSpeechChunk> {
    return {
      next: () => {
        const c = this.queue.shift();
        if (c) return Promise.resolve({ value: c, done: false });
        if (this.failure) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((res, rej) => { this.waiting = res; this.failWaiting = rej; });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** @internal The opening message, with the voice settings. */
  begin(): void {
    const msg: Record<string, unknown> = { text: " " };
    if (this.opts.voiceSettings) msg.voice_settings = this.opts.voiceSettings;
    if (this.opts.generationConfig) msg.generation_config = this.opts.generationConfig;
    this.ws.send(JSON.stringify(msg));
  }

  private write(msg: Record<string, unknown>, contextId?: string): void {
    if (this.ended) throw this.failure ?? new LiveSocketError({ closeCode: 0, closeReason: "", code: "closed", detail: "The live speech socket is closed." });
    if (contextId !== undefined) {
      if (!this.multi) throw new TypeError("LiveSpeech: contextId needs a multi-context socket (multi: true)");
      msg.context_id = contextId;
    }
    this.ws.send(JSON.stringify(msg));
  }

  private receive(data: unknown): void {
    const raw = textOf(data);
    if (raw === undefined) return;
    let m: Record<string, unknown>;
    try { m = JSON.parse(raw); } catch { return; }
    if (!m || typeof m !== "object") return;
    if (typeof m.audio === "string" && m.audio) {
      const chunk: LiveSpeechChunk = {
        audio: decodeBase64(m.audio),
        alignment: alignmentOf(m.alignment),
        normalizedAlignment: alignmentOf(m.normalizedAlignment),
      };
      const ctx = m.contextId ?? m.context_id;
      if (typeof ctx === "string") chunk.contextId = ctx;
      this.chunks++;
      try { this.opts.onChunk?.(chunk); } catch { /* a callback's error is its own */ }
      this.push(chunk);
      return;
    }
    if (m.isFinal === true || m.is_final === true) {
      if (!this.multi) this.final = true;
      return;
    }
    if (typeof m.error === "string" || (typeof m.message === "string" && m.code !== undefined)) this.frame = m;
  }

  private push(chunk: LiveSpeechChunk): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: chunk, done: false });
    } else {
      this.queue.push(chunk);
    }
  }

  private closed(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    const normal = code === 1000 && !this.frame;
    if (normal || (this.closedByClient && !this.frame)) {
      if (this.multi && code === 1000) this.final = true;
      this.resolveDone({ closeCode: code, closeReason: reason ?? "", final: this.final, closedByClient: this.closedByClient });
      if (this.waiting) { const w = this.waiting; this.waiting = this.failWaiting = null; w({ value: undefined, done: true }); }
      return;
    }
    const f = this.frame ?? {};
    const code_ = (typeof f.error === "string" && f.error) || reason || codeByClose[code] || "socket_closed";
    const detail = (typeof f.message === "string" && f.message) || (reason ? `The socket closed with ${code}: ${reason}.` : `The socket closed with ${code}.`);
    this.failure = new LiveSocketError({ closeCode: code, closeReason: reason ?? "", code: code_, detail, body: this.frame ?? undefined });
    this.rejectDone(this.failure);
    // Chunks already queued are still handed out; the iterator throws after them.
    if (this.failWaiting) { const f2 = this.failWaiting; this.waiting = this.failWaiting = null; f2(this.failure); }
  }
}

/**
 * Opens a text-to-speech input stream on aiproxy's native ElevenLabs
 * route. `socketUrl` is the ws(s):// URL with its query; the promise
 * resolves once the socket is open and the opening message sent, or
 * rejects with a {@link LiveSocketError} (1006 when the upgrade was refused:
 * a browser is not told why).
 */
export function openLiveSpeech(socketUrl: string, cred: SocketCredential, opts: LiveSpeechOptions): Promise<LiveSpeech> {
  const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WS) {
    return Promise.reject(new TypeError("liveSpeech: no WebSocket; pass options.WebSocket (e.g. the ws package) on Node before 22"));
  }
  if (cred.authorization && !opts.WebSocket) {
    return Promise.reject(new TypeError("liveSpeech: an API key needs a WebSocket that sends headers (options.WebSocket, e.g. the ws package); in a browser use a user token"));
  }
  let ws: WebSocketLike;
  try {
    ws = (cred.token
      ? new WS(socketUrl, [SOCKET_SUBPROTOCOL, cred.token])
      : new WS(socketUrl, [], { headers: { Authorization: cred.authorization! } })) as WebSocketLike;
  } catch (err) {
    return Promise.reject(err);
  }
  ws.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    ws.onopen = () => {
      const live = new LiveSpeech(ws, Boolean(opts.multi), opts);
      try {
        if (!opts.multi) live.begin();
      } catch (err) {
        reject(err);
        return;
      }
      resolve(live);
    };
    ws.onerror = () => undefined;
    ws.onclose = (ev) => {
      reject(new LiveSocketError({
        closeCode: ev.code, closeReason: ev.reason ?? "", code: ev.reason || codeByClose[ev.code] || "socket_closed",
        detail: `The socket did not open (close ${ev.code}${ev.reason ? `: ${ev.reason}` : ""}); a refused upgrade (401, 403, 404, 429) gives 1006 in a browser.`,
      }));
    };
  });
}

/** Options of {@link AIProxyClient.liveAvatarSession}: the body of LiveAvatar's session token request. */
export interface LiveAvatarSessionRequest {
  avatarId: string;
  /** FULL: the provider runs the conversation; LITE: you bring the audio. */
  mode: "FULL" | "LITE";
  /** A sandbox session: the sandbox avatar only, about a minute, no credits. */
  isSandbox?: boolean;
  /** FULL mode's persona (`voice_id`, `context_id`, `language`, …), passed as is. */
  avatarPersona?: Record<string, unknown>;
  /** `{quality, encoding}`. */
  videoSettings?: Record<string, unknown>;
  /** Seconds; aiproxy may clamp it to the org's maximum. */
  maxSessionDuration?: number;
  /** Other body fields, passed as they are. */
  extra?: Record<string, unknown>;
}

/** What the official web SDK needs: `new LiveAvatarSession(sessionToken, { apiUrl })`. */
export interface LiveAvatarSessionInfo {
  sessionId: string;
  /** The provider's session token (a JWT): start, stop and keep-alive of this one session, through aiproxy. */
  sessionToken: string;
  /** aiproxy's native LiveAvatar base URL, for the SDK's `apiUrl`. */
  apiUrl: string;
}

/** A LiveAvatar session aiproxy tracks for the org (GET /orgs/{org}/live-sessions/); never its token. */
export interface LiveSession {
  /** The provider's session id. */
  id: string;
  service: string;
  /** The org's user it was minted for; empty for the org itself. */
  user: string;
  /** The aiproxy key behind the mint. */
  key_id: string;
  /** The credential it was minted with (the org's or the platform's). */
  source: string;
  mode: string;
  sandbox: boolean;
  /** E.g. minted, started, stopped. */
  state: string;
  max_duration_seconds: number;
  /** Live minutes of the quota held for it until it is reconciled. */
  reserved_minutes: number;
  created_at: string;
  started_at: string | null;
  last_keep_alive_at: string | null;
  stopped_at: string | null;
  end_reason: string;
  /** Who stopped it: client, reaper, admin or provider. */
  stopped_by: string;
  /** The provider's record once reconciled (`reconciled_at`); 0 before. */
  duration_seconds: number;
  minutes: number;
  credits: number;
  reconciled_at: string | null;
}

/** Builds the create-session-token body of a request. */
export function liveAvatarBody(req: LiveAvatarSessionRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { ...(req.extra ?? {}), avatar_id: req.avatarId, mode: req.mode };
  if (req.isSandbox !== undefined) body.is_sandbox = req.isSandbox;
  if (req.avatarPersona) body.avatar_persona = req.avatarPersona;
  if (req.videoSettings) body.video_settings = req.videoSettings;
  if (req.maxSessionDuration !== undefined) body.max_session_duration = req.maxSessionDuration;
  return body;
}
