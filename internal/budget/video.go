package budget

import (
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"
)

// A video's length is known only once it is made; before that it is
// estimated from what the call asks for: each scene's script at a speaking
// rate, a silent scene's length, and an audio-driven scene (or a template
// whose script is not given) at a fixed length. The estimate is held until
// the job ends and is then replaced by the actual length.

// videoBody is what the estimate reads of HeyGen's generate bodies: v2's
// video_inputs, a template's variables, or v3's typed create body.
type videoBody struct {
	VideoInputs []struct {
		Character *struct {
			Type string `json:"type"`
		} `json:"character"`
		Voice *voiceBody `json:"voice"`
	} `json:"video_inputs"`
	Variables    map[string]json.RawMessage `json:"variables"`
	Type         string                     `json:"type"`
	Script       *string                    `json:"script"`
	AudioURL     string                     `json:"audio_url"`
	AudioAssetID string                     `json:"audio_asset_id"`
	Duration     *float64                   `json:"duration"`
	Engine       *struct {
		Type string `json:"type"`
	} `json:"engine"`
	Scenes []json.RawMessage `json:"scenes"`
}

// voiceBody is a v2 scene's voice: text, audio or silence.
type voiceBody struct {
	Type      string   `json:"type"`
	InputText *string  `json:"input_text"`
	Duration  *float64 `json:"duration"`
}

// videoSeconds estimates the length of the video a body asks for, and
// names its avatar kind: "photo_avatar" for a v2 video of talking photos
// only, the engine ("avatar_iv" by default) or type for v3, "" otherwise.
// A body it cannot read is estimated at the audio length.
func videoSeconds(body []byte, est Estimates) (string, float64) {
	var b videoBody
	if len(body) == 0 || json.Unmarshal(body, &b) != nil {
		return "", est.capped(est.AudioSeconds)
	}
	switch {
	case len(b.VideoInputs) > 0:
		return v2Seconds(b, est)
	case b.Variables != nil:
		return "", est.capped(templateSeconds(b.Variables, est))
	case b.Type != "" || b.Script != nil:
		return v3Seconds(b, est)
	}
	return "", est.capped(est.AudioSeconds)
}

// v2Seconds sums a v2 generate body's scenes.
func v2Seconds(b videoBody, est Estimates) (string, float64) {
	secs, photos := 0.0, 0
	for _, sc := range b.VideoInputs {
		if sc.Character != nil && sc.Character.Type == "talking_photo" {
			photos++
		}
		v := sc.Voice
		switch {
		case v == nil || v.Type == "silence":
			secs += positiveOr(v != nil && v.Duration != nil, func() float64 { return *v.Duration }, est.SilenceSeconds)
		case v.Type == "text" && v.InputText != nil:
			secs += est.speech(*v.InputText)
		default: // an audio file: its length is not known
			secs += est.AudioSeconds
		}
	}
	variant := ""
	if photos == len(b.VideoInputs) {
		variant = "photo_avatar"
	}
	return variant, est.capped(secs)
}

// v3Seconds estimates a v3 create body by its type.
func v3Seconds(b videoBody, est Estimates) (string, float64) {
	variant := b.Type
	switch b.Type {
	case "", "avatar":
		variant = "avatar_iv" // HeyGen's default engine
		if b.Engine != nil && b.Engine.Type != "" {
			variant = b.Engine.Type
		}
	case "cinematic_avatar":
		return variant, est.capped(positiveOr(b.Duration != nil, func() float64 { return *b.Duration }, est.CinematicSeconds))
	case "studio":
		secs := 0.0
		for _, raw := range b.Scenes {
			secs += sceneSeconds(raw, est)
		}
		return variant, est.capped(secs)
	}
	switch {
	case b.Script != nil:
		return variant, est.capped(est.speech(*b.Script))
	case b.AudioURL != "" || b.AudioAssetID != "":
		return variant, est.capped(est.AudioSeconds)
	}
	return variant, est.capped(positiveOr(b.Duration != nil, func() float64 { return *b.Duration }, est.AudioSeconds))
}

// sceneSeconds estimates one v3 studio scene: its script (at the top or
// in its input), else its duration, else the audio length.
func sceneSeconds(raw json.RawMessage, est Estimates) float64 {
	var sc struct {
		Script   *string  `json:"script"`
		Duration *float64 `json:"duration"`
		Input    *struct {
			Script *string `json:"script"`
		} `json:"input"`
	}
	_ = json.Unmarshal(raw, &sc)
	switch {
	case sc.Script != nil:
		return est.speech(*sc.Script)
	case sc.Input != nil && sc.Input.Script != nil:
		return est.speech(*sc.Input.Script)
	}
	return positiveOr(sc.Duration != nil, func() float64 { return *sc.Duration }, est.AudioSeconds)
}

// templateSeconds estimates a template video from the text its variables
// give; a template given no text speaks its own script, of unknown
// length.
func templateSeconds(vars map[string]json.RawMessage, est Estimates) float64 {
	var text strings.Builder
	for _, raw := range vars {
		var v struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		}
		if json.Unmarshal(raw, &v) != nil || (v.Type != "" && v.Type != "text") {
			continue
		}
		if s, ok := v.Properties["content"].(string); ok {
			text.WriteString(s + " ")
		}
	}
	if strings.TrimSpace(text.String()) == "" {
		return est.AudioSeconds
	}
	return est.speech(text.String())
}

// speech is how long a script takes to say, at least a second.
func (e Estimates) speech(text string) float64 {
	n := float64(utf8.RuneCountInString(strings.TrimSpace(text)))
	if e.SpeechCharsPerSecond <= 0 {
		return e.AudioSeconds
	}
	return max(1, math.Ceil(n/e.SpeechCharsPerSecond))
}

// capped bounds an estimate by MaxVideoSeconds (when set), and makes it at
// least a second.
func (e Estimates) capped(secs float64) float64 {
	if e.MaxVideoSeconds > 0 {
		secs = min(secs, e.MaxVideoSeconds)
	}
	return max(1, secs)
}

// positiveOr returns get() when ok and positive, else def.
func positiveOr(ok bool, get func() float64, def float64) float64 {
	if ok {
		if v := get(); v > 0 && !math.IsInf(v, 0) {
			return v
		}
	}
	return def
}
