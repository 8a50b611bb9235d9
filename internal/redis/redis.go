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
// When Redis cannot be reached, or does not answer within
// Options.OpTimeout, Options.FailOpen decides: closed (the default) refuses
// rate-limited and capped calls with a 503 "unavailable" error, so that
// limits are never silently multiplied by the number of replicas; open lets
// them through unchecked and logs it. The cache and the job locks always
// fail open: a miss or a second status read costs a provider call, never
// correctness.
//
// A Redis that restarts empty forgets every slot and bucket. An epoch key
// tells the replicas (epoch.go): the first to find it gone records a reset,
// each replica then registers again the slots it holds (it re-asserts them
// every Options.Check anyway), new slots are held back until they have, and
// a forgotten bucket starts empty at the reset and refills at its rate, so
// that a reset errs on the side of the limits.
//
// The list cache belongs on a Redis of its own (--cache-redis-url), never
// on the limits' one: its store (cache.go) bounds its entries and bytes in
// total and per org, but only a separate server keeps its memory apart from
// the limits' keys, which must never be evicted (docs/scale-out.md).
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
	// renewal, so that a dead replica's slots free themselves. 0 means 30s.
	Lease time.Duration
	// Check is how often a replica holding slots renews them, registering
	// again any that Redis lost, and checks the epoch; new slots are held
	// back for three times as long after a reset. 0 means 500ms, or a
	// third of Lease if that is shorter.
	Check time.Duration
	// OpTimeout bounds one Redis operation of a guardrail: a Redis that
	// does not answer within it is unavailable. 0 means 1s.
	OpTimeout time.Duration
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
	// addr is the server's network and address, when Open made the client.
	addr string

	mu     sync.Mutex
	logged map[string]time.Time

	// epoch is the id of the Redis state this replica last saw (epoch.go).
	epoch epochState
	// slots are the concurrency slots this replica holds, which it renews
	// and re-asserts (concurrency.go).
	slots *keeper
	done  chan struct{}
	close sync.Once
}

// CheckURL reports whether Open can parse a Redis URL, without the URL's
// password in the error.
func CheckURL(url string) error {
	if _, err := goredis.ParseURL(url); err != nil {
		return fmt.Errorf("redis URL %s: %w", Redact(url), stripURL(err, url))
	}
	return nil
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
	// Every guardrail operation has a deadline (OpTimeout); the socket
	// must obey it, so that a hung server is a fast 503.
	o.ContextTimeoutEnabled = true
	c := New(goredis.NewClient(o), opt)
	c.addr = o.Network + " " + o.Addr
	return c, nil
}

// SameServer reports whether a Redis URL names the server the client
// talks to (its logical databases share the server's memory).
func (c *Client) SameServer(url string) bool {
	o, err := goredis.ParseURL(url)
	return err == nil && c.addr != "" && o.Network+" "+o.Addr == c.addr
}

// New returns a Client over an existing go-redis client.
func New(rdb goredis.UniversalClient, opt Options) *Client {
	if opt.Prefix == "" {
		opt.Prefix = "aiproxy:"
	}
	opt.Lease = durationOr(opt.Lease, 30*time.Second)
	opt.Check = durationOr(opt.Check, min(500*time.Millisecond, opt.Lease/3))
	opt.OpTimeout = durationOr(opt.OpTimeout, time.Second)
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{rdb: rdb, opt: opt, log: log, logged: map[string]time.Time{}, done: make(chan struct{})}
	c.slots = newKeeper(c)
	return c
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Close stops renewing the slots this replica holds (they lapse with their
// lease, as a dead replica's do) and closes the connections.
func (c *Client) Close() error {
	c.close.Do(func() { close(c.done) })
	c.slots.wait()
	return c.rdb.Close()
}

// Prefix returns the prefix of the client's keys.
func (c *Client) Prefix() string { return c.opt.Prefix }

// op returns the context of one guardrail operation: ctx bounded by
// OpTimeout.
func (c *Client) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opt.OpTimeout)
}

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
// microseconds, or 0 for the server's clock (clockLua).
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
