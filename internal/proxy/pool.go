package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Key pools. A credential may hold several provider keys (aiproxy.PoolKey).
// Each call's exchange picks one by weight among the healthy keys with a
// free slot (their per-key cap); a key the provider refuses before doing
// any work is reported and the call moves to the next key at once, since
// nothing was started: a 401 (or a 403 naming the key) takes the key out,
// a 429 or a quota refusal makes it rest. Only when no key is left does the
// client get an error (noKey). A credential of one key behaves as before:
// its health is not tracked.

// KeyHealth keeps the health of pool keys and counts their calls in
// flight. MemoryKeyHealth keeps them in this process; a shared engine
// (redis.KeyHealth) keeps them for every replica.
type KeyHealth interface {
	// KeyStates returns the status of the named keys of a pool; a key it
	// leaves out is healthy, with no call in flight.
	KeyStates(ctx context.Context, pool aiproxy.PoolRef, ids []string) (map[string]aiproxy.KeyStatus, error)
	// MarkKey records that a key rests or is removed, by the rule of
	// aiproxy.KeyStatus.Supersedes, and reports whether its state changed.
	MarkKey(ctx context.Context, pool aiproxy.PoolRef, id string, st aiproxy.KeyStatus) (changed bool, err error)
	// TakeKey holds one of a key's max slots for a call in flight (max 0:
	// no cap, the call is only counted); ok is false when all are taken.
	TakeKey(ctx context.Context, pool aiproxy.PoolRef, id string, max int) (release func(), ok bool, err error)
}

// PoolConfig configures the key pools of a Proxy. Zero values mean the
// stated defaults.
type PoolConfig struct {
	// Health keeps the keys' health; nil means a MemoryKeyHealth of this
	// process. Whoever else reads or restores keys (the admin operations)
	// must share it.
	Health KeyHealth
	// OnChange, when set, hears of every rest or removal that changed a
	// key's state (on one replica only when Health is shared), for the
	// audit log (admin.Service.RecordKeyChange); its error is logged. It
	// runs before the call goes on, so it must be quick.
	OnChange func(ctx context.Context, pool aiproxy.PoolRef, id string, st aiproxy.KeyStatus) error
	// RateRest is how long a key rests after a 429 without Retry-After;
	// 0 means DefaultRateRest.
	RateRest time.Duration
	// QuotaRest is how long a key rests after a quota or credit refusal
	// without Retry-After; 0 means DefaultQuotaRest.
	QuotaRest time.Duration
}

// The default rests.
const (
	// DefaultRateRest is short: a provider's 429 without Retry-After
	// (ElevenLabs' too_many_concurrent_requests) clears when a call ends.
	DefaultRateRest = 5 * time.Second
	// DefaultQuotaRest is long: credits rarely come back within the hour.
	// An admin restores a key at once after topping it up.
	DefaultQuotaRest = time.Hour
)

// maxSeenPools bounds the pools a Proxy remembers for PoolKeyCounts.
const maxSeenPools = 1000

// UsePools configures the key pools. Call it before the proxy serves.
func (p *Proxy) UsePools(cfg PoolConfig) {
	ps := &p.keys.cache.pools
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.cfg = cfg
}

// WithCredentialKey returns a context in which Fetch uses one key of its
// credential's pool, such as the key that started the job whose status it
// reads; "" pins none.
func WithCredentialKey(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, pinnedKeyCtx{}, id)
}

type pinnedKeyCtx struct{}

// PinKey makes the call use one key of its credential's pool, such as the
// key that started the job a status read concerns, even when that key
// rests or was removed, and never another; "" pins none. A key the pool no
// longer holds is ignored.
func (c *Call) PinKey(id string) {
	if id != "" {
		c.p.keys.cache.pools.note(c, func(k *callKey) { k.pinned = id })
	}
}

// CredentialKeyID returns the id of the pool key a job-starting call was
// sent with, for the job's record; "" when its credential holds one key or
// the call reached no provider.
func (c *Call) CredentialKeyID() string { return c.p.keys.cache.pools.used(c) }

// poolState is the key pools' state in a Proxy, kept with the credential
// cache that the keyring holds: the configuration, the pools opened
// lately (for metrics), and per call, until it ends, the key it was sent
// with and the key a hook pinned.
type poolState struct {
	mu     sync.Mutex
	cfg    PoolConfig
	memory *MemoryKeyHealth
	calls  map[*Call]*callKey
	seen   map[aiproxy.PoolRef]seenPool
}

// callKey is what a call's exchange needs to know, or tell, of its keys.
type callKey struct{ used, pinned string }

// seenPool is a pool as PoolKeyCounts reports it.
type seenPool struct {
	service string
	ids     []string
}

func (ps *poolState) health() KeyHealth {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.cfg.Health != nil {
		return ps.cfg.Health
	}
	if ps.memory == nil {
		ps.memory = NewMemoryKeyHealth(nil)
	}
	return ps.memory
}

func (ps *poolState) config() PoolConfig {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.cfg
}

// note changes a call's entry, making it if need be; the entry goes when
// the call ends. Only calls of the pipeline have entries: the hooks pin
// them, and job starts record their key.
func (ps *poolState) note(c *Call, change func(*callKey)) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	k := ps.calls[c]
	if k == nil {
		if ps.calls == nil {
			ps.calls = map[*Call]*callKey{}
		}
		k = &callKey{}
		ps.calls[c] = k
		c.Defer(func() { ps.forget(c) })
	}
	change(k)
}

func (ps *poolState) forget(c *Call) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.calls, c)
}

func (ps *poolState) used(c *Call) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if k := ps.calls[c]; k != nil {
		return k.used
	}
	return ""
}

func (ps *poolState) pinned(ctx context.Context, c *Call) string {
	ps.mu.Lock()
	k := ps.calls[c]
	ps.mu.Unlock()
	if k != nil && k.pinned != "" {
		return k.pinned
	}
	id, _ := ctx.Value(pinnedKeyCtx{}).(string)
	return id
}

// saw remembers a pool opened for a service, for PoolKeyCounts.
func (ps *poolState) saw(pool *openPool, service string) {
	ids := make([]string, len(pool.keys))
	for i, k := range pool.keys {
		ids[i] = k.id
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.seen == nil || len(ps.seen) >= maxSeenPools {
		ps.seen = map[aiproxy.PoolRef]seenPool{}
	}
	ps.seen[pool.ref] = seenPool{service: service, ids: ids}
}

// unsee forgets a pool whose credential changed.
func (ps *poolState) unsee(ref aiproxy.PoolRef) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.seen, ref)
}

// PoolKeyCounts counts the keys of the pools this proxy opened lately by
// service, source and state, for the metrics. A pool whose health cannot
// be read is left out, and the last such error returned.
func (p *Proxy) PoolKeyCounts(ctx context.Context) ([]aiproxy.PoolKeyCount, error) {
	ps := &p.keys.cache.pools
	ps.mu.Lock()
	seen := make(map[aiproxy.PoolRef]seenPool, len(ps.seen))
	for ref, sp := range ps.seen {
		seen[ref] = sp
	}
	ps.mu.Unlock()
	type group struct {
		service string
		source  aiproxy.Source
		state   aiproxy.KeyState
	}
	counts := map[group]int{}
	var lastErr error
	now := p.now()
	for ref, sp := range seen {
		states, err := ps.health().KeyStates(ctx, ref, sp.ids)
		if err != nil {
			lastErr = err
			continue
		}
		for _, id := range sp.ids {
			counts[group{sp.service, ref.Source, states[id].At(now).State}]++
		}
	}
	out := make([]aiproxy.PoolKeyCount, 0, len(counts))
	for g, n := range counts {
		out = append(out, aiproxy.PoolKeyCount{Service: g.service, Source: g.source, State: g.state, Keys: n})
	}
	slices.SortFunc(out, func(a, b aiproxy.PoolKeyCount) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Source, b.Source), cmp.Compare(a.State, b.State))
	})
	return out, lastErr
}

// openPool is a credential's pool, opened: its keys with their secrets.
type openPool struct {
	ref  aiproxy.PoolRef
	keys []poolKey
}

// poolKey is one opened key of a pool.
type poolKey struct {
	id          string
	weight, max int
	secret      string
}

func (o *openPool) key(id string) *poolKey {
	for i := range o.keys {
		if o.keys[i].id == id {
			return &o.keys[i]
		}
	}
	return nil
}

// keyChoice picks the keys of one call's exchange from its credential's
// pool, and holds the slot of the key in use until the exchange ends.
type keyChoice struct {
	p      *Proxy
	c      *Call
	pool   *openPool
	health KeyHealth
	cfg    PoolConfig
	pinned string
	states map[string]aiproxy.KeyStatus
	// out holds the keys this call will not use again: refused, or full.
	out  map[string]bool
	full bool
	// key is the key in use and release gives its slot back.
	key     *poolKey
	release func()
}

// choice returns the key choice of a call's exchange, or nil when the
// call's credential holds one key.
func (k *keyring) choice(ctx context.Context, p *Proxy, c *Call) (*keyChoice, error) {
	owner := c.Org
	if c.Source == aiproxy.SourcePlatform {
		owner = ""
	}
	e, found, err := k.credential(ctx, c.Source, owner, c.Service)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, aiproxy.ErrNoCredentials(c.Service.Slug)
	case e.pool == nil:
		return nil, nil
	}
	ps := &k.cache.pools
	kc := &keyChoice{p: p, c: c, pool: e.pool, health: ps.health(), cfg: ps.config(), pinned: ps.pinned(ctx, c),
		out: map[string]bool{}}
	if kc.pinned != "" && e.pool.key(kc.pinned) == nil {
		p.log.WarnContext(ctx, "pinned pool key is gone; choosing another", "pool", e.pool.ref.String(), "key", kc.pinned)
		kc.pinned = ""
	}
	ids := make([]string, len(e.pool.keys))
	for i, pk := range e.pool.keys {
		ids[i] = pk.id
	}
	if kc.states, err = kc.health.KeyStates(ctx, e.pool.ref, ids); err != nil {
		return nil, healthError(err)
	}
	if kc.states == nil {
		kc.states = map[string]aiproxy.KeyStatus{}
	}
	return kc, nil
}

// poolError is the refusal of a call for which no key of the pool is
// left, or whose keys' health cannot be read: never the provider's fault,
// so it never counts against the breaker.
type poolError struct{ err *aiproxy.Error }

func (e *poolError) Error() string { return e.err.Error() }

func (e *poolError) Unwrap() error { return e.err }

// healthError is the error of a call whose keys' health cannot be read or
// written: the engine's own (a shared store's 503), or a 503.
func healthError(err error) error {
	var ae *aiproxy.Error
	if !errors.As(err, &ae) {
		ae = &aiproxy.Error{Code: aiproxy.CodeUnavailable,
			Message:    "The service is temporarily unavailable: the provider keys' health cannot be read. Retry shortly.",
			RetryAfter: 1, Err: err}
	}
	return &poolError{ae}
}

// choose makes sure a key is in use: the one held (a retry keeps its key),
// the pinned one, else a key drawn by weight among the healthy keys this
// call has not been refused by, with a free slot.
func (kc *keyChoice) choose(ctx context.Context) error {
	if kc == nil || kc.key != nil {
		return nil
	}
	if kc.pinned != "" {
		release, _, err := kc.health.TakeKey(ctx, kc.pool.ref, kc.pinned, 0)
		if err != nil {
			return healthError(err)
		}
		kc.use(kc.pool.key(kc.pinned), release)
		return nil
	}
	now := kc.p.now()
	for {
		var cands []*poolKey
		for i := range kc.pool.keys {
			pk := &kc.pool.keys[i]
			if !kc.out[pk.id] && kc.states[pk.id].At(now).State == aiproxy.KeyHealthy {
				cands = append(cands, pk)
			}
		}
		if len(cands) == 0 {
			return kc.noKey()
		}
		pk := drawByWeight(cands)
		release, ok, err := kc.health.TakeKey(ctx, kc.pool.ref, pk.id, pk.max)
		if err != nil {
			return healthError(err)
		}
		if !ok {
			kc.out[pk.id], kc.full = true, true
			continue
		}
		kc.use(pk, release)
		return nil
	}
}

// use makes pk the key of the call's next attempt.
func (kc *keyChoice) use(pk *poolKey, release func()) {
	kc.key, kc.release = pk, release
	kc.c.secret = pk.secret
	if kc.c.Endpoint.StartsJob() {
		kc.c.p.keys.cache.pools.note(kc.c, func(k *callKey) { k.used = pk.id })
	}
}

// drawByWeight picks a key at random, each as likely as its weight.
func drawByWeight(keys []*poolKey) *poolKey {
	total := 0
	for _, k := range keys {
		total += k.weight
	}
	n := rand.IntN(total)
	for _, k := range keys {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return keys[len(keys)-1]
}

// done gives back the slot of the key in use.
func (kc *keyChoice) done() {
	if kc != nil && kc.release != nil {
		kc.release()
		kc.key, kc.release = nil, nil
	}
}

// noKey is the error of a call for which no key is left: 429 when keys
// are only full or resting (Retry-After: when the first rest ends), else
// the contract's 502, since every key was refused as invalid.
func (kc *keyChoice) noKey() error {
	ref, now := kc.pool.ref, kc.p.now()
	var soonest time.Time
	for _, pk := range kc.pool.keys {
		if st := kc.states[pk.id].At(now); st.State == aiproxy.KeyResting && (soonest.IsZero() || st.Until.Before(soonest)) {
			soonest = st.Until
		}
	}
	owner := "the platform's"
	if ref.Source == aiproxy.SourceTenant {
		owner = "this org's"
	}
	switch {
	case kc.full:
		e := aiproxy.Errorf(aiproxy.CodeRateLimited,
			"Every key of %s %s credential has its most calls in flight; retry shortly.", owner, ref.Name)
		e.RetryAfter = 1
		return &poolError{e}
	case !soonest.IsZero():
		wait := max(1, int(math.Ceil(soonest.Sub(now).Seconds())))
		e := aiproxy.Errorf(aiproxy.CodeRateLimited,
			"Every key of %s %s credential is resting after the provider refused it for a rate limit or quota; retry in %d seconds.",
			owner, ref.Name, wait)
		e.RetryAfter = wait
		return &poolError{e}
	}
	return &poolError{&aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed,
		Err: fmt.Errorf("no usable key in pool %s: every key was refused as invalid", ref)}}
}

// refused reports whether the provider refused the key in use before doing
// any work, so that the call moves to another key; the key is marked (it
// rests or is removed) and its slot given back. A pinned key is marked
// too, but the call keeps its answer: no other key may serve it.
func (kc *keyChoice) refused(ctx context.Context, resp *http.Response, bodyErr bool) bool {
	if kc == nil || kc.key == nil || resp == nil {
		return false
	}
	r, ok := classifyRefusal(resp, bodyErr)
	if !ok {
		return false
	}
	now := kc.p.now()
	st := aiproxy.KeyStatus{State: r.state, Reason: r.reason, Since: now}
	if r.state == aiproxy.KeyResting {
		rest := r.retryAfter
		if rest <= 0 {
			rest = kc.defaultRest(r.quota)
		}
		st.Until = now.Add(rest)
	}
	id := kc.key.id
	kc.mark(ctx, id, st)
	if kc.pinned != "" {
		return false
	}
	kc.out[id] = true
	kc.done()
	return true
}

func (kc *keyChoice) defaultRest(quota bool) time.Duration {
	switch {
	case quota && kc.cfg.QuotaRest > 0:
		return kc.cfg.QuotaRest
	case quota:
		return DefaultQuotaRest
	case kc.cfg.RateRest > 0:
		return kc.cfg.RateRest
	}
	return DefaultRateRest
}

// mark records a key's rest or removal, and reports a change.
func (kc *keyChoice) mark(ctx context.Context, id string, st aiproxy.KeyStatus) {
	if st.Supersedes(kc.states[id], st.Since) {
		kc.states[id] = st
	}
	ref := kc.pool.ref
	changed, err := kc.health.MarkKey(ctx, ref, id, st)
	if err != nil {
		kc.p.log.ErrorContext(ctx, "record pool key health", "pool", ref.String(), "key", id, "state", st.State, "err", err)
		return
	}
	if !changed {
		return
	}
	kc.p.log.WarnContext(ctx, "pool key "+string(st.State), "pool", ref.String(), "key", id, "reason", st.Reason,
		"until", st.Until)
	if kc.cfg.OnChange == nil {
		return
	}
	if err := kc.cfg.OnChange(context.WithoutCancel(ctx), ref, id, st); err != nil {
		kc.p.log.ErrorContext(ctx, "report pool key health", "pool", ref.String(), "key", id, "state", st.State, "err", err)
	}
}

// isPoolError reports whether an exchange failed for its pool, not for the
// provider.
func isPoolError(err error) bool {
	var pe *poolError
	return errors.As(err, &pe)
}
