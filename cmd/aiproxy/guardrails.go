package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/access"
	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/breaker"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/quota"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
	metering "github.com/aiproxy/aiproxy/internal/usage"
)

// guardFlags configure the guardrails of serve and demo.
type guardFlags struct {
	rateLimits      listFlag
	maxInflight     listFlag
	queueTimeout    time.Duration
	retries         int
	breakerFailures int
	breakerCooldown time.Duration
	cacheMB         int
	cacheStale      time.Duration
	policyRefresh   time.Duration
}

// listFlag collects a repeatable flag, seeded from a comma-separated
// environment variable that the first flag replaces.
type listFlag struct {
	values  []string
	fromEnv bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if l.fromEnv {
		l.values, l.fromEnv = nil, false
	}
	l.values = append(l.values, v)
	return nil
}

func newListFlag(env string) listFlag {
	var l listFlag
	for _, v := range strings.Split(env, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.values = append(l.values, v)
		}
	}
	l.fromEnv = len(l.values) > 0
	return l
}

func (f *guardFlags) register(fs *flag.FlagSet, e env) {
	f.rateLimits = newListFlag(e("AIPROXY_RATE_LIMITS"))
	fs.Var(&f.rateLimits, "rate-limit", "token bucket SCOPE[:SERVICE[/ACTION]]=N/UNIT[:BURST], scope org or key, unit s|m|h|d, e.g. org=600/m; repeatable [AIPROXY_RATE_LIMITS, comma-separated]")
	f.maxInflight = newListFlag(e("AIPROXY_MAX_INFLIGHT"))
	fs.Var(&f.maxInflight, "max-inflight", "cap on provider calls in flight SCOPE[:SERVICE]=N, scope org or credential (the platform credential), e.g. credential:elevenlabs=5; repeatable [AIPROXY_MAX_INFLIGHT, comma-separated]")
	fs.DurationVar(&f.queueTimeout, "queue-timeout", envDuration(e, "AIPROXY_QUEUE_TIMEOUT", 2*time.Second), "how long a call waits for an in-flight slot before 429 [AIPROXY_QUEUE_TIMEOUT]")
	fs.IntVar(&f.retries, "retry-attempts", envInt(e, "AIPROXY_RETRY_ATTEMPTS", 3), "most tries of a retry-safe call; 1 disables retries [AIPROXY_RETRY_ATTEMPTS]")
	fs.IntVar(&f.breakerFailures, "breaker-failures", envInt(e, "AIPROXY_BREAKER_FAILURES", 5), "consecutive failed calls that open a service's breaker for one credential; 0 disables [AIPROXY_BREAKER_FAILURES]")
	fs.DurationVar(&f.breakerCooldown, "breaker-cooldown", envDuration(e, "AIPROXY_BREAKER_COOLDOWN", 30*time.Second), "how long an open breaker fails fast before a probe [AIPROXY_BREAKER_COOLDOWN]")
	fs.IntVar(&f.cacheMB, "cache-mb", envInt(e, "AIPROXY_CACHE_MB", 64), "memory for the response cache of list endpoints, in MiB; 0 disables [AIPROXY_CACHE_MB]")
	fs.DurationVar(&f.policyRefresh, "policy-refresh", envDuration(e, "AIPROXY_POLICY_REFRESH", 5*time.Second), "how long a server trusts an org's quotas and access rules before it reads them again; changes made by the CLI take up to this long [AIPROXY_POLICY_REFRESH]")
	fs.DurationVar(&f.cacheStale, "cache-stale", envDuration(e, "AIPROXY_CACHE_STALE", 10*time.Minute), "how long past its TTL a cached list is served while it refreshes [AIPROXY_CACHE_STALE]")
}

func envInt(e env, name string, def int) int {
	if n, err := strconv.Atoi(e(name)); err == nil {
		return n
	}
	return def
}

func envBool(e env, name string, def bool) bool {
	if b, err := strconv.ParseBool(e(name)); err == nil {
		return b
	}
	return def
}

func envDuration(e env, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(e(name)); err == nil {
		return d
	}
	return def
}

// guardrails is what openApp wires from the flags.
type guardrails struct {
	proxy  proxy.Config // only the guardrail fields are set
	access *access.Checker
	manage *admin.Guardrails
	stop   func()
}

// build makes the guardrails; db supplies quotas, usage and access rules
// when its engine keeps them.
func (f *guardFlags) build(db store, cat admin.Catalog, log *slog.Logger) (*guardrails, error) {
	g := &guardrails{stop: func() {}}
	if err := f.buildLimits(g); err != nil {
		return nil, err
	}
	g.proxy.Retry = proxy.RetryPolicy{Attempts: f.retries}
	if f.breakerFailures > 0 {
		g.proxy.Breaker = breaker.New(f.breakerFailures, f.breakerCooldown, nil)
	}
	if f.cacheMB > 0 {
		g.proxy.Cache = cache.New(cache.NewMemory(int64(f.cacheMB)<<20, nil), nil)
		g.proxy.CacheStale = f.cacheStale
	}
	gs, ok := db.(admin.GuardrailStores)
	if !ok {
		log.Warn("this database engine keeps no quotas, usage or access rules; those guardrails are off")
		return g, nil
	}
	g.access = access.New(gs, f.policyRefresh, nil)
	quotas := quota.New(gs, nil, f.policyRefresh)
	quotas.OnError(func(err error) { log.Error("release quota", "err", err) })
	rec := metering.New(gs, metering.Config{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	g.stop = func() { cancel(); <-done }
	g.proxy.Access, g.proxy.Quotas, g.proxy.Meter = g.access, quotas, rec
	g.manage = admin.NewGuardrails(gs, cat, nil, func(org string) {
		g.access.Invalidate(org)
		quotas.Invalidate(org)
	})
	return g, nil
}

func (f *guardFlags) buildLimits(g *guardrails) error {
	var rules []ratelimit.Rule
	for _, v := range f.rateLimits.values {
		r, err := ratelimit.ParseRule(v)
		if err != nil {
			return err
		}
		rules = append(rules, r)
	}
	if len(rules) > 0 {
		g.proxy.RateLimit = &ratelimit.Policy{Rules: rules, Limiter: ratelimit.NewMemory(nil)}
	}
	var caps []concurrency.Rule
	for _, v := range f.maxInflight.values {
		r, err := concurrency.ParseRule(v)
		if err != nil {
			return err
		}
		caps = append(caps, r)
	}
	if len(caps) > 0 {
		g.proxy.Concurrency = &concurrency.Policy{Rules: caps, Sem: concurrency.NewMemory(), QueueTimeout: f.queueTimeout}
	}
	if f.retries < 1 {
		return fmt.Errorf("--retry-attempts %d: want at least 1", f.retries)
	}
	return nil
}

// withGuardrails copies the guardrail fields onto a proxy configuration.
func (g *guardrails) withGuardrails(c proxy.Config) proxy.Config {
	c.Access, c.RateLimit, c.Concurrency, c.Quotas = g.proxy.Access, g.proxy.RateLimit, g.proxy.Concurrency, g.proxy.Quotas
	c.Breaker, c.Cache, c.Meter, c.Retry, c.CacheStale = g.proxy.Breaker, g.proxy.Cache, g.proxy.Meter, g.proxy.Retry, g.proxy.CacheStale
	return c
}
