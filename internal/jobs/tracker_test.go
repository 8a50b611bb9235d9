package jobs

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestTrackingCompletesJobsWithoutClients(t *testing.T) {
	h := newHarness(t)
	ok := h.generate("acme", "Hello")
	bad := h.generate("acme", "SANDBOX_FAIL please")
	h.track(1, 30*time.Second)
	if h.job(ok).State != aiproxy.JobProcessing {
		t.Fatalf("after 30s: %s", h.job(ok).State)
	}
	h.track(15, 5*time.Second) // to 105s
	j, f := h.job(ok), h.job(bad)
	if j.State != aiproxy.JobCompleted || j.ResultURLs["video_url"] == "" || !j.NextCheckAt.IsZero() || j.CompletedAt.IsZero() {
		t.Fatalf("completed job = %+v", j)
	}
	if f.State != aiproxy.JobFailed || !strings.Contains(f.Error, "Video is too long") {
		t.Fatalf("failed job = %+v", f)
	}
	calls := h.statusCalls()
	h.track(10, time.Minute)
	if h.statusCalls() != calls {
		t.Fatal("the tracker kept reading finished jobs")
	}
	evs, _ := h.db.JobEvents(context.Background(), "acme", 0, 100)
	var types []string
	for _, e := range evs {
		if e.JobID == j.ID {
			types = append(types, e.Type)
		}
	}
	if strings.Join(types, ",") != "job.created,job.updated,job.completed" {
		t.Fatalf("events of the job = %v", types)
	}
}

func TestTrackingBacksOffOn5xx(t *testing.T) {
	h := newHarness(t)
	id := h.generate("acme", "Hello")
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v1/video_status.get", Status: 500, Count: 3})
	var waits []time.Duration
	for range 3 {
		h.clock.Advance(h.job(id).NextCheckAt.Sub(h.clock.Now()))
		h.jobs.TrackOnce(context.Background())
		j := h.job(id)
		waits = append(waits, j.NextCheckAt.Sub(h.clock.Now()))
	}
	for i, w := range waits {
		base := 5 * time.Second << i
		if w < base || w > base+base/10 {
			t.Fatalf("wait after failure %d = %s, want about %s (%v)", i+1, w, base, waits)
		}
	}
	if h.job(id).Attempts != 3 {
		t.Fatalf("attempts = %d", h.job(id).Attempts)
	}
	h.track(25, 5*time.Second)
	if j := h.job(id); j.State != aiproxy.JobCompleted || j.Attempts != 0 {
		t.Fatalf("after the faults: %+v", j)
	}
}

func TestTrackingHonoursRetryAfter(t *testing.T) {
	h := newHarness(t)
	a, b := h.generate("acme", "one"), h.generate("acme", "two")
	h.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v1/video_status.get", Status: 429,
		Header: http.Header{"Retry-After": {"120"}}, Count: 1})
	h.jobs.cfg.Concurrency = 1 // one read at a time: the first 429 gates the second job
	h.track(1, 5*time.Second)
	calls := h.statusCalls()
	if calls != 1 {
		t.Fatalf("reads after a 429 on the shared credential = %d, want 1", calls)
	}
	for _, id := range []string{a, b} {
		if wait := h.job(id).NextCheckAt.Sub(h.clock.Now()); wait < 120*time.Second {
			t.Fatalf("job %s next read in %s, want at least the Retry-After of 120s", id, wait)
		}
	}
	h.track(20, 5*time.Second) // 100s: still inside Retry-After
	if h.statusCalls() != calls {
		t.Fatal("read during Retry-After")
	}
	h.track(4, 10*time.Second)
	if h.job(a).State != aiproxy.JobCompleted || h.job(b).State != aiproxy.JobCompleted {
		t.Fatalf("after Retry-After: %s, %s", h.job(a).State, h.job(b).State)
	}
}

func TestTrackingDeadline(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Deadline = 10 * time.Minute }))
	id := h.generate("acme", "SANDBOX_STUCK forever")
	h.track(12, time.Minute)
	j := h.job(id)
	if j.State != aiproxy.JobFailed || !strings.Contains(j.Error, "did not finish within 10m0s") || !j.NextCheckAt.IsZero() {
		t.Fatalf("stuck job = %+v", j)
	}
	// The contract's video-status still answers what the provider says.
	if resp := h.status("acme", id); resp.status != 200 || !strings.Contains(string(resp.body), `"status":"processing"`) {
		t.Fatalf("status of a job past its deadline = %d %s", resp.status, resp.body)
	}
}

func TestRestartMidRender(t *testing.T) {
	h := newHarness(t)
	ids := []string{h.generate("acme", "one"), h.generate("beta", "two")}
	h.track(1, 30*time.Second)
	h.restart()
	h.track(20, 5*time.Second)
	for _, id := range ids {
		if j := h.job(id); j.State != aiproxy.JobCompleted {
			t.Fatalf("after a restart, job %s is %s", id, j.State)
		}
	}
	all, _ := h.db.Jobs(context.Background(), aiproxy.JobFilter{OrgKey: "acme"})
	if len(all) != 1 || h.generateCalls() != 2 {
		t.Fatalf("jobs %d, generate calls %d", len(all), h.generateCalls())
	}
}

// TestTrackingPostponesFreshJobs covers a poll interval shorter than the
// freshness window: the tracker meets a job a client read moments ago, must
// not read it again, and must not keep it claimed either, or it would go
// unread until the claim lapses.
func TestTrackingPostponesFreshJobs(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.PollInterval = time.Second
		c.FreshFor = 10 * time.Second
	}))
	id := h.generate("acme", "Hello")
	h.status("acme", id)
	read := h.statusCalls()
	h.track(1, 2*time.Second)
	if h.statusCalls() != read {
		t.Fatal("the tracker read a job that was still fresh")
	}
	h.track(1, 10*time.Second)
	if h.statusCalls() != read+1 {
		t.Fatalf("status reads = %d, want %d: the fresh job stayed claimed", h.statusCalls(), read+1)
	}
}
