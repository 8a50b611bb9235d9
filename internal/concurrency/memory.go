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
	sems map[string]*sem
}

type sem struct {
	slots chan struct{}
	refs  int // holders and waiters
}

var _ Semaphore = (*Memory)(nil)

// NewMemory returns an in-process semaphore.
func NewMemory() *Memory { return &Memory{sems: map[string]*sem{}} }

// Acquire waits for a slot of key.
func (m *Memory) Acquire(ctx context.Context, key string, limit int) (func(), error) {
	m.mu.Lock()
	s := m.semLocked(key, limit)
	s.refs++
	m.mu.Unlock()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		m.unref(key, s)
		return nil, ctx.Err()
	}
	return (&slot{m: m, key: key, s: s}).release, nil
}

// TryAcquire takes a slot of key if one is free, without waiting.
func (m *Memory) TryAcquire(key string, limit int) (func(), bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.semLocked(key, limit)
	select {
	case s.slots <- struct{}{}:
		s.refs++
		return (&slot{m: m, key: key, s: s}).release, true
	default:
		if s.refs == 0 {
			delete(m.sems, key)
		}
		return nil, false
	}
}

// semLocked returns key's slots, making them if no one holds or awaits
// any. m.mu must be held.
func (m *Memory) semLocked(key string, limit int) *sem {
	s := m.sems[key]
	if s == nil {
		s = &sem{slots: make(chan struct{}, limit)}
		m.sems[key] = s
	}
	return s
}

// slot is one held slot; releasing it twice gives it back once.
type slot struct {
	m        *Memory
	key      string
	s        *sem
	released atomic.Bool
}

func (h *slot) release() {
	if h.released.CompareAndSwap(false, true) {
		<-h.s.slots
		h.m.unref(h.key, h.s)
	}
}

func (m *Memory) unref(key string, s *sem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.refs--
	if s.refs == 0 {
		delete(m.sems, key)
	}
}

// InFlight returns the slots held for a key, for tests and metrics.
func (m *Memory) InFlight(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sems[key]; s != nil {
		return len(s.slots)
	}
	return 0
}
