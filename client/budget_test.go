package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

// speak makes one 12-character speech (1,200 micro-USD at the default
// model's 100 micro-USD a character).
func speak(ctx context.Context, c *client.Client) error {
	_, err := c.ElevenLabs().TTS(ctx, rachel, client.TTSRequest{Text: "Hello there."})
	return err
}

// TestBudgets manages budgets with the org key against a real server, and
// checks what a member sees: a per-user monthly budget for two speeches
// refuses the third with a 402 whose Budget names it, the member's status
// is a percentage without amounts, and the org key's status has them.
func TestBudgets(t *testing.T) {
	s := startServer(t)
	org := s.client(t)
	ctx := context.Background()

	perUser, err := org.SetBudget(ctx, client.Budget{Scope: client.BudgetScopeUser, Window: client.BudgetWindowMonth, LimitMicros: 2400})
	if err != nil {
		t.Fatal(err)
	}
	if perUser.ID == "" || perUser.Org != "demo" || perUser.Subject != "" || perUser.LimitMicros != 2400 ||
		!slices.Equal(perUser.AlertThresholds, []float64{0.8, 0.95}) || perUser.Enforcement != client.BudgetBlock || perUser.CreatedAt.IsZero() {
		t.Fatalf("created %+v", perUser)
	}
	_, err = org.SetBudget(ctx, client.Budget{Scope: client.BudgetScopeUser, Window: client.BudgetWindowMonth, LimitMicros: 1})
	if !errors.Is(err, client.ErrConflict) {
		t.Errorf("a second per-user monthly budget = %v, want conflict", err)
	}
	_, err = org.SetBudget(ctx, client.Budget{Scope: "team", Window: "fortnight", LimitMicros: -1})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "invalid" || e.Budget != nil {
		t.Errorf("a bad budget = %v, want invalid", err)
	}
	carol, err := org.SetBudget(ctx, client.Budget{Scope: client.BudgetScopeUser, Subject: "carol", Window: client.BudgetWindowDay,
		LimitMicros: 5_000_000, AlertThresholds: []float64{0.5}, Enforcement: client.BudgetAlertOnly})
	if err != nil || carol.Subject != "carol" || !slices.Equal(carol.AlertThresholds, []float64{0.5}) || carol.Enforcement != client.BudgetAlertOnly {
		t.Fatalf("carol's budget = %+v, %v", carol, err)
	}
	carol.LimitMicros = 7_000_000
	if replaced, err := org.SetBudget(ctx, carol); err != nil || replaced.ID != carol.ID || replaced.LimitMicros != 7_000_000 {
		t.Errorf("replace carol's budget = %+v, %v", replaced, err)
	}
	list, err := org.Budgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]int64{}
	for _, b := range list {
		limits[b.ID] = b.LimitMicros
	}
	if len(list) != 2 || limits[perUser.ID] != 2400 || limits[carol.ID] != 7_000_000 {
		t.Errorf("listed %+v", list)
	}

	tok, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	alice := s.asUser(t, tok.Token)
	for i := range 2 {
		if err := speak(ctx, alice); err != nil {
			t.Fatalf("alice's speech %d within her budget: %v", i+1, err)
		}
	}
	err = speak(ctx, alice)
	if !errors.Is(err, client.ErrBudgetExceeded) || !errors.As(err, &e) || e.Status != 402 || e.Budget == nil {
		t.Fatalf("alice's third speech = %v, want a 402 with its budget", err)
	}
	next := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month()+1, 1, 0, 0, 0, 0, time.UTC)
	if r := e.Budget; r.Scope != "user" || r.BudgetID != perUser.ID || r.Available == nil || *r.Available != 0 ||
		r.Required == nil || *r.Required != 0.0012 || r.ResetsAt == nil || !r.ResetsAt.Equal(next) {
		t.Errorf("the refusal = %+v (available %v, required %v, resets %v)", r, deref(r.Available), deref(r.Required), r.ResetsAt)
	}

	mine, err := alice.BudgetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].Scope != "user" || mine[0].Window != "month" || mine[0].Percent != 100 || mine[0].Zone != "exhausted" ||
		mine[0].ResetsAt == nil || !mine[0].ResetsAt.Equal(next) {
		t.Errorf("alice's status = %+v", mine)
	} else if m := mine[0]; m.ID != "" || m.Subject != "" || m.LimitMicros != nil || m.SpentMicros != nil || m.RemainingMicros != nil {
		t.Errorf("a member sees amounts or ids: %+v", m)
	}
	all, err := org.BudgetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hers *client.BudgetStatus
	for i := range all {
		if all[i].ID == perUser.ID && all[i].Subject == "alice" {
			hers = &all[i]
		}
	}
	if hers == nil || hers.SpentMicros == nil || *hers.SpentMicros != 2400 || *hers.LimitMicros != 2400 || *hers.RemainingMicros != 0 {
		t.Errorf("the org key's status = %+v", all)
	}

	if _, err := alice.Budgets(ctx); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a member listing budgets = %v, want forbidden", err)
	}
	if _, err := alice.SetBudget(ctx, client.Budget{Scope: "user", Subject: "alice", Window: "month", LimitMicros: 1e9}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a member raising its own budget = %v, want forbidden", err)
	}

	if err := org.DeleteBudget(ctx, perUser.ID); err != nil {
		t.Fatal(err)
	}
	if err := org.DeleteBudget(ctx, perUser.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleting it twice = %v, want not found", err)
	}
	if err := speak(ctx, alice); err != nil {
		t.Errorf("alice without a budget: %v", err)
	}
}

// TestBudgetRefusalForAMember checks that a member refused by the org's
// lifetime budget learns which budget refused it, and no amounts.
func TestBudgetRefusalForAMember(t *testing.T) {
	s := startServer(t)
	org := s.client(t)
	ctx := context.Background()
	whole, err := org.SetBudget(ctx, client.Budget{Scope: client.BudgetScopeOrg, Window: client.BudgetWindowLifetime, LimitMicros: 1000})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := org.MintUserToken(ctx, client.MintUserTokenRequest{User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	err = speak(ctx, s.asUser(t, tok.Token))
	var e *client.Error
	if !errors.As(err, &e) || !errors.Is(err, client.ErrBudgetExceeded) || e.Budget == nil {
		t.Fatalf("bob under a spent org budget = %v", err)
	}
	if r := e.Budget; r.Scope != "org" || r.BudgetID != whole.ID || r.Available != nil || r.Required != nil || r.ResetsAt != nil {
		t.Errorf("bob's refusal = %+v", r)
	}
	// The org key itself gets the amounts.
	err = speak(ctx, org)
	if !errors.As(err, &e) || e.Budget == nil || e.Budget.Available == nil || *e.Budget.Available != 0.001 || *e.Budget.Required != 0.0012 {
		t.Errorf("the org key under its spent budget = %v", err)
	}
}

// TestBudgetRefusalDecoding reads a 402's members from canned answers: a
// provider's own 402 carries no Budget, and a budget_exceeded body that
// lacks members gives an empty one rather than nil.
func TestBudgetRefusalDecoding(t *testing.T) {
	var e *client.Error
	c := startServerWithAnswer(t, 402, `{"detail":"Pay up.","code":"budget_exceeded","resets_at":"2027-01-01T00:00:00Z","scope":"token","budget_id":"token_max_spend"}`)
	if _, err := c.Services(context.Background()); !errors.As(err, &e) || e.Budget == nil || e.Budget.Scope != "token" ||
		e.Budget.BudgetID != "token_max_spend" || e.Budget.ResetsAt == nil || e.Budget.ResetsAt.Year() != 2027 {
		t.Errorf("402 = %v, budget %+v", err, e.Budget)
	}
	c = startServerWithAnswer(t, 402, `{"detail":{"status":"payment_required","message":"Upgrade your plan."}}`)
	if _, err := c.Services(context.Background()); !errors.As(err, &e) || errors.Is(err, client.ErrBudgetExceeded) || e.Budget != nil {
		t.Errorf("a provider's 402 = %v, budget %+v", err, e.Budget)
	}
	c = startServerWithAnswer(t, 402, `{"detail":"Spent.","code":"budget_exceeded"}`)
	if _, err := c.Services(context.Background()); !errors.As(err, &e) || e.Budget == nil || e.Budget.Scope != "" {
		t.Errorf("a bare budget_exceeded = %v, budget %+v", err, e.Budget)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
