package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Memory is an in-process Limiter. Buckets that have refilled completely
// are evicted, since a new full bucket behaves the same, so memory follows
// the number of recently active keys.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
	full   time.Time // when tokens reach burst again
}

var _ Limiter = (*Memory)(nil)

// sweepEvery is how often Take looks for full buckets to evict.
const sweepEvery = time.Minute

// NewMemory returns an in-process limiter; now may be nil for time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, buckets: map[string]*bucket{}}
}

// Take removes one token from a bucket.
func (m *Memory) Take(_ context.Context, key string, rate float64, burst int) (Decision, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	b := m.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(burst), at: now}
		m.buckets[key] = b
	}
	d := b.take(now, rate, float64(burst))
	return d, nil
}

// take refills the bucket for the time passed, then spends a token if one
// is there. The arithmetic is the whole algorithm, so that another engine
// can repeat it exactly.
func (b *bucket) take(now time.Time, rate, burst float64) Decision {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+elapsed*rate)
		b.at = now
	}
	var d Decision
	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = seconds((1 - b.tokens) / rate)
	}
	d.Remaining = int(b.tokens)
	d.Reset = seconds((burst - b.tokens) / rate)
	b.full = now.Add(d.Reset)
	return d
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for k, b := range m.buckets {
		if !now.Before(b.full) {
			delete(m.buckets, k)
		}
	}
}

// Len returns the number of buckets held, for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}
