package storetest

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// testJobTotals checks JobTotals against the jobs it adds up: the counts
// by state and the video time of the completed jobs only, under the same
// filter as Jobs (org, user, service, time), ignoring Limit and Before.
func testJobTotals(t *testing.T, s JobStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	mk := func(org, id, user string, minute int, state aiproxy.JobState, secs float64) {
		t.Helper()
		j := newJob(org, id, "p_"+id, at(minute))
		j.User = user
		got := mustCreateJob(ctx, t, s, j)
		if state == aiproxy.JobPending {
			return
		}
		got.State, got.Details.DurationSeconds = state, secs
		if err := s.UpdateJob(ctx, got, nil); err != nil {
			t.Fatalf("UpdateJob(%s): %v", id, err)
		}
	}
	mk("acme", "job_a", "", 0, aiproxy.JobCompleted, 12.5)
	mk("acme", "job_b", "alice", 10, aiproxy.JobCompleted, 30)
	mk("acme", "job_c", "alice", 20, aiproxy.JobCompleted, 0) // length unknown
	mk("acme", "job_d", "", 30, aiproxy.JobFailed, 99)        // a failure's length is not video made
	mk("acme", "job_e", "", 40, aiproxy.JobProcessing, 7)
	mk("acme", "job_f", "", 50, aiproxy.JobPending, 0)
	mk("beta", "job_g", "", 15, aiproxy.JobCompleted, 1000)
	tts := newJob("acme", "job_h", "p_job_h", at(25))
	tts.Service = "elevenlabs"
	mustCreateJob(ctx, t, s, tts)

	cases := []struct {
		name string
		f    aiproxy.JobFilter
		want aiproxy.JobTotals
	}{
		{"the whole org", aiproxy.JobFilter{}, aiproxy.JobTotals{Jobs: 7, Completed: 3, Failed: 1, Seconds: 42.5}},
		{"one service", aiproxy.JobFilter{Service: "heygen"}, aiproxy.JobTotals{Jobs: 6, Completed: 3, Failed: 1, Seconds: 42.5}},
		{"one user", aiproxy.JobFilter{User: "alice"}, aiproxy.JobTotals{Jobs: 2, Completed: 2, Seconds: 30}},
		{"from inclusive, to exclusive", aiproxy.JobFilter{From: at(10), To: at(30)}, aiproxy.JobTotals{Jobs: 3, Completed: 2, Seconds: 30}},
		{"a page's bounds are ignored", aiproxy.JobFilter{Limit: 1, Before: &aiproxy.JobCursor{CreatedAt: at(5), ID: "job_x"}},
			aiproxy.JobTotals{Jobs: 7, Completed: 3, Failed: 1, Seconds: 42.5}},
		{"nothing", aiproxy.JobFilter{From: at(60)}, aiproxy.JobTotals{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.OrgKey = "acme"
			got, err := s.JobTotals(ctx, f)
			if err != nil {
				t.Fatalf("JobTotals(%+v): %v", f, err)
			}
			if got != c.want {
				t.Fatalf("JobTotals = %+v, want %+v", got, c.want)
			}
		})
	}
}
