// Package storetest is the contract suite that every storage engine runs, so
// that SQLite, Postgres and in-memory stores behave the same way. Each
// engine's tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Stores is everything a storage engine provides.
type Stores interface {
	aiproxy.OrgStore
	aiproxy.KeyStore
	aiproxy.CredentialStore
}

// Run runs the contract suite. open must return a new, empty store for each
// call and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("Org", func(t *testing.T) { runOrgs(t, open) })
	t.Run("Key", func(t *testing.T) { runKeys(t, open) })
	t.Run("Credential", func(t *testing.T) { runCredentials(t, open) })
	t.Run("Time", func(t *testing.T) { runTimes(t, open) })
	t.Run("Concurrency", func(t *testing.T) { runConcurrency(t, open) })
	t.Run("TestOnlyKey", func(t *testing.T) { runTestOnlyKeys(t, open) })
	t.Run("Quota", func(t *testing.T) { runQuotas(t, open) })
	t.Run("Usage", func(t *testing.T) { runUsage(t, open) })
	t.Run("Access", func(t *testing.T) { runAccess(t, open) })
	t.Run("Job", func(t *testing.T) { runJobs(t, open) })
	t.Run("JobSlot", func(t *testing.T) { runJobSlots(t, open) })
	t.Run("Lease", func(t *testing.T) { runLeases(t, open) })
	t.Run("KeyLifecycle", func(t *testing.T) { runKeyLifecycle(t, open) })
	t.Run("Audit", func(t *testing.T) { runAudit(t, open) })
	t.Run("Object", func(t *testing.T) { runObjects(t, open) })
	t.Run("Rollup", func(t *testing.T) { runRollups(t, open) })
	t.Run("Retention", func(t *testing.T) { runRetention(t, open) })
	t.Run("UserToken", func(t *testing.T) { runUserTokens(t, open) })
	t.Run("Budget", func(t *testing.T) { runBudgets(t, open) })
	t.Run("LiveSession", func(t *testing.T) { runLiveSessions(t, open) })
}

// GuardrailStores is what an engine provides for the guardrails. It is
// asserted rather than required by Stores, so that an engine in progress
// compiles and fails these subtests by name.
type GuardrailStores interface {
	Stores
	aiproxy.QuotaStore
	aiproxy.UsageStore
	aiproxy.AccessStore
}

// guardrails opens a store and asserts that it keeps guardrail data.
func guardrails(t *testing.T, open func(t *testing.T) Stores) GuardrailStores {
	t.Helper()
	s, ok := open(t).(GuardrailStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.QuotaStore, UsageStore and AccessStore")
	}
	return s
}

// t0 is the suite's clock: a time with sub-millisecond digits and a non-UTC
// zone, which stores may normalise to milliseconds and any location.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*60*60))

// at returns t0 plus n minutes, as a store returns it: at millisecond
// precision.
func at(n int) time.Time {
	return t0.Add(time.Duration(n) * time.Minute).Truncate(time.Millisecond)
}

func mustCreateOrg(ctx context.Context, t *testing.T, s Stores, key string) aiproxy.Org {
	t.Helper()
	o := aiproxy.Org{Key: key, Name: "Org " + key, CreatedAt: at(0)}
	if err := s.CreateOrg(ctx, o); err != nil {
		t.Fatalf("CreateOrg(%q): %v", key, err)
	}
	return o
}

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.IsZero() == b.IsZero()
}
