import { sleep } from "./sleep.js";
import { AIProxyError, TimeoutError, VideoFailedError } from "./errors.js";
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
        const r = await this.client.invokeJSON(this.service, "video-status", { query: { video_id: videoId } }, opts);
        return { id: videoId, ...(r.data ?? { status: "unknown" }) };
    }
    /**
     * Polls video-status until the render completes and returns its status.
     * Rejects with VideoFailedError when it fails, TimeoutError after
     * `timeoutMs`, or the signal's reason when aborted. Up to three transient
     * failures (429, 502, 503, 504) in a row are ridden out.
     */
    async waitForVideo(videoId, opts = {}) {
        const interval = opts.intervalMs ?? 5000;
        const timeout = opts.timeoutMs ?? 10 * 60 * 1000;
        const start = Date.now();
        const deadline = start + timeout;
        let failures = 0;
        for (let polls = 1;; polls++) {
            opts.signal?.throwIfAborted?.();
            try {
                const st = await this.videoStatus(videoId, { signal: opts.signal });
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
                if (!isTransient(err) || ++failures > transientPolls)
                    throw err;
            }
            const left = deadline - Date.now();
            if (left <= 0) {
                throw new TimeoutError({ status: 0, code: "timeout", detail: `Video ${videoId} was not finished after ${timeout} ms.` });
            }
            await sleep(Math.min(interval, left), opts.signal);
        }
    }
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
