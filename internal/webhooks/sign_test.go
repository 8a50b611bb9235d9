package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifyTimestampWindow checks the receivers' helper both ways.
func TestVerifyTimestampWindow(t *testing.T) {
	const secret = "whsec_test"
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1"}`)
	signed := func(ts time.Time) http.Header {
		return http.Header{HeaderTimestamp: {unix(ts)}, HeaderSignature: {Sign(secret, ts, body)}}
	}
	for _, tc := range []struct {
		name      string
		ts        time.Time
		tolerance time.Duration
		ok        bool
	}{
		{"now", now, time.Minute, true},
		{"inside, old", now.Add(-59 * time.Second), time.Minute, true},
		{"inside, ahead", now.Add(59 * time.Second), time.Minute, true},
		{"edge, old", now.Add(-time.Minute), time.Minute, true},
		{"edge, ahead", now.Add(time.Minute), time.Minute, true},
		{"outside, old", now.Add(-61 * time.Second), time.Minute, false},
		{"outside, ahead", now.Add(61 * time.Second), time.Minute, false},
		{"a year ahead", now.AddDate(1, 0, 0), time.Hour, false},
		{"default tolerance, 4m ahead", now.Add(4 * time.Minute), 0, true},
		{"default tolerance, 6m ahead", now.Add(6 * time.Minute), 0, false},
		{"default tolerance, 6m old", now.Add(-6 * time.Minute), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(secret, signed(tc.ts), body, now, tc.tolerance); (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
	// A timestamp changed after signing fails on the signature, not the clock.
	hd := signed(now)
	hd.Set(HeaderTimestamp, unix(now.Add(time.Second)))
	if err := Verify(secret, hd, body, now, time.Minute); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("re-dated webhook: %v", err)
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
