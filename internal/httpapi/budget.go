package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// BudgetAdmin manages an org's spending budgets (budget.Admin). Its errors
// are *aiproxy.Error with messages safe to show.
type BudgetAdmin interface {
	Budgets(ctx context.Context, org string) ([]aiproxy.Budget, error)
	SetBudget(ctx context.Context, b aiproxy.Budget) (aiproxy.Budget, error)
	DeleteBudget(ctx context.Context, org, id string) error
	// BudgetStatus reports the budgets a principal may see, in their
	// current windows.
	BudgetStatus(ctx context.Context, org string, p aiproxy.Principal) ([]aiproxy.BudgetStatus, error)
}

// BudgetJSON is a budget in the admin API and the CLI's --json output.
// Amounts are micro-USD (1 USD = 1,000,000). Subject "" is the org for the
// org scope, and the default for each key, user or token otherwise.
type BudgetJSON struct {
	ID              string    `json:"id"`
	Org             string    `json:"org"`
	Scope           string    `json:"scope"`
	Subject         string    `json:"subject"`
	Window          string    `json:"window"`
	LimitMicros     int64     `json:"limit_micros"`
	AlertThresholds []float64 `json:"alert_thresholds"`
	Enforcement     string    `json:"enforcement"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// ToBudgetJSON converts a budget for output, with its effective alert
// thresholds.
func ToBudgetJSON(b aiproxy.Budget) BudgetJSON {
	return BudgetJSON{ID: b.ID, Org: b.OrgKey, Scope: string(b.Scope), Subject: b.Subject, Window: string(b.Window),
		LimitMicros: b.LimitMicros, AlertThresholds: b.Thresholds(), Enforcement: string(b.Enforcement),
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
}

// BudgetStatusJSON is where one budget stands in its current window. A
// member (a user acting for themselves) gets only the scope, window,
// reset time, percent and zone of their own budgets: the amount fields
// are left out.
type BudgetStatusJSON struct {
	ID              string     `json:"id,omitempty"`
	Scope           string     `json:"scope"`
	Subject         string     `json:"subject,omitempty"`
	Window          string     `json:"window"`
	WindowStart     time.Time  `json:"window_start"`
	ResetsAt        *time.Time `json:"resets_at"`
	LimitMicros     *int64     `json:"limit_micros,omitempty"`
	SpentMicros     *int64     `json:"spent_micros,omitempty"`
	ReservedMicros  *int64     `json:"reserved_micros,omitempty"`
	RemainingMicros *int64     `json:"remaining_micros,omitempty"`
	Enforcement     string     `json:"enforcement,omitempty"`
	Percent         float64    `json:"percent"`
	Zone            string     `json:"zone"`
}

// ToBudgetStatusJSON converts a status for output; member leaves out
// amounts and ids.
func ToBudgetStatusJSON(s aiproxy.BudgetStatus, member bool) BudgetStatusJSON {
	out := BudgetStatusJSON{Scope: string(s.Budget.Scope), Window: string(s.Budget.Window), WindowStart: s.WindowStart,
		ResetsAt: optTime(s.ResetsAt), Percent: s.Percent(), Zone: string(s.Zone())}
	if member {
		return out
	}
	limit, spent, reserved, left := s.Budget.LimitMicros, s.SpentMicros, s.ReservedMicros, s.RemainingMicros()
	out.ID, out.Subject, out.Enforcement = s.Budget.ID, s.Subject, string(s.Budget.Enforcement)
	out.LimitMicros, out.SpentMicros, out.ReservedMicros, out.RemainingMicros = &limit, &spent, &reserved, &left
	return out
}

// budgetRoutes registers the budget API on b:
//
//	GET    /orgs/{org}/budgets/         the org's budgets (org admins)
//	PUT    /orgs/{org}/budgets/         create or replace one (org admins)
//	DELETE /orgs/{org}/budgets/{id}/    remove one (org admins)
//	GET    /orgs/{org}/budgets/status/  what each budget has left (anyone
//	                                    of the org; members see their own)
func (s *server) budgetRoutes(b BudgetAdmin) {
	h := budgetHandlers{b}
	s.route("/orgs/{org}/budgets", s.orgAdmin(h.budgets), http.MethodGet, http.MethodPut)
	s.route("/orgs/{org}/budgets/status", s.orgAccess(h.status), http.MethodGet)
	s.route("/orgs/{org}/budgets/{id}", s.orgAdmin(h.delete), http.MethodDelete)
}

type budgetHandlers struct{ admin BudgetAdmin }

// budgets lists an org's budgets (GET), or creates or replaces one (PUT)
// from {"id"?, "scope", "subject"?, "window", "limit_micros",
// "alert_thresholds"?, "enforcement"?} and answers it. A PUT without an id
// creates a budget; with one it replaces that budget.
func (h budgetHandlers) budgets(w http.ResponseWriter, r *http.Request) error {
	org := r.PathValue("org")
	if r.Method == http.MethodPut {
		if err := refuseScoped(r); err != nil {
			return err
		}
		var in struct {
			ID              string    `json:"id"`
			Scope           *string   `json:"scope"`
			Subject         string    `json:"subject"`
			Window          *string   `json:"window"`
			LimitMicros     *int64    `json:"limit_micros"`
			AlertThresholds []float64 `json:"alert_thresholds"`
			Enforcement     string    `json:"enforcement"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		err := requireFields([]string{"scope", "window", "limit_micros"}, in.Scope != nil, in.Window != nil, in.LimitMicros != nil)
		if err != nil {
			return err
		}
		b, err := h.admin.SetBudget(r.Context(), aiproxy.Budget{ID: in.ID, OrgKey: org, Scope: aiproxy.BudgetScope(*in.Scope),
			Subject: in.Subject, Window: aiproxy.BudgetWindow(*in.Window), LimitMicros: *in.LimitMicros,
			AlertThresholds: in.AlertThresholds, Enforcement: aiproxy.BudgetEnforcement(in.Enforcement)})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ToBudgetJSON(b))
		return nil
	}
	list, err := h.admin.Budgets(r.Context(), org)
	if err != nil {
		return err
	}
	out := make([]BudgetJSON, 0, len(list))
	for _, b := range list {
		out = append(out, ToBudgetJSON(b))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// delete removes a budget and answers 204.
func (h budgetHandlers) delete(w http.ResponseWriter, r *http.Request) error {
	if err := refuseScoped(r); err != nil {
		return err
	}
	if err := h.admin.DeleteBudget(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// status answers what the budgets the caller may see have left; a member
// sees percent and zone only.
func (h budgetHandlers) status(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	list, err := h.admin.BudgetStatus(r.Context(), r.PathValue("org"), p)
	if err != nil {
		return err
	}
	out := make([]BudgetStatusJSON, 0, len(list))
	for _, s := range list {
		out = append(out, ToBudgetStatusJSON(s, p.Member()))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}
