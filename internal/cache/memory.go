package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store bounded by Limits: the bytes of its keys
// and values and its number of entries, in total and per owner. An owner
// over its bounds loses its own least recently used entries; the store
// over its bounds loses the least recently used of all. Expired entries
// leave on access.
type Memory struct {
	lim Limits
	now func() time.Time

	mu     sync.Mutex
	bytes  int64
	lru    *list.List // of *memEntry, front is most recent
	items  map[string]*list.Element
	owners map[string]*ownerUse
}

type memEntry struct {
	key     string
	it      Item
	expires time.Time
	size    int64
	// byOwner is the entry's element in its owner's list.
	byOwner *list.Element
}

// ownerUse is what one owner's entries use.
type ownerUse struct {
	lru   *list.List // of *list.Element of Memory.lru, front is most recent
	bytes int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns a store holding at most maxBytes of keys and values
// (0 means 64 MiB), with the default bounds for the rest; now may be nil
// for time.Now.
func NewMemory(maxBytes int64, now func() time.Time) *Memory {
	return NewMemoryLimits(Limits{MaxBytes: maxBytes}, now)
}

// NewMemoryLimits returns a store within lim; now may be nil for time.Now.
func NewMemoryLimits(lim Limits, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{lim: lim.Resolved(), now: now, lru: list.New(), items: map[string]*list.Element{}, owners: map[string]*ownerUse{}}
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
	m.owners[e.it.Owner].lru.MoveToFront(e.byOwner)
	return e.it, true, nil
}

// Set stores an item, evicting its owner's least recently used entries,
// then anyone's, to stay within the limits. An item larger than an owner
// may hold is not kept.
func (m *Memory) Set(_ context.Context, key string, it Item, keep time.Duration) error {
	size := int64(len(it.Value) + len(key))
	if size > m.lim.OwnerMaxBytes {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	o := m.owners[it.Owner]
	if o == nil {
		o = &ownerUse{lru: list.New()}
		m.owners[it.Owner] = o
	}
	e := &memEntry{key: key, it: it, expires: m.now().Add(keep), size: size}
	el := m.lru.PushFront(e)
	e.byOwner = o.lru.PushFront(el)
	m.items[key] = el
	m.bytes += size
	o.bytes += size
	for o.lru.Len() > m.lim.OwnerMaxEntries || o.bytes > m.lim.OwnerMaxBytes {
		m.remove(o.lru.Back().Value.(*list.Element))
	}
	for len(m.items) > m.lim.MaxEntries || m.bytes > m.lim.MaxBytes {
		m.remove(m.lru.Back())
	}
	return nil
}

func (m *Memory) remove(el *list.Element) {
	e := el.Value.(*memEntry)
	m.lru.Remove(el)
	delete(m.items, e.key)
	m.bytes -= e.size
	o := m.owners[e.it.Owner]
	o.lru.Remove(e.byOwner)
	if o.bytes -= e.size; o.lru.Len() == 0 {
		delete(m.owners, e.it.Owner)
	}
}

// Len returns the number of entries, for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Usage returns the entries and bytes an owner holds, for tests and
// metrics.
func (m *Memory) Usage(owner string) (entries int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.owners[owner]; o != nil {
		return o.lru.Len(), o.bytes
	}
	return 0, 0
}
