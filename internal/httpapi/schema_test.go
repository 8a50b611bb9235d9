package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/proxy"
)

// TestRequestSchema sends bodies that break the catalog's request_schema
// through the real server: each is the contract's 400 with code invalid
// and a detail naming the bad field, and the sandbox provider never hears
// of it. A valid body goes through.
func TestRequestSchema(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{})
	scene := func(voice string) string {
		return `{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},"voice":` + voice + `}`
	}
	text := func(s string) string {
		return `{"type":"text","input_text":"` + s + `","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}`
	}
	tests := []struct {
		name, service, action, envelope, detail string
	}{
		{"no body", "heygen", "generate-video", `{}`,
			"Invalid request body: this action needs a JSON body."},
		{"no video_inputs", "heygen", "generate-video", `{"body":{"test":true}}`,
			"Invalid request body: /video_inputs: is required"},
		{"empty video_inputs", "heygen", "generate-video", `{"body":{"video_inputs":[]}}`,
			"Invalid request body: /video_inputs: must have at least 1 items, but has 0"},
		{"script too long", "heygen", "generate-video", `{"body":{"video_inputs":[` + scene(text(strings.Repeat("a", 5001))) + `]}}`,
			"Invalid request body: /video_inputs/0/voice/input_text: length must be <= 5000, but got 5001"},
		{"avatar without style", "heygen", "generate-video",
			`{"body":{"video_inputs":[{"character":{"type":"avatar","avatar_id":"a"},"voice":` + text("hi") + `}]}}`,
			"Invalid request body: /video_inputs/0/character/avatar_style: is required"},
		{"unknown voice type", "heygen", "generate-video", `{"body":{"video_inputs":[` + scene(`{"type":"song"}`) + `]}}`,
			"Invalid request body: /video_inputs/0/voice/type: value must be one of 'text', 'audio', 'silence'"},
		{"text voice without voice_id", "heygen", "generate-video", `{"body":{"video_inputs":[` + scene(`{"type":"text","input_text":"hi"}`) + `]}}`,
			"Invalid request body: /video_inputs/0/voice/voice_id: is required"},
		{"dimension too small", "heygen", "generate-video",
			`{"body":{"video_inputs":[` + scene(text("hi")) + `],"dimension":{"width":64,"height":720}}}`,
			"Invalid request body: /dimension/width: must be >= 128, but got 64"},
		{"test not a bool", "heygen", "generate-video", `{"body":{"test":"yes","video_inputs":[` + scene(text("hi")) + `]}}`,
			"Invalid request body: /test: must be boolean, not string"},
		{"template without variables", "heygen", "generate-template-video", `{"path_params":{"template_id":"t"},"body":{"test":true}}`,
			"Invalid request body: /variables: is required"},
		{"tts without text", "elevenlabs", "tts", `{"path_params":{"voice_id":"v"},"body":{"model_id":"eleven_multilingual_v2"}}`,
			"Invalid request body: /text: is required"},
		{"tts stability above 1", "elevenlabs", "tts-stream",
			`{"path_params":{"voice_id":"v"},"body":{"text":"hi","voice_settings":{"stability":1.5}}}`,
			"Invalid request body: /voice_settings/stability: must be <= 1, but got 1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.sandbox.ClearRequests()
			status, _, body := e.send(e.invokeRaw("acme", tc.service, tc.action, "application/json", strings.NewReader(tc.envelope)))
			wantSchemaError(t, status, body, tc.detail)
			if n := len(e.sandbox.Requests()); n != 0 {
				t.Fatalf("the provider was called %d times", n)
			}
		})
	}

	t.Run("native passthrough", func(t *testing.T) {
		e.sandbox.ClearRequests()
		req, _ := http.NewRequest("POST", e.url+base+"/orgs/acme/native/heygen/v2/video/generate",
			strings.NewReader(`{"video_inputs":[{"voice":{"type":"text","input_text":"hi"}}]}`))
		req.Header.Set("Content-Type", "application/json")
		status, _, body := e.send(req)
		wantSchemaError(t, status, body, "Invalid request body: /video_inputs/0/voice/voice_id: is required")
		if n := len(e.sandbox.Requests()); n != 0 {
			t.Fatalf("the provider was called %d times", n)
		}
	})

	t.Run("valid body with extra provider fields", func(t *testing.T) {
		e.sandbox.ClearRequests()
		env := `{"body":{"test":true,"title":"t","some_new_field":{"x":1},"video_inputs":[` + scene(text("Hello")) +
			`],"dimension":{"width":1280,"height":720}}}`
		status, _, body := e.send(e.invokeRaw("acme", "heygen", "generate-video", "application/json", strings.NewReader(env)))
		if status != 200 {
			t.Fatalf("valid body = %d %s", status, body)
		}
		if n := len(e.sandbox.Requests()); n != 1 {
			t.Fatalf("the provider was called %d times, want 1", n)
		}
	})
}

func wantSchemaError(t *testing.T, status int, body []byte, detail string) {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("status %d, body %.200q is not a flat JSON object", status, body)
	}
	if status != 400 || got["code"] != "invalid" || got["detail"] != detail || len(got) != 2 {
		t.Fatalf("got %d %s, want 400 invalid %q", status, body, detail)
	}
}
