package oidc

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKeyRotation follows a provider that rotates to a new key: a token
// signed by the new key is refused until the cooldown allows a refetch,
// then accepted after exactly one; a token signed by the rotated-out key
// is refused from then on, without another fetch.
func TestKeyRotation(t *testing.T) {
	clk := newClock()
	oldKey, newKey := newECKey(t, "2026-01"), newECKey(t, "2026-02")
	ti := newTestIssuer(t, oldKey)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))

	if _, err := v.Verify(t.Context(), "acme", sign(t, oldKey, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	if n := ti.keyFetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times, want 1", n)
	}
	ti.publish(newKey)

	// Within the cooldown of the first fetch, the new key is not fetched.
	clk.Advance(DefaultRefetchCooldown - time.Second)
	_, err := v.Verify(t.Context(), "acme", sign(t, newKey, ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errSignature)
	if n := ti.keyFetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times within the cooldown, want 1", n)
	}

	clk.Advance(time.Second)
	if _, err := v.Verify(t.Context(), "acme", sign(t, newKey, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatalf("the new key's token after the cooldown: %v", err)
	}
	if n := ti.keyFetches.Load(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
	_, err = v.Verify(t.Context(), "acme", sign(t, oldKey, ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errSignature)
	if n := ti.keyFetches.Load(); n != 2 {
		t.Fatalf("key set fetched %d times, want still 2", n)
	}
}

// TestUnknownKeyRefetchIsRateLimited sends many tokens with made-up key
// ids, at once and over time: the key set is fetched at most once per
// cooldown, and the genuine key keeps verifying meanwhile.
func TestUnknownKeyRefetchIsRateLimited(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "real")
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	forged := func(i int) string {
		k := key
		k.kid = fmt.Sprintf("made-up-%d", i)
		return sign(t, k, ti.claimsAt(clk.Now(), nil))
	}
	for round := 1; round <= 3; round++ {
		clk.Advance(DefaultRefetchCooldown)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				_, err := v.Verify(t.Context(), "acme", forged(round*100+i))
				if err == nil {
					t.Error("a token with a made-up kid was accepted")
				}
			})
		}
		wg.Wait()
		for i := range 20 {
			clk.Advance(time.Second / 2) // still within this round's cooldown
			if _, err := v.Verify(t.Context(), "acme", forged(round*1000+i)); err == nil {
				t.Fatal("a token with a made-up kid was accepted")
			}
		}
		if n := ti.keyFetches.Load(); int(n) != 1+round {
			t.Fatalf("after round %d: key set fetched %d times, want %d (one per cooldown)", round, n, 1+round)
		}
		if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
			t.Fatalf("the real key stopped verifying: %v", err)
		}
	}
}

// TestIssuerGoesDown checks that the last good keys are kept: once the
// issuer's server is gone, tokens signed with a cached key still verify,
// even after the cache's age has run out and a refetch failed.
func TestIssuerGoesDown(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	ti.srv.Close()
	for _, step := range []time.Duration{time.Minute, keyMaxAge, DefaultRefetchCooldown, keyMaxAge} {
		clk.Advance(step)
		if _, err := v.Verify(t.Context(), "acme", sign(t, key, ti.claimsAt(clk.Now(), nil))); err != nil {
			t.Fatalf("after %s with the issuer down: %v", step, err)
		}
	}
	// A key the issuer never published still fails.
	_, err := v.Verify(t.Context(), "acme", sign(t, newECKey(t, "k2"), ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errSignature)
}

// TestOldKeysAreRefetched checks the cache's age: a key the issuer
// withdrew stops verifying at the first token after keyMaxAge, even when
// every token names a cached key.
func TestOldKeysAreRefetched(t *testing.T) {
	clk := newClock()
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	ti := newTestIssuer(t, k1, k2)
	v := newTestVerifier(t, clk, ti.issuerFor("acme"))
	if _, err := v.Verify(t.Context(), "acme", sign(t, k1, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	ti.publish(k2) // k1 withdrawn, say compromised
	clk.Advance(keyMaxAge - time.Second)
	if _, err := v.Verify(t.Context(), "acme", sign(t, k1, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatalf("within the cache's age: %v", err)
	}
	clk.Advance(time.Second)
	_, err := v.Verify(t.Context(), "acme", sign(t, k1, ti.claimsAt(clk.Now(), nil)))
	wantRefused(t, err, errSignature)
	if _, err := v.Verify(t.Context(), "acme", sign(t, k2, ti.claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	if n := ti.keyFetches.Load(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
}

func TestParseKeySet(t *testing.T) {
	ec := newECKey(t, "ec")
	ti := newTestIssuer(t, ec)
	resp, err := http.Get(ti.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var published struct{ Keys []map[string]any }
	if err := jsonDecode(resp.Body, &published); err != nil {
		t.Fatal(err)
	}
	ecJWK := published.Keys[0]
	withField := func(k, v string) map[string]any {
		m := map[string]any{}
		for kk, vv := range ecJWK {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	secret := map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "alg": "HS256"}
	secretNoAlg := map[string]any{"kty": "oct", "kid": "hmac2", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}
	for _, tc := range []struct {
		name string
		keys []any
		kids []string // "" means the set is refused
	}{
		{"one EC key", []any{ecJWK}, []string{"ec"}},
		{"secret keys are skipped", []any{secret, secretNoAlg, ecJWK}, []string{"ec"}},
		{"only secret keys", []any{secret, secretNoAlg}, nil},
		{"encryption key skipped", []any{withField("use", "enc")}, nil},
		{"algorithm not accepted", []any{withField("alg", "ES384")}, nil},
		{"unknown key type skipped", []any{map[string]any{"kty": "OKP", "crv": "X448", "x": "AA"}, ecJWK}, []string{"ec"}},
		{"empty", []any{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mustJSON(t, map[string]any{"keys": tc.keys})
			keys, err := parseKeySet(body, defaultAlgorithms)
			if tc.kids == nil {
				if err == nil {
					t.Fatalf("set accepted with %d keys", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != strings.Join(tc.kids, ",") {
				t.Fatalf("kept %v, want %v", kids, tc.kids)
			}
		})
	}
}
