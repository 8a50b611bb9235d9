package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// budgetStores is what an engine provides for budgets. It is asserted
// rather than required by Stores, so that an engine in progress compiles
// and fails these subtests by name.
type budgetStores interface {
	Stores
	aiproxy.BudgetStore
	aiproxy.BudgetLedger
}

// budgets opens a store and asserts that it keeps budgets.
func budgets(t *testing.T, open func(t *testing.T) Stores) budgetStores {
	t.Helper()
	s, ok := open(t).(budgetStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.BudgetStore and aiproxy.BudgetLedger")
	}
	return s
}

// runBudgets is the budget contract: definitions, then the ledger.
func runBudgets(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("SetGetListDelete", func(t *testing.T) {
		s, ctx := budgets(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "other")
		org := aiproxy.Budget{ID: "bud_org", OrgKey: "acme", Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetMonth,
			LimitMicros: 50_000_000, Enforcement: aiproxy.EnforceBlock, CreatedAt: at(1), UpdatedAt: at(1)}
		alice := aiproxy.Budget{ID: "bud_alice", OrgKey: "acme", Scope: aiproxy.BudgetScopeUser, Subject: "alice",
			Window: aiproxy.BudgetDay, LimitMicros: 1_000_000, AlertThresholds: []float64{0.5, 0.9},
			Enforcement: aiproxy.EnforceAlertOnly, CreatedAt: at(2), UpdatedAt: at(2)}
		for _, b := range []aiproxy.Budget{org, alice} {
			if err := s.SetBudget(ctx, b); err != nil {
				t.Fatalf("SetBudget(%s): %v", b.ID, err)
			}
		}
		got, err := s.Budget(ctx, "acme", "bud_alice")
		if err != nil || !sameBudget(got, alice) {
			t.Fatalf("Budget = %+v, %v; want %+v", got, err, alice)
		}
		// Replacing keeps the creation time and takes the rest.
		org2 := org
		org2.LimitMicros, org2.Window, org2.CreatedAt, org2.UpdatedAt = 70_000_000, aiproxy.BudgetWeek, at(9), at(9)
		if err := s.SetBudget(ctx, org2); err != nil {
			t.Fatalf("SetBudget(replace): %v", err)
		}
		list, err := s.Budgets(ctx, "acme")
		if err != nil || len(list) != 2 {
			t.Fatalf("Budgets = %+v, %v; want 2", list, err)
		}
		want := org2
		want.CreatedAt = at(1)
		if !sameBudget(list[0], want) || list[1].ID != "bud_alice" {
			t.Fatalf("Budgets = %+v; want the replaced org budget (created at %v), then alice's", list, at(1))
		}
		if list[0].AlertThresholds != nil {
			t.Errorf("AlertThresholds = %v, want nil when none were set", list[0].AlertThresholds)
		}
		if other, err := s.Budgets(ctx, "other"); err != nil || len(other) != 0 {
			t.Fatalf("Budgets(other) = %+v, %v; want none", other, err)
		}
		if _, err := s.Budget(ctx, "other", "bud_alice"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("Budget(another org's id) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteBudget(ctx, "acme", "bud_alice"); err != nil {
			t.Fatalf("DeleteBudget: %v", err)
		}
		if err := s.DeleteBudget(ctx, "acme", "bud_alice"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("second DeleteBudget = %v, want ErrNotFound", err)
		}
		if err := s.DeleteBudget(ctx, "other", "bud_org"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("DeleteBudget(another org's id) = %v, want ErrNotFound", err)
		}
	})
	t.Run("SetRefusals", func(t *testing.T) {
		s, ctx := budgets(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateOrg(ctx, t, s, "other")
		b := aiproxy.Budget{ID: "bud_1", OrgKey: "acme", Scope: aiproxy.BudgetScopeKey, Subject: "k1",
			Window: aiproxy.BudgetMonth, LimitMicros: 1, Enforcement: aiproxy.EnforceBlock, CreatedAt: at(1), UpdatedAt: at(1)}
		if err := s.SetBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
		twin := b
		twin.ID = "bud_2"
		if err := s.SetBudget(ctx, twin); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("SetBudget(same scope, subject and window) = %v, want ErrConflict", err)
		}
		stolen := b
		stolen.OrgKey = "other"
		if err := s.SetBudget(ctx, stolen); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("SetBudget(another org's id) = %v, want ErrConflict", err)
		}
		if got, _ := s.Budget(ctx, "acme", "bud_1"); got.OrgKey != "acme" {
			t.Fatalf("the budget moved to org %q", got.OrgKey)
		}
		ghost := b
		ghost.ID, ghost.OrgKey = "bud_3", "ghost"
		if err := s.SetBudget(ctx, ghost); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("SetBudget(unknown org) = %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteDropsCounters", func(t *testing.T) {
		s, ctx := budgets(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		b := aiproxy.Budget{ID: "bud_1", OrgKey: "acme", Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetLifetime,
			LimitMicros: 100, Enforcement: aiproxy.EnforceBlock, CreatedAt: at(1), UpdatedAt: at(1)}
		if err := s.SetBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
		c := charge("bud_1", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetLifetime, aiproxy.LifetimeStart, 40, 100)
		mustReserve(t, s, hold("h1", c))
		if _, err := s.SettleBudget(ctx, "h1", 40); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBudget(ctx, "acme", "bud_1"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
		checkCounter(t, s, c.BudgetCounterKey, 0, 0)
	})
	RunBudgetLedger(t, func(t *testing.T) aiproxy.BudgetLedger { return budgets(t, open) })
}

func sameBudget(a, b aiproxy.Budget) bool {
	return a.ID == b.ID && a.OrgKey == b.OrgKey && a.Scope == b.Scope && a.Subject == b.Subject &&
		a.Window == b.Window && a.LimitMicros == b.LimitMicros && a.Enforcement == b.Enforcement &&
		fmt.Sprint(a.AlertThresholds) == fmt.Sprint(b.AlertThresholds) &&
		sameTime(a.CreatedAt, b.CreatedAt) && sameTime(a.UpdatedAt, b.UpdatedAt)
}

// month is the window the ledger contract's counters fall in, unless a
// test says otherwise.
var month = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func charge(budget string, scope aiproxy.BudgetScope, subject string, w aiproxy.BudgetWindow, start time.Time, amount, limit int64) aiproxy.BudgetCharge {
	return aiproxy.BudgetCharge{
		BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: budget, Subject: subject, WindowStart: start},
		Scope:            scope, Window: w, Amount: amount, Limit: limit, Enforcement: aiproxy.EnforceBlock,
	}
}

func hold(id string, cs ...aiproxy.BudgetCharge) aiproxy.BudgetHold {
	return aiproxy.BudgetHold{ID: id, OrgKey: "acme", Charges: cs, Memo: "memo of " + id,
		CreatedAt: at(0), ExpiresAt: at(30)}
}

func mustReserve(t *testing.T, l aiproxy.BudgetLedger, h aiproxy.BudgetHold) {
	t.Helper()
	if err := l.ReserveBudget(t.Context(), h); err != nil {
		t.Fatalf("ReserveBudget(%s): %v", h.ID, err)
	}
}

func checkCounter(t *testing.T, l aiproxy.BudgetLedger, k aiproxy.BudgetCounterKey, spent, reserved int64) {
	t.Helper()
	got, err := l.BudgetCounters(t.Context(), []aiproxy.BudgetCounterKey{k})
	if err != nil || len(got) != 1 {
		t.Fatalf("BudgetCounters = %+v, %v", got, err)
	}
	if got[0].Spent != spent || got[0].Reserved != reserved {
		t.Fatalf("counter %s/%q at %v: spent %d reserved %d; want %d and %d", k.BudgetID, k.Subject,
			k.WindowStart, got[0].Spent, got[0].Reserved, spent, reserved)
	}
}

func exceeded(t *testing.T, err error) *aiproxy.BudgetExceededError {
	t.Helper()
	var be *aiproxy.BudgetExceededError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BudgetExceededError", err)
	}
	return be
}

// RunBudgetLedger runs the ledger part of the budget contract, which a
// ledger of its own (Redis) runs too: reservations are all or nothing
// across counters, atomic under races, windowed, settled, released,
// renamed and swept. open must return a new, empty ledger; the ledger
// must not require the budgets or orgs it counts to exist.
func RunBudgetLedger(t *testing.T, open func(t *testing.T) aiproxy.BudgetLedger) {
	t.Run("ReserveAndRead", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		org := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 300, 1000)
		user := charge("bud_user", aiproxy.BudgetScopeUser, "alice", aiproxy.BudgetMonth, month, 300, 500)
		mustReserve(t, l, hold("h1", org, user))
		checkCounter(t, l, org.BudgetCounterKey, 0, 300)
		checkCounter(t, l, user.BudgetCounterKey, 0, 300)
		h, err := l.BudgetHold(ctx, "h1")
		if err != nil {
			t.Fatalf("BudgetHold: %v", err)
		}
		if h.OrgKey != "acme" || h.Memo != "memo of h1" || !sameTime(h.ExpiresAt, at(30)) || h.Expired || len(h.Charges) != 2 {
			t.Fatalf("BudgetHold = %+v", h)
		}
		// The hold keeps its charges in the ledger's order: the most specific first.
		if c := h.Charges[0]; c.BudgetID != "bud_user" || c.Subject != "alice" || !c.WindowStart.Equal(month) ||
			c.Scope != aiproxy.BudgetScopeUser || c.Window != aiproxy.BudgetMonth || c.Amount != 300 || c.Limit != 500 ||
			c.Enforcement != aiproxy.EnforceBlock {
			t.Fatalf("first charge = %+v, want alice's", c)
		}
		if _, err := l.BudgetHold(ctx, "nope"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("BudgetHold(unknown) = %v, want ErrNotFound", err)
		}
		if err := l.ReserveBudget(ctx, hold("h1", org)); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("ReserveBudget(same id) = %v, want ErrConflict", err)
		}
		checkCounter(t, l, org.BudgetCounterKey, 0, 300)
	})
	t.Run("RacingReservationsAdmitExactlyTheLimit", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetDay, month, 1, 17)
		const n = 50
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = l.ReserveBudget(ctx, hold(fmt.Sprintf("race-%d", i), c))
			})
		}
		close(start)
		wg.Wait()
		admitted := 0
		for _, err := range errs {
			var be *aiproxy.BudgetExceededError
			switch {
			case err == nil:
				admitted++
			case !errors.As(err, &be):
				t.Errorf("ReserveBudget = %v, want nil or a *BudgetExceededError", err)
			}
		}
		if admitted != 17 {
			t.Fatalf("%d of %d racing reservations admitted, want exactly 17", admitted, n)
		}
		checkCounter(t, l, c.BudgetCounterKey, 0, 17)
	})
	t.Run("AllOrNothingAcrossScopes", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		org := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 400, 10_000)
		key := charge("bud_key", aiproxy.BudgetScopeKey, "k1", aiproxy.BudgetMonth, month, 400, 10_000)
		user := charge("bud_user", aiproxy.BudgetScopeUser, "alice", aiproxy.BudgetMonth, month, 400, 500)
		mustReserve(t, l, hold("first", org, key, user))
		err := l.ReserveBudget(ctx, hold("second", org, key, user))
		be := exceeded(t, err)
		if be.Charge.Scope != aiproxy.BudgetScopeUser || be.Charge.BudgetID != "bud_user" || be.Charge.Subject != "alice" {
			t.Fatalf("refusal names %+v, want alice's user budget", be.Charge)
		}
		if be.Spent != 0 || be.Reserved != 400 || be.Available() != 100 || be.Charge.Amount != 400 {
			t.Fatalf("refusal = spent %d reserved %d available %d; want 0, 400, 100", be.Spent, be.Reserved, be.Available())
		}
		if want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !be.ResetsAt().Equal(want) {
			t.Fatalf("ResetsAt = %v, want %v", be.ResetsAt(), want)
		}
		// Nothing of the refused hold was reserved anywhere, nor kept.
		checkCounter(t, l, org.BudgetCounterKey, 0, 400)
		checkCounter(t, l, key.BudgetCounterKey, 0, 400)
		checkCounter(t, l, user.BudgetCounterKey, 0, 400)
		if _, err := l.BudgetHold(ctx, "second"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("BudgetHold(refused) = %v, want ErrNotFound", err)
		}
		// A refused first use of a counter creates nothing either.
		fresh := charge("bud_new", aiproxy.BudgetScopeUser, "bob", aiproxy.BudgetMonth, month, 600, 500)
		exceeded(t, l.ReserveBudget(ctx, hold("third", org, fresh)))
		checkCounter(t, l, org.BudgetCounterKey, 0, 400)
		checkCounter(t, l, fresh.BudgetCounterKey, 0, 0)
	})
	t.Run("MostSpecificExhaustedIsNamed", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		org := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 100, 50)
		token := charge(aiproxy.TokenBudgetID, aiproxy.BudgetScopeToken, "t1", aiproxy.BudgetLifetime, aiproxy.LifetimeStart, 100, 10)
		be := exceeded(t, l.ReserveBudget(ctx, hold("h", org, token)))
		if be.Charge.Scope != aiproxy.BudgetScopeToken || !be.ResetsAt().IsZero() {
			t.Fatalf("refusal names %+v (resets %v), want the token's lifetime budget", be.Charge, be.ResetsAt())
		}
	})
	t.Run("SettleBelowEstimate", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		org := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 1000, 5000)
		user := charge("bud_user", aiproxy.BudgetScopeUser, "alice", aiproxy.BudgetMonth, month, 1000, 2000)
		mustReserve(t, l, hold("h", org, user))
		got, err := l.SettleBudget(ctx, "h", 400)
		if err != nil {
			t.Fatalf("SettleBudget: %v", err)
		}
		if len(got) != 2 || got[0].Charge.BudgetID != "bud_user" || got[0].Spent != 400 || got[0].Added != 400 ||
			got[1].Charge.BudgetID != "bud_org" || got[1].Spent != 400 {
			t.Fatalf("SettleBudget = %+v; want both counters at 400", got)
		}
		checkCounter(t, l, org.BudgetCounterKey, 400, 0)
		checkCounter(t, l, user.BudgetCounterKey, 400, 0)
		if _, err := l.SettleBudget(ctx, "h", 400); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("second SettleBudget = %v, want ErrNotFound", err)
		}
		checkCounter(t, l, org.BudgetCounterKey, 400, 0)
		// What the settlement freed is available again: 2000-400 fits 1600.
		user.Amount = 1600
		mustReserve(t, l, hold("h2", user))
	})
	t.Run("SettleAboveEstimate", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 800, 1000)
		mustReserve(t, l, hold("h", c))
		got, err := l.SettleBudget(ctx, "h", 1500)
		if err != nil || len(got) != 1 || got[0].Spent != 1500 || got[0].Added != 1500 {
			t.Fatalf("SettleBudget = %+v, %v; want spent 1500 past the limit", got, err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 1500, 0)
		c.Amount = 1
		be := exceeded(t, l.ReserveBudget(ctx, hold("h2", c)))
		if be.Available() != 0 || be.Spent != 1500 {
			t.Fatalf("refusal = %+v, want nothing available after overspend", be)
		}
		// An alert-only charge still counts on the overspent counter.
		c.Amount, c.Enforcement = 0, aiproxy.EnforceAlertOnly
		mustReserve(t, l, hold("h3", c))
		if got, err := l.SettleBudget(ctx, "h3", 25); err != nil || got[0].Spent != 1525 || got[0].Added != 25 {
			t.Fatalf("SettleBudget = %+v, %v; want 1525", got, err)
		}
	})
	t.Run("Release", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 700, 1000)
		mustReserve(t, l, hold("h", c))
		if err := l.ReleaseBudget(ctx, "h"); err != nil {
			t.Fatalf("ReleaseBudget: %v", err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 0, 0)
		if err := l.ReleaseBudget(ctx, "h"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("second ReleaseBudget = %v, want ErrNotFound", err)
		}
		if _, err := l.SettleBudget(ctx, "h", 10); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("SettleBudget(released) = %v, want ErrNotFound", err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 0, 0)
		c.Amount = 1000
		mustReserve(t, l, hold("h2", c))
	})
	t.Run("AlertOnlyNeverRefuses", func(t *testing.T) {
		l, _ := open(t), t.Context()
		c := charge("bud_soft", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 700, 500)
		c.Enforcement = aiproxy.EnforceAlertOnly
		mustReserve(t, l, hold("h1", c))
		mustReserve(t, l, hold("h2", c))
		checkCounter(t, l, c.BudgetCounterKey, 0, 1400)
	})
	t.Run("WindowRollover", func(t *testing.T) {
		l, _ := open(t), t.Context()
		dec := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 1000, 1000)
		mustReserve(t, l, hold("december", dec))
		dec.Amount = 1
		exceeded(t, l.ReserveBudget(t.Context(), hold("december-2", dec)))
		// The next window's counter starts at zero.
		jan := dec
		jan.WindowStart, jan.Amount = month.AddDate(0, 1, 0), 1000
		mustReserve(t, l, hold("january", jan))
		checkCounter(t, l, dec.BudgetCounterKey, 0, 1000)
		checkCounter(t, l, jan.BudgetCounterKey, 0, 1000)
	})
	t.Run("LifetimeWindow", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge(aiproxy.TokenBudgetID, aiproxy.BudgetScopeToken, "tok1", aiproxy.BudgetLifetime, aiproxy.LifetimeStart, 300, 1000)
		for i := range 3 {
			id := fmt.Sprintf("h%d", i)
			mustReserve(t, l, hold(id, c))
			if _, err := l.SettleBudget(ctx, id, 300); err != nil {
				t.Fatal(err)
			}
		}
		checkCounter(t, l, c.BudgetCounterKey, 900, 0)
		be := exceeded(t, l.ReserveBudget(ctx, hold("h3", c)))
		if be.Available() != 100 || !be.ResetsAt().IsZero() {
			t.Fatalf("refusal = available %d, resets %v; want 100 and never", be.Available(), be.ResetsAt())
		}
	})
	t.Run("Rename", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 100, 1000)
		mustReserve(t, l, hold("call-1", c))
		mustReserve(t, l, hold("call-2", c))
		if err := l.RenameBudgetHold(ctx, "call-1", "job:heygen:v1", at(600)); err != nil {
			t.Fatalf("RenameBudgetHold: %v", err)
		}
		if _, err := l.BudgetHold(ctx, "call-1"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("BudgetHold(old id) = %v, want ErrNotFound", err)
		}
		h, err := l.BudgetHold(ctx, "job:heygen:v1")
		if err != nil || !sameTime(h.ExpiresAt, at(600)) || len(h.Charges) != 1 || h.Memo != "memo of call-1" {
			t.Fatalf("BudgetHold(new id) = %+v, %v", h, err)
		}
		if err := l.RenameBudgetHold(ctx, "call-2", "job:heygen:v1", at(600)); !errors.Is(err, aiproxy.ErrConflict) {
			t.Fatalf("RenameBudgetHold(taken id) = %v, want ErrConflict", err)
		}
		if err := l.RenameBudgetHold(ctx, "nope", "job:heygen:v2", at(600)); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("RenameBudgetHold(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := l.SettleBudget(ctx, "job:heygen:v1", 50); err != nil {
			t.Fatalf("SettleBudget(renamed): %v", err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 50, 100)
	})
	t.Run("SweepExpiredHolds", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		c := charge("bud_org", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 300, 1000)
		u := charge("bud_user", aiproxy.BudgetScopeUser, "alice", aiproxy.BudgetMonth, month, 300, 1000)
		dead := hold("dead", c, u)
		dead.ExpiresAt = at(10)
		late := hold("late", c)
		late.ExpiresAt = at(10)
		alive := hold("alive", c)
		alive.ExpiresAt = at(20).Add(2 * aiproxy.BudgetHoldGrace)
		for _, h := range []aiproxy.BudgetHold{dead, late, alive} {
			mustReserve(t, l, h)
		}
		if n, err := l.SweepBudgetHolds(ctx, at(9)); err != nil || n != 0 {
			t.Fatalf("SweepBudgetHolds(before expiry) = %d, %v; want 0", n, err)
		}
		if n, err := l.SweepBudgetHolds(ctx, at(10)); err != nil || n != 2 {
			t.Fatalf("SweepBudgetHolds = %d, %v; want 2", n, err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 0, 300)
		checkCounter(t, l, u.BudgetCounterKey, 0, 0)
		if n, err := l.SweepBudgetHolds(ctx, at(11)); err != nil || n != 0 {
			t.Fatalf("second SweepBudgetHolds = %d, %v; want 0", n, err)
		}
		h, err := l.BudgetHold(ctx, "late")
		if err != nil || !h.Expired {
			t.Fatalf("BudgetHold(swept) = %+v, %v; want it kept, expired", h, err)
		}
		// A swept hold settled late records its spend without giving its
		// reservation back twice.
		if got, err := l.SettleBudget(ctx, "late", 120); err != nil || len(got) != 1 || got[0].Spent != 120 {
			t.Fatalf("SettleBudget(swept) = %+v, %v; want 120 spent", got, err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 120, 300)
		// A swept hold released late changes nothing.
		if err := l.ReleaseBudget(ctx, "dead"); err != nil {
			t.Fatalf("ReleaseBudget(swept) = %v", err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 120, 300)
		checkCounter(t, l, u.BudgetCounterKey, 0, 0)
		// Past the grace period, an expired hold is gone.
		late2 := hold("late-2", c)
		late2.ExpiresAt = at(20)
		mustReserve(t, l, late2)
		if n, err := l.SweepBudgetHolds(ctx, at(20)); err != nil || n != 1 {
			t.Fatalf("SweepBudgetHolds = %d, %v; want 1", n, err)
		}
		if _, err := l.SweepBudgetHolds(ctx, at(20).Add(aiproxy.BudgetHoldGrace)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.BudgetHold(ctx, "late-2"); !errors.Is(err, aiproxy.ErrNotFound) {
			t.Fatalf("BudgetHold(past grace) = %v, want ErrNotFound", err)
		}
		if _, err := l.BudgetHold(ctx, "alive"); err != nil {
			t.Fatalf("BudgetHold(alive) = %v; a live hold must survive the sweeps", err)
		}
		checkCounter(t, l, c.BudgetCounterKey, 120, 300)
	})
	t.Run("Subjects", func(t *testing.T) {
		l, ctx := open(t), t.Context()
		for i, user := range []string{"carol", "alice", "bob"} {
			c := charge("bud_users", aiproxy.BudgetScopeUser, user, aiproxy.BudgetMonth, month, int64(10*(i+1)), 1000)
			mustReserve(t, l, hold("h-"+user, c))
		}
		other := charge("bud_users", aiproxy.BudgetScopeUser, "dave", aiproxy.BudgetMonth, month.AddDate(0, 1, 0), 5, 1000)
		mustReserve(t, l, hold("h-dave", other))
		got, err := l.BudgetSubjects(ctx, "bud_users", month)
		if err != nil || len(got) != 3 {
			t.Fatalf("BudgetSubjects = %+v, %v; want 3", got, err)
		}
		for i, want := range []struct {
			subject  string
			reserved int64
		}{{"alice", 20}, {"bob", 30}, {"carol", 10}} {
			if got[i].Subject != want.subject || got[i].Reserved != want.reserved || !got[i].WindowStart.Equal(month) {
				t.Errorf("BudgetSubjects[%d] = %+v, want %s with %d reserved", i, got[i], want.subject, want.reserved)
			}
		}
		none, err := l.BudgetSubjects(ctx, "bud_none", month)
		if err != nil || len(none) != 0 {
			t.Fatalf("BudgetSubjects(unused) = %+v, %v; want none", none, err)
		}
	})
	t.Run("InvalidHold", func(t *testing.T) {
		l := open(t)
		bad := hold("", charge("b", aiproxy.BudgetScopeOrg, "", aiproxy.BudgetMonth, month, 1, 1))
		if err := l.ReserveBudget(context.WithoutCancel(t.Context()), bad); err == nil {
			t.Fatal("ReserveBudget(no id) = nil")
		}
	})
}
