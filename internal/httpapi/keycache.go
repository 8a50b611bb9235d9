package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// keyCacheTTL is how long a key read from the store is reused without
// reading it again. Every request still checks its secret against the
// cached hash. A key revoked through this server's API is forgotten at
// once; one revoked by another process sharing the database (the CLI, or
// another replica) stops working within this time.
const keyCacheTTL = time.Second

// keyCacheMax bounds the cache; when full it is emptied, which only costs
// store reads.
const keyCacheMax = 10000

// keyCache keeps recently read API keys by ID, so that the hot path does
// not query the store on every request. Its zero value is ready to use.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]cachedKey
	// gen changes on every forget, so that a read that raced a revocation
	// is not stored.
	gen uint64
}

type cachedKey struct {
	key aiproxy.APIKey
	at  time.Time
}

// key returns the key with this ID from the cache or, when absent or
// older than keyCacheTTL, from the store.
func (a *authenticator) key(ctx context.Context, id string) (aiproxy.APIKey, error) {
	c := &a.cache
	now := a.now()
	c.mu.RLock()
	hit, ok := c.keys[id]
	gen := c.gen
	c.mu.RUnlock()
	if ok && !now.Before(hit.at) && now.Sub(hit.at) < keyCacheTTL {
		return hit.key, nil
	}
	k, err := a.keys.Key(ctx, id)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if c.keys == nil || len(c.keys) >= keyCacheMax {
			c.keys = map[string]cachedKey{}
		}
		c.keys[id] = cachedKey{key: k, at: now}
	}
	return k, nil
}

// forget drops a key from the cache, so that its revocation takes effect
// on the next request.
func (a *authenticator) forget(id string) {
	c := &a.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, id)
	c.gen++
}
