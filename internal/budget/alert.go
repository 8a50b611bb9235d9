package budget

import (
	"context"
	"math"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Alert says that a budget's spend crossed one of its thresholds in a
// window, as a settlement recorded it.
type Alert struct {
	OrgKey string
	// Budget is the budget's definition: for a user token's own cap, one
	// made up with id aiproxy.TokenBudgetID.
	Budget aiproxy.Budget
	// Subject is whose counter crossed: the key, user or token of a
	// default budget, the budget's own subject otherwise.
	Subject     string
	WindowStart time.Time
	// ResetsAt is when the window ends; zero for a lifetime budget.
	ResetsAt time.Time
	// Threshold is the highest fraction of the limit the settlement
	// crossed; 1 means the budget is spent.
	Threshold   float64
	SpentMicros int64
	LimitMicros int64
	At          time.Time
}

// Alerter receives budget alerts (the wiring sends them to the audit log
// and the org's webhooks). BudgetAlert must not block for long: it runs
// on the path of the call or job that settled.
type Alerter interface {
	BudgetAlert(ctx context.Context, a Alert)
}

// crossed returns the highest threshold (with 1, the limit itself) that a
// counter passed from before to after, and whether it passed one. A
// threshold is passed when the spend goes from below it to at or above it.
func crossed(thresholds []float64, limit, before, after int64) (float64, bool) {
	if limit <= 0 || after <= before {
		return 0, false
	}
	best, ok := 0.0, false
	for _, t := range append(append([]float64(nil), thresholds...), 1) {
		mark := int64(math.Ceil(t*float64(limit) - 1e-6))
		if before < mark && after >= mark && t > best {
			best, ok = t, true
		}
	}
	return best, ok
}

// alert sends the alerts a settlement's counters call for.
func (e *Enforcer) alert(ctx context.Context, org string, settled []aiproxy.BudgetSettlement) {
	if e.cfg.Alerter == nil {
		return
	}
	for _, s := range settled {
		b, ok := e.defs.lookup(org, s.Charge.BudgetID)
		if !ok {
			// The token's own cap, or a budget no longer cached: the
			// charge kept what the alert needs.
			b = aiproxy.Budget{ID: s.Charge.BudgetID, OrgKey: org, Scope: s.Charge.Scope, Window: s.Charge.Window,
				LimitMicros: s.Charge.Limit, Enforcement: s.Charge.Enforcement}
			if s.Charge.Scope != aiproxy.BudgetScopeOrg && s.Charge.BudgetID == aiproxy.TokenBudgetID {
				b.Subject = s.Charge.Subject
			}
		}
		t, ok := crossed(b.Thresholds(), s.Charge.Limit, s.Spent-s.Added, s.Spent)
		if !ok {
			continue
		}
		e.cfg.Alerter.BudgetAlert(ctx, Alert{OrgKey: org, Budget: b, Subject: s.Charge.Subject,
			WindowStart: s.Charge.WindowStart, ResetsAt: s.Charge.ResetsAt(), Threshold: t,
			SpentMicros: s.Spent, LimitMicros: s.Charge.Limit, At: e.cfg.Now()})
	}
}
