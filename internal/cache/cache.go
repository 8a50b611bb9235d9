// Package cache is the response cache for list endpoints: fresh entries are
// served as they are, stale ones are served while one background refresh
// runs, and concurrent misses of one key share a single fill. Entries live
// behind the Store interface: Memory keeps them in this process (bounded,
// least recently used out first), and a shared engine (Redis) can keep them
// for many.
//
// The cache knows nothing of tenants: the caller builds keys that include
// the credential actually used, so that no entry can cross accounts. It
// only charges each entry to an owner (the org whose call filled it, named
// by a function of the call's context), so that a store can bound every
// owner apart: one org asking for many distinct lists pushes out its own
// entries, never the others'.
package cache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Status says how an answer was produced; it is sent in a response header.
type Status = string

// The statuses.
const (
	Hit   Status = "HIT"
	Miss  Status = "MISS"
	Stale Status = "STALE"
)

// Item is a stored value, when it was stored and whom it is charged to.
type Item struct {
	Value    []byte
	StoredAt time.Time
	// Owner is the org whose call filled the entry; "" is a call of no
	// org's (a platform administrator's, a background refresh's).
	Owner string
}

// Limits bound a store's entries and bytes in total and per owner. Zero
// fields mean the stated defaults.
type Limits struct {
	// MaxBytes bounds all entries; 0 means 64 MiB.
	MaxBytes int64
	// MaxEntries bounds the number of entries; 0 means 4096.
	MaxEntries int
	// OwnerMaxBytes bounds one owner's entries; 0 means a quarter of
	// MaxBytes.
	OwnerMaxBytes int64
	// OwnerMaxEntries bounds one owner's number of entries; 0 means an
	// eighth of MaxEntries.
	OwnerMaxEntries int
}

// Resolved returns the limits with defaults in place of zeros, an owner's
// bounds never above the total's.
func (l Limits) Resolved() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 4096
	}
	if l.OwnerMaxBytes <= 0 {
		l.OwnerMaxBytes = max(1, l.MaxBytes/4)
	}
	if l.OwnerMaxEntries <= 0 {
		l.OwnerMaxEntries = max(1, l.MaxEntries/8)
	}
	l.OwnerMaxBytes = min(l.OwnerMaxBytes, l.MaxBytes)
	l.OwnerMaxEntries = min(l.OwnerMaxEntries, l.MaxEntries)
	return l
}

// Store keeps items. Set keeps an item for at least keep if space allows
// within the store's limits, charging it to the item's owner. Values are
// shared: neither side may modify them after Set.
type Store interface {
	Get(ctx context.Context, key string) (Item, bool, error)
	Set(ctx context.Context, key string, it Item, keep time.Duration) error
}

// Fill produces the value for a key. storable is false for an answer that
// must be passed to the callers waiting for it but not stored, such as a
// provider error.
type Fill = func(ctx context.Context) (value []byte, storable bool, err error)

// Cache serves values from a Store, filling misses once per key at a time.
type Cache struct {
	store Store
	now   func() time.Time
	owner func(context.Context) string
	group singleflight.Group
	wg    sync.WaitGroup
}

// New returns a Cache over a store; now may be nil for time.Now. Entries
// are charged to no owner until ChargeTo names one.
func New(store Store, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{store: store, now: now, owner: func(context.Context) string { return "" }}
}

// ChargeTo names the owner of the entries a call fills from the call's
// context, and returns c.
func (c *Cache) ChargeTo(owner func(ctx context.Context) string) *Cache {
	c.owner = owner
	return c
}

type filled struct {
	value    []byte
	storable bool
}

// Get returns the value of key. An entry younger than ttl is a hit; one
// younger than ttl+stale is served stale while refresh fills the key again
// in the background (once, however many callers see it stale); anything
// else is a miss filled by fill, shared by every concurrent caller of the
// same key. A store error is treated as a miss.
func (c *Cache) Get(ctx context.Context, key string, ttl, stale time.Duration, fill, refresh Fill) ([]byte, Status, error) {
	if it, ok, err := c.store.Get(ctx, key); err == nil && ok {
		age := c.now().Sub(it.StoredAt)
		if age < ttl {
			return it.Value, Hit, nil
		}
		if age < ttl+stale {
			c.refresh(key, c.owner(ctx), ttl+stale, refresh)
			return it.Value, Stale, nil
		}
	}
	owner := c.owner(ctx)
	v, err, _ := c.group.Do(key, func() (any, error) { return c.fill(ctx, key, owner, ttl+stale, fill) })
	if err != nil {
		return nil, Miss, err
	}
	f := v.(filled)
	return f.value, Miss, nil
}

func (c *Cache) fill(ctx context.Context, key, owner string, keep time.Duration, fill Fill) (filled, error) {
	v, storable, err := fill(ctx)
	if err != nil {
		return filled{}, err
	}
	if storable {
		_ = c.store.Set(ctx, key, Item{Value: v, StoredAt: c.now(), Owner: owner}, keep)
	}
	return filled{value: v, storable: storable}, nil
}

// refresh fills key in the background unless a fill of it is running,
// charging the entry to the owner of the call that found it stale.
func (c *Cache) refresh(key, owner string, keep time.Duration, refresh Fill) {
	c.wg.Add(1)
	ch := c.group.DoChan(key, func() (any, error) {
		return c.fill(context.Background(), key, owner, keep, refresh)
	})
	go func() {
		defer c.wg.Done()
		<-ch
	}()
}

// Wait waits for the background refreshes started so far, for tests and
// shutdown.
func (c *Cache) Wait() { c.wg.Wait() }
