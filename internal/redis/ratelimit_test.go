package redis

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
	"github.com/aiproxy/aiproxy/internal/ratelimit/limitertest"
)

// TestLimiterMatchesMemory checks that the script repeats ratelimit.Memory's
// arithmetic exactly: the same decisions for the same calls at the same
// times.
func TestLimiterMatchesMemory(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		red := e.open(Options{Now: c.now}).Limiter()
		mem := ratelimit.NewMemory(c.now)
		ctx := context.Background()
		steps := []time.Duration{0, 0, 0, 0, 100 * time.Millisecond, 700 * time.Millisecond, 0, 3 * time.Second, 0, 0, 250 * time.Millisecond}
		for i, d := range steps {
			c.add(d)
			want, _ := mem.Take(ctx, "k", 2.5, 3)
			got, err := red.Take(ctx, "k", 2.5, 3)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != want.Allowed || got.Remaining != want.Remaining ||
				(got.RetryAfter-want.RetryAfter).Abs() > time.Microsecond || (got.Reset-want.Reset).Abs() > time.Microsecond {
				t.Fatalf("step %d: redis %+v, memory %+v", i, got, want)
			}
		}
	})
}

// TestLimiterArithmetic pins the script to the numbers worked out from the
// rules, the same table that ratelimit.Memory runs.
func TestLimiterArithmetic(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		limitertest.Run(t, func(_ *testing.T, now func() time.Time) ratelimit.Limiter {
			return e.open(Options{Now: now}).Limiter()
		})
	})
}

// TestLimitHoldsAcrossReplicas races 200 calls from three clients (three
// replicas) at one bucket of 25 with a stopped clock: exactly 25 pass.
func TestLimitHoldsAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		rule := []ratelimit.Rule{{Scope: ratelimit.ScopeOrg, Rate: 1, Burst: 25}}
		var replicas []*ratelimit.Policy
		for range 3 {
			replicas = append(replicas, &ratelimit.Policy{Rules: rule, Limiter: e.open(Options{Now: c.now}).Limiter()})
		}
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				_, err := replicas[i%3].Allow(context.Background(), "acme", "k1", "heygen", "list-avatars")
				var ae *aiproxy.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ae) && ae.Code == aiproxy.CodeRateLimited:
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
		c.add(2 * time.Second)
		if _, err := replicas[0].Allow(context.Background(), "acme", "k1", "heygen", "list-avatars"); err != nil {
			t.Fatalf("after 2s a token is back: %v", err)
		}
	})
}

// TestLimiterServerClock uses Redis's own clock, as production does.
func TestLimiterServerClock(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		l := e.open(Options{}).Limiter()
		ctx := context.Background()
		allowed := 0
		for range 30 {
			d, err := l.Take(ctx, "srv", 0.5, 10)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				allowed++
			} else if d.RetryAfter <= 0 || d.RetryAfter > 2*time.Second {
				t.Fatalf("refusal with RetryAfter %v", d.RetryAfter)
			}
		}
		if allowed < 10 || allowed > 11 {
			t.Fatalf("allowed %d of 30 at burst 10 and 0.5/s", allowed)
		}
	})
}

// BenchmarkRedisGuardrails measures one Take and one Acquire+release
// against the real Redis (AIPROXY_TEST_REDIS_URL), from parallel callers.
func BenchmarkRedisGuardrails(b *testing.B) {
	url := os.Getenv("AIPROXY_TEST_REDIS_URL")
	if url == "" {
		b.Skip("AIPROXY_TEST_REDIS_URL is not set")
	}
	prefix := "aiproxy_bench_" + token() + ":"
	c, err := Open(url, Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.DropPrefix(context.Background())
	ctx := context.Background()
	b.Run("Take", func(b *testing.B) {
		l := c.Limiter()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Take(ctx, "bench", 1e9, 1e9); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Acquire", func(b *testing.B) {
		s := c.Semaphore()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				release, err := s.Acquire(ctx, slot("bench", 1<<20))
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	})
}
