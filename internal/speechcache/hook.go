package speechcache

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// OriginalCostPrefix starts the header in which a hit keeps what the first
// call cost, the rule's cost header after it:
// X-Aiproxy-Cache-Original-Character-Cost for ElevenLabs.
const OriginalCostPrefix = "X-Aiproxy-Cache-Original-"

// The values of proxy.CacheHeader the speech cache sends.
const (
	Hit  = "HIT"
	Miss = "MISS"
)

// Config configures a Cache. Store and Orgs are required.
type Config struct {
	Store Store
	// Orgs says which orgs use the cache; the others never reach it.
	Orgs Orgs
	// Logger receives the store's failures, which only ever turn a hit
	// into a provider call; nil discards them.
	Logger *slog.Logger
	// Pricer prices each hit as the provider would have charged it, for
	// its usage record's saved cost (saved.go); nil records none.
	Pricer Pricer
}

// Cache is the speech cache on the call pipeline: a proxy.Hooks whose hook
// claims the endpoints with a speech_cache rule. Before answers a hit from
// the store (proxy.CacheHeader HIT, no provider units spent); a miss goes
// on to the provider, and After copies a clean 200 answer to the store as
// the client receives it (MISS). A hit's usage record costs nothing and
// shows what the provider would have charged for it as saved (Pricer).
// Concurrent misses of one key make one provider call; the other callers
// wait for it and get the stored answer. It is safe for concurrent use.
//
// Wire it after the ownership hooks, so that a call that names another
// org's or user's object is refused before any hit, and before the budget
// enforcer, so that a hit reserves nothing:
//
//	invoker := p.WithHooks(owners, keys, jobs, speech, budgets)
type Cache struct {
	store  Store
	orgs   Orgs
	log    *slog.Logger
	pricer Pricer

	flights flights
	// fills holds the fill a call leads, between Before and After.
	fills sync.Map // *proxy.Call → *fill
	// storing counts the fills being committed after their calls ended.
	storing sync.WaitGroup
}

var _ proxy.Hooks = (*Cache)(nil)

// fill is one call's copy of its answer to the store.
type fill struct {
	key string
	f   *flight
	// created is closed once Create has given w or err: the entry is
	// started while the provider is asked, so that the client's first
	// byte never waits for a file to be made.
	created chan struct{}
	w       Writer
	err     error
	// t and meta are set when the answer is worth keeping.
	t    *tee
	meta Meta
}

// New returns a Cache.
func New(cfg Config) *Cache {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{store: cfg.Store, orgs: cfg.Orgs, log: log, pricer: cfg.Pricer}
}

// Hook claims the endpoints whose catalog entry has a speech_cache rule.
func (s *Cache) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	if ep.SpeechCache == nil {
		return nil
	}
	return hook{s: s, rule: ep.SpeechCache}
}

// Wait waits until the answers of ended calls are stored. Call it at
// shutdown, once the server takes no more calls.
func (s *Cache) Wait() { s.storing.Wait() }

type hook struct {
	s    *Cache
	rule *aiproxy.SpeechCacheRule
}

// Before answers a hit, or makes the call the one that fills its key, or
// waits for the call that does and answers from what it stored. A call of
// an org without the cache, or one the rule makes uncacheable, passes
// untouched.
func (h hook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	on, err := h.s.orgs.Enabled(ctx, c.Org)
	if err != nil {
		h.s.log.WarnContext(ctx, "speech cache: org settings unreadable; calling the provider", "org", c.Org, "err", err)
		return nil, nil
	}
	if !on {
		return nil, nil
	}
	if _, err := c.Resolve(ctx); err != nil {
		return nil, err
	}
	key, ok := keyOf(c, h.rule)
	if !ok {
		return nil, nil
	}
	if a := h.hit(ctx, c, key); a != nil {
		return a, nil
	}
	f, leader := h.s.flights.join(key)
	if leader {
		if a := h.hit(ctx, c, key); a != nil { // stored between the look and the join
			h.s.flights.leave(key, f)
			return a, nil
		}
		fl := &fill{key: key, f: f, created: make(chan struct{})}
		go func() {
			fl.w, fl.err = h.s.store.Create(key)
			close(fl.created)
		}()
		h.s.fills.Store(c, fl)
		c.Defer(func() { h.s.finish(c, fl) })
		return nil, nil
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, nil // the pipeline reports the client's departure
	}
	// A fill that stored nothing (an error, a cut stream) is not retried
	// in turn by every waiter: each calls the provider as if uncached.
	return h.hit(ctx, c, key), nil
}

// hit returns the answer stored under key, or nil.
func (h hook) hit(ctx context.Context, c *proxy.Call, key string) *proxy.Answer {
	e, err := h.s.store.Open(key)
	if err != nil {
		h.s.log.WarnContext(ctx, "speech cache: read failed", "org", c.Org, "err", err)
		return nil
	}
	if e == nil {
		return nil
	}
	if e.Org != c.Org {
		e.Body.Close()
		return nil
	}
	c.AnsweredFromCache()
	h.s.recordSaved(c, e.Header)
	return proxy.NewStreamAnswer(e.Status, hitHeader(e.Header, h.rule), e.Body, e.Size)
}

// hitHeader is a stored answer's header as a hit sends it: the ids of what
// the first call created dropped, its cost kept aside and zeroed.
func hitHeader(stored http.Header, rule *aiproxy.SpeechCacheRule) http.Header {
	h := stored.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, name := range rule.DropHeaders {
		h.Del(name)
	}
	if rule.CostHeader != "" {
		if v := h.Get(rule.CostHeader); v != "" {
			h.Set(OriginalCostPrefix+http.CanonicalHeaderKey(rule.CostHeader), v)
			h.Set(rule.CostHeader, "0")
		}
	}
	h.Set(proxy.CacheHeader, Hit)
	return h
}

// After starts copying the answer of the call that fills its key, when it
// is the provider's clean 200, to the store as the client reads it.
func (h hook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	v, ok := h.s.fills.Load(c)
	if !ok || err != nil || a == nil || a.Status != http.StatusOK || a.Upstream != http.StatusOK {
		return a, err
	}
	fl := v.(*fill)
	<-fl.created
	if fl.err != nil {
		h.s.log.WarnContext(ctx, "speech cache: cannot store", "org", c.Org, "err", fl.err)
		return a, nil
	}
	header := a.Header.Clone()
	header.Del(proxy.CacheHeader)
	fl.meta = Meta{Org: c.Org, Status: a.Status, Header: header}
	fl.t = &tee{w: fl.w}
	a.WrapBody(func(r io.Reader) io.Reader { fl.t.r = r; return fl.t })
	a.Header.Set(proxy.CacheHeader, Miss)
	return a, nil
}

// finish ends a fill once its call has ended: a whole copy is committed
// off the call's path (the sync does not hold back the client's end of
// stream) and the waiters are woken once it is in the store; anything else
// is dropped at once.
func (s *Cache) finish(c *proxy.Call, fl *fill) {
	s.fills.Delete(c)
	<-fl.created
	if fl.err != nil || fl.t == nil || !fl.t.complete() {
		if fl.w != nil {
			fl.w.Abort()
		}
		s.flights.leave(fl.key, fl.f)
		return
	}
	s.storing.Add(1)
	go func() {
		defer s.storing.Done()
		defer s.flights.leave(fl.key, fl.f)
		if err := fl.w.Commit(fl.meta); err != nil {
			s.log.Warn("speech cache: store failed", "org", c.Org, "err", err)
		}
	}()
}
