import type { AIProxyClient } from "./client.js";
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
    character: {
        type: "avatar" | string;
        avatar_id: string;
        avatar_style?: string;
        [key: string]: unknown;
    };
    voice: {
        type: "text" | string;
        input_text?: string;
        voice_id?: string;
        speed?: number;
        [key: string]: unknown;
    };
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
    dimension?: {
        width: number;
        height: number;
    };
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
    error?: string | {
        code?: number | string;
        message?: string;
        detail?: string;
    } | null;
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
/** The reason of a failed render as text. */
export declare function videoErrorText(e: VideoStatus["error"]): string;
/** Typed helpers for the `heygen` service. */
export declare class HeyGen {
    private readonly client;
    readonly service = "heygen";
    constructor(client: AIProxyClient);
    /** Lists avatars (list-avatars). */
    listAvatars(opts?: RequestOptions): Promise<Avatar[]>;
    /** Lists voices (list-voices). */
    listVoices(opts?: RequestOptions): Promise<HeyGenVoice[]>;
    /** Starts a render and returns its video id. Takes HeyGen's body, or the short one-scene form. */
    generateVideo(req: VideoRequest | SimpleVideo, opts?: RequestOptions): Promise<string>;
    /** Starts a render from a template and returns its video id. */
    generateTemplateVideo(templateId: string, req: TemplateVideoRequest, opts?: RequestOptions): Promise<string>;
    private generate;
    /** Reads a render's state (video-status). */
    videoStatus(videoId: string, opts?: RequestOptions): Promise<VideoStatus>;
    /**
     * One video-status call; with `waitSec` > 0 it asks the server to hold the
     * answer until the state changes (RFC 7240 `Prefer: wait=N`) and reports
     * whether it did (`Preference-Applied`).
     */
    private statusCall;
    /**
     * Polls video-status until the render completes and returns its status.
     * Each call asks aiproxy to long-poll (hold it until the state changes, up
     * to `longPollMs`), so a change is seen at once; against a server that
     * does not, it polls every `intervalMs`.
     * Rejects with VideoFailedError when it fails, TimeoutError after
     * `timeoutMs`, or the signal's reason when aborted. Up to three transient
     * failures (429, 502, 503, 504) in a row are ridden out.
     */
    waitForVideo(videoId: string, opts?: WaitOptions): Promise<VideoStatus>;
}
