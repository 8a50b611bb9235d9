package budget_test

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var liveMint = &aiproxy.Endpoint{Slug: "create-session-token"}

func TestQuoteLiveSession(t *testing.T) {
	p := defaultPricer(t)
	for _, c := range []struct {
		body   string
		micros int64
		free   bool
	}{
		// FULL: 2 credits a minute at 95,000 micro-USD a credit, per started minute.
		{`{"mode":"FULL","max_session_duration":600}`, 10 * 2 * 95_000, false},
		{`{"mode":"FULL","max_session_duration":61}`, 2 * 2 * 95_000, false},
		// LITE (and its old name CUSTOM): 1 credit a minute.
		{`{"mode":"LITE","max_session_duration":600}`, 10 * 95_000, false},
		{`{"mode":"CUSTOM","max_session_duration":600}`, 10 * 95_000, false},
		// No length: the table's 30 minutes; no mode: FULL.
		{`{}`, 30 * 2 * 95_000, false},
		// Longer than the table's cap: held at the cap.
		{`{"mode":"FULL","max_session_duration":100000}`, 30 * 2 * 95_000, false},
		// The provider's sandbox spends no credits.
		{`{"mode":"FULL","is_sandbox":true}`, 0, true},
	} {
		q := quote(t, p, "liveavatar", liveMint, c.body)
		if q.Micros != c.micros || q.Free != c.free {
			t.Errorf("%s: %d micros (free %v); want %d (free %v)", c.body, q.Micros, q.Free, c.micros, c.free)
		}
		if !c.free && q.SessionPath != "data.session_id" {
			t.Errorf("%s: session path %q", c.body, q.SessionPath)
		}
	}
}
