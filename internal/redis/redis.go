// Package redis keeps the state that every replica of one aiproxy
// installation must share on a Redis server: the rate limiters' token
// buckets, the concurrency caps' slots (leased, so that a dead replica's
// slots free themselves), the response cache of list endpoints, and the
// locks that let one replica at a time read a job's status from the
// provider.
//
// Quotas are not here: their counters stay in the SQL database, whose
// reservation is one transaction over every applicable counter, durable,
// and readable by the quota API; see docs/scale-out.md.
//
// When Redis cannot be reached, Options.FailOpen decides: closed (the
// default) refuses rate-limited and capped calls with a 503 "unavailable"
// error, so that limits are never silently multiplied by the number of
// replicas; open lets them through unchecked and logs it. The cache and the
// job locks always fail open: a miss or a second status read costs a
// provider call, never correctness.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Options configure a Client. Zero values mean the stated defaults.
type Options struct {
	// Prefix starts every key, so that installations (and test runs)
	// sharing one server never meet; "" means "aiproxy:".
	Prefix string
	// FailOpen lets rate-limited and capped calls through unchecked while
	// Redis cannot be reached; false refuses them with a 503.
	FailOpen bool
	// Lease is how long a concurrency slot outlives its holder's last
	// renewal; a holder renews every third of it. 0 means 30s.
	Lease time.Duration
	// Logger receives failures, at most one line per kind every 10s; nil
	// discards.
	Logger *slog.Logger
	// Now, when set, is the clock the scripts use (tests); nil means the
	// Redis server's own clock, which every replica shares.
	Now func() time.Time
}

// Client is a connection pool to Redis and the engines built on it. It is
// safe for concurrent use.
type Client struct {
	rdb goredis.UniversalClient
	opt Options
	log *slog.Logger

	mu     sync.Mutex
	logged map[string]time.Time
}

// Open returns a Client for a redis:// or rediss:// URL. It does not wait
// for the server: a Redis that is down at start makes the replica
// unready, not dead, and Ping reports it.
func Open(url string, opt Options) (*Client, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", Redact(url), stripURL(err, url))
	}
	o.DialTimeout = durationOr(o.DialTimeout, 2*time.Second)
	o.ReadTimeout = durationOr(o.ReadTimeout, time.Second)
	o.WriteTimeout = durationOr(o.WriteTimeout, time.Second)
	o.MaxRetries = 1
	return New(goredis.NewClient(o), opt), nil
}

// New returns a Client over an existing go-redis client.
func New(rdb goredis.UniversalClient, opt Options) *Client {
	if opt.Prefix == "" {
		opt.Prefix = "aiproxy:"
	}
	opt.Lease = durationOr(opt.Lease, 30*time.Second)
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{rdb: rdb, opt: opt, log: log, logged: map[string]time.Time{}}
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// DropPrefix deletes every key under the client's prefix: an installation
// (or a test run) leaving a shared server.
func (c *Client) DropPrefix(ctx context.Context) error {
	iter := c.rdb.Scan(ctx, 0, c.opt.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.rdb.Del(ctx, iter.Val()).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// FailOpen reports the failure mode.
func (c *Client) FailOpen() bool { return c.opt.FailOpen }

// key returns the full name of a key.
func (c *Client) key(parts ...string) string { return c.opt.Prefix + strings.Join(parts, ":") }

// nowArg is the clock argument of the scripts: the injected time in
// microseconds, or 0 for the server's clock.
func (c *Client) nowArg() int64 {
	if c.opt.Now == nil {
		return 0
	}
	return c.opt.Now().UnixMicro()
}

// unavailable is the client-facing error of a guardrail that cannot reach
// Redis in the closed failure mode.
func unavailable(err error) *aiproxy.Error {
	e := aiproxy.Errorf(aiproxy.CodeUnavailable,
		"The service is temporarily unavailable: shared limits cannot be checked. Retry shortly.")
	e.RetryAfter, e.Err = 1, err
	return e
}

// failed logs a failure of one kind at most every 10 seconds.
func (c *Client) failed(kind string, err error) {
	now := time.Now()
	c.mu.Lock()
	last, seen := c.logged[kind]
	quiet := seen && now.Sub(last) < 10*time.Second
	if !quiet {
		c.logged[kind] = now
	}
	c.mu.Unlock()
	if quiet {
		return
	}
	mode := "closed: refusing calls"
	if c.opt.FailOpen {
		mode = "open: calls pass unchecked"
	}
	if kind == "cache" || kind == "lock" {
		mode = "open"
	}
	c.log.Error("redis unavailable", "what", kind, "failure_mode", mode, "err", err)
}

// token returns a random slot or lock owner id.
func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Redact hides the password of a Redis URL.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return "****"
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return url
	}
	return scheme + "://****" + rest[at:]
}

// stripURL keeps a URL's password out of a parse error.
func stripURL(err error, url string) error {
	if err == nil || url == "" {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), url, Redact(url)))
}
