package concurrency

import (
	"context"
	"sync"
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
	s := m.sems[key]
	if s == nil {
		s = &sem{slots: make(chan struct{}, limit)}
		m.sems[key] = s
	}
	s.refs++
	m.mu.Unlock()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		m.unref(key, s)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.slots
			m.unref(key, s)
		})
	}, nil
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
