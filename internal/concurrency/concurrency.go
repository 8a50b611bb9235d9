// Package concurrency caps the provider calls in flight, per org and per
// platform credential, so that aiproxy queues briefly or refuses with 429
// before the provider refuses. A platform credential's cap is shared
// fairly among the orgs that use it (aiproxy.Shares), so that one org's
// slow calls never starve the others. The slots live behind the Semaphore
// interface: Memory counts them in this process, and a shared engine
// (Redis) can count them for many.
package concurrency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Scope says whose calls a cap counts together.
type Scope string

// The scopes: the calls of one org (whatever credential they use), or the
// calls made with the platform's credential of a service (shared by every
// org that falls back to it).
const (
	ScopeOrg        Scope = "org"
	ScopeCredential Scope = "credential"
)

// Rule caps the calls in flight of one scope. Service "" counts the calls to
// every service together.
type Rule struct {
	Scope   Scope
	Service string
	Max     int
}

// ParseRule reads SCOPE[:SERVICE]=N, for example "org=20" or
// "credential:elevenlabs=5".
func ParseRule(s string) (Rule, error) {
	lhs, n, ok := strings.Cut(strings.TrimSpace(s), "=")
	scope, service, _ := strings.Cut(lhs, ":")
	r := Rule{Scope: Scope(scope), Service: service}
	max, err := strconv.Atoi(n)
	switch {
	case !ok:
		return Rule{}, fmt.Errorf("concurrency cap %q: want SCOPE[:SERVICE]=N", s)
	case r.Scope != ScopeOrg && r.Scope != ScopeCredential:
		return Rule{}, fmt.Errorf("concurrency cap %q: scope %q is not org or credential", s, scope)
	case err != nil || max < 1:
		return Rule{}, fmt.Errorf("concurrency cap %q: %q is not a positive integer", s, n)
	}
	r.Max = max
	return r, nil
}

// ParseWeight reads ORG=W, for example "acme=2": the org's weight in the
// fair shares of the credential caps, from 1 to 1000 (orgs not named
// weigh 1).
func ParseWeight(s string) (org string, weight int, err error) {
	org, n, ok := strings.Cut(strings.TrimSpace(s), "=")
	weight, err = strconv.Atoi(n)
	switch {
	case !ok || org == "":
		return "", 0, fmt.Errorf("concurrency weight %q: want ORG=W", s)
	case err != nil || weight < 1 || weight > 1000:
		return "", 0, fmt.Errorf("concurrency weight %q: %q is not an integer from 1 to 1000", s, n)
	}
	return org, weight, nil
}

// Claim asks for one slot of a key.
type Claim struct {
	// Key names the slots, Limit says how many there are.
	Key   string
	Limit int
	// Org is who asks. With Shares set, the orgs holding slots of the key
	// share them fairly by aiproxy.Shares' rule; nil Shares is first come,
	// first served.
	Org    string
	Shares *aiproxy.Shares
}

// Semaphore hands out counted slots by key. Acquire waits for a slot until
// ctx ends, and returns the function that gives it back. An engine that
// cannot decide (a shared store that does not answer) returns an
// *aiproxy.Error of its own rather than waiting out ctx.
type Semaphore interface {
	Acquire(ctx context.Context, c Claim) (release func(), err error)
}

// Policy applies caps to provider calls.
type Policy struct {
	Rules []Rule
	Sem   Semaphore
	// QueueTimeout is how long a call waits for a slot before it is
	// refused; 0 means 2 seconds.
	QueueTimeout time.Duration
	// Weights gives orgs a weight other than 1 in the fair shares of the
	// credential caps (aiproxy.Shares). Org caps are an org's own and are
	// not shared.
	Weights map[string]int
	// Sockets makes the policy cap open WebSockets instead of calls in
	// flight: its slots are named apart from a call policy's on the same
	// Semaphore, and its refusal speaks of sockets.
	Sockets bool
}

// Acquire takes a slot of every cap that applies to an org's call to a
// service with a credential source, waiting up to QueueTimeout, and returns
// the function that releases them all. A call that finds no slot in time
// gets a rate_limited error; one whose slots cannot be checked gets the
// engine's error (503 unavailable) however long it waited.
func (p *Policy) Acquire(ctx context.Context, org, service string, src aiproxy.Source) (func(), error) {
	if release, ok := p.tryAcquire(org, service, src); ok {
		return release, nil
	}
	wait := p.QueueTimeout
	if wait <= 0 {
		wait = 2 * time.Second
	}
	qctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var held []func()
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}
	for i, r := range p.Rules {
		c, ok := p.claim(r, i, org, service, src)
		if !ok {
			continue
		}
		rel, err := p.Sem.Acquire(qctx, c)
		if err != nil {
			release()
			return nil, p.refusal(ctx, err, r, service)
		}
		held = append(held, rel)
	}
	return release, nil
}

// refusal maps a semaphore's error: the client gone, the engine's own
// verdict, or no slot within the queue timeout.
func (p *Policy) refusal(ctx context.Context, err error, r Rule, service string) error {
	var ae *aiproxy.Error
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ae):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return busy(r, service, p.Sockets)
	}
	return fmt.Errorf("concurrency: %w", err)
}

// trySemaphore is a Semaphore that can also take a slot without waiting.
type trySemaphore interface {
	TryAcquire(c Claim) (release func(), ok bool)
}

// tryAcquire takes every slot that applies at once, without a timer or a
// context, when Sem can and all are free: the usual case, well under the
// caps. It takes none when one is full, and Acquire then waits for them.
func (p *Policy) tryAcquire(org, service string, src aiproxy.Source) (func(), bool) {
	ts, ok := p.Sem.(trySemaphore)
	if !ok {
		return nil, false
	}
	var held []func()
	releaseAll := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}
	for i, r := range p.Rules {
		c, ok := p.claim(r, i, org, service, src)
		if !ok {
			continue
		}
		rel, ok := ts.TryAcquire(c)
		if !ok {
			releaseAll()
			return nil, false
		}
		held = append(held, rel)
	}
	if len(held) == 1 {
		return held[0], true
	}
	return releaseAll, true
}

// claim is the slot the i-th rule asks for on a call, if the rule applies:
// a credential cap is shared fairly among the orgs using the credential.
func (p *Policy) claim(r Rule, i int, org, service string, src aiproxy.Source) (Claim, bool) {
	prefix := "cc"
	if p.Sockets {
		prefix = "ws"
	}
	key, ok := r.key(prefix, i, org, service, src)
	if !ok {
		return Claim{}, false
	}
	c := Claim{Key: key, Limit: r.Max, Org: org}
	if r.Scope == ScopeCredential {
		c.Shares = &aiproxy.Shares{Weights: p.Weights}
	}
	return c, true
}

func (r Rule) key(prefix string, i int, org, service string, src aiproxy.Source) (string, bool) {
	if r.Service != "" && r.Service != service {
		return "", false
	}
	switch {
	case r.Scope == ScopeOrg:
		return prefix + ":" + strconv.Itoa(i) + ":org:" + org + ":" + r.Service, true
	case src == aiproxy.SourcePlatform:
		return prefix + ":" + strconv.Itoa(i) + ":platform:" + service, true
	}
	return "", false
}

func busy(r Rule, service string, sockets bool) *aiproxy.Error {
	who := "this org"
	if r.Scope == ScopeCredential {
		who = "the shared platform credential"
	}
	what, hint := "requests in flight", "retry shortly"
	if sockets {
		what, hint = "sockets open", "close one and retry"
	}
	e := aiproxy.Errorf(aiproxy.CodeRateLimited, "Too many %s %s for %s (at most %d); %s.", service, what, who, r.Max, hint)
	e.RetryAfter = 1
	return e
}
