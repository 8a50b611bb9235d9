package main

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestRunningCapsTakeTheConcurrencyWeights checks that the orgs' weights
// reach the credential caps of running jobs, and only those.
func TestRunningCapsTakeTheConcurrencyWeights(t *testing.T) {
	f := jobFlags{caps: []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Max: 3}, {Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 10}}}
	w := f.weighted(map[string]int{"acme": 2})
	if w.caps[0].Shares != nil || w.caps[1].Shares.Weight("acme") != 2 || w.caps[1].Shares.Weight("beta") != 1 {
		t.Fatalf("weighted caps = %+v", w.caps)
	}
	if f.caps[1].Shares != nil {
		t.Fatal("weighted changed the flags it was given")
	}
	if same := f.weighted(nil); same.caps[1].Shares != nil {
		t.Fatalf("no weights gave shares %+v", same.caps[1].Shares)
	}
}
