import { sleep } from "./sleep.js";
import { AIProxyError, TimeoutError, VideoFailedError } from "./errors.js";
/** aiproxy's cap on `Prefer: wait`. */
const maxLongPollMs = 60000;
/** Spacing of long polls that come back at once, so an early answer never makes a busy loop. */
const minLongPollGapMs = 250;
/** Transient failures a wait rides out, this many in a row. */
const transientPolls = 3;
function isTransient(err) {
    return err instanceof AIProxyError && (err.status === 429 || err.status === 502 || err.status === 503 || err.status === 504);
}
/** The reason of a failed render as text. */
export function videoErrorText(e) {
    if (!e)
        return "no reason given";
    if (typeof e === "string")
        return e;
    return [e.message, e.detail].filter((s, i, a) => s && a.indexOf(s) === i).join(": ") || JSON.stringify(e);
}
/** Typed helpers for the `heygen` service. */
export class HeyGen {
    constructor(client) {
        this.client = client;
        this.service = "heygen";
    }
    /** Lists avatars (list-avatars). */
    async listAvatars(opts = {}) {
        const r = await this.client.invokeJSON(this.service, "list-avatars", {}, opts);
        return r.data?.avatars ?? [];
    }
    /** Lists voices (list-voices). */
    async listVoices(opts = {}) {
        const r = await this.client.invokeJSON(this.service, "list-voices", {}, opts);
        return r.data?.voices ?? [];
    }
    /** Starts a render and returns its video id. Takes HeyGen's body, or the short one-scene form. */
    async generateVideo(req, opts = {}) {
        const body = "video_inputs" in req ? req : simpleBody(req);
        return this.generate("generate-video", { body }, opts);
    }
    /** Starts a render from a template and returns its video id. */
    async generateTemplateVideo(templateId, req, opts = {}) {
        return this.generate("generate-template-video", { path_params: { template_id: templateId }, body: req }, opts);
    }
    async generate(action, envelope, opts) {
        const r = await this.client.invokeJSON(this.service, action, envelope, opts);
        const id = r.data?.video_id;
        if (!id)
            throw new AIProxyError({ status: 200, code: "unexpected_answer", detail: `${action} answered without data.video_id.`, body: r });
        return id;
    }
    /** Reads a render's state (video-status). */
    async videoStatus(videoId, opts = {}) {
        return (await this.statusCall(videoId, 0, opts)).status;
    }
    /**
     * One video-status call; with `waitSec` > 0 it asks the server to hold the
     * answer until the state changes (RFC 7240 `Prefer: wait=N`) and reports
     * whether it did (`Preference-Applied`).
     */
    async statusCall(videoId, waitSec, opts) {
        const headers = waitSec > 0 ? { ...opts.headers, Prefer: `wait=${waitSec}` } : opts.headers;
        const r = await this.client.invoke(this.service, "video-status", { query: { video_id: videoId } }, { ...opts, headers, as: "json" });
        const longPolled = waitSec > 0 && (r.headers.get("Preference-Applied") ?? "").startsWith("wait=");
        const data = r.type === "json" ? r.data.data : undefined;
        return { status: { id: videoId, ...(data ?? { status: "unknown" }) }, longPolled };
    }
    /**
     * Polls video-status until the render completes and returns its status.
     * Each call asks aiproxy to long-poll (hold it until the state changes, up
     * to `longPollMs`), so a change is seen at once; against a server that
     * does not, it polls every `intervalMs`.
     * Rejects with VideoFailedError when it fails, TimeoutError after
     * `timeoutMs`, or the signal's reason when aborted. Up to three transient
     * failures (429, 502, 503, 504) in a row are ridden out.
     */
    async waitForVideo(videoId, opts = {}) {
        const interval = opts.intervalMs ?? 5000;
        const timeout = opts.timeoutMs ?? 10 * 60 * 1000;
        const longPoll = Math.min(opts.longPollMs ?? interval, maxLongPollMs);
        const start = Date.now();
        const deadline = start + timeout;
        let failures = 0;
        for (let polls = 1;; polls++) {
            opts.signal?.throwIfAborted?.();
            const asked = Date.now();
            const signal = withDeadline(opts.signal, deadline);
            let longPolled = false;
            try {
                // Whole seconds, never past the deadline: a held call then ends in time.
                const waitSec = Math.floor(Math.max(0, Math.min(longPoll, deadline - asked)) / 1000);
                const call = await this.statusCall(videoId, waitSec, { signal });
                const st = call.status;
                longPolled = call.longPolled;
                failures = 0;
                opts.onProgress?.({ videoId, status: st.status, elapsedMs: Date.now() - start, polls, last: st });
                if (st.status === "completed")
                    return st;
                if (st.status === "failed")
                    throw new VideoFailedError(videoId, videoErrorText(st.error), st);
            }
            catch (err) {
                if (opts.signal?.aborted)
                    throw opts.signal.reason ?? err;
                if (signal?.aborted || Date.now() >= deadline)
                    throw timeoutError(videoId, timeout);
                if (!isTransient(err) || ++failures > transientPolls)
                    throw err;
            }
            const left = deadline - Date.now();
            if (left <= 0)
                throw timeoutError(videoId, timeout);
            const pause = longPolled ? Math.max(0, minLongPollGapMs - (Date.now() - asked)) : interval;
            await sleep(Math.min(pause, left), opts.signal);
        }
    }
}
function timeoutError(videoId, timeout) {
    return new TimeoutError({ status: 0, code: "timeout", detail: `Video ${videoId} was not finished after ${timeout} ms.` });
}
/** The caller's signal, also aborting at the deadline so that a held status call cannot outlast the wait. */
function withDeadline(signal, deadline) {
    if (typeof AbortSignal.timeout !== "function" || typeof AbortSignal.any !== "function")
        return signal;
    const t = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    return signal ? AbortSignal.any([signal, t]) : t;
}
function simpleBody(v) {
    const body = {
        video_inputs: [{
                character: { type: "avatar", avatar_id: v.avatarId, avatar_style: v.avatarStyle ?? "normal" },
                voice: { type: "text", input_text: v.text, voice_id: v.voiceId },
            }],
        dimension: { width: v.width ?? 1280, height: v.height ?? 720 },
    };
    if (v.test !== undefined)
        body.test = v.test;
    return body;
}
