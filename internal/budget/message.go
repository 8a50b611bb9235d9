package budget

import (
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// usd formats micro-USD as dollars: cents, or four decimals below a cent
// so that a small price does not read as free.
func usd(micros int64) string {
	neg := ""
	if micros < 0 {
		neg, micros = "-", -micros
	}
	if micros > 0 && micros < 10_000 {
		return fmt.Sprintf("%s$%d.%04d", neg, micros/1_000_000, micros%1_000_000/100)
	}
	cents := (micros + 5_000) / 10_000
	return fmt.Sprintf("%s$%d.%02d", neg, cents/100, cents%100)
}

// scopeName names a budget's subject in a sentence: "org 'acme'",
// "user 'alice'".
func scopeName(c aiproxy.BudgetCharge, org string) string {
	if c.Scope == aiproxy.BudgetScopeOrg {
		return fmt.Sprintf("org '%s'", org)
	}
	return fmt.Sprintf("%s '%s'", c.Scope, c.Subject)
}

// errExceeded is the client's 402 for a refused reservation: the budget,
// what it has left, what the call needs and when it resets, in the
// message and as members of the body (scope, budget_id, available and
// required in US dollars, resets_at, null for a lifetime budget). A
// member refused by the org's or a key's budget learns which budget and
// when it resets, never the org's amounts.
func errExceeded(be *aiproxy.BudgetExceededError, org string, q Quote, member bool) *aiproxy.Error {
	about := "about "
	if q.Exact {
		about = ""
	}
	resets := "it never resets"
	var resetsAt any
	if r := be.ResetsAt(); !r.IsZero() {
		resets = "it resets at " + r.UTC().Format(time.RFC3339)
		resetsAt = r.UTC().Format(time.RFC3339)
	}
	extra := map[string]any{"scope": string(be.Charge.Scope), "budget_id": be.Charge.BudgetID, "resets_at": resetsAt}
	var e *aiproxy.Error
	if member && (be.Charge.Scope == aiproxy.BudgetScopeOrg || be.Charge.Scope == aiproxy.BudgetScopeKey) {
		e = aiproxy.Errorf(aiproxy.CodeBudgetExceeded, "Budget exceeded: the %s %s budget cannot cover this call; %s.",
			be.Charge.Window.Adjective(), be.Charge.Scope, resets)
	} else {
		e = aiproxy.Errorf(aiproxy.CodeBudgetExceeded,
			"Budget exceeded: %s %s budget has %s left of %s, and this call needs %s%s; %s.",
			scopeName(be.Charge, org), be.Charge.Window.Adjective(), usd(be.Available()), usd(be.Charge.Limit),
			about, usd(be.Charge.Amount), resets)
		extra["available"], extra["required"] = dollars(be.Available()), dollars(be.Charge.Amount)
	}
	e.Extra, e.Err = extra, be
	return e
}

// dollars is micro-USD as a JSON number of US dollars.
func dollars(micros int64) float64 { return float64(micros) / 1e6 }

// errUnpriced refuses a call no price covers, for a caller a blocking
// budget applies to.
func errUnpriced(service, action string) *aiproxy.Error {
	return aiproxy.Errorf(aiproxy.CodeForbidden,
		"This call cannot be priced: %s/%s has no price, and a spending budget applies to this caller. "+
			"The org can set a flat price per call for it.", service, action)
}

// errUnavailable is the 503 of a budgeted call whose budgets cannot be
// read or reserved: budgets fail closed.
func errUnavailable(err error) *aiproxy.Error {
	return &aiproxy.Error{Code: aiproxy.CodeUnavailable, RetryAfter: 2, Err: err,
		Message: "The service is temporarily unavailable: spending budgets cannot be checked. Retry shortly."}
}
