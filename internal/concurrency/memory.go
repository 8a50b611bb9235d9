package concurrency

import (
	"context"
	"sync"
	"sync/atomic"
)

// Memory is an in-process Semaphore. A key's slots exist only while some
// are held or awaited, so idle keys cost nothing.
type Memory struct {
	mu   sync.Mutex
	keys map[string]*slots
}

// slots are the slots of one key: who holds how many, and a channel closed
// whenever one is given back, which wakes the waiters to ask again.
type slots struct {
	held  map[string]int
	total int
	refs  int // holders and waiters
	freed chan struct{}
}

var _ Semaphore = (*Memory)(nil)

// NewMemory returns an in-process semaphore.
func NewMemory() *Memory { return &Memory{keys: map[string]*slots{}} }

// Acquire waits for a slot of c.Key. Every release wakes the waiters, and
// the claim's rule decides who gets the slot: with Shares, an org under its
// share before one over it.
func (m *Memory) Acquire(ctx context.Context, c Claim) (func(), error) {
	for {
		m.mu.Lock()
		s := m.slotsLocked(c.Key)
		if s.grant(c) {
			release := m.takeLocked(c, s)
			m.mu.Unlock()
			return release, nil
		}
		s.refs++
		freed := s.freed
		m.mu.Unlock()
		select {
		case <-freed:
			m.unref(c.Key, s)
		case <-ctx.Done():
			m.unref(c.Key, s)
			return nil, ctx.Err()
		}
	}
}

// TryAcquire takes a slot of c.Key if the claim's rule grants one now,
// without waiting.
func (m *Memory) TryAcquire(c Claim) (func(), bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slotsLocked(c.Key)
	if !s.grant(c) {
		if s.refs == 0 {
			delete(m.keys, c.Key)
		}
		return nil, false
	}
	return m.takeLocked(c, s), true
}

// slotsLocked returns key's slots, making them if no one holds or awaits
// any. m.mu must be held.
func (m *Memory) slotsLocked(key string) *slots {
	s := m.keys[key]
	if s == nil {
		s = &slots{held: map[string]int{}, freed: make(chan struct{})}
		m.keys[key] = s
	}
	return s
}

func (s *slots) grant(c Claim) bool {
	if c.Shares == nil {
		return s.total < c.Limit
	}
	return c.Shares.Grant(c.Limit, c.Org, s.held)
}

// takeLocked gives c a slot of s. m.mu must be held.
func (m *Memory) takeLocked(c Claim, s *slots) func() {
	s.held[c.Org]++
	s.total++
	s.refs++
	return (&slot{m: m, key: c.Key, org: c.Org, s: s}).release
}

// slot is one held slot; releasing it twice gives it back once.
type slot struct {
	m        *Memory
	key, org string
	s        *slots
	released atomic.Bool
}

func (h *slot) release() {
	if !h.released.CompareAndSwap(false, true) {
		return
	}
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	s := h.s
	if s.held[h.org]--; s.held[h.org] == 0 {
		delete(s.held, h.org)
	}
	s.total--
	close(s.freed)
	s.freed = make(chan struct{})
	h.m.unrefLocked(h.key, s)
}

func (m *Memory) unref(key string, s *slots) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unrefLocked(key, s)
}

func (m *Memory) unrefLocked(key string, s *slots) {
	if s.refs--; s.refs == 0 {
		delete(m.keys, key)
	}
}

// InFlight returns the slots held for a key, for tests and metrics.
func (m *Memory) InFlight(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.keys[key]; s != nil {
		return s.total
	}
	return 0
}
