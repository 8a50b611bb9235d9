package budget

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// BudgetReader reads an org's budget definitions.
type BudgetReader interface {
	Budgets(ctx context.Context, org string) ([]aiproxy.Budget, error)
}

// TokenReader reads a user token, for its own spending cap
// (aiproxy.UserToken.MaxSpendMicros).
type TokenReader interface {
	UserToken(ctx context.Context, id string) (aiproxy.UserToken, error)
}

// target is one budget that applies to a call, and the subject its
// counter counts: the key, user or token for a default budget.
type target struct {
	budget  aiproxy.Budget
	subject string
}

// counterKey is the target's counter in the window that holds t.
func (tg target) counterKey(t time.Time) aiproxy.BudgetCounterKey {
	start, _ := tg.budget.Window.Bounds(t)
	return aiproxy.BudgetCounterKey{BudgetID: tg.budget.ID, Subject: tg.subject, WindowStart: start}
}

// applicable returns the budgets of an org that apply to a principal:
// every org budget, and for the principal's key, user and token each
// budget naming it, or else the scope's default of the same window.
func applicable(budgets []aiproxy.Budget, pr aiproxy.Principal) []target {
	var out []target
	for _, b := range budgets {
		if b.Scope == aiproxy.BudgetScopeOrg {
			out = append(out, target{budget: b})
		}
	}
	for _, s := range []struct {
		scope   aiproxy.BudgetScope
		subject string
	}{{aiproxy.BudgetScopeKey, pr.KeyID}, {aiproxy.BudgetScopeUser, pr.User}, {aiproxy.BudgetScopeToken, pr.TokenID}} {
		if s.subject != "" {
			out = append(out, forSubject(budgets, s.scope, s.subject)...)
		}
	}
	return out
}

// forSubject picks, per window, a scope's budget naming the subject, or
// else the scope's default.
func forSubject(budgets []aiproxy.Budget, scope aiproxy.BudgetScope, subject string) []target {
	own := map[aiproxy.BudgetWindow]bool{}
	var out []target
	for _, b := range budgets {
		if b.Scope == scope && b.Subject == subject {
			own[b.Window] = true
			out = append(out, target{budget: b, subject: subject})
		}
	}
	for _, b := range budgets {
		if b.Scope == scope && b.Subject == "" && !own[b.Window] {
			out = append(out, target{budget: b, subject: subject})
		}
	}
	return out
}

// tokenBudget is the budget a user token's own cap stands for.
func tokenBudget(org, tokenID string, limit int64) aiproxy.Budget {
	return aiproxy.Budget{ID: aiproxy.TokenBudgetID, OrgKey: org, Scope: aiproxy.BudgetScopeToken, Subject: tokenID,
		Window: aiproxy.BudgetLifetime, LimitMicros: limit, Enforcement: aiproxy.EnforceBlock}
}

// definitions keeps each org's budget definitions for a short time, so
// that a call of an org without budgets costs no store read, and the
// caps of user tokens, which never change, for the token's life.
type definitions struct {
	budgets BudgetReader
	tokens  TokenReader
	ttl     time.Duration
	now     func() time.Time
	flight  singleflight.Group

	mu   sync.RWMutex
	orgs map[string]cachedBudgets
	caps map[string]cachedCap
	// gen changes on every forget, so that a read that raced a change is
	// not stored.
	gen uint64
}

type cachedBudgets struct {
	list []aiproxy.Budget
	at   time.Time
}

type cachedCap struct {
	limit   int64
	expires time.Time
}

// cacheMax bounds each cache; when full it is emptied, which only costs
// store reads.
const cacheMax = 10000

// org returns an org's budgets, from the cache when they were read within
// the TTL.
func (d *definitions) org(ctx context.Context, org string) ([]aiproxy.Budget, error) {
	now := d.now()
	d.mu.RLock()
	hit, ok := d.orgs[org]
	gen := d.gen
	d.mu.RUnlock()
	if ok && !now.Before(hit.at) && now.Sub(hit.at) < d.ttl {
		return hit.list, nil
	}
	// One read per org at a time, shared by the calls that wait for it;
	// it outlives a caller that gives up, so that the others still get it.
	v, err, _ := d.flight.Do(org, func() (any, error) { return d.budgets.Budgets(context.WithoutCancel(ctx), org) })
	if err != nil {
		return nil, err
	}
	list := v.([]aiproxy.Budget)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen == gen {
		if d.orgs == nil || len(d.orgs) >= cacheMax {
			d.orgs = map[string]cachedBudgets{}
		}
		d.orgs[org] = cachedBudgets{list: list, at: now}
	}
	return list, nil
}

// tokenCap returns a user token's own spending cap, 0 for none.
func (d *definitions) tokenCap(ctx context.Context, id string) (int64, error) {
	if d.tokens == nil || id == "" {
		return 0, nil
	}
	now := d.now()
	d.mu.RLock()
	hit, ok := d.caps[id]
	d.mu.RUnlock()
	if ok && now.Before(hit.expires) {
		return hit.limit, nil
	}
	t, err := d.tokens.UserToken(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return 0, nil // gone since the request was authenticated: nothing to cap
	}
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.caps == nil || len(d.caps) >= cacheMax {
		d.caps = map[string]cachedCap{}
	}
	d.caps[id] = cachedCap{limit: max(0, t.MaxSpendMicros), expires: t.ExpiresAt}
	return max(0, t.MaxSpendMicros), nil
}

// targets returns every budget that applies to a principal's call in an
// org, the token's own cap included.
func (d *definitions) targets(ctx context.Context, org string, pr aiproxy.Principal) ([]target, error) {
	list, err := d.org(ctx, org)
	if err != nil {
		return nil, err
	}
	out := applicable(list, pr)
	limit, err := d.tokenCap(ctx, pr.TokenID)
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		out = append(out, target{budget: tokenBudget(org, pr.TokenID, limit), subject: pr.TokenID})
	}
	return out, nil
}

// lookup returns a cached budget of an org by id, for alerts; ok is false
// when it is not cached.
func (d *definitions) lookup(org, id string) (aiproxy.Budget, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, b := range d.orgs[org].list {
		if b.ID == id {
			return b, true
		}
	}
	return aiproxy.Budget{}, false
}

// forget drops an org's cached budgets, so that a change made through
// this process applies to the next call.
func (d *definitions) forget(org string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.orgs, org)
	d.gen++
}
