package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/cache"
)

// TestLockExclusiveAcrossReplicas: holders of one lock on three replicas
// never overlap.
func TestLockExclusiveAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var lockers []*Locker
		for range 3 {
			lockers = append(lockers, e.open(Options{}).Locker())
		}
		var inside, overlaps atomic.Int64
		var wg sync.WaitGroup
		for i := range 9 {
			wg.Go(func() {
				unlock, err := lockers[i%3].Lock(context.Background(), "job:1", 5*time.Second)
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(10 * time.Millisecond)
				inside.Add(-1)
				unlock()
			})
		}
		wg.Wait()
		if overlaps.Load() != 0 {
			t.Fatalf("%d overlapping holders", overlaps.Load())
		}
	})
}

// TestLockLapses: a holder that never unlocks blocks others only for the
// lock's TTL.
func TestLockLapses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		l := e.open(Options{}).Locker()
		if _, err := l.Lock(context.Background(), "job:2", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := l.Lock(ctx, "job:2", time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a held lock = %v, want DeadlineExceeded", err)
		}
		e.advance(400 * time.Millisecond)
		unlock, err := l.Lock(context.Background(), "job:2", time.Second)
		if err != nil {
			t.Fatalf("Lock after the TTL: %v", err)
		}
		unlock()
	})
}

// TestFailureModes stops the server under each engine: closed refuses with
// the 503 error, open lets calls through; the cache misses and locks are
// granted either way; Ping reports it.
func TestFailureModes(t *testing.T) {
	for _, open := range []bool{false, true} {
		name := map[bool]string{false: "closed", true: "open"}[open]
		t.Run(name, func(t *testing.T) {
			m := miniredis.RunT(t)
			c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond}),
				Options{FailOpen: open})
			defer c.Close()
			ctx := context.Background()
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			m.Close()
			if c.Ping(ctx) == nil {
				t.Fatal("Ping of a stopped server succeeded")
			}
			d, err := c.Limiter().Take(ctx, "k", 1, 5)
			checkMode(t, "Take", open, err)
			if open && !d.Allowed {
				t.Error("Take refused in the open mode")
			}
			release, err := c.Semaphore().Acquire(ctx, slot("k", 1))
			checkMode(t, "Acquire", open, err)
			if open {
				release()
			}
			if _, ok, _ := c.Cache(cache.Limits{}).Get(ctx, "k"); ok {
				t.Error("cache hit from a stopped server")
			}
			unlock, err := c.Locker().Lock(ctx, "k", time.Second)
			if err != nil {
				t.Errorf("Lock without Redis = %v, want a lock-less pass", err)
			} else {
				unlock()
			}
		})
	}
}

func checkMode(t *testing.T, op string, open bool, err error) {
	t.Helper()
	var ae *aiproxy.Error
	switch {
	case open && err != nil:
		t.Errorf("%s in the open mode = %v, want nil", op, err)
	case !open && (!errors.As(err, &ae) || ae.Code != aiproxy.CodeUnavailable || ae.RetryAfter != 1):
		t.Errorf("%s in the closed mode = %v, want the unavailable error", op, err)
	}
}
