package concurrency

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// burst fires n calls of org at once through p and returns the releases of
// those that got a slot, and how many were refused with a 429. A call that
// got its slot after waiting counts as refused too: an org under its share
// must never wait.
func burst(t *testing.T, p *Policy, org string, n int) (held []func(), refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			start := time.Now()
			release, err := p.Acquire(context.Background(), org, "elevenlabs", aiproxy.SourcePlatform)
			mu.Lock()
			defer mu.Unlock()
			var ae *aiproxy.Error
			switch {
			case err == nil && time.Since(start) < p.QueueTimeout/2:
				held = append(held, release)
			case err == nil:
				t.Errorf("%s waited %v for a slot", org, time.Since(start))
				release()
				refused++
			case errors.As(err, &ae) && ae.Code == aiproxy.CodeRateLimited:
				refused++
			default:
				t.Errorf("Acquire(%s): %v", org, err)
			}
		})
	}
	wg.Wait()
	return held, refused
}

// TestFairShareOfPlatformCredential: three orgs share the platform
// ElevenLabs key's cap of 10. Worked out from aiproxy.Shares:
//
//   - A alone (A and the newcomer's place, W=2): A's share is 5, and the
//     newcomer's 5 stay free, so of A's 10 slow calls 5 run, 5 are refused;
//   - B arrives (A, B, newcomer: W=3): B's share is 3, all free: B's 3
//     calls run at once and its 4th is refused (room for a newcomer, 3,
//     is kept: 5+3+1+3 > 10);
//   - C arrives (W=4): C's share is 2, the last 2 free slots: C's 2 calls
//     run at once, its 3rd is refused (the cap is full).
//
// When B ends one call, the freed slot waits for an org under its share:
// A (holding 5, share 2) cannot take it.
func TestFairShareOfPlatformCredential(t *testing.T) {
	p := &Policy{Rules: []Rule{{Scope: ScopeCredential, Service: "elevenlabs", Max: 10}},
		Sem: NewMemory(), QueueTimeout: 200 * time.Millisecond}
	a, refusedA := burst(t, p, "a", 10)
	if len(a) != 5 || refusedA != 5 {
		t.Fatalf("A alone: %d ran, %d refused; want 5 and 5", len(a), refusedA)
	}
	b, refusedB := burst(t, p, "b", 4)
	if len(b) != 3 || refusedB != 1 {
		t.Fatalf("B: %d ran at once, %d refused; want 3 and 1", len(b), refusedB)
	}
	c, refusedC := burst(t, p, "c", 3)
	if len(c) != 2 || refusedC != 1 {
		t.Fatalf("C: %d ran at once, %d refused; want 2 and 1", len(c), refusedC)
	}
	b[0]()
	if more, _ := burst(t, p, "a", 1); len(more) != 0 {
		t.Fatal("A, over its share, took the slot B freed")
	}
	if more, _ := burst(t, p, "c", 1); len(more) != 0 {
		t.Fatal("C, at its share, took the slot kept for a newcomer")
	}
	d, _ := burst(t, p, "d", 1)
	if len(d) != 1 {
		t.Fatal("a newcomer found no slot")
	}
	for _, r := range append(append(append(a, b[1:]...), c...), d...) {
		r()
	}
}

// TestFairShareWeights: a weight of 2 doubles an org's share.
func TestFairShareWeights(t *testing.T) {
	p := &Policy{Rules: []Rule{{Scope: ScopeCredential, Service: "elevenlabs", Max: 10}},
		Sem: NewMemory(), QueueTimeout: 200 * time.Millisecond, Weights: map[string]int{"a": 2}}
	// A (2) and the newcomer (1): A's share ⌊20/3⌋ = 6, the newcomer's 3,
	// and the 1 left over is anyone's: A runs 7.
	a, _ := burst(t, p, "a", 10)
	if len(a) != 7 {
		t.Fatalf("A (weight 2) alone ran %d; want 7", len(a))
	}
	// B (1): W = 4, B's share ⌊10/4⌋ = 2, the last free slots.
	b, _ := burst(t, p, "b", 3)
	if len(b) != 2 {
		t.Fatalf("B ran %d at once; want 2", len(b))
	}
	for _, r := range append(a, b...) {
		r()
	}
}

// TestOrgCapsAreNotShared: an org cap is the org's alone, so no share
// applies: one org may fill it.
func TestOrgCapsAreNotShared(t *testing.T) {
	p := &Policy{Rules: []Rule{{Scope: ScopeOrg, Max: 10}}, Sem: NewMemory(), QueueTimeout: 200 * time.Millisecond}
	held, _ := burst(t, p, "a", 10)
	if len(held) != 10 {
		t.Fatalf("org cap of 10: %d ran", len(held))
	}
	for _, r := range held {
		r()
	}
}
