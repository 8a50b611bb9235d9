package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fakeJobStore answers the calls the test makes; any other call panics on
// the nil embedded interface.
type fakeJobStore struct {
	JobStore
	claimed []string
}

func (f *fakeJobStore) CreateJob(context.Context, aiproxy.Job, aiproxy.JobEvent, *aiproxy.IdempotencyRecord) error {
	return nil
}

func (f *fakeJobStore) ClaimJobSlot(_ context.Context, s aiproxy.JobSlot, _ []aiproxy.JobCap, _ time.Time) (*aiproxy.JobCap, error) {
	f.claimed = append(f.claimed, s.ID)
	return nil, nil
}

func TestJobsCountsAndKeepsSlots(t *testing.T) {
	m := New()
	fake := &fakeJobStore{}
	js := m.Jobs(fake)
	ctx := context.Background()
	if err := js.CreateJob(ctx, aiproxy.Job{Service: "heygen", State: aiproxy.JobPending}, aiproxy.JobEvent{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := js.ClaimJobSlot(ctx, aiproxy.JobSlot{ID: "slot-1"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if len(fake.claimed) != 1 || fake.claimed[0] != "slot-1" {
		t.Fatalf("slots claimed through the wrapper = %v, want slot-1", fake.claimed)
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if want := `aiproxy_jobs_total{service="heygen",state="pending"} 1`; !strings.Contains(w.Body.String(), want) {
		t.Fatalf("metrics lack %s:\n%s", want, w.Body.String())
	}
}
