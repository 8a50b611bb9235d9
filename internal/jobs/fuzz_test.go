package jobs

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// FuzzLookup feeds provider answers and catalog paths to the JSON path
// reader, which must never panic.
func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"code":100,"data":{"status":"failed","error":{"code":40119,"message":"m","detail":"d"}}}`), "data.error")
	f.Add([]byte(`{"data":{"video_id":"abc"}}`), "data.video_id")
	f.Add([]byte(`[1,{"a":[2,3]}]`), "1.a.0")
	f.Add([]byte(`null`), "a")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		doc, ok := decodeDoc(body)
		if !ok {
			return
		}
		_, _ = lookup(doc, path)
		_ = lookupString(doc, path)
		_ = lookupError(doc, path)
	})
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
