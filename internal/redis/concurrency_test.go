package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/concurrency"
)

// TestSemaphoreCapsAcrossReplicas holds slots from three clients at once:
// never more than the limit are held, and every caller gets one in turn.
func TestSemaphoreCapsAcrossReplicas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var sems []*Semaphore
		for range 3 {
			sems = append(sems, e.open(Options{}).Semaphore())
		}
		var held, peak, done atomic.Int64
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				release, err := sems[i%3].Acquire(ctx, slot("org:acme", 3))
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				n := held.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				held.Add(-1)
				release()
				done.Add(1)
			})
		}
		wg.Wait()
		if peak.Load() > 3 || done.Load() != 12 {
			t.Fatalf("peak %d held, %d done; want at most 3 and 12", peak.Load(), done.Load())
		}
		if n, _ := sems[0].InFlight(context.Background(), "org:acme"); n != 0 {
			t.Fatalf("%d slots still held after every release", n)
		}
	})
}

// TestSemaphoreFullTimesOut: a caller that finds no slot waits until its
// context ends.
func TestSemaphoreFullTimesOut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{}).Semaphore()
		release, err := s.Acquire(context.Background(), slot("k", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := s.Acquire(ctx, slot("k", 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire on a full key = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Fatalf("gave up after %v, before the context ended", d)
		}
	})
}

// TestSemaphoreLeaseFreesDeadHolder: a replica that takes a slot and dies
// (never releases, never renews) loses it when its lease lapses.
func TestSemaphoreLeaseFreesDeadHolder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		dead := e.open(Options{Now: c.now, Lease: time.Hour}).Semaphore()
		alive := e.open(Options{Now: c.now, Lease: time.Hour}).Semaphore()
		settle(t, c, dead.c, alive.c)
		if _, err := dead.Acquire(context.Background(), slot("k", 1)); err != nil {
			t.Fatal(err)
		}
		dead.c.Close() // it stops renewing, and never releases
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := alive.Acquire(ctx, slot("k", 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slot taken while the lease lasts: %v", err)
		}
		c.add(time.Hour + time.Millisecond)
		release, err := alive.Acquire(context.Background(), slot("k", 1))
		if err != nil {
			t.Fatalf("slot still held after the dead holder's lease: %v", err)
		}
		release()
	})
}

// TestSemaphoreRenewsWhileHeld: a live holder keeps its slot past its lease.
func TestSemaphoreRenewsWhileHeld(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Lease: 300 * time.Millisecond}).Semaphore()
		release, err := s.Acquire(context.Background(), slot("k", 1))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.Acquire(ctx, slot("k", 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slot taken from a live holder after 1s (lease 300ms): %v", err)
		}
		release()
		if r, err := s.Acquire(context.Background(), slot("k", 1)); err != nil {
			t.Fatalf("after release: %v", err)
		} else {
			r()
		}
	})
}

// slot is a claim of one of limit slots of key, first come, first served.
func slot(key string, limit int) concurrency.Claim {
	return concurrency.Claim{Key: key, Limit: limit}
}

// settle lets the hold after a first start pass on a stopped clock: the
// clients learn the epoch, and the clock moves past the hold.
func settle(t *testing.T, c *clock, clients ...*Client) {
	t.Helper()
	for _, cl := range clients {
		if err := cl.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	c.add(time.Second)
}
