package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// runLeases holds every engine to the lease semantics that keep replicas'
// work exactly once: claims are disjoint, a lease hides a job or delivery
// until it expires or the row is updated, and an expired lease is taken
// over.
func runLeases(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("ClaimDueJobs", func(t *testing.T) { testClaimJobs(t, jobStores(t, open)) })
	t.Run("RacingJobClaimsAreDisjoint", func(t *testing.T) { testRacingJobClaims(t, jobStores(t, open)) })
	t.Run("ClaimDueDeliveries", func(t *testing.T) { testClaimDeliveries(t, jobStores(t, open)) })
	t.Run("RacingDeliveryClaimsAreDisjoint", func(t *testing.T) { testRacingDeliveryClaims(t, jobStores(t, open)) })
}

func jobIDs(js []aiproxy.Job) []string {
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

func testClaimJobs(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	for i, st := range []aiproxy.JobState{aiproxy.JobPending, aiproxy.JobProcessing, aiproxy.JobCompleted, aiproxy.JobPending} {
		j := newJob("acme", fmt.Sprintf("job_%d", i), fmt.Sprintf("vid%d", i), at(0))
		j.State, j.NextCheckAt = st, at(i)
		mustCreateJob(ctx, t, s, j)
	}
	late := newJob("acme", "job_late", "vidlate", at(0))
	late.NextCheckAt = at(30)
	mustCreateJob(ctx, t, s, late)

	got, err := s.ClaimDueJobs(ctx, "replica-a", at(10), at(11), 2)
	if err != nil {
		t.Fatal(err)
	}
	checkStrings(t, "first claim (limit 2, soonest first)", jobIDs(got), []string{"job_0", "job_1"})
	got, _ = s.ClaimDueJobs(ctx, "replica-b", at(10), at(11), 10)
	checkStrings(t, "second claim skips leased jobs", jobIDs(got), []string{"job_3"})
	if got, _ = s.ClaimDueJobs(ctx, "replica-b", at(10), at(11), 10); len(got) != 0 {
		t.Fatalf("third claim = %v, want nothing left", jobIDs(got))
	}
	if due, _ := s.DueJobs(ctx, at(10), 10); len(due) != 3 {
		t.Fatalf("DueJobs = %v: leases do not change what is due", jobIDs(due))
	}

	// The holder of job_0 updates it: the lease ends, and the job is due
	// again when its new NextCheckAt comes.
	j0, _ := s.Job(ctx, "job_0")
	j0.NextCheckAt = at(10)
	if err := s.UpdateJob(ctx, j0, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ClaimDueJobs(ctx, "replica-b", at(10), at(11), 10)
	checkStrings(t, "claim after the holder's update", jobIDs(got), []string{"job_0"})

	// replica-a dies holding job_1: when its lease expires, job_1 is taken
	// over (with job_0 and job_3, whose leases lapsed too).
	got, _ = s.ClaimDueJobs(ctx, "replica-c", at(11), at(12), 10)
	checkStrings(t, "claim after the leases expire", jobIDs(got), []string{"job_1", "job_3", "job_0"})
	if got[2].Version != j0.Version+1 || got[0].Version != 1 {
		t.Fatalf("versions after claims = %d, %d: a claim must not change a job's version", got[2].Version, got[0].Version)
	}
}

func testRacingJobClaims(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	const n = 60
	for i := range n {
		mustCreateJob(ctx, t, s, newJob("acme", fmt.Sprintf("job_%02d", i), fmt.Sprintf("vid%d", i), at(0)))
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for r := range 6 {
		owner := fmt.Sprintf("replica-%d", r)
		wg.Go(func() {
			for {
				got, err := s.ClaimDueJobs(ctx, owner, at(1), at(2), 4)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("%s claimed by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d jobs claimed", len(seen), n)
	}
}

func testClaimDeliveries(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustEndpoint(ctx, t, s, "acme", "whe_1", aiproxy.EventJobCreated)
	mustEndpoint(ctx, t, s, "acme", "whe_2", aiproxy.EventJobCreated)
	mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))

	a, err := s.ClaimDueDeliveries(ctx, "replica-a", at(1), at(2), 1)
	if err != nil || len(a) != 1 {
		t.Fatalf("first claim = %+v, %v; want one delivery", a, err)
	}
	b, _ := s.ClaimDueDeliveries(ctx, "replica-b", at(1), at(2), 10)
	if len(b) != 1 || b[0].ID == a[0].ID {
		t.Fatalf("second claim = %+v; want the other delivery", b)
	}
	if c, _ := s.ClaimDueDeliveries(ctx, "replica-c", at(1), at(2), 10); len(c) != 0 {
		t.Fatalf("third claim = %+v; want none while leased", c)
	}
	// replica-b records a failed attempt due later: its lease ends, and the
	// delivery waits for its next attempt.
	d := b[0]
	d.Attempts, d.LastStatus, d.NextAttemptAt, d.UpdatedAt = 1, 500, at(5), at(1)
	if err := s.UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	// replica-a dies holding its delivery: replica-c takes it over when the
	// lease expires, but not b's, which is not due yet.
	c, _ := s.ClaimDueDeliveries(ctx, "replica-c", at(2), at(3), 10)
	if len(c) != 1 || c[0].ID != a[0].ID {
		t.Fatalf("claim after the lease = %+v; want %s taken over", c, a[0].ID)
	}
	c, _ = s.ClaimDueDeliveries(ctx, "replica-c", at(5), at(6), 10)
	if len(c) != 2 {
		t.Fatalf("claim at b's next attempt = %+v; want both", c)
	}
	if !slices.ContainsFunc(c, func(x aiproxy.WebhookDelivery) bool { return x.ID == d.ID && x.Attempts == 1 }) {
		t.Fatalf("claimed deliveries %+v lost the recorded attempt", c)
	}
}

func testRacingDeliveryClaims(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	for i := range 4 {
		mustEndpoint(ctx, t, s, "acme", fmt.Sprintf("whe_%d", i), aiproxy.EventJobCreated)
	}
	for i := range 10 {
		mustCreateJob(ctx, t, s, newJob("acme", fmt.Sprintf("job_%d", i), fmt.Sprintf("vid%d", i), at(0)))
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for r := range 5 {
		wg.Go(func() {
			for {
				got, err := s.ClaimDueDeliveries(ctx, fmt.Sprintf("replica-%d", r), at(1), at(1).Add(time.Minute), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if seen[d.ID] {
						t.Errorf("delivery %s claimed twice", d.ID)
					}
					seen[d.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("%d of 40 deliveries claimed", len(seen))
	}
}
