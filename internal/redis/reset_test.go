package redis

import (
	"context"
	"testing"
	"time"
)

// TestSlotsSurviveAResetEmpty: a replica holds the 3 slots of a cap when
// Redis loses everything (a restart without persistence). No other replica
// gets a slot while they are held: new calls are held back until the
// holders have said again what they hold, then find the cap full. Once the
// holder releases, the slots are free again.
func TestSlotsSurviveAResetEmpty(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		holder := e.open(Options{}).Semaphore()
		other := e.open(Options{}).Semaphore()
		ctx := context.Background()
		// Every replica learns the epoch when it starts (and on each
		// readiness probe).
		if err := other.c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		var held []func()
		for range 3 {
			r, err := holder.Acquire(ctx, slot("cap", 3))
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, r)
		}
		e.flush(t)
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			r, err := other.Acquire(actx, slot("cap", 3))
			cancel()
			if err == nil {
				r()
				t.Fatalf("a slot was granted after the reset while 3 of 3 are held")
			}
		}
		if n, err := holder.InFlight(ctx, "cap"); err != nil || n != 3 {
			t.Fatalf("after the reset InFlight = %d, %v; want the 3 held slots re-registered", n, err)
		}
		for _, r := range held {
			r()
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := other.Acquire(actx, slot("cap", 3))
		if err != nil {
			t.Fatalf("after the holder released: %v", err)
		}
		r()
	})
}

// TestBucketsStartEmptyAfterAReset: a bucket that Redis forgets in a reset
// starts empty and refills at its rate, instead of starting full.
func TestBucketsStartEmptyAfterAReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		l := e.open(Options{Now: c.now}).Limiter()
		ctx := context.Background()
		if d, err := l.Take(ctx, "org:acme", 1, 5); err != nil || !d.Allowed {
			t.Fatalf("first take = %+v, %v", d, err)
		}
		e.flush(t)
		for i := range 3 {
			d, err := l.Take(ctx, "org:acme", 1, 5)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				t.Fatalf("take %d right after the reset was allowed; the bucket must start empty", i)
			}
		}
		c.add(2 * time.Second) // two tokens at 1/s
		allowed := 0
		for range 5 {
			if d, _ := l.Take(ctx, "org:acme", 1, 5); d.Allowed {
				allowed++
			}
		}
		if allowed != 2 {
			t.Fatalf("2s after the reset %d takes passed; want 2", allowed)
		}
		// A bucket never used before the reset is empty too: Redis cannot
		// tell it from one it forgot.
		if d, _ := l.Take(ctx, "org:beta", 1, 5); d.Allowed && d.Remaining > 1 {
			t.Fatalf("an unknown bucket after the reset = %+v; want at most the 2s of refill", d)
		}
	})
}

// TestFirstStartIsNotAReset: replicas that never saw Redis hold state
// start with full buckets, as before.
func TestFirstStartIsNotAReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		c := newClock()
		l := e.open(Options{Now: c.now}).Limiter()
		for i := range 5 {
			if d, err := l.Take(context.Background(), "org:acme", 1, 5); err != nil || !d.Allowed {
				t.Fatalf("take %d of a burst of 5 on a fresh Redis = %+v, %v", i, d, err)
			}
		}
	})
}
