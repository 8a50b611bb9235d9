package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func runRetention(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("UsageOnlyOnceRolledUp", func(t *testing.T) { testPruneUsage(t, rollupStores(t, open)) })
	t.Run("HourlyRollups", func(t *testing.T) { testPruneHourly(t, rollupStores(t, open)) })
	t.Run("JobsEventsDeliveries", func(t *testing.T) { testPruneJobs(t, rollupStores(t, open)) })
	t.Run("Idempotency", func(t *testing.T) { testPruneIdempotency(t, rollupStores(t, open)) })
	t.Run("UserTokens", func(t *testing.T) { testPruneUserTokens(t, rollupStores(t, open)) })
	t.Run("ProviderWebhooks", func(t *testing.T) { testPruneProviderWebhooks(t, rollupStores(t, open)) })
	t.Run("Audit", func(t *testing.T) { testPruneAudit(t, rollupStores(t, open)) })
	t.Run("UnknownKind", func(t *testing.T) {
		s := rollupStores(t, open)
		if _, err := s.Prune(t.Context(), "everything", at(0), at(0), 10); err == nil {
			t.Fatal("Prune of an unknown kind succeeded")
		}
	})
}

// testPruneUsage checks that raw usage is removed only once the rollups
// hold it, oldest first, in batches, and that reports keep their numbers.
func testPruneUsage(t *testing.T, s RollupStores) {
	ctx := t.Context()
	var recs []aiproxy.UsageRecord
	for i := range 250 {
		recs = append(recs, aiproxy.UsageRecord{At: rollupDay.Add(time.Duration(i) * 10 * time.Minute), OrgKey: "acme",
			KeyID: "k1", Service: "heygen", Action: "list-avatars", Status: 200, LatencyMS: int64(i)})
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	now := rollupDay.AddDate(0, 1, 0)
	if n := pruneAll(ctx, t, s, aiproxy.RetainUsage, now, now); n != 0 {
		t.Fatalf("pruned %d records that no rollup holds", n)
	}
	if _, err := s.RollUpUsage(ctx, 100); err != nil { // the oldest 100 only
		t.Fatal(err)
	}
	if n := pruneAll(ctx, t, s, aiproxy.RetainUsage, now, now); n != 100 {
		t.Fatalf("pruned %d records, want the 100 rolled up", n)
	}
	drainRollups(ctx, t, s)
	cut := rollupDay.Add(24 * time.Hour) // records 0…143 are older
	if n, err := s.Prune(ctx, aiproxy.RetainUsage, cut, now, 10); err != nil || n != 10 {
		t.Fatalf("one batch = %d, %v; want 10", n, err)
	}
	if n := pruneAll(ctx, t, s, aiproxy.RetainUsage, cut, now); n != 144-110 {
		t.Fatalf("pruned %d more, want the %d older than the cutoff", n, 144-110)
	}
	checkReports(ctx, t, s, recs, "after pruning", false)
}

// testPruneHourly checks that hourly rollups go by the end of their hour
// while day rollups, and so reports of whole days, stay.
func testPruneHourly(t *testing.T, s RollupStores) {
	ctx := t.Context()
	recs := []aiproxy.UsageRecord{
		{At: rollupDay.Add(30 * time.Minute), OrgKey: "acme", KeyID: "k", Service: "heygen", Action: "a", Status: 200},
		{At: rollupDay.Add(90 * time.Minute), OrgKey: "acme", KeyID: "k", Service: "heygen", Action: "a", Status: 200},
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	drainRollups(ctx, t, s)
	now := rollupDay.AddDate(0, 0, 3)
	// The first hour ends at 01:00: a cutoff of 01:30 removes it alone.
	if n := pruneAll(ctx, t, s, aiproxy.RetainUsageHourly, rollupDay.Add(90*time.Minute), now); n != 1 {
		t.Fatalf("pruned %d hour buckets, want 1", n)
	}
	hours, err := s.UsageBuckets(ctx, aiproxy.UsageBucketFilter{Granularity: aiproxy.Hourly})
	if err != nil || len(hours) != 1 || !hours[0].Start.Equal(rollupDay.Add(time.Hour)) {
		t.Fatalf("hour buckets = %+v, %v", hours, err)
	}
	if n := pruneAll(ctx, t, s, aiproxy.RetainUsageDaily, rollupDay.Add(23*time.Hour), now); n != 0 {
		t.Fatalf("pruned %d day buckets of a day not over", n)
	}
	rows, err := s.UsageReport(ctx, aiproxy.UsageFilter{From: rollupDay, To: rollupDay.AddDate(0, 0, 1)})
	if err != nil || len(rows) != 1 || rows[0].Requests != 2 {
		t.Fatalf("day report after pruning hours = %+v, %v", rows, err)
	}
}

// testPruneJobs checks what the pruner keeps of jobs, their events and
// deliveries: everything a running job, a pending delivery, a lease or an
// unexpired idempotency record still needs.
func testPruneJobs(t *testing.T, s RollupStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustEndpoint(ctx, t, s, "acme", "whe_1", aiproxy.EventJobCreated, aiproxy.EventJobCompleted)
	finish := func(id string, minute int) aiproxy.Job {
		t.Helper()
		j, err := s.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		j.State, j.UpdatedAt, j.CompletedAt, j.NextCheckAt = aiproxy.JobCompleted, at(minute), at(minute), time.Time{}
		ev := newEvent(j, aiproxy.EventJobCompleted)
		if err := s.UpdateJob(ctx, j, &ev); err != nil {
			t.Fatal(err)
		}
		j.Version++
		return j
	}
	deliverAll := func(id string) {
		t.Helper()
		ds, err := s.Deliveries(ctx, aiproxy.DeliveryFilter{OrgKey: "acme", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			ev, _ := s.JobEvent(ctx, d.EventID)
			if ev.JobID != id {
				continue
			}
			d.State, d.Attempts, d.LastStatus, d.DeliveredAt, d.UpdatedAt = aiproxy.DeliveryDelivered, 1, 200, at(11), at(11)
			if err := s.UpdateDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// job_run is still running; job_done finished and was delivered;
	// job_pending finished but its deliveries are pending; job_idem
	// finished and an unexpired idempotency record names it.
	for i, id := range []string{"job_run", "job_done", "job_pending", "job_idem"} {
		mustCreateJob(ctx, t, s, newJob("acme", id, "vid"+id, at(i)))
	}
	for _, id := range []string{"job_done", "job_pending", "job_idem"} {
		finish(id, 10)
	}
	for _, id := range []string{"job_run", "job_done", "job_idem"} {
		deliverAll(id)
	}
	rec := aiproxy.IdempotencyRecord{OrgKey: "acme", Key: "idem", Fingerprint: "f", CreatedAt: at(0),
		LockedUntil: at(1), ExpiresAt: at(10000)}
	if _, ok, err := s.ClaimIdempotency(ctx, rec, at(0)); err != nil || !ok {
		t.Fatalf("ClaimIdempotency: %v", err)
	}
	rec.Status, rec.JobID = 200, "job_idem"
	if err := s.CompleteIdempotency(ctx, rec); err != nil {
		t.Fatal(err)
	}

	now, before := at(1000), at(500) // every job and event above is older
	// Deliveries: the five delivered ones, never the two pending.
	if n := pruneAll(ctx, t, s, aiproxy.RetainDeliveries, before, now); n != 5 {
		t.Fatalf("pruned %d deliveries, want the 5 delivered", n)
	}
	if left, _ := s.DueDeliveries(ctx, now, 100); len(left) != 2 {
		t.Fatalf("pending deliveries left = %d, want 2", len(left))
	}
	// Events: the running job's and those with a pending delivery stay.
	if n := pruneAll(ctx, t, s, aiproxy.RetainJobEvents, before, now); n != 4 {
		t.Fatalf("pruned %d events, want job_done's and job_idem's 4", n)
	}
	checkEvents := func(stage string, want map[string]int) {
		t.Helper()
		evs, err := s.JobEvents(ctx, "acme", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		kept := map[string]int{}
		for _, e := range evs {
			kept[e.JobID]++
		}
		if !reflect.DeepEqual(kept, want) {
			t.Fatalf("%s: events kept per job = %v, want %v", stage, kept, want)
		}
	}
	checkEvents("events pruned", map[string]int{"job_run": 1, "job_pending": 2})
	// Jobs: only job_done may go; the others are needed.
	if n := pruneAll(ctx, t, s, aiproxy.RetainJobs, before, now); n != 1 {
		t.Fatalf("pruned %d jobs, want job_done", n)
	}
	for id, wantKept := range map[string]bool{"job_run": true, "job_pending": true, "job_idem": true, "job_done": false} {
		_, err := s.Job(ctx, id)
		if gotKept := err == nil; gotKept != wantKept || (err != nil && !errors.Is(err, aiproxy.ErrNotFound)) {
			t.Errorf("job %s kept = %v (%v), want %v", id, gotKept, err, wantKept)
		}
	}
	// Once the idempotency record has expired, its job may go too.
	if n := pruneAll(ctx, t, s, aiproxy.RetainJobs, before, at(20000)); n != 1 {
		t.Fatalf("after the idempotency record expired, pruned %d jobs, want job_idem", n)
	}
	checkEvents("jobs pruned", map[string]int{"job_run": 1, "job_pending": 2})
	if left, _ := s.DueDeliveries(ctx, now, 100); len(left) != 2 {
		t.Fatalf("pending deliveries left = %d, want 2", len(left))
	}
}

func testPruneIdempotency(t *testing.T, s RollupStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	for i, exp := range []int{10, 20, 100} {
		rec := aiproxy.IdempotencyRecord{OrgKey: "acme", Key: string(rune('a' + i)), Fingerprint: "f",
			CreatedAt: at(0), LockedUntil: at(1), ExpiresAt: at(exp)}
		if _, ok, err := s.ClaimIdempotency(ctx, rec, at(0)); err != nil || !ok {
			t.Fatalf("ClaimIdempotency: %v", err)
		}
	}
	// A cutoff past now prunes only what expired by now.
	if n := pruneAll(ctx, t, s, aiproxy.RetainIdempotency, at(1000), at(15)); n != 1 {
		t.Fatalf("pruned %d records at minute 15, want the one expired at 10", n)
	}
	for key, wantClaimed := range map[string]bool{"a": true, "b": false, "c": false} {
		rec := aiproxy.IdempotencyRecord{OrgKey: "acme", Key: key, Fingerprint: "g", CreatedAt: at(15),
			LockedUntil: at(16), ExpiresAt: at(200)}
		if _, claimed, err := s.ClaimIdempotency(ctx, rec, at(15)); err != nil || claimed != wantClaimed {
			t.Fatalf("claim %q after pruning = %v, %v; want %v", key, claimed, err, wantClaimed)
		}
	}
}

// testPruneUserTokens checks that user tokens go by expiry, oldest first,
// in batches, revoked and spent ones alike, and that a token that has not
// expired stays whatever the cutoff.
func testPruneUserTokens(t *testing.T, s RollupStores) {
	ctx := t.Context()
	us, ok := any(s).(UserTokenStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.UserTokenStore")
	}
	userTokenOwners(t, us)
	// ut-0 … ut-4 expire at minutes 10 … 50, of acme and beta in turn;
	// ut-3 is spent, ut-4 revoked.
	ids := []string{"ut-0", "ut-1", "ut-2", "ut-3", "ut-4"}
	for i, id := range ids {
		tok := newUserToken(id, []string{"acme", "beta"}[i%2], "alice", 0, 10*(i+1))
		tok.SingleUse = i == 3
		mustCreateUserToken(t, us, tok)
	}
	if won, err := us.SpendUserToken(ctx, "ut-3", at(1)); err != nil || !won {
		t.Fatalf("SpendUserToken(ut-3) = %v, %v", won, err)
	}
	if err := us.RevokeUserToken(ctx, "acme", "ut-4", at(1)); err != nil {
		t.Fatalf("RevokeUserToken(ut-4): %v", err)
	}
	kept := func(stage string, want ...string) {
		t.Helper()
		for _, id := range ids {
			_, err := us.UserToken(ctx, id)
			if in := slices.Contains(want, id); (err == nil) != in || (!in && !errors.Is(err, aiproxy.ErrNotFound)) {
				t.Fatalf("%s: UserToken(%s) error = %v, want kept = %v", stage, id, err, in)
			}
		}
	}
	// A token expiring at the cutoff is not older than it.
	if n, err := s.Prune(ctx, aiproxy.RetainUserTokens, at(20), at(100), 10); err != nil || n != 1 {
		t.Fatalf("Prune(cutoff minute 20) = %d, %v; want ut-0", n, err)
	}
	kept("cutoff minute 20", "ut-1", "ut-2", "ut-3", "ut-4")
	// Oldest first, in batches.
	if n, err := s.Prune(ctx, aiproxy.RetainUserTokens, at(100), at(100), 2); err != nil || n != 2 {
		t.Fatalf("one batch of 2 = %d, %v", n, err)
	}
	kept("a batch of 2", "ut-3", "ut-4")
	// A cutoff past now prunes only what expired by now: ut-3 (spent),
	// not ut-4 (revoked, expiring at minute 50).
	if n := pruneAll(ctx, t, s, aiproxy.RetainUserTokens, at(1000), at(45)); n != 1 {
		t.Fatalf("pruned %d tokens at minute 45, want the spent one expired at 40", n)
	}
	kept("at minute 45", "ut-4")
	if n := pruneAll(ctx, t, s, aiproxy.RetainUserTokens, at(51), at(51)); n != 1 {
		t.Fatalf("pruned %d tokens at minute 51, want the revoked one", n)
	}
	kept("at minute 51")
}

func testPruneProviderWebhooks(t *testing.T, s RollupStores) {
	ctx := t.Context()
	for i, id := range []string{"old", "new"} {
		if _, err := s.RecordProviderWebhook(ctx, "heygen", id, at(i*100)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pruneAll(ctx, t, s, aiproxy.RetainProviderWebhooks, at(50), at(200)); n != 1 {
		t.Fatalf("pruned %d webhook ids, want 1", n)
	}
	for id, wantNew := range map[string]bool{"old": true, "new": false} {
		if got, _ := s.RecordProviderWebhook(ctx, "heygen", id, at(201)); got != wantNew {
			t.Fatalf("webhook %q new after pruning = %v, want %v", id, got, wantNew)
		}
	}
}

func testPruneAudit(t *testing.T, s RollupStores) {
	ctx := t.Context()
	as, ok := any(s).(aiproxy.AuditStore)
	if !ok {
		t.Fatal("the store does not implement aiproxy.AuditStore")
	}
	for i := range 5 {
		e := aiproxy.AuditEvent{At: at(i * 10), Actor: "cli", Action: aiproxy.AuditOrgCreated, Target: "o"}
		if err := as.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if n := pruneAll(ctx, t, s, aiproxy.RetainAudit, at(25), at(100)); n != 3 {
		t.Fatalf("pruned %d audit events, want the 3 before minute 25", n)
	}
	left, err := as.AuditEvents(ctx, aiproxy.AuditFilter{})
	if err != nil || len(left) != 2 || !sameTime(left[1].At, at(30)) {
		t.Fatalf("audit log after pruning = %+v, %v", left, err)
	}
}
