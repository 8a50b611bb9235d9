package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// JobSlotStores is what an engine provides for the running-job caps.
type JobSlotStores interface {
	JobStores
	aiproxy.JobSlotStore
}

func jobSlotStores(t *testing.T, open func(t *testing.T) Stores) JobSlotStores {
	t.Helper()
	s, ok := open(t).(JobSlotStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.JobSlotStore")
	}
	return s
}

func runJobSlots(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CapsCountRunningJobsAndSlots", func(t *testing.T) { testJobSlotCounts(t, jobSlotStores(t, open)) })
	t.Run("FinishedJobsFreeRoom", func(t *testing.T) { testJobSlotFreed(t, jobSlotStores(t, open)) })
	t.Run("RacingClaimsNeverPassACap", func(t *testing.T) { testJobSlotRace(t, jobSlotStores(t, open)) })
	t.Run("CredentialCapsAreSharedFairly", func(t *testing.T) { testJobSlotFairShare(t, jobSlotStores(t, open)) })
	t.Run("RecordingAJobFreesItsSlot", func(t *testing.T) { testJobSlotFreedByRecord(t, jobSlotStores(t, open)) })
}

// testJobSlotFreedByRecord checks that a job recorded with the slot its
// start held frees the slot in the same write: the cap counts the start
// once, never as both a slot and a job.
func testJobSlotFreedByRecord(t *testing.T, s JobSlotStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	orgCap := []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Max: 2}}
	claim(ctx, t, s, slot("s1", "acme", aiproxy.SourcePlatform), orgCap, at(1))
	claim(ctx, t, s, slot("s2", "acme", aiproxy.SourcePlatform), orgCap, at(1))
	j := newJob("acme", "job_1", "vid1", at(2))
	j.RunSlotID = "s1"
	mustCreateJob(ctx, t, s, j)
	// Two starts (a job and the slot s2) fill the cap; s1 no longer counts.
	if full := claim(ctx, t, s, slot("s3", "acme", aiproxy.SourcePlatform), orgCap, at(3)); full == nil {
		t.Fatal("a job and a slot under a cap of 2 let a third start in")
	}
	if err := s.ReleaseJobSlot(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if full := claim(ctx, t, s, slot("s4", "acme", aiproxy.SourcePlatform), orgCap, at(3)); full != nil {
		t.Fatalf("one job under a cap of 2 (its slot freed with its record): refused by %+v", full)
	}
}

func slot(id, org string, src aiproxy.Source) aiproxy.JobSlot {
	return aiproxy.JobSlot{ID: id, OrgKey: org, Service: "heygen", Source: src, ExpiresAt: at(60)}
}

func claim(ctx context.Context, t *testing.T, s JobSlotStores, sl aiproxy.JobSlot, caps []aiproxy.JobCap, now time.Time) *aiproxy.JobCap {
	t.Helper()
	full, err := s.ClaimJobSlot(ctx, sl, caps, now)
	if err != nil {
		t.Fatalf("ClaimJobSlot(%s): %v", sl.ID, err)
	}
	return full
}

func testJobSlotCounts(t *testing.T, s JobSlotStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	orgCap := []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Max: 2}}
	mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))
	if full := claim(ctx, t, s, slot("s1", "acme", aiproxy.SourcePlatform), orgCap, at(1)); full != nil {
		t.Fatalf("one running job under a cap of 2: refused by %+v", full)
	}
	if full := claim(ctx, t, s, slot("s2", "acme", aiproxy.SourcePlatform), orgCap, at(1)); full == nil || full.Scope != aiproxy.JobCapOrg {
		t.Fatalf("a job and a slot fill a cap of 2; refusal = %+v", full)
	}
	if full := claim(ctx, t, s, slot("s3", "beta", aiproxy.SourcePlatform), orgCap, at(1)); full != nil {
		t.Fatalf("another org's cap is its own: refused by %+v", full)
	}
	// A cap of another service does not apply; a credential cap counts
	// every org's platform jobs of the service, and no tenant ones.
	other := []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Service: "elevenlabs", Max: 1}}
	if full := claim(ctx, t, s, slot("s4", "acme", aiproxy.SourceTenant), other, at(1)); full != nil {
		t.Fatalf("elevenlabs cap applied to heygen: %+v", full)
	}
	cred := []aiproxy.JobCap{{Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 3}}
	if full := claim(ctx, t, s, slot("s5", "beta", aiproxy.SourceTenant), cred, at(1)); full != nil {
		t.Fatalf("credential cap applied to a tenant key: %+v", full)
	}
	// Platform: job_1, s1, s3 = 3.
	if full := claim(ctx, t, s, slot("s6", "beta", aiproxy.SourcePlatform), cred, at(1)); full == nil || full.Scope != aiproxy.JobCapCredential {
		t.Fatalf("platform credential at its cap of 3; refusal = %+v", full)
	}
}

func testJobSlotFreed(t *testing.T, s JobSlotStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	caps := []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Service: "heygen", Max: 1}}
	j := mustCreateJob(ctx, t, s, newJob("acme", "job_1", "vid1", at(0)))
	if full := claim(ctx, t, s, slot("s1", "acme", aiproxy.SourceTenant), caps, at(1)); full == nil {
		t.Fatal("a running job leaves no room under a cap of 1")
	}
	for i, state := range []aiproxy.JobState{aiproxy.JobProcessing, aiproxy.JobFailed} {
		j.State, j.UpdatedAt = state, at(2+i)
		if err := s.UpdateJob(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
		j.Version++
	}
	if full := claim(ctx, t, s, slot("s2", "acme", aiproxy.SourceTenant), caps, at(5)); full != nil {
		t.Fatalf("a failed job still counts: %+v", full)
	}
	if full := claim(ctx, t, s, slot("s3", "acme", aiproxy.SourceTenant), caps, at(5)); full == nil {
		t.Fatal("a held slot leaves no room under a cap of 1")
	}
	if err := s.ReleaseJobSlot(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseJobSlot(ctx, "s2"); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	sl := slot("s4", "acme", aiproxy.SourceTenant)
	sl.ExpiresAt = at(10)
	if full := claim(ctx, t, s, sl, caps, at(6)); full != nil {
		t.Fatalf("a released slot still counts: %+v", full)
	}
	if full := claim(ctx, t, s, slot("s5", "acme", aiproxy.SourceTenant), caps, at(10)); full != nil {
		t.Fatalf("an expired slot still counts: %+v", full)
	}
}

func testJobSlotRace(t *testing.T, s JobSlotStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	caps := []aiproxy.JobCap{{Scope: aiproxy.JobCapOrg, Max: 5}, {Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 50}}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			full, err := s.ClaimJobSlot(ctx, slot(fmt.Sprintf("s%d", i), "acme", aiproxy.SourcePlatform), caps, at(1))
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
			}
			if err == nil && full == nil {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 5 {
		t.Fatalf("%d of 30 racing claims granted under a cap of 5", n)
	}
}

// testJobSlotFairShare: three orgs share the platform HeyGen credential's
// cap of 10 running jobs. By aiproxy.Shares' rule: A alone (a running job
// and slots) gets 5, the newcomer's 5 stay free; B then gets its share, 3;
// C the last 2. Weights enlarge an org's share.
func testJobSlotFairShare(t *testing.T, s JobSlotStores) {
	ctx := t.Context()
	for _, org := range []string{"a", "b", "c", "w"} {
		mustCreateOrg(ctx, t, s, org)
	}
	caps := []aiproxy.JobCap{{Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 10}}
	mustCreateJob(ctx, t, s, newJob("a", "job_a", "vid_a", at(0)))
	granted := func(org string, n int, caps []aiproxy.JobCap) int {
		got := 0
		for i := range n {
			if full := claim(ctx, t, s, slot(fmt.Sprintf("%s%d", org, i), org, aiproxy.SourcePlatform), caps, at(1)); full == nil {
				got++
			}
		}
		return got
	}
	if got := granted("a", 9, caps); got != 4 {
		t.Fatalf("A with one running job: %d of 9 more starts granted, want 4 (5 in all)", got)
	}
	if got := granted("b", 4, caps); got != 3 {
		t.Fatalf("B: %d of 4 starts granted, want its share of 3", got)
	}
	if got := granted("c", 3, caps); got != 2 {
		t.Fatalf("C: %d of 3 starts granted, want the last 2", got)
	}
	weighted := []aiproxy.JobCap{{Scope: aiproxy.JobCapCredential, Service: "heygen", Max: 10,
		Shares: &aiproxy.Shares{Weights: map[string]int{"w": 2}}}}
	for _, id := range []string{"b0", "b1", "b2", "c0", "c1", "a0", "a1", "a2", "a3"} {
		if err := s.ReleaseJobSlot(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// A still runs job_a. W (2), A (1) and the newcomer (1) weigh 4: W's
	// share is ⌊20/4⌋ = 5, A's and the newcomer's 2. W takes its 5, then
	// borrows while A's missing 1 and the newcomer's 2 stay free: 1 more.
	if got := granted("w", 10, weighted); got != 6 {
		t.Fatalf("W (weight 2) beside A's one job: %d granted, want 6", got)
	}
}
