package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
)

// providerSecret signs the provider webhooks of these tests.
const providerSecret = "hg-webhook-secret"

func hexMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// heygenWebhookSpec is the catalog's HeyGen job webhook block.
func heygenWebhookSpec(t *testing.T) *aiproxy.JobWebhookSpec {
	t.Helper()
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := cat.Service("heygen")
	if !ok || svc.JobWebhook == nil || svc.JobWebhook.TimestampHeader == "" {
		t.Fatal("the catalog's heygen service has no timestamped job webhook")
	}
	return svc.JobWebhook
}

// TestProviderWebhookTimestampWindow checks that a provider webhook's
// timestamp is refused as far ahead of aiproxy's clock as behind it.
func TestProviderWebhookTimestampWindow(t *testing.T) {
	spec := heygenWebhookSpec(t)
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}`)
	for _, tc := range []struct {
		name string
		ts   string
		ok   bool
	}{
		{"now", unix(now), true},
		{"4 minutes old", unix(now.Add(-4 * time.Minute)), true},
		{"4 minutes ahead", unix(now.Add(4 * time.Minute)), true},
		{"exactly 5 minutes old", unix(now.Add(-webhookSkew)), true},
		{"exactly 5 minutes ahead", unix(now.Add(webhookSkew)), true},
		{"6 minutes old", unix(now.Add(-6 * time.Minute)), false},
		{"6 minutes ahead", unix(now.Add(6 * time.Minute)), false},
		{"a day ahead", unix(now.Add(24 * time.Hour)), false},
		{"far future", "9223372036854775807", false},
		{"far past", "-9223372036854775808", false},
		{"not a number", "soon", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hd := http.Header{"Heygen-Signature": {hexMAC(providerSecret, body)}, spec.TimestampHeader: {tc.ts}}
			if err := verifyProvider(spec, providerSecret, hd, body, now); (err == nil) != tc.ok {
				t.Fatalf("verifyProvider(timestamp %s) = %v, want ok %v", tc.ts, err, tc.ok)
			}
		})
	}
}

// TestWebhookSeenKeys pins what a provider webhook is remembered by.
func TestWebhookSeenKeys(t *testing.T) {
	spec := &aiproxy.JobWebhookSpec{EventIDHeader: "Heygen-Event-Id"}
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}`)
	withID := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {"evt-1"}}, body, "v1", "avatar_video.success")
	fresh := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {"evt-2"}}, body, "v1", "avatar_video.success")
	none := webhookSeenKeys(spec, http.Header{}, body, "v1", "avatar_video.success")
	if len(withID) != 2 || withID[1] != "id:evt-1" || withID[0] != fresh[0] || withID[0] != none[0] || len(none) != 1 {
		t.Fatalf("keys %q / %q / %q: want one content key shared by every copy, and the event id", withID, fresh, none)
	}
	// A header event id cannot pose as another webhook's content key.
	posing := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {withID[0]}}, []byte(`{}`), "", "")
	if posing[1] == withID[0] {
		t.Fatalf("an event id header %q collides with a content key", posing[1])
	}
	for _, other := range [][]string{
		webhookSeenKeys(spec, nil, append(body, ' '), "v1", "avatar_video.success"),
		webhookSeenKeys(spec, nil, body, "v2", "avatar_video.success"),
		webhookSeenKeys(spec, nil, body, "v1", "avatar_video.fail"),
	} {
		if other[0] == none[0] {
			t.Fatalf("different content shares the key %s", other[0])
		}
	}
	long := webhookSeenKeys(spec, http.Header{"Heygen-Event-Id": {strings.Repeat("e", 5000)}}, body, "v1", "x")
	if len(long[1]) > maxEventIDKey+10 {
		t.Fatalf("a long event id is kept whole (%d bytes)", len(long[1]))
	}
}

// FuzzProviderWebhook feeds webhook bodies and headers to the signature
// check, which must accept only a correct HMAC of the body.
func FuzzProviderWebhook(f *testing.F) {
	spec := &aiproxy.JobWebhookSpec{SignatureHeaders: []string{"Heygen-Signature", "Signature"},
		TimestampHeader: "Heygen-Timestamp", EventTypePath: "event_type", IDPath: "event_data.video_id"}
	body := `{"event_type":"avatar_video.success","event_data":{"video_id":"v"}}`
	f.Add([]byte(body), hexMAC("s", []byte(body)), "")
	f.Add([]byte(body), "sha256="+hexMAC("s", []byte(body)), "1777626000")
	f.Add([]byte(`{}`), "00", "x")
	now := time.Unix(1777626000, 0)
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		h := http.Header{"Heygen-Signature": {sig}, "Heygen-Timestamp": {ts}}
		err := verifyProvider(spec, "s", h, body, now)
		norm := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(sig)), "sha256=")
		if err == nil && norm != hexMAC("s", body) {
			t.Fatalf("accepted signature %q for %q", sig, body)
		}
	})
}

// TestVerifyProviderSignature checks the HMAC of a provider webhook in
// each signature header it may use: the right secret over the exact body
// passes, in either header and with or without the "sha256=" prefix;
// another secret, another body, a truncated signature or none is refused.
func TestVerifyProviderSignature(t *testing.T) {
	spec := heygenWebhookSpec(t)
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"event_type":"avatar_video.success","event_data":{"video_id":"v1"}}`)
	good := hexMAC(providerSecret, body)
	for _, tc := range []struct {
		name string
		h    http.Header
		ok   bool
	}{
		{"right, first header", http.Header{"Heygen-Signature": {good}}, true},
		{"right, second header", http.Header{"Signature": {good}}, true},
		{"right, prefixed and upper case", http.Header{"Heygen-Signature": {"sha256=" + strings.ToUpper(good)}}, true},
		{"another secret", http.Header{"Heygen-Signature": {hexMAC("not-the-secret", body)}}, false},
		{"another body", http.Header{"Heygen-Signature": {hexMAC(providerSecret, append(body, ' '))}}, false},
		{"truncated", http.Header{"Heygen-Signature": {good[:32]}}, false},
		{"garbage", http.Header{"Heygen-Signature": {"x"}}, false},
		{"none", http.Header{}, false},
	} {
		if err := verifyProvider(spec, providerSecret, tc.h, body, now); (err == nil) != tc.ok {
			t.Errorf("%s: verifyProvider = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
