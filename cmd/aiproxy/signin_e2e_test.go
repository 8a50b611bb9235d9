package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/go-jose/go-jose/v4"
)

// TestSignInWithTheOrgsIdentityProvider runs the demo with an identity
// provider (go-oidc's in-process test server on 127.0.0.1) trusted for
// the demo org: its JWTs sign users in as members who own what they make,
// an admin group's member manages the org, and a JWT with the wrong
// audience, an HMAC signature, another org, an unknown key, an expiry or
// a lifetime too long is "Invalid token.". (Key rotation, with the key
// set's refetch cooldown on an injected clock, is internal/oidc's
// TestKeyRotation.)
func TestSignInWithTheOrgsIdentityProvider(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: gooidc.RS256}}}
	srv := httptest.NewServer(idp)
	t.Cleanup(srv.Close)
	idp.SetIssuer(srv.URL)
	cfg := filepath.Join(t.TempDir(), "issuers.json")
	file := fmt.Sprintf(`{"issuers": [{"org": "demo", "issuer": %q, "audiences": ["aiproxy"], "admin_groups": ["staff-admins"]}]}`, srv.URL)
	if err := os.WriteFile(cfg, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, "--oidc-config", cfg, "--oidc-insecure")

	sign := func(k *rsa.PrivateKey, kid, claims string) string {
		return oidctest.SignIDToken(k, kid, gooidc.RS256, claims)
	}
	claims := func(sub, aud string, groups ...string) string {
		now := time.Now().Unix()
		g, _ := json.Marshal(groups)
		return fmt.Sprintf(`{"iss": %q, "aud": %q, "sub": %q, "iat": %d, "exp": %d, "groups": %s}`, srv.URL, aud, sub, now, now+600, g)
	}
	sam, tia := sign(key, "k1", claims("sam", "aiproxy")), sign(key, "k1", claims("tia", "aiproxy"))
	status, _, body := d.as("GET", "/api/ai-proxy/orgs/demo/me/", "Bearer "+sam, nil)
	if status != 200 || !strings.Contains(string(body), `"kind":"sign_in"`) || !strings.Contains(string(body), `"user":"sam"`) ||
		!strings.Contains(string(body), `"member":true`) {
		t.Fatalf("me as sam = %d %s", status, body)
	}
	status, _, body = d.as("POST", invokePath("demo", "heygen", "generate-video"), "Bearer "+sam, videoBody("Sam's video."))
	vid := videoID(t, status, body)
	for who, want := range map[string]int{sam: 200, tia: 404} {
		if status, _, body := d.as("POST", invokePath("demo", "heygen", "video-status"), "Bearer "+who,
			map[string]any{"query": map[string]any{"video_id": vid}}); status != want {
			t.Errorf("video-status of sam's video = %d %.200s, want %d", status, body, want)
		}
	}
	if status, _, _ := d.as("GET", "/api/ai-proxy/orgs/demo/keys/", "Bearer "+sam, nil); status != 403 {
		t.Errorf("a member listing keys = %d", status)
	}
	admin := sign(key, "k1", claims("ada", "aiproxy", "staff-admins"))
	if status, _, body := d.as("GET", "/api/ai-proxy/orgs/demo/keys/", "Bearer "+admin, nil); status != 200 {
		t.Errorf("an admin group's member listing keys = %d %s", status, body)
	}

	hmac, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a shared secret of 32 bytes long")},
		(&jose.SignerOptions{}).WithHeader("kid", "k1"))
	hsSigned, _ := hmac.Sign([]byte(claims("sam", "aiproxy")))
	hs, _ := hsSigned.CompactSerialize()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	refused := map[string]string{
		"wrong audience":  sign(key, "k1", claims("sam", "another-app")),
		"HS256":           hs,
		"unknown key":     sign(other, "k3", claims("sam", "aiproxy")),
		"expired":         sign(key, "k1", fmt.Sprintf(`{"iss": %q, "aud": "aiproxy", "sub": "sam", "exp": %d}`, srv.URL, time.Now().Add(-time.Hour).Unix())),
		"another org's":   sam, // used on org "other" below
		"no subject":      sign(key, "k1", fmt.Sprintf(`{"iss": %q, "aud": "aiproxy", "exp": %d}`, srv.URL, time.Now().Add(time.Minute).Unix())),
		"lifetime of 1 d": sign(key, "k1", fmt.Sprintf(`{"iss": %q, "aud": "aiproxy", "sub": "sam", "exp": %d}`, srv.URL, time.Now().Add(24*time.Hour).Unix())),
	}
	for name, tok := range refused {
		org := "demo"
		if name == "another org's" {
			d.cli("", "org", "create", "other")
			org = "other"
		}
		status, _, body := d.as("GET", "/api/ai-proxy/orgs/"+org+"/me/", "Bearer "+tok, nil)
		if status != 401 || !strings.Contains(string(body), `"Invalid token."`) {
			t.Errorf("%s JWT = %d %s", name, status, body)
		}
	}

}
