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
		"redis:// or rediss:// URL of the Redis that replicas share for rate limits, concurrency caps, the list cache and job status locks; empty keeps them in this process [AIPROXY_REDIS_URL]")
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
	if f.redisURL != "" && !strings.HasPrefix(f.redisURL, "redis://") && !strings.HasPrefix(f.redisURL, "rediss://") &&
		!strings.HasPrefix(f.redisURL, "unix://") {
		errs = append(errs, fmt.Errorf("--redis-url %s: want a redis://, rediss:// or unix:// URL", redis.Redact(f.redisURL)))
	}
	if f.redisLease < time.Second || f.jobLease < time.Second {
		errs = append(errs, errors.New("--redis-slot-lease and --job-lease must be at least 1s"))
	}
	if f.shutdownDelay < 0 || f.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-delay must not be negative and --shutdown-timeout must be positive"))
	}
	return errors.Join(errs...)
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
	} else {
		log.Info("redis open", "url", redis.Redact(f.redisURL), "prefix", f.redisPrefix, "failure_mode", f.redisFailure)
	}
	return rc, nil
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
