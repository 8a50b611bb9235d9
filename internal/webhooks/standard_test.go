package webhooks

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignStandardKnownAnswer checks the signature against the example the
// Standard Webhooks scheme publishes.
func TestSignStandardKnownAnswer(t *testing.T) {
	got, err := SignStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("SignStandard = %q, %v; want %q", got, err, want)
	}
}

func TestVerifyStandard(t *testing.T) {
	secret := newSecret()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1"}`)
	signed := func(id string, ts time.Time, sigs ...string) http.Header {
		sig, err := SignStandard(secret, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{HeaderWebhookID: {id}, HeaderWebhookTimestamp: {unix(ts)},
			HeaderWebhookSignature: {strings.Join(append(sigs, sig), " ")}}
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		ok     bool
	}{
		{"now", signed("evt_1", now), string(body), true},
		{"one of several signatures", signed("evt_1", now, "v1,bm90IHRoaXMgb25l", "v2,abc"), string(body), true},
		{"4m ahead", signed("evt_1", now.Add(4*time.Minute)), string(body), true},
		{"6m old", signed("evt_1", now.Add(-6*time.Minute)), string(body), false},
		{"6m ahead", signed("evt_1", now.Add(6*time.Minute)), string(body), false},
		{"body changed", signed("evt_1", now), string(body) + " ", false},
		{"no id", http.Header{HeaderWebhookTimestamp: {unix(now)}}, string(body), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyStandard(secret, tc.header, []byte(tc.body), now, 0); (err == nil) != tc.ok {
				t.Fatalf("VerifyStandard = %v, want ok %v", err, tc.ok)
			}
		})
	}
	// The id is signed: the same signature under another id fails.
	hd := signed("evt_1", now)
	hd.Set(HeaderWebhookID, "evt_2")
	if err := VerifyStandard(secret, hd, body, now, 0); err == nil {
		t.Fatal("a signature verified under another message id")
	}
}

// TestSecretsReadByStandardLibraries checks that new secrets are the
// scheme's whsec_ and padded standard base64 of 32 bytes, and that a
// secret aiproxy issued before, unpadded base64url, signs with the same key
// as its standard-base64 spelling, which receivers can convert it to.
func TestSecretsReadByStandardLibraries(t *testing.T) {
	s := newSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("newSecret() = %q: %v, %d bytes", s, err, len(key))
	}
	old := "whsec_" + base64.RawURLEncoding.EncodeToString(key)
	now := time.Unix(1_800_000_000, 0)
	a, err1 := SignStandard(old, "evt_1", now, []byte("{}"))
	b, err2 := SignStandard(s, "evt_1", now, []byte("{}"))
	if err1 != nil || err2 != nil || a != b {
		t.Fatalf("an old base64url secret signs %q (%v), its standard spelling %q (%v)", a, err1, b, err2)
	}
	if _, err := SignStandard("whsec_not*base64", "evt_1", now, nil); err == nil {
		t.Fatal("a secret that is not base64 signed")
	}
}
