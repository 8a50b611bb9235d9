// Package limitertest is the contract every ratelimit.Limiter engine runs:
// token-bucket numbers worked out by hand from the rules, not from another
// engine, so that Memory and Redis are each pinned to the arithmetic and
// cannot drift together. Each step gives a bucket's decision and the
// headers a client sees: X-RateLimit-Limit, -Remaining and -Reset, and
// Retry-After on a refusal.
package limitertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/ratelimit"
)

// step is one call, made after advance has passed. The decision is the
// bucket's; the header fields are what the policy makes of it.
type step struct {
	advance time.Duration

	allowed    bool
	remaining  int
	retryAfter time.Duration // bucket's, when refused
	reset      time.Duration // until the bucket is full again

	headerReset int // X-RateLimit-Reset: ceil(reset)
	retryHeader int // Retry-After: ceil(retryAfter), at least 1; 0 when allowed
}

// scenario is a rule and the calls made against one bucket of it.
type scenario struct {
	name  string
	rule  string
	steps []step
}

// scenarios are worked out from the rules:
//
//	tokens = min(burst, tokens + elapsed*rate); a call spends one if tokens >= 1
//	Remaining = floor(tokens)        Reset = (burst - tokens) / rate
//	RetryAfter = (1 - tokens) / rate, sent as whole seconds rounded up, at least 1
//
// A new bucket starts full. The rates and times are chosen so that every
// number is exact in binary floating point.
var scenarios = []scenario{
	{
		// 2 tokens a second, up to 4: half a second per token.
		name: "2/s burst 4",
		rule: "org=2/s:4",
		steps: []step{
			{allowed: true, remaining: 3, reset: 500 * time.Millisecond, headerReset: 1},
			{allowed: true, remaining: 2, reset: 1 * time.Second, headerReset: 1},
			{allowed: true, remaining: 1, reset: 1500 * time.Millisecond, headerReset: 2},
			{allowed: true, remaining: 0, reset: 2 * time.Second, headerReset: 2},
			// Empty: the next token is half a second away; Retry-After
			// rounds up to 1.
			{allowed: false, remaining: 0, retryAfter: 500 * time.Millisecond, reset: 2 * time.Second, headerReset: 2, retryHeader: 1},
			// A quarter second refills half a token: still refused.
			{advance: 250 * time.Millisecond, allowed: false, remaining: 0, retryAfter: 250 * time.Millisecond, reset: 1750 * time.Millisecond, headerReset: 2, retryHeader: 1},
			// Another quarter completes the token, and the call spends it.
			{advance: 250 * time.Millisecond, allowed: true, remaining: 0, reset: 2 * time.Second, headerReset: 2},
			// Ten seconds would refill 20 tokens; the bucket holds 4.
			{advance: 10 * time.Second, allowed: true, remaining: 3, reset: 500 * time.Millisecond, headerReset: 1},
		},
	},
	{
		// 30 a minute is one token per 2 seconds, up to 2.
		name: "30/m burst 2",
		rule: "org=30/m:2",
		steps: []step{
			{allowed: true, remaining: 1, reset: 2 * time.Second, headerReset: 2},
			{allowed: true, remaining: 0, reset: 4 * time.Second, headerReset: 4},
			{allowed: false, remaining: 0, retryAfter: 2 * time.Second, reset: 4 * time.Second, headerReset: 4, retryHeader: 2},
			// 1.5 s refill 0.75 of a token: 0.25 is missing, half a second.
			{advance: 1500 * time.Millisecond, allowed: false, remaining: 0, retryAfter: 500 * time.Millisecond, reset: 2500 * time.Millisecond, headerReset: 3, retryHeader: 1},
			{advance: 500 * time.Millisecond, allowed: true, remaining: 0, reset: 4 * time.Second, headerReset: 4},
			// 3 s refill 1.5 tokens; the call leaves 0.5, reported rounded
			// down.
			{advance: 3 * time.Second, allowed: true, remaining: 0, reset: 3 * time.Second, headerReset: 3},
		},
	},
	{
		// One an hour, burst defaulting to the count: an hour per token.
		name: "1/h",
		rule: "key=1/h",
		steps: []step{
			{allowed: true, remaining: 0, reset: time.Hour, headerReset: 3600},
			{allowed: false, remaining: 0, retryAfter: time.Hour, reset: time.Hour, headerReset: 3600, retryHeader: 3600},
			{advance: 30 * time.Minute, allowed: false, remaining: 0, retryAfter: 30 * time.Minute, reset: 30 * time.Minute, headerReset: 1800, retryHeader: 1800},
			{advance: 30 * time.Minute, allowed: true, remaining: 0, reset: time.Hour, headerReset: 3600},
		},
	},
}

// clock is the settable time the engine under test reads.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// Run checks an engine against the worked numbers. open must return a
// limiter that reads the given clock; limiters opened by one test may share
// their buckets (the scenarios use keys of their own).
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) ratelimit.Limiter) {
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			rule, err := ratelimit.ParseRule(sc.rule)
			if err != nil {
				t.Fatal(err)
			}
			c := &clock{t: time.Unix(1700000000, 0)}
			bucket := open(t, c.now)
			policy := &ratelimit.Policy{Rules: []ratelimit.Rule{rule}, Limiter: open(t, c.now)}
			org, key := fmt.Sprintf("org%d", i), fmt.Sprintf("key%d", i)
			for n, s := range sc.steps {
				c.t = c.t.Add(s.advance)
				d, err := bucket.Take(t.Context(), fmt.Sprintf("bucket%d", i), rule.Rate, rule.Burst)
				if err != nil {
					t.Fatalf("step %d: Take: %v", n, err)
				}
				checkDecision(t, n, d, s)
				st, err := policy.Allow(t.Context(), org, key, "heygen", "list-avatars")
				checkHeaders(t, n, rule, st, err, s)
			}
		})
	}
}

func checkDecision(t *testing.T, n int, d ratelimit.Decision, s step) {
	t.Helper()
	// Redis counts time in microseconds; the numbers are exact to that.
	near := func(a, b time.Duration) bool { return (a - b).Abs() <= time.Microsecond }
	if d.Allowed != s.allowed || d.Remaining != s.remaining || !near(d.RetryAfter, s.retryAfter) || !near(d.Reset, s.reset) {
		t.Errorf("step %d: decision %+v; want allowed %v, remaining %d, retry after %v, reset %v",
			n, d, s.allowed, s.remaining, s.retryAfter, s.reset)
	}
}

func checkHeaders(t *testing.T, n int, rule ratelimit.Rule, st aiproxy.RateStatus, err error, s step) {
	t.Helper()
	want := aiproxy.RateStatus{Limit: rule.Burst, Remaining: s.remaining, ResetSeconds: s.headerReset}
	if st != want {
		t.Errorf("step %d: X-RateLimit limit/remaining/reset = %d/%d/%d; want %d/%d/%d",
			n, st.Limit, st.Remaining, st.ResetSeconds, want.Limit, want.Remaining, want.ResetSeconds)
	}
	if s.allowed {
		if err != nil {
			t.Errorf("step %d: Allow = %v; want allowed", n, err)
		}
		return
	}
	var ae *aiproxy.Error
	if !errors.As(err, &ae) || ae.Code != aiproxy.CodeRateLimited || ae.RetryAfter != s.retryHeader {
		t.Errorf("step %d: Allow = %#v; want rate_limited with Retry-After %d", n, err, s.retryHeader)
	}
}
