package sandbox_test

import (
	"regexp"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestElevenLabsAuth(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name   string
		header map[string]string
		status int
		body   string
	}{
		{"missing key", nil, 401, `{"detail":{"status":"needs_authorization","message":"Neither authorization header nor xi-api-key received, please provide one."}}`},
		{"wrong key", map[string]string{"xi-api-key": "nope"}, 401, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`},
		{"bearer is not accepted", map[string]string{"Authorization": "Bearer " + elKey}, 401, `{"detail":{"status":"needs_authorization","message":"Neither authorization header nor xi-api-key received, please provide one."}}`},
		{"good key", map[string]string{"xi-api-key": elKey}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(request{path: "/elevenlabs/v1/models", header: tt.header})
			wantResponse(t, resp, body, tt.status, tt.body)
			if resp.Header.Get("Server") != "uvicorn" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("missing server or CORS headers: %v", resp.Header)
			}
			if tt.status == 200 {
				return
			}
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(resp.Header.Get("X-Trace-Id")) || resp.Header.Get("X-Region") == "" {
				t.Errorf("error headers: x-trace-id %q, x-region %q", resp.Header.Get("X-Trace-Id"), resp.Header.Get("X-Region"))
			}
			if resp.Header.Get("Request-Id") != "" {
				t.Error("an error response carries request-id")
			}
		})
	}
}

// elVoice is the part of VoiceResponseModel the tests read.
type elVoice struct {
	VoiceID                 string            `json:"voice_id"`
	Name                    string            `json:"name"`
	Category                string            `json:"category"`
	Labels                  map[string]string `json:"labels"`
	AvailableForTiers       []string          `json:"available_for_tiers"`
	HighQualityBaseModelIDs []string          `json:"high_quality_base_model_ids"`
	PreviewURL              string            `json:"preview_url"`
}

func TestElevenLabsVoices(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.el("GET", "/v1/voices", "")
	var list struct {
		Voices []elVoice `json:"voices"`
	}
	decode(t, body, &list)
	if resp.StatusCode != 200 || len(list.Voices) < 24 {
		t.Fatalf("GET /v1/voices: %d, %d voices", resp.StatusCode, len(list.Voices))
	}
	var rachel *elVoice
	for i, v := range list.Voices {
		if v.AvailableForTiers == nil || v.HighQualityBaseModelIDs == nil || v.Labels == nil || v.Category == "" {
			t.Fatalf("voice %s lacks a required field", v.VoiceID)
		}
		if v.VoiceID == "21m00Tcm4TlvDq8ikWAM" {
			rachel = &list.Voices[i]
		}
	}
	if rachel == nil || rachel.Name != "Rachel" || rachel.Category != "premade" ||
		rachel.Labels["accent"] != "american" || rachel.Labels["gender"] != "female" {
		t.Fatalf("Rachel = %+v", rachel)
	}
	resp, body = f.el("GET", "/v1/voices/21m00Tcm4TlvDq8ikWAM", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET one voice: %d %s", resp.StatusCode, body)
	}
	resp, body = f.el("GET", "/v1/voices/nosuchvoice", "")
	wantResponse(t, resp, body, 404, `{"detail":{"status":"voice_not_found","message":"A voice with the voice_id nosuchvoice was not found."}}`)
}

func TestElevenLabsVoicePagination(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	type page struct {
		Voices        []elVoice `json:"voices"`
		HasMore       bool      `json:"has_more"`
		TotalCount    int       `json:"total_count"`
		NextPageToken *string   `json:"next_page_token"`
	}
	seen := map[string]bool{}
	path := "/v2/voices?page_size=7"
	pages, total := 0, -1
	for {
		resp, body := f.el("GET", path, "")
		var p page
		decode(t, body, &p)
		if resp.StatusCode != 200 || len(p.Voices) > 7 {
			t.Fatalf("page %d: %d, %d voices", pages, resp.StatusCode, len(p.Voices))
		}
		total = p.TotalCount
		for _, v := range p.Voices {
			if seen[v.VoiceID] {
				t.Fatalf("voice %s on two pages", v.VoiceID)
			}
			seen[v.VoiceID] = true
		}
		pages++
		if p.HasMore != (p.NextPageToken != nil) {
			t.Fatalf("has_more %v but token %v", p.HasMore, p.NextPageToken)
		}
		if !p.HasMore {
			break
		}
		path = "/v2/voices?page_size=7&next_page_token=" + *p.NextPageToken
	}
	if len(seen) != total || pages != (total+6)/7 {
		t.Errorf("walked %d voices on %d pages; total_count %d", len(seen), pages, total)
	}
	tests := []struct {
		name, query string
		status      int
		body        string
	}{
		{"page_size too big", "?page_size=101", 422, `{"detail":[{"type":"less_than_equal","loc":["query","page_size"],"msg":"Input should be less than or equal to 100","input":"101","ctx":{"le":100}}]}`},
		{"page_size zero", "?page_size=0", 422, `{"detail":[{"type":"greater_than_equal","loc":["query","page_size"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}`},
		{"foreign token", "?next_page_token=zzz", 400, `{"detail":{"status":"invalid_page_token","message":"The provided next_page_token is invalid."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.el("GET", "/v2/voices"+tt.query, "")
			wantResponse(t, resp, body, tt.status, tt.body)
		})
	}
	t.Run("search", func(t *testing.T) {
		var p page
		_, body := f.el("GET", "/v2/voices?search=rachel", "")
		decode(t, body, &p)
		if p.TotalCount != 1 || len(p.Voices) != 1 || p.Voices[0].Name != "Rachel" {
			t.Fatalf("search=rachel: %s", truncate(body))
		}
	})
}

func TestElevenLabsModels(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	_, body := f.el("GET", "/v1/models", "")
	var models []map[string]any
	decode(t, body, &models)
	limits := map[string]float64{}
	required := []string{"model_id", "name", "can_be_finetuned", "can_do_text_to_speech", "can_do_voice_conversion",
		"can_use_style", "can_use_speaker_boost", "serves_pro_voices", "token_cost_factor", "description",
		"requires_alpha_access", "max_characters_request_free_user", "max_characters_request_subscribed_user",
		"maximum_text_length_per_request", "languages", "model_rates", "concurrency_group"}
	for _, m := range models {
		for _, field := range required {
			if _, ok := m[field]; !ok {
				t.Fatalf("model %v lacks %s", m["model_id"], field)
			}
		}
		limits[m["model_id"].(string)] = m["maximum_text_length_per_request"].(float64)
	}
	want := map[string]float64{"eleven_multilingual_v2": 10000, "eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000, "eleven_v3": 3000}
	for id, limit := range want {
		if limits[id] != limit {
			t.Errorf("%s limit = %v, want %v", id, limits[id], limit)
		}
	}
}

func TestElevenLabsUser(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.el("GET", "/v1/user", "")
	var user struct {
		UserID       string         `json:"user_id"`
		Subscription map[string]any `json:"subscription"`
	}
	decode(t, body, &user)
	if resp.StatusCode != 200 || user.UserID == "" || user.Subscription["tier"] == nil {
		t.Fatalf("GET /v1/user: %d %s", resp.StatusCode, truncate(body))
	}
}
