package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/concurrency"
)

// TestFairShareAcrossReplicas: three orgs share the platform ElevenLabs
// key's cap of 10, each through another replica. The numbers are
// aiproxy.Shares' (worked out in concurrency's TestFairShareOfPlatformCredential):
// A alone runs 5 of its 10 slow calls; B then runs its share, 3, at once;
// C its share, 2, at once.
func TestFairShareAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var replicas []*concurrency.Policy
		for range 3 {
			replicas = append(replicas, &concurrency.Policy{
				Rules: []concurrency.Rule{{Scope: concurrency.ScopeCredential, Service: "elevenlabs", Max: 10}},
				Sem:   e.open(Options{}).Semaphore(), QueueTimeout: 300 * time.Millisecond,
			})
		}
		if err := replicas[0].Sem.(*Semaphore).c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // past the hold of a first start
		var all []func()
		for i, want := range []struct {
			org           string
			calls, at, no int
		}{{"a", 10, 5, 5}, {"b", 4, 3, 1}, {"c", 3, 2, 1}} {
			held, refused := burst(t, replicas[i], want.org, want.calls)
			all = append(all, held...)
			if len(held) != want.at || refused != want.no {
				t.Fatalf("%s: %d ran at once, %d refused; want %d and %d", want.org, len(held), refused, want.at, want.no)
			}
		}
		if n, _ := replicas[0].Sem.(*Semaphore).InFlight(context.Background(), "cc:0:platform:elevenlabs"); n != 10 {
			t.Fatalf("%d slots held, want 10", n)
		}
		for _, r := range all {
			r()
		}
	})
}

// burst fires n calls of org at once and returns the releases of those that
// got a slot well within the queue timeout, and how many were refused with
// a 429.
func burst(t *testing.T, p *concurrency.Policy, org string, n int) (held []func(), refused int) {
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

// TestShareScriptMatchesRule runs random takes and releases by five orgs
// of unequal weights against the script and against aiproxy.Shares.Grant
// over the same holdings: every decision is the same.
func TestShareScriptMatchesRule(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		s := e.open(Options{Now: c.now}).Semaphore()
		settle(t, c, s.c)
		shares := &aiproxy.Shares{Weights: map[string]int{"o1": 3, "o2": 2}}
		rng := rand.New(rand.NewPCG(1, 2))
		held := map[string][]func(){}
		count := map[string]int{}
		grants := 0
		for step := range 300 {
			org := fmt.Sprint("o", rng.IntN(5))
			if len(held[org]) > 0 && rng.IntN(3) == 0 {
				held[org][0]()
				held[org] = held[org][1:]
				count[org]--
				continue
			}
			want := shares.Grant(12, org, count)
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			release, err := s.Acquire(ctx, concurrency.Claim{Key: "k", Limit: 12, Org: org, Shares: shares})
			cancel()
			if got := err == nil; got != want {
				t.Fatalf("step %d: %s with %v: script granted %v, rule %v (%v)", step, org, count, got, want, err)
			}
			if err == nil {
				held[org] = append(held[org], release)
				count[org]++
				grants++
			}
		}
		if grants < 50 {
			t.Fatalf("only %d grants in 300 steps; the walk barely reached the rule", grants)
		}
	})
}
