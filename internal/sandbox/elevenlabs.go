package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// elevenState is ElevenLabs' mutable state; Server.mu guards it.
type elevenState struct {
	charsUsed map[string]int        // per key: character_count this period
	inFlight  int                   // text-to-speech requests being answered
	accounts  map[string]*elAccount // per key: voices, history, dubbings (elevenlabs_voice.go)
	rt        realtimeState         // sockets, single-use tokens, signed URLs (elevenlabs_socket.go)
}

// newElevenState returns empty ElevenLabs state.
func newElevenState() elevenState {
	return elevenState{charsUsed: map[string]int{}, accounts: map[string]*elAccount{}}
}

// elCharacterLimit is every key's character_limit (the Creator tier's).
const elCharacterLimit = 100_000

// elevenService wires ElevenLabs' routes.
func (s *Server) elevenService() *service {
	sv := &service{
		provider:  ElevenLabs,
		authorize: s.elevenAuthorize,
		notFound: func(string) *apiError {
			return jsonError(http.StatusNotFound, map[string]string{"detail": "Not Found"})
		},
		notAllowed: func(string) *apiError {
			return jsonError(http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
		},
		decorate: elevenHeaders,
		decorateError: func(h http.Header) {
			h.Set("X-Trace-Id", s.newID(lowerHex, 32))
			h.Set("X-Region", "us-central1")
		},
	}
	sv.handle(http.MethodGet, "/v1/voices", s.elListVoices)
	sv.handle(http.MethodGet, "/v2/voices", s.elSearchVoices)
	sv.handle(http.MethodGet, "/v1/voices/{voice_id}", s.elGetVoice)
	sv.handle(http.MethodPost, "/v1/voices/add", s.elAddVoice)
	sv.handle(http.MethodPost, "/v1/voices/{voice_id}/edit", s.elEditVoice)
	sv.handle(http.MethodDelete, "/v1/voices/{voice_id}", s.elDeleteVoice)
	sv.handle(http.MethodGet, "/v1/voices/{voice_id}/settings", s.elVoiceSettings)
	sv.handle(http.MethodGet, "/v1/models", s.elListModels)
	sv.handle(http.MethodGet, "/v1/user", s.elUser)
	sv.handle(http.MethodGet, "/v1/user/subscription", s.elSubscription)
	// Text to speech and sound effects validate the body before the key, so these routes
	// authorize themselves.
	sv.handlePublic(http.MethodPost, "/v1/text-to-speech/{voice_id}", s.elTTS(ttsWhole))
	sv.handlePublic(http.MethodPost, "/v1/text-to-speech/{voice_id}/stream", s.elTTS(ttsStream))
	sv.handlePublic(http.MethodPost, "/v1/text-to-speech/{voice_id}/with-timestamps", s.elTTS(ttsTimestamps))
	sv.handlePublic(http.MethodPost, "/v1/text-to-speech/{voice_id}/stream/with-timestamps", s.elTTS(ttsStreamTimestamps))
	sv.handlePublic(http.MethodPost, "/v1/sound-generation", s.elSoundGeneration)
	sv.handle(http.MethodPost, "/v1/audio-isolation", s.elAudioIsolation(false))
	sv.handle(http.MethodPost, "/v1/audio-isolation/stream", s.elAudioIsolation(true))
	sv.handle(http.MethodPost, "/v1/dubbing", s.elCreateDubbing)
	sv.handle(http.MethodGet, "/v1/dubbing/{dubbing_id}", s.elGetDubbing)
	sv.handle(http.MethodDelete, "/v1/dubbing/{dubbing_id}", s.elDeleteDubbing)
	sv.handle(http.MethodGet, "/v1/dubbing/{dubbing_id}/audio/{language_code}", s.elDubbedAudio)
	sv.handle(http.MethodGet, "/v1/history", s.elListHistory)
	sv.handle(http.MethodGet, "/v1/history/{history_item_id}", s.elGetHistoryItem)
	sv.handle(http.MethodDelete, "/v1/history/{history_item_id}", s.elDeleteHistoryItem)
	sv.handle(http.MethodGet, "/v1/history/{history_item_id}/audio", s.elHistoryAudio)
	sv.handlePublic(http.MethodGet, "/media/voices/{voice_id}/preview.mp3", s.elVoicePreview)
	// Real time (elevenlabs_ws.go, elevenlabs_scribe.go, elevenlabs_tokens.go): the sockets
	// authenticate in band, after the upgrade, so their routes are public.
	sv.handlePublic(http.MethodGet, "/v1/text-to-speech/{voice_id}/stream-input", s.elStreamInput(false))
	sv.handlePublic(http.MethodGet, "/v1/text-to-speech/{voice_id}/multi-stream-input", s.elStreamInput(true))
	sv.handlePublic(http.MethodGet, "/v1/speech-to-text/realtime", s.elScribeRealtime)
	sv.handle(http.MethodPost, "/v1/single-use-token/{token_type}", s.elSingleUseToken)
	sv.handle(http.MethodGet, "/v1/convai/conversation/get-signed-url", s.elSignedURL)
	sv.handlePublic(http.MethodGet, "/v1/convai/conversation/token", s.elConversationToken)
	sv.handlePublic(http.MethodGet, "/v1/convai/conversation", s.elConversation)
	return sv
}

// elevenHeaders sets the headers every ElevenLabs response carries.
func elevenHeaders(h http.Header) {
	h.Set("Server", "uvicorn")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "*")
	h.Set("Access-Control-Allow-Methods", "POST, PATCH, OPTIONS, DELETE, GET, PUT")
	h.Set("Access-Control-Expose-Headers", "request-id, history-item-id, character-cost, regeneration-count, generation-info, current-concurrent-requests, maximum-concurrent-requests")
	h.Set("Access-Control-Max-Age", "600")
	h.Set("Strict-Transport-Security", "max-age=1800;")
	h.Set("Via", "1.1 google")
}

// elevenAuthorize accepts a known xi-api-key.
func (s *Server) elevenAuthorize(c *call) error {
	key := c.r.Header.Get("Xi-Api-Key")
	switch {
	case key == "":
		return detailError(http.StatusUnauthorized, "needs_authorization",
			"Neither authorization header nor xi-api-key received, please provide one.")
	case !s.keyAccepted(ElevenLabs, key):
		return detailError(http.StatusUnauthorized, "invalid_api_key", "Invalid API key")
	}
	c.key = key
	return s.admitKey(ElevenLabs, c) // keys.go
}

// detailError is ElevenLabs' legacy error body {"detail":{"status","message"}}.
func detailError(status int, code, message string) *apiError {
	return jsonError(status, map[string]any{"detail": map[string]string{"status": code, "message": message}})
}

// voiceNotFound is the 404 for an unknown voice id.
func voiceNotFound(id string) *apiError {
	return detailError(http.StatusNotFound, "voice_not_found", "A voice with the voice_id "+id+" was not found.")
}

// elevenStatusBody returns ElevenLabs' body for status, for faults without a body.
func elevenStatusBody(status int) *apiError {
	switch status {
	case http.StatusUnauthorized:
		return detailError(status, "invalid_api_key", "Invalid API key")
	case http.StatusNotFound:
		return voiceNotFound("unknown")
	case http.StatusUnprocessableEntity:
		return validationError([]validationItem{{Type: "value_error", Loc: []any{"body"}, Msg: "Value error"}})
	case http.StatusTooManyRequests:
		return tooManyConcurrent(5)
	case http.StatusInternalServerError:
		return jsonError(status, map[string]string{"status": "internal_server_error",
			"message": "Internal Server error. All such crashes are reported to us automatically."})
	case http.StatusServiceUnavailable:
		return detailError(status, "system_busy",
			"We are sorry, the system is experiencing heavy traffic, please try again. Higher subscriptions have higher priority.")
	}
	return detailError(status, snakeCase(http.StatusText(status)), http.StatusText(status))
}

// tooManyConcurrent is the 429 for a request over the concurrency limit.
func tooManyConcurrent(limit int) *apiError {
	return detailError(http.StatusTooManyRequests, "too_many_concurrent_requests",
		"Too many concurrent requests. Your current subscription is associated with a maximum of "+strconv.Itoa(limit)+
			" concurrent requests (running in parallel). Please upgrade your subscription or contact sales if you want to increase this limit.")
}

// voiceSettingsJSON is VoiceSettingsResponseModel.
type voiceSettingsJSON struct {
	Stability       float64 `json:"stability"`
	SimilarityBoost float64 `json:"similarity_boost"`
	Style           float64 `json:"style"`
	UseSpeakerBoost bool    `json:"use_speaker_boost"`
	Speed           float64 `json:"speed"`
}

// elVoiceJSON is VoiceResponseModel.
type elVoiceJSON struct {
	VoiceID                 string              `json:"voice_id"`
	Name                    string              `json:"name"`
	Samples                 []elSample          `json:"samples"`
	Category                string              `json:"category"`
	FineTuning              map[string]any      `json:"fine_tuning"`
	Labels                  map[string]string   `json:"labels"`
	Description             *string             `json:"description"`
	PreviewURL              *string             `json:"preview_url"`
	AvailableForTiers       []string            `json:"available_for_tiers"`
	Settings                voiceSettingsJSON   `json:"settings"`
	Sharing                 any                 `json:"sharing"`
	HighQualityBaseModelIDs []string            `json:"high_quality_base_model_ids"`
	VerifiedLanguages       []map[string]string `json:"verified_languages"`
	SafetyControl           any                 `json:"safety_control"`
	VoiceVerification       map[string]any      `json:"voice_verification"`
	PermissionOnResource    *string             `json:"permission_on_resource"`
	IsOwner                 bool                `json:"is_owner"`
	IsLegacy                bool                `json:"is_legacy"`
	IsMixed                 bool                `json:"is_mixed"`
	CreatedAtUnix           *int64              `json:"created_at_unix"`
}

// voiceJSON renders v with preview URLs under base.
func voiceJSON(v elVoice, base string) elVoiceJSON {
	preview := base + "/media/voices/" + v.ID + "/preview.mp3"
	out := elVoiceJSON{
		VoiceID: v.ID, Name: v.Name, Category: v.Category, Labels: v.Labels, PreviewURL: &preview, Samples: v.Samples,
		AvailableForTiers: []string{}, Settings: defaultSettings(),
		HighQualityBaseModelIDs: []string{"eleven_turbo_v2_5", "eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_v3"},
		VerifiedLanguages: []map[string]string{{"language": "en", "model_id": "eleven_multilingual_v2",
			"accent": v.Labels["accent"], "locale": "en-US", "preview_url": preview}},
		FineTuning: map[string]any{"is_allowed_to_fine_tune": v.Category == "professional", "state": map[string]string{},
			"verification_failures": []string{}, "verification_attempts_count": 0, "manual_verification_requested": false},
		VoiceVerification: map[string]any{"requires_verification": false, "is_verified": false,
			"verification_failures": []string{}, "verification_attempts_count": 0},
		IsLegacy: v.Legacy, CreatedAtUnix: v.CreatedAtUnix,
	}
	if v.Description != "" {
		out.Description = &v.Description
	}
	if v.Category != "premade" {
		admin := "admin"
		out.PermissionOnResource, out.IsOwner = &admin, true
	}
	if v.Owned {
		out.PreviewURL, out.VerifiedLanguages = nil, []map[string]string{} // No preview is made for a fresh clone.
	}
	return out
}

// elListVoices answers GET /v1/voices; legacy voices only with show_legacy=true.
func (s *Server) elListVoices(w http.ResponseWriter, c *call) error {
	base := baseURL(c.r, ElevenLabs)
	legacy := c.r.URL.Query().Get("show_legacy") == "true"
	voices := []elVoiceJSON{}
	for _, v := range s.elVoices(c.key) {
		if !v.Legacy || legacy {
			voices = append(voices, voiceJSON(v, base))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"voices": voices})
	return nil
}

// elGetVoice answers GET /v1/voices/{voice_id}.
func (s *Server) elGetVoice(w http.ResponseWriter, c *call) error {
	v, ok := s.elVoice(c.key, c.params["voice_id"])
	if !ok {
		return voiceNotFound(c.params["voice_id"])
	}
	writeJSON(w, http.StatusOK, voiceJSON(v, baseURL(c.r, ElevenLabs)))
	return nil
}

// elSearchVoices answers GET /v2/voices: filtered, sorted and paged by page_size and an
// opaque next_page_token. A token the sandbox did not issue is answered 400 invalid_page_token.
func (s *Server) elSearchVoices(w http.ResponseWriter, c *call) error {
	q := c.r.URL.Query()
	size, err := queryInt(q.Get("page_size"), 10)
	if err != nil {
		return validationError([]validationItem{{Type: "int_parsing", Loc: []any{"query", "page_size"},
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: q.Get("page_size")}})
	}
	if item, bad := rangeItem([]any{"query", "page_size"}, float64(size), 1, 100); bad {
		item.Input = q.Get("page_size")
		return validationError([]validationItem{item})
	}
	start := 0
	if tok := q.Get("next_page_token"); tok != "" {
		if start, err = decodePageToken(tok); err != nil {
			return detailError(http.StatusBadRequest, "invalid_page_token", "The provided next_page_token is invalid.")
		}
	}
	matched := filterVoices(s.elVoices(c.key), q.Get("search"), q.Get("category"), q.Get("voice_type"))
	sortVoices(matched, q.Get("sort"), q.Get("sort_direction"))
	start = min(start, len(matched))
	end := min(len(matched), start+size)
	base := baseURL(c.r, ElevenLabs)
	page := make([]elVoiceJSON, 0, end-start)
	for _, v := range matched[start:end] {
		page = append(page, voiceJSON(v, base))
	}
	var next *string
	if end < len(matched) {
		t := base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
		next = &t
	}
	writeJSON(w, http.StatusOK, map[string]any{"voices": page, "has_more": next != nil, "total_count": len(matched), "next_page_token": next})
	return nil
}

// decodePageToken reverses the token elSearchVoices issues.
func decodePageToken(tok string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(raw), "offset:") {
		return 0, strconv.ErrSyntax
	}
	return n, nil
}

// filterVoices applies the v2 search, category and voice_type filters to voices.
func filterVoices(voices []elVoice, search, category, voiceType string) []elVoice {
	search = strings.ToLower(search)
	var out []elVoice
	for _, v := range voices {
		hay := strings.ToLower(v.Name + " " + v.Description + " " + v.Category + " " + strings.Join(mapValues(v.Labels), " "))
		switch {
		case search != "" && !strings.Contains(hay, search),
			category != "" && v.Category != category,
			voiceType == "default" && v.Category != "premade",
			(voiceType == "personal" || voiceType == "non-default" || voiceType == "workspace") && v.Category == "premade",
			voiceType == "community":
			continue
		}
		out = append(out, v)
	}
	return out
}

// sortVoices orders voices by name or created_at_unix; otherwise they keep catalog order.
func sortVoices(vs []elVoice, by, direction string) {
	created := func(v elVoice) int64 {
		if v.CreatedAtUnix == nil {
			return 0
		}
		return *v.CreatedAtUnix
	}
	cmp := map[string]func(a, b elVoice) int{
		"name":            func(a, b elVoice) int { return strings.Compare(a.Name, b.Name) },
		"created_at_unix": func(a, b elVoice) int { return int(created(a) - created(b)) },
	}[by]
	if cmp == nil {
		return
	}
	slices.SortStableFunc(vs, func(a, b elVoice) int {
		if direction == "desc" {
			return cmp(b, a)
		}
		return cmp(a, b)
	})
}

// mapValues returns m's values in key order.
func mapValues(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// elVoicePreview serves a voice's preview_url.
func (s *Server) elVoicePreview(w http.ResponseWriter, c *call) error {
	if _, ok := s.eleven.voice(c.params["voice_id"]); !ok {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	return serveBytes(w, c.r, "audio/mpeg", Speech(previewSentence, c.params["voice_id"], defaultModelID, defaultOutputFormat))
}

// elListModels answers GET /v1/models with a bare array.
func (s *Server) elListModels(w http.ResponseWriter, _ *call) error {
	out := make([]map[string]any, len(s.eleven.models))
	for i, m := range s.eleven.models {
		langs := make([]map[string]string, len(m.Languages))
		for j, l := range m.Languages {
			langs[j] = map[string]string{"language_id": l, "name": languageName(l)}
		}
		out[i] = map[string]any{
			"model_id": m.ID, "name": m.Name, "can_be_finetuned": m.ID == "eleven_multilingual_v2",
			"can_do_text_to_speech": m.TTS, "can_do_voice_conversion": m.VoiceConversion,
			"can_use_style": m.TTS, "can_use_speaker_boost": m.TTS, "serves_pro_voices": false,
			"token_cost_factor": m.CostMultiplier, "description": m.Description, "requires_alpha_access": false,
			"max_characters_request_free_user": min(m.MaxChars, 2500), "max_characters_request_subscribed_user": m.MaxChars,
			"maximum_text_length_per_request": m.MaxChars, "languages": langs,
			"model_rates": map[string]float64{"character_cost_multiplier": m.CostMultiplier}, "concurrency_group": m.ConcurrencyGroup,
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// languageName names an ISO 639-1 code the models list uses.
func languageName(code string) string {
	names := map[string]string{"en": "English", "ja": "Japanese", "zh": "Chinese", "de": "German", "hi": "Hindi",
		"fr": "French", "ko": "Korean", "pt": "Portuguese", "it": "Italian", "es": "Spanish", "id": "Indonesian",
		"nl": "Dutch", "tr": "Turkish", "fil": "Filipino", "pl": "Polish", "sv": "Swedish", "bg": "Bulgarian",
		"ro": "Romanian", "ar": "Arabic", "cs": "Czech", "el": "Greek", "fi": "Finnish", "hr": "Croatian",
		"ms": "Malay", "sk": "Slovak", "da": "Danish", "ta": "Tamil", "uk": "Ukrainian", "ru": "Russian",
		"hu": "Hungarian", "no": "Norwegian", "vi": "Vietnamese"}
	if n, ok := names[code]; ok {
		return n
	}
	return code
}

// subscription renders key's subscription.
func (s *Server) subscription(key string) map[string]any {
	s.mu.Lock()
	used, limit := s.el.charsUsed[key], s.elCharacterLimitLocked(key)
	slots := elSlotsBase + len(s.elAccountLocked(key).custom)
	s.mu.Unlock()
	now := s.now()
	return map[string]any{
		"tier":                               "creator",
		"character_count":                    used,
		"character_limit":                    limit,
		"max_character_limit_extension":      10000,
		"can_extend_character_limit":         true,
		"allowed_to_extend_character_limit":  true,
		"next_character_count_reset_unix":    now.AddDate(0, 1, 0).Truncate(24 * time.Hour).Unix(),
		"voice_slots_used":                   slots,
		"professional_voice_slots_used":      0,
		"voice_limit":                        elVoiceLimit,
		"voice_add_edit_counter":             0,
		"professional_voice_limit":           1,
		"can_extend_voice_limit":             false,
		"can_use_instant_voice_cloning":      true,
		"can_use_professional_voice_cloning": true,
		"currency":                           "usd",
		"status":                             "active",
		"billing_period":                     "monthly_period",
		"character_refresh_period":           "monthly_period",
		"has_open_invoices":                  false,
		"next_invoice": map[string]any{
			"amount_due_cents":          2200,
			"next_payment_attempt_unix": now.AddDate(0, 1, 0).Unix(),
		},
	}
}

// elSubscription answers GET /v1/user/subscription.
func (s *Server) elSubscription(w http.ResponseWriter, c *call) error {
	writeJSON(w, http.StatusOK, s.subscription(c.key))
	return nil
}

// elUser answers GET /v1/user. Like the real API it echoes the key, which a proxy must strip.
func (s *Server) elUser(w http.ResponseWriter, c *call) error {
	preview := c.key
	if len(preview) > 4 {
		preview = preview[:2] + "…" + preview[len(preview)-4:]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user_id": userID(c.key), "subscription": s.subscription(c.key),
		"subscription_extras": map[string]any{"concurrency": s.maxConcurrentTTS(), "convai_concurrency": 5, "force_logging_disabled": false},
		"is_new_user":         false, "xi_api_key": c.key, "can_use_delayed_payment_methods": false,
		"is_onboarding_completed": true, "is_onboarding_checklist_completed": true, "first_name": "Sandbox",
		"is_api_key_hashed": false, "xi_api_key_preview": preview, "created_at": int64(1_700_000_000),
	})
	return nil
}

// userID derives a stable 28-character user id from key.
func userID(key string) string {
	sum := sha256.Sum256([]byte("user:" + key))
	return hex.EncodeToString(sum[:])[:28]
}

// maxConcurrentTTS is the concurrency limit reported to clients.
func (s *Server) maxConcurrentTTS() int {
	if s.cfg.MaxConcurrentTTS > 0 {
		return s.cfg.MaxConcurrentTTS
	}
	return 10
}
