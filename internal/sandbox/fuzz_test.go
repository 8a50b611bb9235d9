package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// FuzzRequestBodies feeds arbitrary bodies to the endpoints that parse JSON. Whatever comes
// in, the sandbox must answer like the provider would (never a 5xx, never a panic).
func FuzzRequestBodies(f *testing.F) {
	seeds := []string{
		`{"video_inputs":[{"character":{"type":"avatar","avatar_id":"Abigail_expressive_2024112501","avatar_style":"normal"},"voice":{"type":"text","input_text":"Hi","voice_id":"f38a635bee7a4d1f9b0a654a31d050d2"}}],"dimension":{"width":1280,"height":720}}`,
		`{"video_inputs":[{"voice":{"type":"silence","duration":2}}]}`,
		`{"variables":{"script":{"name":"script","type":"text","properties":{"content":"Hello"}}}}`,
		`{"text":"hi","voice_settings":{"stability":null,"similarity_boost":2}}`,
		`{"text":"hi","model_id":"eleven_v3","seed":1.5}`,
		`{"text":`, `[]`, `null`, ``,
	}
	paths := []string{
		"/heygen/v2/video/generate",
		"/heygen/v2/template/22a48da453ef4c014a6a60d827a02f0b/generate",
		"/heygen/v1/webhook/endpoint.add",
		"/elevenlabs/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
		"/elevenlabs/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/with-timestamps",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	sb := sandbox.New(sandbox.Config{HeyGenKeys: []string{hgKey}, ElevenLabsKeys: []string{elKey}, StreamChunkDelay: -1})
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("X-Api-Key", hgKey)
		req.Header.Set("xi-api-key", elKey)
		rec := httptest.NewRecorder()
		sb.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body.String())
		}
		sb.ClearRequests()
	})
}
