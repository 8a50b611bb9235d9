// Package access answers whether an org may use a service or endpoint, from
// the per-org rules in an aiproxy.AccessStore, remembered briefly so that
// the invoke path does not read the database on every call.
package access

import (
	"context"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Checker reads and caches per-org access rules. It is safe for concurrent
// use.
type Checker struct {
	store aiproxy.AccessStore
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	rules map[string]cached
}

type cached struct {
	rules []aiproxy.AccessRule
	at    time.Time
}

// New returns a Checker over a store. ttl is how long an org's rules are
// trusted (0 means 5 seconds); Invalidate forgets them at once after a
// change made in this process. now may be nil.
func New(store aiproxy.AccessStore, ttl time.Duration, now func() time.Time) *Checker {
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Checker{store: store, ttl: ttl, now: now, rules: map[string]cached{}}
}

// Rules returns an org's rules.
func (c *Checker) Rules(ctx context.Context, org string) ([]aiproxy.AccessRule, error) {
	now := c.now()
	c.mu.Lock()
	got, ok := c.rules[org]
	c.mu.Unlock()
	if ok && now.Sub(got.at) < c.ttl {
		return got.rules, nil
	}
	rules, err := c.store.AccessRules(ctx, org)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.rules[org] = cached{rules: rules, at: now}
	c.mu.Unlock()
	return rules, nil
}

// Disabled reports whether an org has turned an endpoint (or, for "", the
// whole service) off.
func (c *Checker) Disabled(ctx context.Context, org, service, endpoint string) (bool, error) {
	rules, err := c.Rules(ctx, org)
	if err != nil {
		return false, err
	}
	return aiproxy.Disables(rules, service, endpoint), nil
}

// Invalidate forgets an org's rules.
func (c *Checker) Invalidate(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rules, org)
}
