import type { AIProxyClient } from "./client.js";
import { sleep } from "./sleep.js";
import { AIProxyError, TimeoutError, VideoFailedError } from "./errors.js";
import type { RequestOptions } from "./types.js";

/** A HeyGen avatar. */
export interface Avatar {
  avatar_id: string;
  avatar_name: string;
  gender?: string;
  preview_image_url?: string;
  preview_video_url?: string;
  [key: string]: unknown;
}

/** A HeyGen voice. */
export interface HeyGenVoice {
  voice_id: string;
  name: string;
  language?: string;
  gender?: string;
  preview_audio?: string;
  [key: string]: unknown;
}

/** One scene of generate-video. */
export interface VideoInput {
  character: { type: "avatar" | string; avatar_id: string; avatar_style?: string; [key: string]: unknown };
  voice: { type: "text" | string; input_text?: string; voice_id?: string; speed?: number; [key: string]: unknown };
  background?: Record<string, unknown>;
}

/** The body of generate-video, as HeyGen defines it. */
export interface VideoRequest {
  /** Test mode: watermarked, no credits. */
  test?: boolean;
  caption?: boolean;
  title?: string;
  callback_id?: string;
  video_inputs: VideoInput[];
  dimension?: { width: number; height: number };
  [key: string]: unknown;
}

/** The short form of a one-scene video. */
export interface SimpleVideo {
  avatarId: string;
  voiceId: string;
  text: string;
  test?: boolean;
  /** Default 1280×720. */
  width?: number;
  height?: number;
  avatarStyle?: string;
}

/** The body of generate-template-video. */
export interface TemplateVideoRequest {
  test?: boolean;
  caption?: boolean;
  title?: string;
  variables: Record<string, unknown>;
  [key: string]: unknown;
}

/** A render's state. HeyGen's `error` is an object; the contract shows a string. */
export interface VideoStatus {
  id?: string;
  status: "pending" | "waiting" | "processing" | "completed" | "failed" | string;
  video_url?: string | null;
  thumbnail_url?: string | null;
  duration?: number | null;
  error?: string | { code?: number | string; message?: string; detail?: string } | null;
  [key: string]: unknown;
}

/** Reported after each poll of {@link HeyGen.waitForVideo}. */
export interface VideoProgress {
  videoId: string;
  status: string;
  elapsedMs: number;
  polls: number;
  last: VideoStatus;
}

/** Options of {@link HeyGen.waitForVideo}. */
export interface WaitOptions {
  /** Time between polls; default 5000 ms, as in the contract's example. */
  intervalMs?: number;
  /** Give up after this long with a TimeoutError; default 10 minutes. */
  timeoutMs?: number;
  /** Called after every poll. */
  onProgress?: (p: VideoProgress) => void;
  /** Cancels the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * How long one status call may wait on the server for the render's state
   * to change (`Prefer: wait=N`, whole seconds, at most 60); default
   * `intervalMs`, so progress is still reported at least that often while a
   * change is seen at once. Under a second turns it off. A server that does
   * not long-poll answers at once, and the wait falls back to polling every
   * `intervalMs`.
   */
  longPollMs?: number;
}

/** aiproxy's cap on `Prefer: wait`. */
const maxLongPollMs = 60_000;

/** Spacing of long polls that come back at once, so an early answer never makes a busy loop. */
const minLongPollGapMs = 250;

/** Transient failures a wait rides out, this many in a row. */
const transientPolls = 3;

function isTransient(err: unknown): boolean {
  return err instanceof AIProxyError && (err.status === 429 || err.status === 502 || err.status === 503 || err.status === 504);
}

/** The reason of a failed render as text. */
export function videoErrorText(e: VideoStatus["error"]): string {
  if (!e) return "no reason given";
  if (typeof e === "string") return e;
  return [e.message, e.detail].filter((s, i, a) => s && a.indexOf(s) === i).join(": ") || JSON.stringify(e);
}

/** Typed helpers for the `heygen` service. */
export class HeyGen {
  readonly service = "heygen";
  constructor(private readonly client: AIProxyClient) {}

  /** Lists avatars (list-avatars). */
  async listAvatars(opts: RequestOptions = {}): Promise<Avatar[]> {
    const r = await this.client.invokeJSON<{ data?: { avatars?: Avatar[] } }>(this.service, "list-avatars", {}, opts);
    return r.data?.avatars ?? [];
  }

  /** Lists voices (list-voices). */
  async listVoices(opts: RequestOptions = {}): Promise<HeyGenVoice[]> {
    const r = await this.client.invokeJSON<{ data?: { voices?: HeyGenVoice[] } }>(this.service, "list-voices", {}, opts);
    return r.data?.voices ?? [];
  }

  /** Starts a render and returns its video id. Takes HeyGen's body, or the short one-scene form. */
  async generateVideo(req: VideoRequest | SimpleVideo, opts: RequestOptions = {}): Promise<string> {
    const body = "video_inputs" in req ? req : simpleBody(req as SimpleVideo);
    return this.generate("generate-video", { body }, opts);
  }

  /** Starts a render from a template and returns its video id. */
  async generateTemplateVideo(templateId: string, req: TemplateVideoRequest, opts: RequestOptions = {}): Promise<string> {
    return this.generate("generate-template-video", { path_params: { template_id: templateId }, body: req }, opts);
  }

  private async generate(action: string, envelope: Parameters<AIProxyClient["invoke"]>[2], opts: RequestOptions): Promise<string> {
    const r = await this.client.invokeJSON<{ data?: { video_id?: string } }>(this.service, action, envelope, opts);
    const id = r.data?.video_id;
    if (!id) throw new AIProxyError({ status: 200, code: "unexpected_answer", detail: `${action} answered without data.video_id.`, body: r });
    return id;
  }

  /** Reads a render's state (video-status). */
  async videoStatus(videoId: string, opts: RequestOptions = {}): Promise<VideoStatus> {
    return (await this.statusCall(videoId, 0, opts)).status;
  }

  /**
   * One video-status call; with `waitSec` > 0 it asks the server to hold the
   * answer until the state changes (RFC 7240 `Prefer: wait=N`) and reports
   * whether it did (`Preference-Applied`).
   */
  private async statusCall(videoId: string, waitSec: number, opts: RequestOptions): Promise<{ status: VideoStatus; longPolled: boolean }> {
    const headers = waitSec > 0 ? { ...opts.headers, Prefer: `wait=${waitSec}` } : opts.headers;
    const r = await this.client.invoke<{ data?: VideoStatus }>(this.service, "video-status", { query: { video_id: videoId } },
      { ...opts, headers, as: "json" });
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
  async waitForVideo(videoId: string, opts: WaitOptions = {}): Promise<VideoStatus> {
    const interval = opts.intervalMs ?? 5000;
    const timeout = opts.timeoutMs ?? 10 * 60 * 1000;
    const longPoll = Math.min(opts.longPollMs ?? interval, maxLongPollMs);
    const start = Date.now();
    const deadline = start + timeout;
    let failures = 0;
    for (let polls = 1; ; polls++) {
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
        if (st.status === "completed") return st;
        if (st.status === "failed") throw new VideoFailedError(videoId, videoErrorText(st.error), st);
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        if (signal?.aborted || Date.now() >= deadline) throw timeoutError(videoId, timeout);
        if (!isTransient(err) || ++failures > transientPolls) throw err;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw timeoutError(videoId, timeout);
      const pause = longPolled ? Math.max(0, minLongPollGapMs - (Date.now() - asked)) : interval;
      await sleep(Math.min(pause, left), opts.signal);
    }
  }
}

function timeoutError(videoId: string, timeout: number): TimeoutError {
  return new TimeoutError({ status: 0, code: "timeout", detail: `Video ${videoId} was not finished after ${timeout} ms.` });
}

/** The caller's signal, also aborting at the deadline so that a held status call cannot outlast the wait. */
function withDeadline(signal: AbortSignal | undefined, deadline: number): AbortSignal | undefined {
  if (typeof AbortSignal.timeout !== "function" || typeof AbortSignal.any !== "function") return signal;
  const t = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  return signal ? AbortSignal.any([signal, t]) : t;
}

function simpleBody(v: SimpleVideo): VideoRequest {
  const body: VideoRequest = {
    video_inputs: [{
      character: { type: "avatar", avatar_id: v.avatarId, avatar_style: v.avatarStyle ?? "normal" },
      voice: { type: "text", input_text: v.text, voice_id: v.voiceId },
    }],
    dimension: { width: v.width ?? 1280, height: v.height ?? 720 },
  };
  if (v.test !== undefined) body.test = v.test;
  return body;
}
