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
  voiceSettings?: { stability?: number; similarity_boost?: number; style?: number; use_speaker_boost?: boolean };
  /** E.g. `mp3_44100_128`; sent as the output_format query parameter. */
  outputFormat?: string;
  /** Extra body fields, passed as they are. */
  extra?: Record<string, unknown>;
}

/** The model used when a request names none. */
export const DEFAULT_TTS_MODEL = "eleven_multilingual_v2";

/** Builds the invoke envelope of a TTS request. */
export function ttsEnvelope(req: TTSRequest): Envelope {
  const body: Record<string, unknown> = { ...(req.extra ?? {}), text: req.text, model_id: req.modelId ?? DEFAULT_TTS_MODEL };
  if (req.voiceSettings) body.voice_settings = req.voiceSettings;
  const env: Envelope = { path_params: { voice_id: req.voiceId }, body };
  if (req.outputFormat) env.query = { output_format: req.outputFormat };
  return env;
}

/** Typed helpers for the `elevenlabs` service. */
export class ElevenLabs {
  readonly service = "elevenlabs";
  constructor(private readonly client: AIProxyClient) {}

  /** Lists voices (list-voices). */
  async listVoices(opts: RequestOptions = {}): Promise<ElevenLabsVoice[]> {
    const r = await this.client.invokeJSON<{ voices?: ElevenLabsVoice[] }>(this.service, "list-voices", {}, opts);
    return r.voices ?? [];
  }

  /** Lists models (list-models). */
  async listModels(opts: RequestOptions = {}): Promise<Model[]> {
    return this.client.invokeJSON<Model[]>(this.service, "list-models", {}, opts);
  }

  /** Synthesizes speech (tts) and returns the whole clip as a Blob (type audio/mpeg by default). */
  tts(req: TTSRequest, opts?: RequestOptions & { as?: "blob" }): Promise<Blob>;
  /** Synthesizes speech (tts) and returns the whole clip as bytes. */
  tts(req: TTSRequest, opts: RequestOptions & { as: "bytes" }): Promise<Uint8Array>;
  async tts(req: TTSRequest, opts: RequestOptions & { as?: "blob" | "bytes" } = {}): Promise<Blob | Uint8Array> {
    const r = await this.client.invoke(this.service, "tts", ttsEnvelope(req), { signal: opts.signal, as: opts.as ?? "blob" });
    return r.data as Blob | Uint8Array;
  }

  /** Synthesizes speech (tts-stream) and returns the audio as it is produced. */
  async ttsStream(req: TTSRequest, opts: RequestOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const r = await this.client.invoke(this.service, "tts-stream", ttsEnvelope(req), { signal: opts.signal, as: "stream" });
    return r.data as ReadableStream<Uint8Array>;
  }
}
