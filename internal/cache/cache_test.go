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
	m := NewMemoryLimits(Limits{MaxBytes: 30, OwnerMaxBytes: 30}, nil)
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

// ownerKey carries the owner of a test call.
type ownerKey struct{}

func ownedBy(ctx context.Context) string { s, _ := ctx.Value(ownerKey{}).(string); return s }

// TestOneOwnerCannotPushOthersOut: an org asking for 1,000 distinct lists
// keeps at most its own bounds (entries and bytes) and pushes out its own
// entries, never another org's; the total stays within the store's.
func TestOneOwnerCannotPushOthersOut(t *testing.T) {
	lim := Limits{MaxBytes: 64 << 10, MaxEntries: 100, OwnerMaxBytes: 16 << 10, OwnerMaxEntries: 20}
	m := NewMemoryLimits(lim, nil)
	cc := New(m, nil).ChargeTo(ownedBy)
	value := make([]byte, 500)
	fill := func(context.Context) ([]byte, bool, error) { return value, true, nil }
	beta := context.WithValue(context.Background(), ownerKey{}, "beta")
	for i := range 5 {
		cc.Get(beta, fmt.Sprintf("beta-%d", i), time.Minute, 0, fill, fill)
	}
	acme := context.WithValue(context.Background(), ownerKey{}, "acme")
	for i := range 1000 {
		cc.Get(acme, fmt.Sprintf("acme-list?page=%d", i), time.Minute, 0, fill, fill)
		if n, b := m.Usage("acme"); n > lim.OwnerMaxEntries || b > lim.OwnerMaxBytes {
			t.Fatalf("after %d fills acme holds %d entries, %d bytes; bounds %d and %d", i+1, n, b, lim.OwnerMaxEntries, lim.OwnerMaxBytes)
		}
	}
	if n, _ := m.Usage("acme"); n != 20 {
		t.Fatalf("acme holds %d entries, want its bound of 20", n)
	}
	for i := range 5 {
		if _, st, _ := cc.Get(beta, fmt.Sprintf("beta-%d", i), time.Minute, 0, fill, fill); st != Hit {
			t.Fatalf("beta's entry %d after acme's flood = %s, want a HIT", i, st)
		}
	}
	// The owner's bytes bind before its entries: 40 values of 1,000 bytes.
	big := make([]byte, 1000)
	for i := range 40 {
		_ = m.Set(acme, fmt.Sprintf("big-%d", i), Item{Value: big, Owner: "acme"}, time.Minute)
	}
	if n, b := m.Usage("acme"); b > lim.OwnerMaxBytes || n != int(lim.OwnerMaxBytes)/1005 {
		t.Fatalf("acme with big values: %d entries, %d bytes; want %d within %d", n, b, int(lim.OwnerMaxBytes)/1005, lim.OwnerMaxBytes)
	}
	// The total binds across owners.
	for o := range 20 {
		for i := range 10 {
			_ = m.Set(acme, fmt.Sprintf("o%d-%d", o, i), Item{Value: value, Owner: fmt.Sprint("org", o)}, time.Minute)
		}
	}
	if m.Len() > lim.MaxEntries {
		t.Fatalf("%d entries in a store of at most %d", m.Len(), lim.MaxEntries)
	}
}

func TestLimitsResolved(t *testing.T) {
	got := Limits{}.Resolved()
	if got != (Limits{MaxBytes: 64 << 20, MaxEntries: 4096, OwnerMaxBytes: 16 << 20, OwnerMaxEntries: 512}) {
		t.Fatalf("defaults = %+v", got)
	}
	if got := (Limits{MaxBytes: 10, OwnerMaxBytes: 20, MaxEntries: 3, OwnerMaxEntries: 9}).Resolved(); got.OwnerMaxBytes != 10 || got.OwnerMaxEntries != 3 {
		t.Fatalf("an owner's bounds above the total's = %+v", got)
	}
}
