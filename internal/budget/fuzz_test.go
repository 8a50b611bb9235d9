package budget_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
)

// FuzzQuote prices client bodies of every priced endpoint: the pricer
// reads untrusted JSON, and must never panic, never price below zero or
// past the cap, and hold a video at least a second's price.
func FuzzQuote(f *testing.F) {
	for _, seed := range []string{
		`{"text":"Hello, world"}`, `{"text":"Hello","model_id":"eleven_flash_v2_5"}`, `{}`, `null`, `[]`, `"x"`,
		`{"video_inputs":[{"character":{"type":"talking_photo"},"voice":{"type":"text","input_text":"hi"}}]}`,
		`{"video_inputs":[{"voice":{"type":"silence","duration":1e308}}]}`,
		`{"video_inputs":[{"voice":{"type":"silence","duration":-5}}]}`,
		`{"variables":{"a":{"type":"text","properties":{"content":"x"}}}}`,
		`{"type":"cinematic_avatar","duration":1e400}`, `{"type":"studio","scenes":[{"script":"x"},7,null]}`,
		`{"type":"avatar","engine":{"type":"avatar_v"},"script":"` + strings.Repeat("é", 100) + `"}`,
		`{"test":true}`,
	} {
		f.Add(seed)
	}
	p, err := budget.NewPricer(budget.DefaultPrices())
	if err != nil {
		f.Fatal(err)
	}
	eps := []struct {
		service string
		ep      *aiproxy.Endpoint
	}{{"elevenlabs", tts}, {"heygen", v2Generate}, {"heygen", v2Template}, {"heygen", v2Photo}, {"heygen", v3Create}}
	f.Fuzz(func(t *testing.T, body string) {
		for _, e := range eps {
			q, err := p.Quote(budget.Call{Org: "acme", Service: e.service, Endpoint: e.ep, Body: []byte(body)})
			if err != nil {
				if !errors.Is(err, budget.ErrUnpriced) {
					t.Fatalf("%s: Quote(%q) = %v", e.ep.Slug, body, err)
				}
				continue
			}
			if q.Micros < 0 || q.Micros > aiproxy.MaxBudgetMicros {
				t.Fatalf("%s: Quote(%q) = %d micros", e.ep.Slug, body, q.Micros)
			}
			if q.Unit == budget.UnitSecond && !q.Free && (q.Units < 1 || q.Units > 1800 || q.Micros <= 0) {
				t.Fatalf("%s: Quote(%q) = %v s, %d micros; want 1 to 1800 s, priced", e.ep.Slug, body, q.Units, q.Micros)
			}
			if got := q.JobActual([]byte(body)); got < 0 || got > aiproxy.MaxBudgetMicros {
				t.Fatalf("%s: JobActual(%q) = %d", e.ep.Slug, body, got)
			}
		}
	})
}
