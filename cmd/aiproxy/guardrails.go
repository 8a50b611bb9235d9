package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/access"
	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/breaker"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/metrics"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/quota"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
	"github.com/aiproxy/aiproxy/internal/redis"
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
	// cache is where the list cache lives and its bounds (scaleout.go).
	cache cacheFlags
	// weights are --concurrency-weights, the orgs' weights in the fair
	// shares of credential caps, parsed by validate into shares.
	weights listFlag
	shares  map[string]int
	// rules and caps are --rate-limit and --max-inflight, parsed by
	// validate.
	rules []ratelimit.Rule
	caps  []concurrency.Rule
	// envErr holds the variables above that do not parse.
	envErr error
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
	v := newEnvValues(e)
	f.rateLimits = newListFlag(e("AIPROXY_RATE_LIMITS"))
	fs.Var(&f.rateLimits, "rate-limit", "token bucket SCOPE[:SERVICE[/ACTION]]=N/UNIT[:BURST], scope org or key, unit s|m|h|d, e.g. org=600/m; repeatable [AIPROXY_RATE_LIMITS, comma-separated]")
	f.maxInflight = newListFlag(e("AIPROXY_MAX_INFLIGHT"))
	fs.Var(&f.maxInflight, "max-inflight", "cap on provider calls in flight SCOPE[:SERVICE]=N, scope org or credential (the platform credential), e.g. credential:elevenlabs=5; repeatable [AIPROXY_MAX_INFLIGHT, comma-separated]")
	fs.DurationVar(&f.queueTimeout, "queue-timeout", v.duration("AIPROXY_QUEUE_TIMEOUT", 2*time.Second), "how long a call waits for an in-flight slot before 429 [AIPROXY_QUEUE_TIMEOUT]")
	fs.IntVar(&f.retries, "retry-attempts", v.int("AIPROXY_RETRY_ATTEMPTS", 3), "most tries of a retry-safe call; 1 disables retries [AIPROXY_RETRY_ATTEMPTS]")
	fs.IntVar(&f.breakerFailures, "breaker-failures", v.int("AIPROXY_BREAKER_FAILURES", 5), "consecutive failed calls that open a service's breaker for one credential; 0 disables [AIPROXY_BREAKER_FAILURES]")
	fs.DurationVar(&f.breakerCooldown, "breaker-cooldown", v.duration("AIPROXY_BREAKER_COOLDOWN", 30*time.Second), "how long an open breaker fails fast before a probe [AIPROXY_BREAKER_COOLDOWN]")
	fs.IntVar(&f.cacheMB, "cache-mb", v.int("AIPROXY_CACHE_MB", 64), "memory for the response cache of list endpoints, in MiB; 0 disables [AIPROXY_CACHE_MB]")
	fs.DurationVar(&f.policyRefresh, "policy-refresh", v.duration("AIPROXY_POLICY_REFRESH", 5*time.Second), "how long a server trusts an org's quotas and access rules before it reads them again; changes made by the CLI take up to this long [AIPROXY_POLICY_REFRESH]")
	fs.DurationVar(&f.cacheStale, "cache-stale", v.duration("AIPROXY_CACHE_STALE", 10*time.Minute), "how long past its TTL a cached list is served while it refreshes [AIPROXY_CACHE_STALE]")
	f.cache.register(fs, e)
	f.weights = newListFlag(e("AIPROXY_CONCURRENCY_WEIGHTS"))
	fs.Var(&f.weights, "concurrency-weights", "an org's weight ORG=W in the fair shares of a platform credential's in-flight cap (others weigh 1), e.g. acme=2; repeatable [AIPROXY_CONCURRENCY_WEIGHTS, comma-separated]")
	f.envErr = v.err()
}

// validate parses the rate limits and in-flight caps and checks the retry
// count and the variables, returning every problem at once.
func (f *guardFlags) validate() error {
	errs := []error{f.envErr}
	f.rules, f.caps = nil, nil
	for _, v := range f.rateLimits.values {
		r, err := ratelimit.ParseRule(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.rules = append(f.rules, r)
	}
	for _, v := range f.maxInflight.values {
		r, err := concurrency.ParseRule(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.caps = append(f.caps, r)
	}
	if f.retries < 1 {
		errs = append(errs, fmt.Errorf("--retry-attempts %d: want at least 1", f.retries))
	}
	f.shares = map[string]int{}
	for _, v := range f.weights.values {
		org, w, err := concurrency.ParseWeight(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.shares[org] = w
	}
	return errors.Join(append(errs, f.cache.validate())...)
}

// guardrails are the guardrails assemble builds from the flags.
type guardrails struct {
	proxy  proxy.Config // only the guardrail fields are set
	access *access.Checker
	manage *admin.Guardrails
	stop   func()
}

// build makes the guardrails from validated flags: the store keeps quotas,
// usage and access rules, and Redis, when rc is not nil, the state that
// replicas share (the rate limiters' buckets and the concurrency caps'
// slots; the list cache has a Redis of its own, --cache-redis-url, or stays
// in the process). Its usage recorder runs until stop, keeps the records
// the database does not take in the spool directory's usage/, and reports
// its backlog to m.
func (f *guardFlags) build(db aiproxy.Store, cat admin.Catalog, rc *redis.Client, log *slog.Logger, m *metrics.Metrics, spool string) *guardrails {
	g := &guardrails{}
	g.proxy.Retry = proxy.RetryPolicy{Attempts: f.retries}
	if len(f.rules) > 0 {
		var lim ratelimit.Limiter = ratelimit.NewMemory(nil)
		if rc != nil {
			lim = rc.Limiter()
		}
		g.proxy.RateLimit = &ratelimit.Policy{Rules: f.rules, Limiter: lim}
	}
	if len(f.caps) > 0 {
		var sem concurrency.Semaphore = concurrency.NewMemory()
		if rc != nil {
			sem = rc.Semaphore()
		}
		g.proxy.Concurrency = &concurrency.Policy{Rules: f.caps, Sem: sem, QueueTimeout: f.queueTimeout, Weights: f.shares}
	}
	if f.breakerFailures > 0 {
		g.proxy.Breaker = breaker.New(f.breakerFailures, f.breakerCooldown, nil)
	}
	closeCache := func() {}
	if f.cacheMB > 0 {
		store, closeStore := f.cache.open(f.cacheMB, rc, log)
		g.proxy.Cache = cache.New(store, nil).ChargeTo(cacheOwner)
		g.proxy.CacheStale, closeCache = f.cacheStale, closeStore
	}
	g.access = access.New(db, f.policyRefresh, nil)
	quotas := quota.New(db, nil, f.policyRefresh)
	quotas.OnError(func(err error) { log.Error("release quota", "err", err) })
	rec := metering.New(db, metering.Config{Logger: log, SpoolDir: filepath.Join(spool, "usage")})
	m.Usage(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	g.stop = func() { cancel(); <-done; closeCache() }
	g.proxy.Access, g.proxy.Quotas, g.proxy.Meter = g.access, quotas, rec
	g.manage = admin.NewGuardrails(db, cat, nil, func(org string) {
		g.access.Invalidate(org)
		quotas.Invalidate(org)
	})
	g.manage.SetAuditor(db)
	return g
}

// withGuardrails copies the guardrail fields onto a proxy configuration.
func (g *guardrails) withGuardrails(c proxy.Config) proxy.Config {
	c.Access, c.RateLimit, c.Concurrency, c.Quotas = g.proxy.Access, g.proxy.RateLimit, g.proxy.Concurrency, g.proxy.Quotas
	c.Breaker, c.Cache, c.Meter, c.Retry, c.CacheStale = g.proxy.Breaker, g.proxy.Cache, g.proxy.Meter, g.proxy.Retry, g.proxy.CacheStale
	return c
}
