package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want Rule
		bad  bool
	}{
		{in: "org=600/m", want: Rule{Scope: ScopeOrg, Rate: 10, Burst: 600}},
		{in: "key:heygen=10/s:20", want: Rule{Scope: ScopeKey, Service: "heygen", Rate: 10, Burst: 20}},
		{in: "org:heygen/generate-video=36/h", want: Rule{Scope: ScopeOrg, Service: "heygen", Action: "generate-video", Rate: 0.01, Burst: 36}},
		{in: "team=1/s", bad: true},
		{in: "org=0/s", bad: true},
		{in: "org=5/w", bad: true},
		{in: "org=5/s:0", bad: true},
		{in: "org", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRule(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseRule(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRule(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if again, err := ParseRule(got.String()); err != nil || again.Scope != got.Scope || again.Burst != got.Burst {
				t.Fatalf("String() %q does not parse back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

// TestLimitHoldsExactlyUnderConcurrency races 200 calls at a bucket of 25
// with a stopped clock: exactly 25 pass.
func TestLimitHoldsExactlyUnderConcurrency(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	p := &Policy{Rules: []Rule{{Scope: ScopeOrg, Rate: 1, Burst: 25}}, Limiter: NewMemory(c.now)}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			_, err := p.Allow(context.Background(), "acme", "k1", "heygen", "list-avatars")
			var ae *aiproxy.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ae) && ae.Code == aiproxy.CodeRateLimited && ae.RetryAfter == 1:
				refused.Add(1)
			default:
				t.Errorf("Allow: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 25 || refused.Load() != 175 {
		t.Fatalf("allowed %d, refused %d; want 25 and 175", ok.Load(), refused.Load())
	}
	c.add(3 * time.Second)
	for i := range 4 {
		_, err := p.Allow(context.Background(), "acme", "k1", "heygen", "list-avatars")
		if (err == nil) != (i < 3) {
			t.Fatalf("after 3s, call %d: %v; want 3 tokens refilled", i, err)
		}
	}
}

func TestScopesAndMatching(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	p := &Policy{Limiter: NewMemory(c.now), Rules: []Rule{
		{Scope: ScopeKey, Rate: 1, Burst: 2},
		{Scope: ScopeOrg, Service: "heygen", Action: "generate-video", Rate: 1, Burst: 1},
	}}
	ctx := context.Background()
	allow := func(org, key, action string) error {
		_, err := p.Allow(ctx, org, key, "heygen", action)
		return err
	}
	if err := allow("acme", "k1", "generate-video"); err != nil {
		t.Fatal(err)
	}
	if err := allow("acme", "k2", "generate-video"); err == nil {
		t.Fatal("a second generate of the org passed its org bucket of 1")
	}
	if err := allow("acme", "k2", "list-avatars"); err != nil {
		t.Fatalf("another action is not limited by the generate rule: %v", err)
	}
	if err := allow("beta", "k3", "generate-video"); err != nil {
		t.Fatalf("another org has its own bucket: %v", err)
	}
	st, err := p.Allow(ctx, "acme", "k1", "heygen", "list-avatars")
	if err != nil || st.Limit != 2 || st.Remaining != 0 {
		t.Fatalf("status = %+v, %v; want limit 2, remaining 0", st, err)
	}
}

func TestFullBucketsAreEvicted(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	m := NewMemory(c.now)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := m.Take(context.Background(), k, 10, 10); err != nil {
			t.Fatal(err)
		}
	}
	c.add(2 * time.Minute)
	if _, err := m.Take(context.Background(), "d", 10, 10); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 1 {
		t.Fatalf("buckets after refill = %d, want only the new one", m.Len())
	}
}
