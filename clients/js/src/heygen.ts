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
}

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
    const r = await this.client.invokeJSON<{ data?: VideoStatus }>(this.service, "video-status", { query: { video_id: videoId } }, opts);
    return { id: videoId, ...(r.data ?? { status: "unknown" }) };
  }

  /**
   * Polls video-status until the render completes and returns its status.
   * Rejects with VideoFailedError when it fails, TimeoutError after
   * `timeoutMs`, or the signal's reason when aborted. Up to three transient
   * failures (429, 502, 503, 504) in a row are ridden out.
   */
  async waitForVideo(videoId: string, opts: WaitOptions = {}): Promise<VideoStatus> {
    const interval = opts.intervalMs ?? 5000;
    const timeout = opts.timeoutMs ?? 10 * 60 * 1000;
    const start = Date.now();
    const deadline = start + timeout;
    let failures = 0;
    for (let polls = 1; ; polls++) {
      opts.signal?.throwIfAborted?.();
      try {
        const st = await this.videoStatus(videoId, { signal: opts.signal });
        failures = 0;
        opts.onProgress?.({ videoId, status: st.status, elapsedMs: Date.now() - start, polls, last: st });
        if (st.status === "completed") return st;
        if (st.status === "failed") throw new VideoFailedError(videoId, videoErrorText(st.error), st);
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        if (!isTransient(err) || ++failures > transientPolls) throw err;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError({ status: 0, code: "timeout", detail: `Video ${videoId} was not finished after ${timeout} ms.` });
      }
      await sleep(Math.min(interval, left), opts.signal);
    }
  }
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
