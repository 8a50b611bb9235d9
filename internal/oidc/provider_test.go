package oidc

import (
	"testing"
	"time"
)

// TestIssuerDownAtStartup checks that a Verifier starts while its issuer
// is down, refuses that issuer's tokens, retries discovery after a
// backoff (not on every token), and verifies once the issuer is back.
func TestIssuerDownAtStartup(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	ti.down.Store(true)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))

	for range 5 {
		_, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil)))
		wantRefused(t, err, errUnavailable)
	}
	if n := ti.discoveries.Load(); n != 1 {
		t.Fatalf("%d discoveries within the backoff, want 1", n)
	}
	ti.down.Store(false)
	_, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errUnavailable) // still within the backoff
	clk.Advance(discoveryBackoffMin)
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatalf("after the backoff, with the issuer back: %v", err)
	}
	if n := ti.discoveries.Load(); n != 2 {
		t.Fatalf("%d discoveries, want 2", n)
	}
}

// TestDiscoveryBackoffGrows checks the backoff doubles while discovery
// keeps failing, up to its maximum.
func TestDiscoveryBackoffGrows(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	ti.down.Store(true)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	tok := sign(t, key, ti.claimsAt(clk.Now(), map[string]any{"exp": clk.Now().Add(time.Hour).Unix(), "iat": clk.Now().Unix()}))
	wait := discoveryBackoffMin
	for i := 1; i <= 12; i++ {
		_, _ = v.Verify(t.Context(), "acme", tok)
		if n := ti.discoveries.Load(); int(n) != i {
			t.Fatalf("attempt %d: %d discoveries", i, n)
		}
		clk.Advance(wait - time.Millisecond)
		_, _ = v.Verify(t.Context(), "acme", tok)
		if n := ti.discoveries.Load(); int(n) != i {
			t.Fatalf("attempt %d: discovery retried before its backoff of %s", i, wait)
		}
		clk.Advance(time.Millisecond)
		wait = min(2*wait, discoveryBackoffMax)
	}
	if wait != discoveryBackoffMax {
		t.Fatalf("backoff reached %s, want its maximum %s", wait, discoveryBackoffMax)
	}
}

// TestJWKSURLSkipsDiscovery checks an issuer whose key set URL is
// configured: no discovery document is read.
func TestJWKSURLSkipsDiscovery(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	cfg := ti.issuerFor("acme")
	cfg.JWKSURL = ti.URL + "/keys"
	v := newTestVerifier(t, clk, cfg)
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	if d, k := ti.discoveries.Load(), ti.keyFetches.Load(); d != 0 || k != 1 {
		t.Fatalf("discoveries %d, key fetches %d; want 0 and 1", d, k)
	}
}

// TestDiscoveryMustNameTheIssuer checks go-oidc's check that the
// discovery document names the issuer configured.
func TestDiscoveryMustNameTheIssuer(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	ti.setDiscoveredIssuer("https://idp.example")
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	_, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errUnavailable)
	if ti.keyFetches.Load() != 0 {
		t.Fatal("the key set was fetched after a discovery for another issuer")
	}
}
