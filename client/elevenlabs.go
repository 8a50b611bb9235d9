package client

import (
	"context"
)

// ElevenLabs holds typed helpers for the elevenlabs service.
type ElevenLabs struct{ c *Client }

// ElevenLabs returns the ElevenLabs helpers.
func (c *Client) ElevenLabs() *ElevenLabs { return &ElevenLabs{c: c} }

// ElevenLabsService is the slug of ElevenLabs in the catalog.
const ElevenLabsService = "elevenlabs"

// DefaultTTSModel is the model TTS uses when a request names none.
const DefaultTTSModel = "eleven_multilingual_v2"

// ElevenLabsVoice is an ElevenLabs voice.
type ElevenLabsVoice struct {
	VoiceID    string            `json:"voice_id"`
	Name       string            `json:"name"`
	Category   string            `json:"category,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	PreviewURL string            `json:"preview_url,omitempty"`
}

// Model is an ElevenLabs model.
type Model struct {
	ModelID     string `json:"model_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ListVoices returns the voices (list-voices).
func (e *ElevenLabs) ListVoices(ctx context.Context) ([]ElevenLabsVoice, error) {
	var out struct {
		Voices []ElevenLabsVoice `json:"voices"`
	}
	err := e.c.InvokeJSON(ctx, ElevenLabsService, "list-voices", Envelope{}, &out)
	return out.Voices, err
}

// ListModels returns the models (list-models).
func (e *ElevenLabs) ListModels(ctx context.Context) ([]Model, error) {
	var out []Model
	err := e.c.InvokeJSON(ctx, ElevenLabsService, "list-models", Envelope{}, &out)
	return out, err
}

// TTSRequest is a text-to-speech request.
type TTSRequest struct {
	Text string `json:"text"`
	// ModelID defaults to DefaultTTSModel.
	ModelID       string         `json:"model_id"`
	VoiceSettings *VoiceSettings `json:"voice_settings,omitempty"`
	// OutputFormat, e.g. mp3_44100_128, is sent as the output_format query
	// parameter; "" leaves the provider's default.
	OutputFormat string `json:"-"`
}

// VoiceSettings tune a voice, each in 0–1.
type VoiceSettings struct {
	Stability       float64 `json:"stability"`
	SimilarityBoost float64 `json:"similarity_boost"`
	Style           float64 `json:"style,omitempty"`
	UseSpeakerBoost bool    `json:"use_speaker_boost,omitempty"`
}

// Audio is a whole synthesized clip.
type Audio struct {
	Data        []byte
	ContentType string
}

// TTSEnvelope returns the invoke envelope of a TTS request, for callers
// that want the raw Response of tts or tts-stream.
func TTSEnvelope(voiceID string, req TTSRequest) Envelope {
	if req.ModelID == "" {
		req.ModelID = DefaultTTSModel
	}
	env := Envelope{Body: req, PathParams: map[string]string{"voice_id": voiceID}}
	if req.OutputFormat != "" {
		env.Query = map[string]any{"output_format": req.OutputFormat}
	}
	return env
}

// TTS synthesizes speech and returns the whole clip (tts).
func (e *ElevenLabs) TTS(ctx context.Context, voiceID string, req TTSRequest) (*Audio, error) {
	data, ct, err := e.c.InvokeBytes(ctx, ElevenLabsService, "tts", TTSEnvelope(voiceID, req))
	if err != nil {
		return nil, err
	}
	return &Audio{Data: data, ContentType: ct}, nil
}

// TTSStream synthesizes speech and returns the audio as it is produced
// (tts-stream). Read and close the Response's Body.
func (e *ElevenLabs) TTSStream(ctx context.Context, voiceID string, req TTSRequest) (*Response, error) {
	return e.c.Invoke(ctx, ElevenLabsService, "tts-stream", TTSEnvelope(voiceID, req))
}
