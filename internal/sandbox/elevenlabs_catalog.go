package sandbox

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// elVoice is one voice of the ElevenLabs catalog.
type elVoice struct {
	ID, Name, Category string
	Labels             map[string]string
	Description        string
	CreatedAtUnix      *int64
	Legacy             bool
	// Owned marks a voice one key made with add-voice; Samples are its recordings.
	Owned   bool
	Samples []elSample
}

// elSample is one recording a cloned voice was made from.
type elSample struct {
	SampleID  string `json:"sample_id"`
	FileName  string `json:"file_name"`
	MimeType  string `json:"mime_type"`
	SizeBytes int    `json:"size_bytes"`
	Hash      string `json:"hash"`
}

// elModel is one model of the ElevenLabs catalog.
type elModel struct {
	ID, Name, Description string
	TTS, VoiceConversion  bool
	MaxChars              int     // maximum_text_length_per_request
	CostMultiplier        float64 // model_rates.character_cost_multiplier
	ConcurrencyGroup      string
	Languages             []string
}

// elevenCatalog is the seeded, read-only catalog one Server answers with.
type elevenCatalog struct {
	voices []elVoice
	models []elModel
}

// rachelID is the voice the reference and the proxy contract use.
const rachelID = "21m00Tcm4TlvDq8ikWAM"

// newElevenCatalog builds the catalog for seed.
func newElevenCatalog(seed int64) *elevenCatalog {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x656c6576656e))
	c := &elevenCatalog{models: elevenModels()}
	c.voices = premadeVoices()
	seen := map[string]bool{}
	for _, v := range c.voices {
		seen[v.ID] = true
	}
	for n := 40 + rng.IntN(16); len(c.voices) < n; {
		v := generatedVoice(rng)
		if !seen[v.ID] {
			seen[v.ID] = true
			c.voices = append(c.voices, v)
		}
	}
	return c
}

// premadeVoices are ElevenLabs' long-standing default voices; Rachel comes first.
func premadeVoices() []elVoice {
	v := func(id, name, accent, age, desc, gender, useCase string, legacy bool) elVoice {
		return elVoice{ID: id, Name: name, Category: "premade", Legacy: legacy, Labels: map[string]string{
			"accent": accent, "age": age, "description": desc, "gender": gender, "use_case": useCase,
		}}
	}
	return []elVoice{
		v(rachelID, "Rachel", "american", "young", "calm", "female", "narration", false),
		v("pNInz6obpgDQGcFmaJgB", "Adam", "american", "middle aged", "deep", "male", "narration", false),
		v("ErXwobaYiN019PkySvjV", "Antoni", "american", "young", "well-rounded", "male", "narration", false),
		v("VR6AewLTigWG4xSOukaG", "Arnold", "american", "middle aged", "crisp", "male", "narration", true),
		v("EXAVITQu4vr4xnSDxMaL", "Sarah", "american", "young", "soft", "female", "news", false),
		v("AZnzlk1XvdvUeBnXmlld", "Domi", "american", "young", "strong", "female", "narration", false),
		v("MF3mGyEYCl7XYWbV9V6O", "Elli", "american", "young", "emotional", "female", "narration", true),
		v("TxGEqnHWrfWFTfGW9XjX", "Josh", "american", "young", "deep", "male", "narration", false),
		v("yoZ06aMxZJJ28mfd3POQ", "Sam", "american", "young", "raspy", "male", "narration", true),
	}
}

// generatedVoice invents a cloned, generated or professional voice.
func generatedVoice(rng *rand.Rand) elVoice {
	gender, name := pickName(rng)
	accents := []string{"american", "british", "australian", "irish", "indian", "canadian", "south african", "transatlantic"}
	ages := []string{"young", "middle aged", "old"}
	descs := []string{"warm", "confident", "gravelly", "friendly", "articulate", "soothing", "upbeat", "husky", "bright"}
	uses := []string{"narration", "conversational", "news", "characters", "social media", "audiobook"}
	categories := []string{"cloned", "generated", "professional", "professional"}
	created := int64(1_690_000_000 + rng.IntN(80_000_000))
	desc := descs[rng.IntN(len(descs))]
	return elVoice{
		ID: randomString(rng, alnum, 20), Name: name + " - " + strings.ToUpper(desc[:1]) + desc[1:],
		Category: categories[rng.IntN(len(categories))], CreatedAtUnix: &created,
		Description: "A " + desc + " " + gender + " voice.",
		Labels: map[string]string{
			"accent": accents[rng.IntN(len(accents))], "age": ages[rng.IntN(len(ages))], "description": desc,
			"gender": gender, "use_case": uses[rng.IntN(len(uses))],
		},
	}
}

// elevenModels lists the models with their documented per-request character limits.
func elevenModels() []elModel {
	many := []string{"en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl", "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru"}
	return []elModel{
		{ID: "eleven_multilingual_v2", Name: "Eleven Multilingual v2", TTS: true, VoiceConversion: false, MaxChars: 10000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: many,
			Description: "Our most life-like, emotionally rich mode in 29 languages. Best for voice overs, audiobooks, post-production, or any other content creation needs."},
		{ID: "eleven_v3", Name: "Eleven v3", TTS: true, MaxChars: 3000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: slices.Concat(many, []string{"hu", "no", "vi"}),
			Description: "Our most expressive model, with support for 70+ languages and audio tags."},
		{ID: "eleven_flash_v2_5", Name: "Eleven Flash v2.5", TTS: true, MaxChars: 40000, CostMultiplier: 0.5, ConcurrencyGroup: "turbo", Languages: slices.Concat(many, []string{"hu", "no", "vi"}),
			Description: "Our ultra low latency model in 32 languages. Ideal for conversational use cases."},
		{ID: "eleven_turbo_v2_5", Name: "Eleven Turbo v2.5", TTS: true, MaxChars: 40000, CostMultiplier: 0.5, ConcurrencyGroup: "turbo", Languages: slices.Concat(many, []string{"hu", "no", "vi"}),
			Description: "Our high quality, low latency model in 32 languages. Best for developer use cases where speed matters."},
		{ID: "eleven_flash_v2", Name: "Eleven Flash v2", TTS: true, MaxChars: 30000, CostMultiplier: 0.5, ConcurrencyGroup: "turbo", Languages: []string{"en"},
			Description: "Our ultra low latency model, English only."},
		{ID: "eleven_turbo_v2", Name: "Eleven Turbo v2", TTS: true, MaxChars: 30000, CostMultiplier: 0.5, ConcurrencyGroup: "turbo", Languages: []string{"en"},
			Description: "Our English-only, low latency model."},
		{ID: "eleven_multilingual_v1", Name: "Eleven Multilingual v1", TTS: true, MaxChars: 10000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: many[:9],
			Description: "Our first multilingual model, capable of generating speech in 10 languages."},
		{ID: "eleven_monolingual_v1", Name: "Eleven English v1", TTS: true, MaxChars: 10000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: []string{"en"},
			Description: "Our first ever text to speech model."},
		{ID: "eleven_multilingual_sts_v2", Name: "Eleven Multilingual v2 (speech-to-speech)", VoiceConversion: true, MaxChars: 10000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: many,
			Description: "Our cutting-edge, multilingual speech-to-speech model."},
		{ID: "eleven_english_sts_v2", Name: "Eleven English v2 (speech-to-speech)", VoiceConversion: true, MaxChars: 10000, CostMultiplier: 1, ConcurrencyGroup: "standard", Languages: []string{"en"},
			Description: "Our English-only speech-to-speech model."},
	}
}

// voice returns the voice with id.
func (c *elevenCatalog) voice(id string) (elVoice, bool) {
	for _, v := range c.voices {
		if v.ID == id {
			return v, true
		}
	}
	return elVoice{}, false
}

// model returns the model with id.
func (c *elevenCatalog) model(id string) (elModel, bool) {
	for _, m := range c.models {
		if m.ID == id {
			return m, true
		}
	}
	return elModel{}, false
}
