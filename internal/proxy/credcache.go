package proxy

import (
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// DefaultCredentialTTL is the Config.CredentialTTL that serve uses. A
// credential set or deleted through the admin service of the same process
// is forgotten at once (ForgetCredential); one changed by another process
// sharing the database (the CLI, another replica) takes effect within this
// time.
const DefaultCredentialTTL = time.Second

// credCacheMax bounds the cache; when full it is emptied, which only costs
// store reads.
const credCacheMax = 10000

// credCache keeps recently opened credentials, so that the invoke path does
// not read and open the sealed row on every request. An entry also records
// that a source holds no such credential, so that a policy's fallback does
// not query the store for the missing one each time. Each entry is deleted
// by its own timer when it expires, so that an opened secret stays in
// memory no longer than the TTL after it was read, traffic or not. Its
// zero value is ready to use; it never logs or prints a secret.
//
// It also holds the state of the credentials' key pools (pool.go), which
// lives as long as the keyring.
type credCache struct {
	mu sync.RWMutex
	m  map[credKey]*credEntry
	// gen changes on every forget, so that a store read that raced a change
	// is not stored.
	gen uint64

	pools poolState
}

// credKey names a credential: its source, its owner ("" for the platform)
// and its name.
type credKey struct {
	src         aiproxy.Source
	owner, name string
}

// credEntry is one opened credential field, or the fact that the source has
// no such credential (found false). A pool's entry holds its keys; secret
// is then its first key's, the credential's identity for caches keyed on
// the account.
type credEntry struct {
	field  string
	secret string
	pool   *openPool
	found  bool
	at     time.Time
	timer  *time.Timer
}

// get returns the cached entry for k and field, if fresh, and the current
// generation, to pass to put after a store read.
func (c *credCache) get(k credKey, field string, ttl time.Duration) (e credEntry, ok bool, gen uint64) {
	c.mu.RLock()
	hit := c.m[k]
	gen = c.gen
	c.mu.RUnlock()
	if hit == nil || (hit.found && hit.field != field) || time.Since(hit.at) >= ttl {
		return credEntry{}, false, gen
	}
	return *hit, true, gen
}

// put stores what a store read found, unless a forget happened since gen
// was read.
func (c *credCache) put(k credKey, e credEntry, gen uint64, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil || len(c.m) >= credCacheMax {
		c.clearLocked()
		c.m = make(map[credKey]*credEntry)
	}
	if old := c.m[k]; old != nil {
		old.timer.Stop()
	}
	ent := &e
	ent.at = time.Now()
	ent.timer = time.AfterFunc(ttl, func() { c.drop(k, ent) })
	c.m[k] = ent
}

// drop deletes k if it still holds ent.
func (c *credCache) drop(k credKey, ent *credEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] == ent {
		delete(c.m, k)
	}
}

// forget drops a credential, whatever its field.
func (c *credCache) forget(k credKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k]; old != nil {
		old.timer.Stop()
		delete(c.m, k)
	}
	c.gen++
}

func (c *credCache) clearLocked() {
	for _, e := range c.m {
		e.timer.Stop()
	}
	c.m = nil
}

// ForgetCredential drops a credential from the proxy's cache, so that a
// change to it takes effect on the next call. The admin service calls it
// after every credential it sets or deletes; org is "" for the platform.
func (p *Proxy) ForgetCredential(src aiproxy.Source, org, name string) {
	if src == aiproxy.SourcePlatform {
		org = ""
	}
	p.keys.cache.forget(credKey{src: src, owner: org, name: name})
	p.keys.cache.pools.unsee(aiproxy.PoolRef{Source: src, OrgKey: org, Name: name})
}
