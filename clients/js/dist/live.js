/**
 * Real-time helpers: ElevenLabs' text-to-speech input stream relayed by
 * aiproxy over a WebSocket (text in as it is typed, audio out as it is
 * made), and LiveAvatar sessions minted through aiproxy for the official
 * LiveAvatar web SDK.
 */
import { AIProxyError } from "./errors.js";
/**
 * The error a live socket ends with: an error frame of aiproxy or the
 * provider and the close that followed, or a close that was not normal.
 * `code` is the frame's `error` (`quota_exceeded`, `budget_exceeded`,
 * `max_active_conversations`, `input_timeout_exceeded`, …) or, without a
 * frame, the one the close code stands for.
 */
export class LiveSocketError extends AIProxyError {
    constructor(init) {
        super({ status: 0, code: init.code, detail: init.detail, body: init.body });
        this.closeCode = init.closeCode;
        this.closeReason = init.closeReason;
    }
}
/** The error code a close code stands for when no error frame came before it. */
const codeByClose = {
    4429: "quota_exceeded",
    4402: "budget_exceeded",
    4401: "unauthenticated",
    1001: "going_away",
    1006: "network",
    1008: "policy_violation",
    1009: "too_large",
    1011: "upstream_failed",
};
/** The subprotocol aiproxy selects when a browser offers `["aiproxy", token]`. */
export const SOCKET_SUBPROTOCOL = "aiproxy";
function decodeBase64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++)
        out[i] = bin.charCodeAt(i);
    return out;
}
function alignmentOf(v) {
    if (!v || typeof v !== "object")
        return null;
    const o = v;
    if (!Array.isArray(o.chars))
        return null;
    return {
        chars: o.chars,
        charStartTimesMs: o.charStartTimesMs ?? [],
        charDurationsMs: o.charDurationsMs ?? o.charsDurationsMs ?? [],
    };
}
function textOf(data) {
    if (typeof data === "string")
        return data;
    if (data instanceof ArrayBuffer)
        return new TextDecoder().decode(data);
    if (ArrayBuffer.isView(data))
        return new TextDecoder().decode(data);
    return undefined;
}
/**
 * An open text-to-speech input stream. Send text as it comes, read audio
 * chunks as they arrive (async iteration or `onChunk`), then `end()`.
 * `done` resolves when the socket ends normally and rejects with a
 * {@link LiveSocketError} otherwise.
 */
export class LiveSpeech {
    /** @internal Use {@link AIProxyClient.liveSpeech}. */
    constructor(ws, multi, opts) {
        this.ws = ws;
        this.multi = multi;
        this.opts = opts;
        /** The chunks received so far, counted. */
        this.chunks = 0;
        this.queue = [];
        this.waiting = null;
        this.failWaiting = null;
        this.ended = false;
        this.failure = null;
        this.frame = null;
        this.final = false;
        this.closedByClient = false;
        this.done = new Promise((res, rej) => { this.resolveDone = res; this.rejectDone = rej; });
        // Iterating alone must not leave an unhandled rejection behind; awaiting done still throws.
        this.done.catch(() => undefined);
        ws.onmessage = (ev) => this.receive(ev.data);
        ws.onclose = (ev) => this.closed(ev.code, ev.reason);
        ws.onerror = () => undefined; // the close that follows says what happened
        opts.signal?.addEventListener("abort", () => this.close(), { once: true });
    }
    /** The subprotocol the server selected (`aiproxy` for a user token). */
    get protocol() { return this.ws.protocol; }
    /**
     * Sends text. A space is added when it does not end with whitespace, as
     * the provider wants words whole. `flush` generates what is buffered now.
     */
    send(text, opts = {}) {
        if (text === "")
            return;
        const msg = { text: /\s$/.test(text) ? text : text + " " };
        if (opts.flush)
            msg.flush = true;
        this.write(msg, opts.contextId);
    }
    /** Generates the buffered text now and keeps the socket open. */
    flush(opts = {}) {
        this.write({ text: " ", flush: true }, opts.contextId);
    }
    /** Closes one context of a multi-context socket; its audio still arrives, then its `isFinal`. */
    closeContext(contextId) {
        this.write({ context_id: contextId, close_context: true });
    }
    /**
     * Says the text is over: the provider speaks the rest, sends `isFinal`
     * and closes (multi: every context). Returns `done`.
     */
    end() {
        this.write(this.multi ? { close_socket: true } : { text: "" });
        return this.done;
    }
    /** Closes the socket now, dropping audio not yet received; `done` resolves. */
    close(code = 1000, reason = "") {
        if (this.ended)
            return;
        this.closedByClient = true;
        try {
            this.ws.close(code, reason);
        }
        catch { /* already closing */ }
    }
    [Symbol.asyncIterator]() {
        return {
            next: () => {
                const c = this.queue.shift();
                if (c)
                    return Promise.resolve({ value: c, done: false });
                if (this.failure)
                    return Promise.reject(this.failure);
                if (this.ended)
                    return Promise.resolve({ value: undefined, done: true });
                return new Promise((res, rej) => { this.waiting = res; this.failWaiting = rej; });
            },
            return: () => {
                this.close();
                return Promise.resolve({ value: undefined, done: true });
            },
        };
    }
    /** @internal The opening message, with the voice settings. */
    begin() {
        const msg = { text: " " };
        if (this.opts.voiceSettings)
            msg.voice_settings = this.opts.voiceSettings;
        if (this.opts.generationConfig)
            msg.generation_config = this.opts.generationConfig;
        this.ws.send(JSON.stringify(msg));
    }
    write(msg, contextId) {
        if (this.ended)
            throw this.failure ?? new LiveSocketError({ closeCode: 0, closeReason: "", code: "closed", detail: "The live speech socket is closed." });
        if (contextId !== undefined) {
            if (!this.multi)
                throw new TypeError("LiveSpeech: contextId needs a multi-context socket (multi: true)");
            msg.context_id = contextId;
        }
        this.ws.send(JSON.stringify(msg));
    }
    receive(data) {
        const raw = textOf(data);
        if (raw === undefined)
            return;
        let m;
        try {
            m = JSON.parse(raw);
        }
        catch {
            return;
        }
        if (!m || typeof m !== "object")
            return;
        if (typeof m.audio === "string" && m.audio) {
            const chunk = {
                audio: decodeBase64(m.audio),
                alignment: alignmentOf(m.alignment),
                normalizedAlignment: alignmentOf(m.normalizedAlignment),
            };
            const ctx = m.contextId ?? m.context_id;
            if (typeof ctx === "string")
                chunk.contextId = ctx;
            this.chunks++;
            try {
                this.opts.onChunk?.(chunk);
            }
            catch { /* a callback's error is its own */ }
            this.push(chunk);
            return;
        }
        if (m.isFinal === true || m.is_final === true) {
            if (!this.multi)
                this.final = true;
            return;
        }
        if (typeof m.error === "string" || (typeof m.message === "string" && m.code !== undefined))
            this.frame = m;
    }
    push(chunk) {
        if (this.waiting) {
            const w = this.waiting;
            this.waiting = this.failWaiting = null;
            w({ value: chunk, done: false });
        }
        else {
            this.queue.push(chunk);
        }
    }
    closed(code, reason) {
        if (this.ended)
            return;
        this.ended = true;
        const normal = code === 1000 && !this.frame;
        if (normal || (this.closedByClient && !this.frame)) {
            if (this.multi && code === 1000)
                this.final = true;
            this.resolveDone({ closeCode: code, closeReason: reason ?? "", final: this.final, closedByClient: this.closedByClient });
            if (this.waiting) {
                const w = this.waiting;
                this.waiting = this.failWaiting = null;
                w({ value: undefined, done: true });
            }
            return;
        }
        const f = this.frame ?? {};
        const code_ = (typeof f.error === "string" && f.error) || reason || codeByClose[code] || "socket_closed";
        const detail = (typeof f.message === "string" && f.message) || (reason ? `The socket closed with ${code}: ${reason}.` : `The socket closed with ${code}.`);
        this.failure = new LiveSocketError({ closeCode: code, closeReason: reason ?? "", code: code_, detail, body: this.frame ?? undefined });
        this.rejectDone(this.failure);
        // Chunks already queued are still handed out; the iterator throws after them.
        if (this.failWaiting) {
            const f2 = this.failWaiting;
            this.waiting = this.failWaiting = null;
            f2(this.failure);
        }
    }
}
/**
 * Opens a text-to-speech input stream on aiproxy's native ElevenLabs
 * route. `socketUrl` is the ws(s):// URL with its query; the promise
 * resolves once the socket is open and the opening message sent, or
 * rejects with a {@link LiveSocketError} (1006 when the upgrade was refused:
 * a browser is not told why).
 */
export function openLiveSpeech(socketUrl, cred, opts) {
    const WS = opts.WebSocket ?? globalThis.WebSocket;
    if (!WS) {
        return Promise.reject(new TypeError("liveSpeech: no WebSocket; pass options.WebSocket (e.g. the ws package) on Node before 22"));
    }
    if (cred.authorization && !opts.WebSocket) {
        return Promise.reject(new TypeError("liveSpeech: an API key needs a WebSocket that sends headers (options.WebSocket, e.g. the ws package); in a browser use a user token"));
    }
    let ws;
    try {
        ws = (cred.token
            ? new WS(socketUrl, [SOCKET_SUBPROTOCOL, cred.token])
            : new WS(socketUrl, [], { headers: { Authorization: cred.authorization } }));
    }
    catch (err) {
        return Promise.reject(err);
    }
    ws.binaryType = "arraybuffer";
    return new Promise((resolve, reject) => {
        ws.onopen = () => {
            const live = new LiveSpeech(ws, Boolean(opts.multi), opts);
            try {
                if (!opts.multi)
                    live.begin();
            }
            catch (err) {
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
/** Builds the create-session-token body of a request. */
export function liveAvatarBody(req) {
    const body = { ...(req.extra ?? {}), avatar_id: req.avatarId, mode: req.mode };
    if (req.isSandbox !== undefined)
        body.is_sandbox = req.isSandbox;
    if (req.avatarPersona)
        body.avatar_persona = req.avatarPersona;
    if (req.videoSettings)
        body.video_settings = req.videoSettings;
    if (req.maxSessionDuration !== undefined)
        body.max_session_duration = req.maxSessionDuration;
    return body;
}
