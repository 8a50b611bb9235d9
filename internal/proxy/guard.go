package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The guardrails are optional: a nil field of Config turns one off. Each is
// a small interface so that an in-process engine and a shared one (Redis)
// can stand behind it.

// AccessChecker reports whether an org has turned a service or endpoint
// off.
type AccessChecker interface {
	Disabled(ctx context.Context, org, service, endpoint string) (bool, error)
}

// RateLimiter counts one invoke call of an org made with a key.
type RateLimiter interface {
	Allow(ctx context.Context, org, keyID, service, action string) (aiproxy.RateStatus, error)
}

// ConcurrencyLimiter holds a slot per provider call in flight.
type ConcurrencyLimiter interface {
	Acquire(ctx context.Context, org, service string, src aiproxy.Source) (release func(), err error)
}

// QuotaReserver holds an org's quota for one call and returns how to settle
// it: spent true keeps it, false gives it back.
type QuotaReserver interface {
	Reserve(ctx context.Context, org, service string, d aiproxy.Demand) (settle func(ctx context.Context, spent bool), err error)
}

// Breaker fails fast while a provider behind a key keeps failing. done
// reports the outcome of an allowed call.
type Breaker interface {
	Allow(key string) (done func(ok bool), err error)
}

// ResponseCache serves cached values, filling a miss once for all
// concurrent callers and refreshing a stale entry in the background. It
// returns "HIT", "MISS" or "STALE".
type ResponseCache interface {
	Get(ctx context.Context, key string, ttl, stale time.Duration,
		fill, refresh func(context.Context) ([]byte, bool, error)) ([]byte, string, error)
}

// Meter receives one record per invoke call; it must not block.
type Meter interface {
	Record(aiproxy.UsageRecord)
}

// RetryPolicy says how retry-safe calls are repeated after a connection
// error, a 429, 502, 503 or 504, or an error in a 200 body, always within
// the endpoint's timeout. Job-starting calls are never retried.
type RetryPolicy struct {
	// Attempts is the most tries per call; 0 or 1 means no retries.
	Attempts int
	// BaseDelay is the first backoff; each next one doubles, and the wait
	// is drawn at random below it (full jitter). 0 means 100ms.
	BaseDelay time.Duration
	// MaxDelay caps a backoff; 0 means 2s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest provider Retry-After aiproxy waits out
	// itself; a longer one is passed to the client. 0 means 2s.
	MaxRetryAfter time.Duration
}

func (rp RetryPolicy) backoff(attempt int) time.Duration {
	base, ceiling := rp.BaseDelay, rp.MaxDelay
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 2 * time.Second
	}
	d := min(ceiling, base<<min(attempt-1, 20))
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func (rp RetryPolicy) maxRetryAfter() time.Duration {
	if rp.MaxRetryAfter <= 0 {
		return 2 * time.Second
	}
	return rp.MaxRetryAfter
}

// CacheHeader says whether a response came from the cache: HIT, MISS or
// STALE.
const CacheHeader = "X-Aiproxy-Cache"

// RateLimitedError is a refusal by the rate limiter with the status of the
// bucket that refused, for the X-RateLimit-* headers.
type RateLimitedError struct {
	Status aiproxy.RateStatus
	Err    error
}

func (e *RateLimitedError) Error() string { return e.Err.Error() }

// Unwrap returns the client-facing error.
func (e *RateLimitedError) Unwrap() error { return e.Err }

// setRateHeaders writes the X-RateLimit-* headers of a status.
func setRateHeaders(h http.Header, st aiproxy.RateStatus) {
	if st.Limit == 0 {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(st.ResetSeconds))
}

// access applies the org's access rules and a test-only key's rules to a
// client's call (stage 3).
func (p *Proxy) access(ctx context.Context, c *Call) error {
	if !c.client {
		return nil
	}
	if !c.principal.CanUseAction(c.Service.Slug, c.Endpoint.Slug) {
		return aiproxy.Errorf(aiproxy.CodeForbidden, "This token may not call '%s' of external proxy service '%s'.",
			c.Endpoint.Slug, c.Service.Slug)
	}
	if p.cfg.Access != nil {
		off, err := p.cfg.Access.Disabled(ctx, c.Org, c.Service.Slug, c.Endpoint.Slug)
		if err != nil {
			return err
		}
		if off {
			return aiproxy.ErrServiceNotFound(c.Service.Slug + "/" + c.Endpoint.Slug)
		}
	}
	return applyTestMode(c.principal, c.Endpoint, &c.in.env)
}

// limit applies the rate limits to a client's call (stage 5).
func (p *Proxy) limit(ctx context.Context, c *Call) error {
	if !c.client || p.cfg.RateLimit == nil {
		return nil
	}
	st, err := p.cfg.RateLimit.Allow(ctx, c.Org, c.principal.KeyID, c.Service.Slug, c.Endpoint.Slug)
	c.rate = st
	var ae *aiproxy.Error
	if errors.As(err, &ae) && ae.Code == aiproxy.CodeRateLimited {
		return &RateLimitedError{Status: st, Err: err}
	}
	return err
}

// demand is what a call spends: one request, plus its endpoint's meter.
func demand(ep *aiproxy.Endpoint, env Envelope) aiproxy.Demand {
	d := aiproxy.Demand{aiproxy.MetricRequests: 1}
	switch ep.Meter {
	case aiproxy.MetricRenders:
		d[aiproxy.MetricRenders] = 1
	case aiproxy.MetricCharacters:
		var body struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(env.Body, &body)
		d[aiproxy.MetricCharacters] = int64(utf8.RuneCountInString(body.Text))
	}
	return d
}

// applyTestMode forces a test-only key's job-starting call into the
// provider's test mode. Turning test mode off is refused, and so is a
// job-starting endpoint that has no test mode.
func applyTestMode(pr aiproxy.Principal, ep *aiproxy.Endpoint, env *Envelope) error {
	if !pr.TestOnly || !ep.StartsJob() {
		return nil
	}
	if ep.TestModeField == "" {
		return aiproxy.Errorf(aiproxy.CodeForbidden, "This API key is test-only, and action '%s' has no test mode.", ep.Slug)
	}
	body := map[string]json.RawMessage{}
	if env.Body != nil && json.Unmarshal(env.Body, &body) != nil {
		return invalidf("Invalid request envelope: body must be a JSON object.")
	}
	if body == nil { // a JSON null body
		body = map[string]json.RawMessage{}
	}
	if v, ok := body[ep.TestModeField]; ok && string(v) != "true" {
		return invalidf("This API key is test-only: body field %q must be true.", ep.TestModeField)
	}
	body[ep.TestModeField] = json.RawMessage("true")
	out, err := json.Marshal(body)
	if err != nil {
		return internal("encode test-mode body", err)
	}
	env.Body = out
	return nil
}

// hold takes what a call needs before it may reach the provider: its quota
// (for client calls), a concurrency slot and the breaker's permission. The
// returned function gives them back with the call's outcome: spent keeps
// the quota, healthy tells the breaker the provider answered sanely.
func (p *sender) hold(ctx context.Context, c *Call) (func(spent, healthy bool), error) {
	return p.holdWith(ctx, c, c.demand, p.cfg.Concurrency)
}

// holdWith is hold with the demand reserved and the slots taken given: a
// socket holds one request and a socket slot (socket.go) for its life.
func (p *sender) holdWith(ctx context.Context, c *Call, demand aiproxy.Demand, slots ConcurrencyLimiter) (func(spent, healthy bool), error) {
	settle := func(context.Context, bool) {}
	if p.cfg.Quotas != nil && demand != nil {
		s, err := p.cfg.Quotas.Reserve(ctx, c.Org, c.Service.Slug, demand)
		if err != nil {
			return nil, err
		}
		if s != nil {
			settle = s
		}
	}
	release := func() {}
	if slots != nil {
		r, err := slots.Acquire(ctx, c.Org, c.Service.Slug, c.Source)
		if err != nil {
			settle(ctx, false)
			return nil, err
		}
		release = r
	}
	done := func(bool) {}
	if p.cfg.Breaker != nil {
		d, err := p.cfg.Breaker.Allow(c.breakerKey())
		if err != nil {
			release()
			settle(ctx, false)
			return nil, err
		}
		done = d
	}
	var once sync.Once
	return func(spent, healthy bool) {
		once.Do(func() {
			done(healthy)
			release()
			settle(ctx, spent)
		})
	}, nil
}

// breakerKey names the provider account a call uses: the service and the
// credential's owner.
func (c *Call) breakerKey() string {
	if c.Source == aiproxy.SourcePlatform {
		return c.Service.Slug + "|platform"
	}
	return c.Service.Slug + "|tenant|" + c.Org
}

func errorCode(err error) aiproxy.Code {
	if errors.Is(err, ErrClientGone) {
		return "client_gone"
	}
	return aiproxy.ErrorCode(err)
}
