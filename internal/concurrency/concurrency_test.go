package concurrency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestCapHoldsUnderConcurrency runs 40 calls through a cap of 3 and checks
// that no more than 3 were ever in flight and that all ran.
func TestCapHoldsUnderConcurrency(t *testing.T) {
	p := &Policy{Rules: []Rule{{Scope: ScopeOrg, Max: 3}}, Sem: NewMemory(), QueueTimeout: 10 * time.Second}
	var inFlight, peak, done atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			release, err := p.Acquire(context.Background(), "acme", "elevenlabs", aiproxy.SourceTenant)
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			n := inFlight.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			done.Add(1)
			release()
		})
	}
	wg.Wait()
	if peak.Load() > 3 || done.Load() != 40 {
		t.Fatalf("peak in flight %d (cap 3), done %d of 40", peak.Load(), done.Load())
	}
}

func TestQueueTimeoutRefuses(t *testing.T) {
	sem := NewMemory()
	p := &Policy{Rules: []Rule{{Scope: ScopeCredential, Service: "elevenlabs", Max: 1}}, Sem: sem, QueueTimeout: 20 * time.Millisecond}
	ctx := context.Background()
	release, err := p.Acquire(ctx, "acme", "elevenlabs", aiproxy.SourcePlatform)
	if err != nil {
		t.Fatal(err)
	}
	// Another org on the same platform credential waits, then is refused.
	_, err = p.Acquire(ctx, "beta", "elevenlabs", aiproxy.SourcePlatform)
	var ae *aiproxy.Error
	if !errors.As(err, &ae) || ae.Code != aiproxy.CodeRateLimited || ae.RetryAfter != 1 {
		t.Fatalf("second Acquire = %v, want rate_limited with Retry-After", err)
	}
	// A tenant credential is not under the platform credential's cap.
	if r, err := p.Acquire(ctx, "beta", "elevenlabs", aiproxy.SourceTenant); err != nil {
		t.Fatalf("tenant Acquire: %v", err)
	} else {
		r()
	}
	release()
	release() // releasing twice is harmless
	r, err := p.Acquire(ctx, "beta", "elevenlabs", aiproxy.SourcePlatform)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	r()
	if n := len(sem.keys); n != 0 {
		t.Fatalf("%d idle semaphores kept", n)
	}
}

func TestParseRule(t *testing.T) {
	if r, err := ParseRule("credential:elevenlabs=5"); err != nil || r != (Rule{ScopeCredential, "elevenlabs", 5}) {
		t.Fatalf("ParseRule = %+v, %v", r, err)
	}
	for _, bad := range []string{"org", "org=0", "team=3", "org=x"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) passed", bad)
		}
	}
}

func TestMemoryTryAcquire(t *testing.T) {
	m := NewMemory()
	r1, ok1 := m.TryAcquire(Claim{Key: "k", Limit: 2})
	r2, ok2 := m.TryAcquire(Claim{Key: "k", Limit: 2})
	if !ok1 || !ok2 {
		t.Fatal("two free slots of 2 were not taken")
	}
	if _, ok := m.TryAcquire(Claim{Key: "k", Limit: 2}); ok {
		t.Fatal("a third slot of 2 was taken")
	}
	if got := m.InFlight("k"); got != 2 {
		t.Fatalf("InFlight = %d, want 2", got)
	}
	r1()
	r1() // a second release gives nothing back
	if got := m.InFlight("k"); got != 1 {
		t.Fatalf("after releasing one slot twice InFlight = %d, want 1", got)
	}
	r3, ok := m.TryAcquire(Claim{Key: "k", Limit: 2})
	if !ok {
		t.Fatal("a freed slot was not taken")
	}
	r2()
	r3()
	m.mu.Lock()
	n := len(m.keys)
	m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d idle keys kept, want 0", n)
	}
}

func TestPolicyTakesNoSlotWhenOneCapIsFull(t *testing.T) {
	m := NewMemory()
	p := &Policy{Sem: m, QueueTimeout: 20 * time.Millisecond, Rules: []Rule{
		{Scope: ScopeOrg, Max: 5},
		{Scope: ScopeCredential, Service: "heygen", Max: 1},
	}}
	rel, err := p.Acquire(context.Background(), "acme", "heygen", aiproxy.SourcePlatform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(context.Background(), "acme", "heygen", aiproxy.SourcePlatform); err == nil {
		t.Fatal("second call got the platform credential's only slot")
	}
	if got := m.InFlight("cc:0:org:acme:"); got != 1 {
		t.Fatalf("org slots held after the refused call = %d, want 1 (the refused call must give its org slot back)", got)
	}
	rel()
	if got := m.InFlight("cc:0:org:acme:") + m.InFlight("cc:1:platform:heygen"); got != 0 {
		t.Fatalf("slots held after release = %d, want 0", got)
	}
}
