package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/cache"
	"github.com/aiproxy/aiproxy/internal/redis"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// scaleFlags configure what a replica shares with the others (Redis, job
// leases) and how it stops (serve and demo).
type scaleFlags struct {
	redisURL        string
	redisFailure    string
	redisPrefix     string
	redisLease      time.Duration
	jobLease        time.Duration
	shutdownDelay   time.Duration
	shutdownTimeout time.Duration
	// envErr holds the variables above that do not parse.
	envErr error
}

func (f *scaleFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.StringVar(&f.redisURL, "redis-url", e("AIPROXY_REDIS_URL"),
		"redis://, rediss:// or unix:// URL of the Redis that replicas share for rate limits, concurrency caps and job status locks (the list cache has --cache-redis-url); empty keeps them in this process [AIPROXY_REDIS_URL]")
	fs.StringVar(&f.redisFailure, "redis-failure", envOr(e, "AIPROXY_REDIS_FAILURE", "closed"),
		"when Redis cannot be reached: closed refuses rate-limited and capped calls with 503, open lets them through unchecked [AIPROXY_REDIS_FAILURE]")
	fs.StringVar(&f.redisPrefix, "redis-prefix", envOr(e, "AIPROXY_REDIS_PREFIX", "aiproxy:"),
		"prefix of every Redis key, so that installations sharing a Redis never meet [AIPROXY_REDIS_PREFIX]")
	fs.DurationVar(&f.redisLease, "redis-slot-lease", v.duration("AIPROXY_REDIS_SLOT_LEASE", 30*time.Second),
		"how long a dead replica's concurrency slots stay taken in Redis [AIPROXY_REDIS_SLOT_LEASE]")
	fs.DurationVar(&f.jobLease, "job-lease", v.duration("AIPROXY_JOB_LEASE", time.Minute),
		"how long a replica holds a due job or webhook delivery it took before another replica may take it over [AIPROXY_JOB_LEASE]")
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", v.duration("AIPROXY_SHUTDOWN_DELAY", 0),
		"on SIGTERM, how long /readyz answers 503 while the server still serves, so that load balancers stop sending first [AIPROXY_SHUTDOWN_DELAY]")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", v.duration("AIPROXY_SHUTDOWN_TIMEOUT", 20*time.Second),
		"how long in-flight requests and streams may take to finish after SIGTERM before they are cut [AIPROXY_SHUTDOWN_TIMEOUT]")
	f.envErr = v.err()
}

// validate checks the scale-out settings and variables, returning every
// problem at once.
func (f *scaleFlags) validate() error {
	errs := []error{f.envErr}
	if f.redisFailure != "closed" && f.redisFailure != "open" {
		errs = append(errs, fmt.Errorf("--redis-failure %q: want closed or open", f.redisFailure))
	}
	errs = append(errs, redisURLErr("--redis-url", f.redisURL))
	if f.redisLease < time.Second || f.jobLease < time.Second {
		errs = append(errs, errors.New("--redis-slot-lease and --job-lease must be at least 1s"))
	}
	if f.shutdownDelay < 0 || f.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-delay must not be negative and --shutdown-timeout must be positive"))
	}
	return errors.Join(errs...)
}

// redisURLErr checks a Redis URL flag; "" is no Redis.
func redisURLErr(flag, url string) error {
	switch {
	case url == "":
		return nil
	case !strings.HasPrefix(url, "redis://") && !strings.HasPrefix(url, "rediss://") && !strings.HasPrefix(url, "unix://"):
		return fmt.Errorf("%s %s: want a redis://, rediss:// or unix:// URL", flag, redis.Redact(url))
	}
	if err := redis.CheckURL(url); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	return nil
}

// openRedis returns the Redis client the flags name, or nil without one.
func (f *scaleFlags) openRedis(log *slog.Logger) (*redis.Client, error) {
	if f.redisURL == "" {
		return nil, nil
	}
	rc, err := redis.Open(f.redisURL, redis.Options{
		Prefix: f.redisPrefix, FailOpen: f.redisFailure == "open", Lease: f.redisLease, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rc.Ping(ctx); err != nil {
		log.Warn("redis unreachable at start; not ready until it answers", "url", redis.Redact(f.redisURL),
			"failure_mode", f.redisFailure, "err", err)
		return rc, nil
	}
	log.Info("redis open", "url", redis.Redact(f.redisURL), "prefix", f.redisPrefix, "failure_mode", f.redisFailure)
	// A Redis without aiproxy's state (a first start, or a reset) holds
	// new concurrency slots back briefly while replicas re-register theirs
	// (internal/redis/epoch.go); wait that out before serving.
	for rc.Restoring() && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		_ = rc.Ping(ctx)
	}
	return rc, nil
}

// cacheFlags configure the store of the list cache: in each process, or on
// a Redis of its own that the replicas share, never the limits' Redis by
// default. Either way it is bounded in total (--cache-mb, --cache-entries)
// and per org (--cache-org-mb, --cache-org-entries), so that one org's
// queries cannot push the others' lists out.
type cacheFlags struct {
	redisURL   string
	prefix     string
	orgMB      int
	entries    int
	orgEntries int
	envErr     error
}

func (f *cacheFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.StringVar(&f.redisURL, "cache-redis-url", e("AIPROXY_CACHE_REDIS_URL"),
		"redis://, rediss:// or unix:// URL of a Redis of its own for the list cache, shared by the replicas; empty keeps the cache in each process (the limits' Redis never holds it) [AIPROXY_CACHE_REDIS_URL]")
	fs.IntVar(&f.orgMB, "cache-org-mb", v.int("AIPROXY_CACHE_ORG_MB", 0),
		"most of the list cache one org's calls may fill, in MiB; 0 means a quarter of --cache-mb [AIPROXY_CACHE_ORG_MB]")
	fs.IntVar(&f.entries, "cache-entries", v.int("AIPROXY_CACHE_ENTRIES", 4096),
		"most entries in the list cache [AIPROXY_CACHE_ENTRIES]")
	fs.IntVar(&f.orgEntries, "cache-org-entries", v.int("AIPROXY_CACHE_ORG_ENTRIES", 0),
		"most list cache entries one org's calls may fill; 0 means an eighth of --cache-entries [AIPROXY_CACHE_ORG_ENTRIES]")
	f.prefix = envOr(e, "AIPROXY_REDIS_PREFIX", "aiproxy:")
	f.envErr = v.err()
}

func (f *cacheFlags) validate() error {
	errs := []error{f.envErr, redisURLErr("--cache-redis-url", f.redisURL)}
	if f.orgMB < 0 || f.entries < 1 || f.orgEntries < 0 {
		errs = append(errs, errors.New("--cache-org-mb and --cache-org-entries must not be negative, and --cache-entries must be positive"))
	}
	return errors.Join(errs...)
}

// open returns the cache's store within totalMB, and what closes it. Its
// Redis keys take the limits' prefix (rc, nil without --redis-url), else
// AIPROXY_REDIS_PREFIX. validate has checked the URL.
func (f *cacheFlags) open(totalMB int, rc *redis.Client, log *slog.Logger) (cache.Store, func()) {
	lim := cache.Limits{MaxBytes: int64(totalMB) << 20, MaxEntries: f.entries,
		OwnerMaxBytes: int64(f.orgMB) << 20, OwnerMaxEntries: f.orgEntries}
	if f.redisURL == "" {
		return cache.NewMemoryLimits(lim, nil), func() {}
	}
	prefix := f.prefix
	if rc != nil {
		prefix = rc.Prefix()
		if rc.SameServer(f.redisURL) {
			log.Warn("the list cache shares the limits' Redis server: only its bounds keep it from their memory; give it a Redis of its own",
				"cache_url", redis.Redact(f.redisURL))
		}
	}
	cc, err := redis.Open(f.redisURL, redis.Options{Prefix: prefix, Logger: log})
	if err != nil {
		log.Error("list cache kept in this process", "err", err)
		return cache.NewMemoryLimits(lim, nil), func() {}
	}
	store := cc.Cache(lim)
	l := store.Limits()
	log.Info("list cache on redis", "url", redis.Redact(f.redisURL), "max_bytes", l.MaxBytes, "max_entries", l.MaxEntries,
		"org_max_bytes", l.OwnerMaxBytes, "org_max_entries", l.OwnerMaxEntries)
	return store, func() { cc.Close() }
}

// cacheOwner charges a cached list to the org whose key made the call
// ("" for a platform administrator's key).
func cacheOwner(ctx context.Context) string {
	p, _ := aiproxy.PrincipalFrom(ctx)
	return p.OrgKey
}

// lifecycle knows when the server is draining: /readyz then answers 503,
// and event streams (which clients resume with Last-Event-ID) end, while
// other requests and streams finish.
type lifecycle struct {
	draining atomic.Bool
	// drained ends when draining starts.
	drained context.Context
	drain   context.CancelFunc
}

func newLifecycle() *lifecycle {
	l := &lifecycle{}
	l.drained, l.drain = context.WithCancel(context.Background())
	return l
}

// beginDrain marks the server as stopping.
func (l *lifecycle) beginDrain() {
	l.draining.Store(true)
	l.drain()
}

// wrap ends the org event streams (GET …/jobs/events) when draining starts.
func (l *lifecycle) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/jobs/events") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(l.drained, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// readiness answers /readyz: the database, Redis (when configured) and
// whether the server is draining.
type readiness struct {
	db    interface{ Ping(context.Context) error }
	redis *redis.Client
	life  *lifecycle
}

// check reports each dependency's state and whether the server can serve.
// A Redis that cannot be reached makes the replica unready in the closed
// failure mode; in the open mode it is reported but the replica serves.
func (r readiness) check(ctx context.Context) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks, ready := map[string]string{"database": "ok"}, true
	if err := r.db.Ping(ctx); errors.Is(err, sqlite.ErrIntegrity) {
		checks["database"], ready = "corrupt", false
	} else if err != nil {
		checks["database"], ready = "unreachable", false
	}
	if r.redis != nil {
		checks["redis"] = "ok"
		if err := r.redis.Ping(ctx); err != nil {
			checks["redis"] = "unreachable"
			if r.redis.FailOpen() {
				checks["redis"] = "unreachable (failing open)"
			} else {
				ready = false
			}
		}
	}
	if r.life.draining.Load() {
		checks["server"], ready = "draining", false
	}
	return checks, ready
}
