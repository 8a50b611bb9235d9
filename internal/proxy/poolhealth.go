package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// MemoryKeyHealth is a KeyHealth in this process. A key has an entry only
// while it rests, is removed or has calls in flight.
type MemoryKeyHealth struct {
	mu   sync.Mutex
	keys map[memKeyID]*memKey
	now  func() time.Time
}

var _ KeyHealth = (*MemoryKeyHealth)(nil)

type memKeyID struct {
	pool aiproxy.PoolRef
	id   string
}

type memKey struct {
	st       aiproxy.KeyStatus
	inFlight int
}

// NewMemoryKeyHealth returns an in-process KeyHealth; now may be nil for
// time.Now.
func NewMemoryKeyHealth(now func() time.Time) *MemoryKeyHealth {
	if now == nil {
		now = time.Now
	}
	return &MemoryKeyHealth{keys: map[memKeyID]*memKey{}, now: now}
}

// KeyStates returns the keys that rest, are removed or have calls in
// flight.
func (m *MemoryKeyHealth) KeyStates(_ context.Context, pool aiproxy.PoolRef, ids []string) (map[string]aiproxy.KeyStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := map[string]aiproxy.KeyStatus{}
	for _, id := range ids {
		e := m.keys[memKeyID{pool, id}]
		if e == nil {
			continue
		}
		st := e.st.At(now)
		st.InFlight = e.inFlight
		if st.State != aiproxy.KeyHealthy || st.InFlight > 0 {
			out[id] = st
		}
	}
	return out, nil
}

// MarkKey records a rest or removal that supersedes the key's status.
func (m *MemoryKeyHealth) MarkKey(_ context.Context, pool aiproxy.PoolRef, id string, st aiproxy.KeyStatus) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKeyID{pool, id}
	e := m.keys[k]
	if e == nil {
		e = &memKey{}
	}
	if !st.Supersedes(e.st, m.now()) {
		return false, nil
	}
	st.InFlight = 0
	e.st = st
	m.keys[k] = e
	return true, nil
}

// TakeKey holds one of the key's slots.
func (m *MemoryKeyHealth) TakeKey(_ context.Context, pool aiproxy.PoolRef, id string, max int) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKeyID{pool, id}
	e := m.keys[k]
	if e == nil {
		e = &memKey{}
		m.keys[k] = e
	}
	if max > 0 && e.inFlight >= max {
		return nil, false, nil
	}
	e.inFlight++
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			e.inFlight--
			m.dropIdle(k, e)
		})
	}, true, nil
}

// RestoreKey makes a resting or removed key healthy again, and returns the
// status it had, with whether it was not healthy.
func (m *MemoryKeyHealth) RestoreKey(_ context.Context, pool aiproxy.PoolRef, id string) (aiproxy.KeyStatus, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKeyID{pool, id}
	e := m.keys[k]
	if e == nil {
		return aiproxy.KeyStatus{State: aiproxy.KeyHealthy}, false, nil
	}
	prev := e.st.At(m.now())
	e.st = aiproxy.KeyStatus{}
	m.dropIdle(k, e)
	return prev, prev.State != aiproxy.KeyHealthy, nil
}

// dropIdle deletes an entry that holds nothing worth keeping. m.mu must be
// held.
func (m *MemoryKeyHealth) dropIdle(k memKeyID, e *memKey) {
	if e.inFlight == 0 && e.st.At(m.now()).State == aiproxy.KeyHealthy && m.keys[k] == e {
		delete(m.keys, k)
	}
}
