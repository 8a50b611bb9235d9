package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signingKey is a private key with its kid and algorithm.
type signingKey struct {
	priv crypto.PrivateKey // an HMAC secret ([]byte) for the refused-algorithm tests
	pub  crypto.PublicKey
	kid  string
	alg  string
}

func newECKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, pub: priv.Public(), kid: kid, alg: "ES256"}
}

func newRSAKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, pub: priv.Public(), kid: kid, alg: "RS256"}
}

// testIssuer is an in-process identity provider (go-oidc's oidctest) on
// 127.0.0.1 that counts its discovery and key set requests and can be
// taken down.
type testIssuer struct {
	URL string
	srv *httptest.Server

	mu   sync.Mutex
	op   oidctest.Server
	keys []signingKey

	discoveries atomic.Int32
	keyFetches  atomic.Int32
	down        atomic.Bool
}

func newTestIssuer(t *testing.T, keys ...signingKey) *testIssuer {
	t.Helper()
	ti := &testIssuer{}
	ti.srv = httptest.NewServer(http.HandlerFunc(ti.serve))
	t.Cleanup(ti.srv.Close)
	ti.URL = ti.srv.URL
	ti.op.SetIssuer(ti.URL)
	ti.op.Algorithms = []string{"RS256", "ES256"}
	ti.publish(keys...)
	return ti
}

func (ti *testIssuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		ti.discoveries.Add(1)
	case "/keys":
		ti.keyFetches.Add(1)
	}
	if ti.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.op.ServeHTTP(w, r)
}

// publish replaces the keys the issuer's key set publishes (a rotation).
func (ti *testIssuer) publish(keys ...signingKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.keys = keys
	ti.op.PublicKeys = nil
	for _, k := range keys {
		ti.op.PublicKeys = append(ti.op.PublicKeys, oidctest.PublicKey{PublicKey: k.pub, KeyID: k.kid, Algorithm: k.alg})
	}
}

// setDiscoveredIssuer changes the issuer the discovery document names.
func (ti *testIssuer) setDiscoveredIssuer(iss string) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.op.SetIssuer(iss)
}

// sign signs claims with a key.
func sign(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return oidctest.SignIDToken(k.priv, k.kid, k.alg, string(b))
}

// claimsAt are valid claims for ti at now, with the changes applied
// (a nil value removes a claim).
func (ti *testIssuer) claimsAt(now time.Time, changes map[string]any) map[string]any {
	c := map[string]any{
		"iss": ti.URL, "aud": "aiproxy", "sub": "u-123", "email": "ada@school.example",
		"groups": []string{"staff", "teachers"},
		"iat":    now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// issuerFor is a minimal configuration for ti serving org.
func (ti *testIssuer) issuerFor(org string) Issuer {
	return Issuer{Org: org, URL: ti.URL, Audiences: []string{"aiproxy"}}
}

// newTestVerifier is a Verifier on loopback issuers with a fake clock.
func newTestVerifier(t *testing.T, clk *fakeClock, issuers ...Issuer) *Verifier {
	t.Helper()
	v, err := New(issuers, Options{AllowInsecure: true, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// wantRefused fails unless err is the contract's "Invalid token." with
// cause in its chain.
func wantRefused(t *testing.T, err error, cause error) {
	t.Helper()
	var e *aiproxy.Error
	if !errors.As(err, &e) || e.Code != aiproxy.CodeUnauthenticated || e.Message != aiproxy.MsgInvalidToken {
		t.Fatalf("err = %v, want unauthenticated %q", err, aiproxy.MsgInvalidToken)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the cause %v", err, cause)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
