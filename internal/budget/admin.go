package budget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// AdminConfig configures an Admin. Store and Ledger are required.
type AdminConfig struct {
	Store  aiproxy.BudgetStore
	Ledger aiproxy.BudgetLedger
	// Tokens reads user tokens, to report a token's own cap; nil leaves it
	// out.
	Tokens TokenReader
	// Enforcer, when set, forgets an org's cached budgets when they
	// change, so that the change applies to the org's next call.
	Enforcer *Enforcer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Audit, when set, records every change in the audit log.
	Audit Auditor
}

// Auditor appends to the audit log.
type Auditor interface {
	AppendAudit(ctx context.Context, e aiproxy.AuditEvent) error
}

// Admin manages budgets for the management API and the CLI: it checks
// every definition before storing it and reports what each budget has
// left. Its errors are *aiproxy.Error with a message safe to show.
type Admin struct{ cfg AdminConfig }

// NewAdmin returns an Admin.
func NewAdmin(cfg AdminConfig) *Admin {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Admin{cfg: cfg}
}

// Budgets lists an org's budgets.
func (a *Admin) Budgets(ctx context.Context, org string) ([]aiproxy.Budget, error) {
	return a.cfg.Store.Budgets(ctx, org)
}

// SetBudget creates a budget (b.ID empty: aiproxy makes one) or replaces
// the org's budget with b.ID, after checking it; enforcement "" means
// block. It returns the budget as stored.
func (a *Admin) SetBudget(ctx context.Context, b aiproxy.Budget) (aiproxy.Budget, error) {
	if b.ID == "" {
		b.ID = "bud_" + randomID()
	}
	if b.Enforcement == "" {
		b.Enforcement = aiproxy.EnforceBlock
	}
	if !validID(b.ID) {
		return b, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid budget: id %q must be 1 to 64 letters, digits, '_' or '-'.", b.ID)
	}
	if err := b.Validate(); err != nil {
		return b, err
	}
	now := a.cfg.Now().UTC()
	b.CreatedAt, b.UpdatedAt = now, now
	err := a.cfg.Store.SetBudget(ctx, b)
	switch {
	case errors.Is(err, aiproxy.ErrNotFound):
		return b, aiproxy.Errorf(aiproxy.CodeNotFound, "Org %q not found.", b.OrgKey)
	case errors.Is(err, aiproxy.ErrConflict):
		return b, aiproxy.Errorf(aiproxy.CodeConflict,
			"Org %q already has a %s budget for %s, or budget id %q is taken.", b.OrgKey, b.Window.Adjective(),
			subjectName(b), b.ID)
	case err != nil:
		return b, err
	}
	a.forget(b.OrgKey)
	detail := fmt.Sprintf("scope=%s window=%s limit_micros=%d enforcement=%s", b.Scope, b.Window, b.LimitMicros, b.Enforcement)
	if b.Subject != "" {
		detail += fmt.Sprintf(" subject=%q", b.Subject)
	}
	if err := a.record(ctx, aiproxy.AuditBudgetSet, b.OrgKey, b.ID, detail); err != nil {
		return b, err
	}
	return a.cfg.Store.Budget(ctx, b.OrgKey, b.ID)
}

// record appends one change to the audit log; the change is made, and a
// failure to record it is returned so that the operator knows.
func (a *Admin) record(ctx context.Context, action aiproxy.AuditAction, org, target, detail string) error {
	if a.cfg.Audit == nil {
		return nil
	}
	e := aiproxy.AuditEvent{At: a.cfg.Now().UTC(), Actor: aiproxy.ActorFrom(ctx), Action: action, OrgKey: org,
		Target: target, Detail: detail}
	if err := a.cfg.Audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("%s done, but not recorded in the audit log: %w", action, err)
	}
	return nil
}

// DeleteBudget removes a budget of an org and its counters.
func (a *Admin) DeleteBudget(ctx context.Context, org, id string) error {
	err := a.cfg.Store.DeleteBudget(ctx, org, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Budget %q not found.", id)
	}
	if err != nil {
		return err
	}
	a.forget(org)
	return a.record(ctx, aiproxy.AuditBudgetDeleted, org, id, "")
}

func (a *Admin) forget(org string) {
	if a.cfg.Enforcer != nil {
		a.cfg.Enforcer.Forget(org)
	}
}

// BudgetStatus reports, for the windows that hold now, the budgets of an
// org that a principal may see: an org admin every budget (a default
// budget once per subject that has spent under it this window); a member
// (a user acting for themselves) only the budgets of their own user and
// token; any other caller of the org the budgets that apply to its calls.
func (a *Admin) BudgetStatus(ctx context.Context, org string, p aiproxy.Principal) ([]aiproxy.BudgetStatus, error) {
	list, err := a.cfg.Store.Budgets(ctx, org)
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	var targets []target
	if p.CanAdminOrg(org) && !p.Member() {
		targets, err = a.everyTarget(ctx, list, now)
		if err != nil {
			return nil, err
		}
	} else {
		for _, tg := range applicable(list, p) {
			if !p.Member() || tg.budget.Scope == aiproxy.BudgetScopeUser || tg.budget.Scope == aiproxy.BudgetScopeToken {
				targets = append(targets, tg)
			}
		}
		if a.cfg.Tokens != nil && p.TokenID != "" {
			defs := &definitions{tokens: a.cfg.Tokens, now: a.cfg.Now}
			limit, err := defs.tokenCap(ctx, p.TokenID)
			if err != nil {
				return nil, err
			}
			if limit > 0 {
				targets = append(targets, target{budget: tokenBudget(org, p.TokenID, limit), subject: p.TokenID})
			}
		}
	}
	return a.statuses(ctx, targets, now)
}

// everyTarget is every counter an admin sees: each budget naming its
// subject, and each subject with a counter under a default budget in the
// current window.
func (a *Admin) everyTarget(ctx context.Context, list []aiproxy.Budget, now time.Time) ([]target, error) {
	var out []target
	for _, b := range list {
		if !b.Default() {
			out = append(out, target{budget: b, subject: b.Subject})
			continue
		}
		start, _ := b.Window.Bounds(now)
		counters, err := a.cfg.Ledger.BudgetSubjects(ctx, b.ID, start)
		if err != nil {
			return nil, err
		}
		for _, c := range counters {
			out = append(out, target{budget: b, subject: c.Subject})
		}
	}
	return out, nil
}

// statuses reads the counters of targets in the windows that hold now.
func (a *Admin) statuses(ctx context.Context, targets []target, now time.Time) ([]aiproxy.BudgetStatus, error) {
	keys := make([]aiproxy.BudgetCounterKey, len(targets))
	for i, tg := range targets {
		keys[i] = tg.counterKey(now)
	}
	counters, err := a.cfg.Ledger.BudgetCounters(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]aiproxy.BudgetStatus, len(targets))
	for i, tg := range targets {
		out[i] = aiproxy.BudgetStatus{Budget: tg.budget, Subject: tg.subject, WindowStart: keys[i].WindowStart,
			ResetsAt: tg.budget.Window.ResetsAt(keys[i].WindowStart), SpentMicros: counters[i].Spent,
			ReservedMicros: counters[i].Reserved}
	}
	return out, nil
}

// validID reports whether a budget id is 1 to 64 letters, digits, '_' or
// '-', and not the token caps' id.
func validID(id string) bool {
	if id == "" || len(id) > 64 || id == aiproxy.TokenBudgetID {
		return false
	}
	return strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// subjectName names a budget's subject in a sentence.
func subjectName(b aiproxy.Budget) string {
	switch {
	case b.Scope == aiproxy.BudgetScopeOrg:
		return "the org"
	case b.Subject == "":
		return "each " + string(b.Scope)
	}
	return string(b.Scope) + " '" + b.Subject + "'"
}
