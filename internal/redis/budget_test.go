package redis

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/storetest"
)

// TestBudgetLedger runs the storetest ledger contract on miniredis and,
// when AIPROXY_TEST_REDIS_URL is set, on the real server, each subtest
// under a fresh key prefix.
func TestBudgetLedger(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		storetest.RunBudgetLedger(t, func(t *testing.T) aiproxy.BudgetLedger {
			m := miniredis.RunT(t)
			c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), Options{})
			t.Cleanup(func() { c.Close() })
			return c.BudgetLedger()
		})
	})
	t.Run("redis", func(t *testing.T) {
		url := os.Getenv("AIPROXY_TEST_REDIS_URL")
		if url == "" {
			t.Skip("AIPROXY_TEST_REDIS_URL is not set; skipping the real Redis run")
		}
		storetest.RunBudgetLedger(t, func(t *testing.T) aiproxy.BudgetLedger {
			prefix := "aiproxy_test_" + token() + ":"
			t.Cleanup(func() { dropPrefix(t, url, prefix) })
			c, err := Open(url, Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c.BudgetLedger()
		})
	})
}

// TestBudgetLedgerReplicasAgree reserves through two clients of one
// server, as two replicas would: the second sees the first's hold.
func TestBudgetLedgerReplicasAgree(t *testing.T) {
	m := miniredis.RunT(t)
	open := func() *Ledger {
		c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), Options{})
		t.Cleanup(func() { c.Close() })
		return c.BudgetLedger()
	}
	a, b := open(), open()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := aiproxy.BudgetCharge{BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: "bud_org", WindowStart: start},
		Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetMonth, Amount: 600, Limit: 1000, Enforcement: aiproxy.EnforceBlock}
	h := aiproxy.BudgetHold{ID: "a", OrgKey: "acme", Charges: []aiproxy.BudgetCharge{c}, CreatedAt: start, ExpiresAt: start.Add(time.Hour)}
	if err := a.ReserveBudget(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	h.ID = "b"
	var be *aiproxy.BudgetExceededError
	if err := b.ReserveBudget(t.Context(), h); !errors.As(err, &be) || be.Reserved != 600 {
		t.Fatalf("second replica's ReserveBudget = %v, want refused with 600 reserved", err)
	}
	if _, err := b.SettleBudget(t.Context(), "a", 100); err != nil {
		t.Fatalf("SettleBudget through the other replica: %v", err)
	}
	if err := b.ReserveBudget(t.Context(), h); err != nil {
		t.Fatalf("ReserveBudget after the settlement: %v", err)
	}
}

// TestBudgetLedgerDown is fail-closed: a ledger whose server is gone
// answers aiproxy.ErrUnavailable, never a refusal or a success.
func TestBudgetLedgerDown(t *testing.T) {
	m := miniredis.RunT(t)
	c := New(goredis.NewClient(&goredis.Options{Addr: m.Addr(), MaxRetries: -1}), Options{OpTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	m.Close()
	l := c.BudgetLedger()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h := aiproxy.BudgetHold{ID: "a", OrgKey: "acme", CreatedAt: start, ExpiresAt: start.Add(time.Hour),
		Charges: []aiproxy.BudgetCharge{{BudgetCounterKey: aiproxy.BudgetCounterKey{BudgetID: "b", WindowStart: start},
			Scope: aiproxy.BudgetScopeOrg, Window: aiproxy.BudgetMonth, Amount: 1, Limit: 10}}}
	if err := l.ReserveBudget(t.Context(), h); !errors.Is(err, aiproxy.ErrUnavailable) {
		t.Fatalf("ReserveBudget = %v, want ErrUnavailable", err)
	}
	if _, err := l.SettleBudget(t.Context(), "a", 1); !errors.Is(err, aiproxy.ErrUnavailable) {
		t.Fatalf("SettleBudget = %v, want ErrUnavailable", err)
	}
	if _, err := l.BudgetCounters(t.Context(), []aiproxy.BudgetCounterKey{h.Charges[0].BudgetCounterKey}); !errors.Is(err, aiproxy.ErrUnavailable) {
		t.Fatalf("BudgetCounters = %v, want ErrUnavailable", err)
	}
}
