package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The scopes of a budget: whom it caps.
const (
	BudgetScopeOrg   = "org"
	BudgetScopeKey   = "key"
	BudgetScopeUser  = "user"
	BudgetScopeToken = "token"
)

// The windows of a budget, calendar-aligned in UTC (a week starts on
// Monday).
const (
	BudgetWindowDay      = "day"
	BudgetWindowWeek     = "week"
	BudgetWindowMonth    = "month"
	BudgetWindowLifetime = "lifetime"
)

// The enforcements of a budget: refuse a call it cannot cover, or only
// count and alert.
const (
	BudgetBlock     = "block"
	BudgetAlertOnly = "alert_only"
)

// Budget caps what an org, one of its keys, its users or a user token may
// spend with the providers per window. Amounts are integer micro-USD
// (1 USD = 1,000,000), as the API has them, so that no sum rounds.
type Budget struct {
	// ID is made by aiproxy on creation; SetBudget with an ID replaces
	// that budget.
	ID  string `json:"id"`
	Org string `json:"org"`
	// Scope is one of the BudgetScope constants.
	Scope string `json:"scope"`
	// Subject is the key id, user or token id the budget caps. "" is the
	// org for the org scope, and for the others the default applied to
	// each key, user or token separately.
	Subject string `json:"subject"`
	// Window is one of the BudgetWindow constants.
	Window      string `json:"window"`
	LimitMicros int64  `json:"limit_micros"`
	// AlertThresholds are the fractions of the limit at which an alert
	// fires; empty in SetBudget means the server's default, 0.8 and 0.95.
	AlertThresholds []float64 `json:"alert_thresholds"`
	// Enforcement is BudgetBlock (the default when "") or BudgetAlertOnly.
	Enforcement string    `json:"enforcement"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// setBudgetBody is the JSON of PUT /orgs/{org}/budgets/.
type setBudgetBody struct {
	ID              string    `json:"id,omitempty"`
	Scope           string    `json:"scope"`
	Subject         string    `json:"subject,omitempty"`
	Window          string    `json:"window"`
	LimitMicros     int64     `json:"limit_micros"`
	AlertThresholds []float64 `json:"alert_thresholds,omitempty"`
	Enforcement     string    `json:"enforcement,omitempty"`
}

// BudgetStatus is where one budget stands in its current window. An org
// admin gets every field; a member (a user token or sign-in) gets only
// its own user and token budgets, without ID, Subject, Enforcement or any
// amount (those pointers are nil).
type BudgetStatus struct {
	ID          string    `json:"id,omitempty"`
	Scope       string    `json:"scope"`
	Subject     string    `json:"subject,omitempty"`
	Window      string    `json:"window"`
	WindowStart time.Time `json:"window_start"`
	// ResetsAt is when the window ends; nil for a lifetime budget.
	ResetsAt        *time.Time `json:"resets_at"`
	LimitMicros     *int64     `json:"limit_micros,omitempty"`
	SpentMicros     *int64     `json:"spent_micros,omitempty"`
	ReservedMicros  *int64     `json:"reserved_micros,omitempty"`
	RemainingMicros *int64     `json:"remaining_micros,omitempty"`
	Enforcement     string     `json:"enforcement,omitempty"`
	// Percent is the share of the limit spent and held, 0 to 100 or more.
	Percent float64 `json:"percent"`
	// Zone is "ok", "warning" (from the first alert threshold),
	// "critical" (from the last) or "exhausted".
	Zone string `json:"zone"`
}

// BudgetRefusal is what a 402 budget_exceeded says of the budget that
// refused the call. It is Error.Budget.
type BudgetRefusal struct {
	// Scope is the refusing budget's scope: "org", "key", "user" or
	// "token", the most specific one exhausted.
	Scope    string
	BudgetID string
	// Available and Required are in US dollars: what the budget has left
	// and what the call needs. They are nil for a member refused by the
	// org's or a key's budget, whose amounts are the org's business.
	Available, Required *float64
	// ResetsAt is when the budget's window ends; nil for a lifetime
	// budget.
	ResetsAt *time.Time
}

// budgetRefusal reads the budget members of a 402 budget_exceeded body.
func budgetRefusal(data []byte) *BudgetRefusal {
	var body struct {
		Scope     string     `json:"scope"`
		BudgetID  string     `json:"budget_id"`
		Available *float64   `json:"available"`
		Required  *float64   `json:"required"`
		ResetsAt  *time.Time `json:"resets_at"`
	}
	if json.Unmarshal(data, &body) != nil {
		return &BudgetRefusal{}
	}
	return &BudgetRefusal{Scope: body.Scope, BudgetID: body.BudgetID, Available: body.Available,
		Required: body.Required, ResetsAt: body.ResetsAt}
}

// Budgets lists the org's budgets. Only an org's admin key may.
func (c *Client) Budgets(ctx context.Context) ([]Budget, error) {
	var out []Budget
	return out, c.getJSON(ctx, c.orgURL("budgets"), &out)
}

// SetBudget creates a budget (b.ID "") or replaces the one with b.ID, and
// returns it as stored. Org, CreatedAt and UpdatedAt are ignored. Only an
// org's admin key may; a bad budget is ErrInvalid with every problem
// named, a second budget for the same scope, subject and window
// ErrConflict.
func (c *Client) SetBudget(ctx context.Context, b Budget) (Budget, error) {
	data, err := json.Marshal(setBudgetBody{ID: b.ID, Scope: b.Scope, Subject: b.Subject, Window: b.Window,
		LimitMicros: b.LimitMicros, AlertThresholds: b.AlertThresholds, Enforcement: b.Enforcement})
	if err != nil {
		return Budget{}, fmt.Errorf("encode budget: %w", err)
	}
	var out Budget
	return out, c.sendJSON(ctx, http.MethodPut, c.orgURL("budgets"), data, &out)
}

// DeleteBudget removes a budget and its counters.
func (c *Client) DeleteBudget(ctx context.Context, id string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, c.orgURL("budgets", id), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	return resp.Close()
}

// BudgetStatus reports each budget the caller may see in its current
// window: every budget, with amounts, for an org admin; the budgets that
// apply to its own calls for an invoke key; a member's own user and token
// budgets, as percent and zone only.
func (c *Client) BudgetStatus(ctx context.Context) ([]BudgetStatus, error) {
	var out []BudgetStatus
	return out, c.getJSON(ctx, c.orgURL("budgets", "status"), &out)
}
