package livesession

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzMintBody checks that any body a client sends is either refused or
// asks the provider for a length between a second and the maximum.
func FuzzMintBody(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `[1]`, `{"max_session_duration":7200}`, `{"max_session_duration":0.5}`,
		`{"max_session_duration":"60"}`, `{"max_session_duration":-3}`, `{"max_session_duration":1e400}`, `{"max_session_duration":90}`, `{"max_session_duration":1e300}`} {
		f.Add(s)
	}
	s := New(Config{Store: nil, MaxSession: 10 * time.Minute})
	f.Fuzz(func(t *testing.T, raw string) {
		body, err := objectBody(json.RawMessage(raw))
		if err != nil {
			return
		}
		if d := s.clamp(body); d < time.Second || d > 10*time.Minute {
			t.Fatalf("clamp(%s) = %v", raw, d)
		}
	})
}
