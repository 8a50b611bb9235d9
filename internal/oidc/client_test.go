package oidc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/egress"
)

// TestKeySetBodyIsCapped checks that a key set larger than the cap is not
// read whole and not used.
func TestKeySetBodyIsCapped(t *testing.T) {
	clk := newClock()
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"keys":[],"pad":"%s"}`, strings.Repeat("x", maxBodyBytes))
	}))
	t.Cleanup(huge.Close)
	ks := newKeySet(ti.URL, huge.URL, defaultAlgorithms, httpClient(nil, true), clk.Now, DefaultRefetchCooldown, slog.New(slog.DiscardHandler))
	if _, err := ks.fetch(t.Context()); !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("fetch of an oversized key set: %v, want errBodyTooLarge", err)
	}
	// Just under the cap, the same server's set is read (and refused for
	// holding no key, not for its size).
	small := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"keys":[],"pad":"%s"}`, strings.Repeat("x", maxBodyBytes-30))
	}))
	t.Cleanup(small.Close)
	ks.url = small.URL
	if _, err := ks.fetch(t.Context()); err == nil || errors.Is(err, errBodyTooLarge) {
		t.Fatalf("fetch of a key set under the cap: %v, want the empty set refused", err)
	}
}

// TestDefaultClientIsGuarded checks that, unless insecure issuers are
// allowed, fetches go through the egress guard: the default client does
// not connect to loopback.
func TestDefaultClientIsGuarded(t *testing.T) {
	key := newECKey(t, "k1")
	ti := newTestIssuer(t, key)
	ks := newKeySet(ti.URL, ti.URL+"/keys", defaultAlgorithms, httpClient(nil, false), time.Now, DefaultRefetchCooldown, slog.New(slog.DiscardHandler))
	_, err := ks.fetch(t.Context())
	var blocked egress.BlockedError
	if !errors.As(err, &blocked) || ti.keyFetches.Load() != 0 {
		t.Fatalf("guarded fetch from loopback: %v, want the guard's refusal", err)
	}
}
