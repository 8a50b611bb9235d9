package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestConcurrentMissesFillOnce sends 50 callers at an empty key at once:
// one fill runs and every caller gets its value.
func TestConcurrentMissesFillOnce(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	cc := New(NewMemory(0, c.now), c.now)
	var fills atomic.Int64
	release := make(chan struct{})
	fill := func(context.Context) ([]byte, bool, error) {
		fills.Add(1)
		<-release
		return []byte("avatars"), true, nil
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			v, st, err := cc.Get(context.Background(), "k", time.Minute, time.Minute, fill, fill)
			if err != nil || string(v) != "avatars" || st != Miss {
				t.Errorf("Get = %q %s %v", v, st, err)
			}
		})
	}
	close(start)
	time.Sleep(20 * time.Millisecond) // let the callers pile onto the one fill
	close(release)
	wg.Wait()
	if fills.Load() != 1 {
		t.Fatalf("%d fills for 50 concurrent misses, want 1", fills.Load())
	}
	if _, st, _ := cc.Get(context.Background(), "k", time.Minute, time.Minute, fill, fill); st != Hit {
		t.Fatalf("next Get = %s, want HIT", st)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	cc := New(NewMemory(0, c.now), c.now)
	n := 0
	fill := func(context.Context) ([]byte, bool, error) { n++; return fmt.Appendf(nil, "v%d", n), true, nil }
	ctx := context.Background()
	if v, st, _ := cc.Get(ctx, "k", time.Minute, time.Minute, fill, fill); string(v) != "v1" || st != Miss {
		t.Fatalf("first = %s %s", v, st)
	}
	c.add(90 * time.Second)
	if v, st, _ := cc.Get(ctx, "k", time.Minute, time.Minute, fill, fill); string(v) != "v1" || st != Stale {
		t.Fatalf("stale = %s %s", v, st)
	}
	cc.Wait()
	if v, st, _ := cc.Get(ctx, "k", time.Minute, time.Minute, fill, fill); string(v) != "v2" || st != Hit {
		t.Fatalf("after refresh = %s %s", v, st)
	}
	c.add(3 * time.Minute)
	if v, st, _ := cc.Get(ctx, "k", time.Minute, time.Minute, fill, fill); string(v) != "v3" || st != Miss {
		t.Fatalf("expired = %s %s", v, st)
	}
}

func TestUnstorableAndErrorsAreNotKept(t *testing.T) {
	cc := New(NewMemory(0, nil), nil)
	ctx := context.Background()
	bad := func(context.Context) ([]byte, bool, error) { return []byte("503"), false, nil }
	if v, _, err := cc.Get(ctx, "k", time.Minute, 0, bad, bad); err != nil || string(v) != "503" {
		t.Fatalf("unstorable = %s %v", v, err)
	}
	boom := errors.New("boom")
	fail := func(context.Context) ([]byte, bool, error) { return nil, false, boom }
	if _, _, err := cc.Get(ctx, "k", time.Minute, 0, fail, fail); !errors.Is(err, boom) {
		t.Fatalf("error = %v", err)
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	m := NewMemory(30, nil)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		_ = m.Set(ctx, k, Item{Value: make([]byte, 9)}, time.Hour)
	}
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a was evicted too early")
	}
	_ = m.Set(ctx, "d", Item{Value: make([]byte, 9)}, time.Hour)
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("b, the least recently used, was kept")
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
}
