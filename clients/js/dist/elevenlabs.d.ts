import type { AIProxyClient } from "./client.js";
import type { Envelope, RequestOptions } from "./types.js";
/** An ElevenLabs voice. */
export interface ElevenLabsVoice {
    voice_id: string;
    name: string;
    category?: string;
    labels?: Record<string, string>;
    preview_url?: string;
    [key: string]: unknown;
}
/** An ElevenLabs model. */
export interface Model {
    model_id: string;
    name: string;
    description?: string;
    [key: string]: unknown;
}
/** A text-to-speech request. */
export interface TTSRequest {
    voiceId: string;
    text: string;
    /** Default `eleven_multilingual_v2`. */
    modelId?: string;
    voiceSettings?: {
        stability?: number;
        similarity_boost?: number;
        style?: number;
        use_speaker_boost?: boolean;
    };
    /** E.g. `mp3_44100_128`; sent as the output_format query parameter. */
    outputFormat?: string;
    /** Extra body fields, passed as they are. */
    extra?: Record<string, unknown>;
}
/** The model used when a request names none. */
export declare const DEFAULT_TTS_MODEL = "eleven_multilingual_v2";
/** Builds the invoke envelope of a TTS request. */
export declare function ttsEnvelope(req: TTSRequest): Envelope;
/** Typed helpers for the `elevenlabs` service. */
export declare class ElevenLabs {
    private readonly client;
    readonly service = "elevenlabs";
    constructor(client: AIProxyClient);
    /** Lists voices (list-voices). */
    listVoices(opts?: RequestOptions): Promise<ElevenLabsVoice[]>;
    /** Lists models (list-models). */
    listModels(opts?: RequestOptions): Promise<Model[]>;
    /** Synthesizes speech (tts) and returns the whole clip as a Blob (type audio/mpeg by default). */
    tts(req: TTSRequest, opts?: RequestOptions & {
        as?: "blob";
    }): Promise<Blob>;
    /** Synthesizes speech (tts) and returns the whole clip as bytes. */
    tts(req: TTSRequest, opts: RequestOptions & {
        as: "bytes";
    }): Promise<Uint8Array>;
    /** Synthesizes speech (tts-stream) and returns the audio as it is produced. */
    ttsStream(req: TTSRequest, opts?: RequestOptions): Promise<ReadableStream<Uint8Array>>;
}
