// Package ratelimit limits invoke calls per org and per API key with token
// buckets, configured per service and endpoint by rules. The buckets live
// behind the Limiter interface: Memory keeps them in this process, and a
// shared engine (Redis) can keep them for many.
//
// The bucket is hand-written rather than golang.org/x/time/rate: a bucket
// here is two numbers (tokens and the time they were counted), which a
// shared engine can store and update atomically with the same arithmetic,
// and which make idle buckets easy to evict once they are full again.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Scope says whose calls a rule counts together.
type Scope string

// The scopes: all calls of one org, or all calls made with one API key.
const (
	ScopeOrg Scope = "org"
	ScopeKey Scope = "key"
)

// Rule is one token bucket per org or key: Rate tokens per second, up to
// Burst. Service and Action narrow the calls it counts; "" means any.
type Rule struct {
	Scope   Scope
	Service string
	Action  string
	Rate    float64
	Burst   int
}

// String returns the rule in the syntax ParseRule reads.
func (r Rule) String() string {
	s := string(r.Scope)
	if r.Service != "" {
		s += ":" + r.Service
		if r.Action != "" {
			s += "/" + r.Action
		}
	}
	return fmt.Sprintf("%s=%s/s:%d", s, strconv.FormatFloat(r.Rate, 'g', -1, 64), r.Burst)
}

func (r Rule) matches(service, action string) bool {
	return (r.Service == "" || r.Service == service) && (r.Action == "" || r.Action == action)
}

// ParseRule reads SCOPE[:SERVICE[/ACTION]]=N/UNIT[:BURST], for example
// "org=600/m", "key:heygen=10/s:20" or "org:heygen/generate-video=30/h".
// UNIT is s, m, h or d; BURST defaults to N (at least 1).
func ParseRule(s string) (Rule, error) {
	lhs, rhs, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Rule{}, fmt.Errorf("rate limit %q: want SCOPE[:SERVICE[/ACTION]]=N/UNIT[:BURST]", s)
	}
	var r Rule
	scope, target, _ := strings.Cut(lhs, ":")
	r.Scope = Scope(scope)
	if r.Scope != ScopeOrg && r.Scope != ScopeKey {
		return Rule{}, fmt.Errorf("rate limit %q: scope %q is not org or key", s, scope)
	}
	r.Service, r.Action, _ = strings.Cut(target, "/")
	amount, rest, ok := strings.Cut(rhs, "/")
	if !ok {
		return Rule{}, fmt.Errorf("rate limit %q: want N/UNIT after =", s)
	}
	unit, burst, hasBurst := strings.Cut(rest, ":")
	n, err := strconv.ParseFloat(amount, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) {
		return Rule{}, fmt.Errorf("rate limit %q: %q is not a positive number", s, amount)
	}
	per := map[string]float64{"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
	if per == 0 {
		return Rule{}, fmt.Errorf("rate limit %q: unit %q is not s, m, h or d", s, unit)
	}
	r.Rate = n / per
	r.Burst = max(1, int(n))
	if hasBurst {
		if r.Burst, err = strconv.Atoi(burst); err != nil || r.Burst < 1 {
			return Rule{}, fmt.Errorf("rate limit %q: burst %q is not a positive integer", s, burst)
		}
	}
	return r, nil
}

// Decision is a bucket's answer to one request.
type Decision struct {
	Allowed   bool
	Remaining int
	// RetryAfter is how long until a token is available (when refused).
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// Limiter keeps token buckets by key. Take removes one token from the
// bucket named key, created full, with the given rate and burst.
type Limiter interface {
	Take(ctx context.Context, key string, rate float64, burst int) (Decision, error)
}

// Policy applies rules to invoke calls.
type Policy struct {
	Rules   []Rule
	Limiter Limiter
}

// Allow counts one call of an org (made with a key) against every rule that
// matches it. It returns the status of the tightest bucket, and a
// rate_limited error with Retry-After when a bucket is empty. A refused
// call still spends the tokens of the rules checked before the refusing
// one; the rules are few, and this keeps each bucket one atomic step.
func (p *Policy) Allow(ctx context.Context, org, keyID, service, action string) (aiproxy.RateStatus, error) {
	var st aiproxy.RateStatus
	for i, r := range p.Rules {
		if !r.matches(service, action) {
			continue
		}
		who := org
		if r.Scope == ScopeKey {
			who = keyID
		}
		d, err := p.Limiter.Take(ctx, fmt.Sprintf("rl:%d:%s:%s:%s:%s", i, r.Scope, who, r.Service, r.Action), r.Rate, r.Burst)
		if err != nil {
			return st, fmt.Errorf("rate limit: %w", err)
		}
		if st.Limit == 0 || d.Remaining < st.Remaining {
			st = aiproxy.RateStatus{Limit: r.Burst, Remaining: d.Remaining, ResetSeconds: ceilSeconds(d.Reset)}
		}
		if !d.Allowed {
			st.Remaining = 0
			return st, Refused(d.RetryAfter)
		}
	}
	return st, nil
}

// Refused is the client-facing rate_limited error, worded as the contract's
// Django REST framework throttle message.
func Refused(retryAfter time.Duration) *aiproxy.Error {
	secs := max(1, ceilSeconds(retryAfter))
	e := aiproxy.Errorf(aiproxy.CodeRateLimited, "Request was throttled. Expected available in %d second%s.", secs, plural(secs))
	e.RetryAfter = secs
	return e
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
