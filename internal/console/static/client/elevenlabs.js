/** The model used when a request names none. */
export const DEFAULT_TTS_MODEL = "eleven_multilingual_v2";
/** Builds the invoke envelope of a TTS request. */
export function ttsEnvelope(req) {
    const body = { ...(req.extra ?? {}), text: req.text, model_id: req.modelId ?? DEFAULT_TTS_MODEL };
    if (req.voiceSettings)
        body.voice_settings = req.voiceSettings;
    const env = { path_params: { voice_id: req.voiceId }, body };
    if (req.outputFormat)
        env.query = { output_format: req.outputFormat };
    return env;
}
/** Typed helpers for the `elevenlabs` service. */
export class ElevenLabs {
    constructor(client) {
        this.client = client;
        this.service = "elevenlabs";
    }
    /** Lists voices (list-voices). */
    async listVoices(opts = {}) {
        const r = await this.client.invokeJSON(this.service, "list-voices", {}, opts);
        return r.voices ?? [];
    }
    /** Lists models (list-models). */
    async listModels(opts = {}) {
        return this.client.invokeJSON(this.service, "list-models", {}, opts);
    }
    async tts(req, opts = {}) {
        const r = await this.client.invoke(this.service, "tts", ttsEnvelope(req), { signal: opts.signal, as: opts.as ?? "blob" });
        return r.data;
    }
    /** Synthesizes speech (tts-stream) and returns the audio as it is produced. */
    async ttsStream(req, opts = {}) {
        const r = await this.client.invoke(this.service, "tts-stream", ttsEnvelope(req), { signal: opts.signal, as: "stream" });
        return r.data;
    }
}
