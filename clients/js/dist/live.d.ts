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
    onmessage: ((ev: {
        data: unknown;
    }) => void) | null;
    onclose: ((ev: {
        code: number;
        reason: string;
    }) => void) | null;
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
export declare class LiveSocketError extends AIProxyError {
    /** The WebSocket close code: 4429 quota, 4402 budget, 4401 credential gone, 1008 provider policy, 1011 upstream failed, 1001 restarting, 1006 no close frame (refused upgrade, network). */
    readonly closeCode: number;
    readonly closeReason: string;
    constructor(init: {
        closeCode: number;
        closeReason: string;
        code: string;
        detail: string;
        body?: unknown;
    });
}
/** Where a live socket gets its credential, from the client. */
export interface SocketCredential {
    /** A user token, sent as the subprotocol `["aiproxy", token]`. */
    token?: string;
    /** An Authorization header value, for an API key. */
    authorization?: string;
}
/** The subprotocol aiproxy selects when a browser offers `["aiproxy", token]`. */
export declare const SOCKET_SUBPROTOCOL = "aiproxy";
/**
 * An open text-to-speech input stream. Send text as it comes, read audio
 * chunks as they arrive (async iteration or `onChunk`), then `end()`.
 * `done` resolves when the socket ends normally and rejects with a
 * {@link LiveSocketError} otherwise.
 */
export declare class LiveSpeech implements AsyncIterable<LiveSpeechChunk> {
    private readonly ws;
    private readonly multi;
    private readonly opts;
    /** Settles when the socket ends; see the class comment. */
    readonly done: Promise<LiveSpeechEnd>;
    /** The chunks received so far, counted. */
    chunks: number;
    private readonly queue;
    private waiting;
    private failWaiting;
    private ended;
    private failure;
    private frame;
    private final;
    private closedByClient;
    private resolveDone;
    private rejectDone;
    /** @internal Use {@link AIProxyClient.liveSpeech}. */
    constructor(ws: WebSocketLike, multi: boolean, opts: LiveSpeechOptions);
    /** The subprotocol the server selected (`aiproxy` for a user token). */
    get protocol(): string;
    /**
     * Sends text. A space is added when it does not end with whitespace, as
     * the provider wants words whole. `flush` generates what is buffered now.
     */
    send(text: string, opts?: {
        flush?: boolean;
        contextId?: string;
    }): void;
    /** Generates the buffered text now and keeps the socket open. */
    flush(opts?: {
        contextId?: string;
    }): void;
    /** Closes one context of a multi-context socket; its audio still arrives, then its `isFinal`. */
    closeContext(contextId: string): void;
    /**
     * Says the text is over: the provider speaks the rest, sends `isFinal`
     * and closes (multi: every context). Returns `done`.
     */
    end(): Promise<LiveSpeechEnd>;
    /** Closes the socket now, dropping audio not yet received; `done` resolves. */
    close(code?: number, reason?: string): void;
    [Symbol.asyncIterator](): AsyncIterator<LiveSpeechChunk>;
    /** @internal The opening message, with the voice settings. */
    begin(): void;
    private write;
    private receive;
    private push;
    private closed;
}
/**
 * Opens a text-to-speech input stream on aiproxy's native ElevenLabs
 * route. `socketUrl` is the ws(s):// URL with its query; the promise
 * resolves once the socket is open and the opening message sent, or
 * rejects with a {@link LiveSocketError} (1006 when the upgrade was refused:
 * a browser is not told why).
 */
export declare function openLiveSpeech(socketUrl: string, cred: SocketCredential, opts: LiveSpeechOptions): Promise<LiveSpeech>;
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
export declare function liveAvatarBody(req: LiveAvatarSessionRequest): Record<string, unknown>;
