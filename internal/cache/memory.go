package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store bounded by the bytes of its values; the
// least recently used entries leave first, and expired ones on access.
type Memory struct {
	maxBytes int64
	now      func() time.Time

	mu    sync.Mutex
	bytes int64
	lru   *list.List // front is most recent
	items map[string]*list.Element
}

type memEntry struct {
	key     string
	it      Item
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns a store holding at most maxBytes of values (0 means
// 64 MiB); now may be nil for time.Now.
func NewMemory(maxBytes int64, now func() time.Time) *Memory {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{maxBytes: maxBytes, now: now, lru: list.New(), items: map[string]*list.Element{}}
}

// Get returns an unexpired item.
func (m *Memory) Get(_ context.Context, key string) (Item, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return Item{}, false, nil
	}
	e := el.Value.(*memEntry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		return Item{}, false, nil
	}
	m.lru.MoveToFront(el)
	return e.it, true, nil
}

// Set stores an item, evicting the least recently used ones to make room.
// An item larger than the whole store is not kept.
func (m *Memory) Set(_ context.Context, key string, it Item, keep time.Duration) error {
	size := int64(len(it.Value) + len(key))
	if size > m.maxBytes {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	m.items[key] = m.lru.PushFront(&memEntry{key: key, it: it, expires: m.now().Add(keep)})
	m.bytes += size
	for m.bytes > m.maxBytes {
		m.remove(m.lru.Back())
	}
	return nil
}

func (m *Memory) remove(el *list.Element) {
	e := el.Value.(*memEntry)
	m.lru.Remove(el)
	delete(m.items, e.key)
	m.bytes -= int64(len(e.it.Value) + len(e.key))
}

// Len returns the number of entries, for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}
