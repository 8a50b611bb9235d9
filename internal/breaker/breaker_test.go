package breaker

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func call(t *testing.T, s *Set, key string, ok bool) error {
	t.Helper()
	done, err := s.Allow(key)
	if err == nil {
		done(ok)
	}
	return err
}

func TestOpensAndRecovers(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	s := New(3, 10*time.Second, c.now)
	for range 2 {
		if err := call(t, s, "heygen|platform", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := call(t, s, "heygen|platform", true); err != nil {
		t.Fatal(err)
	}
	// A success reset the run; three more failures open the breaker.
	for range 3 {
		_ = call(t, s, "heygen|platform", false)
	}
	if s.State("heygen|platform") != Open {
		t.Fatalf("state = %s, want open", s.State("heygen|platform"))
	}
	err := call(t, s, "heygen|platform", true)
	var ae *aiproxy.Error
	if !errors.As(err, &ae) || !errors.Is(err, ErrOpen) || ae.Code != aiproxy.CodeUpstreamFailed || ae.RetryAfter != 10 {
		t.Fatalf("call while open = %v, want a fast upstream_failed with Retry-After 10", err)
	}
	if err := call(t, s, "heygen|tenant|acme", true); err != nil {
		t.Fatalf("another credential's breaker is closed: %v", err)
	}
	c.add(10 * time.Second)
	probe, err := s.Allow("heygen|platform")
	if err != nil {
		t.Fatalf("probe after cooldown: %v", err)
	}
	if _, err := s.Allow("heygen|platform"); err == nil {
		t.Fatal("a second call passed while the probe runs")
	}
	probe(false)
	if s.State("heygen|platform") != Open {
		t.Fatal("a failed probe did not reopen the breaker")
	}
	c.add(10 * time.Second)
	if err := call(t, s, "heygen|platform", true); err != nil {
		t.Fatal(err)
	}
	if s.State("heygen|platform") != Closed {
		t.Fatal("a good probe did not close the breaker")
	}
}

func TestConcurrentReports(t *testing.T) {
	s := New(1000, time.Second, nil)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { _ = call(t, s, "k", i%2 == 0) })
	}
	wg.Wait()
}
