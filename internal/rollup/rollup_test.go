package rollup

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fakeStore has pending records to fold and one lease table.
type fakeStore struct {
	mu      sync.Mutex
	pending int
	steps   []int
	owner   string
	until   time.Time
}

func (s *fakeStore) RollUpUsage(_ context.Context, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(limit, s.pending)
	s.pending -= n
	s.steps = append(s.steps, n)
	return n, nil
}

func (s *fakeStore) UsageBuckets(context.Context, aiproxy.UsageBucketFilter) ([]aiproxy.UsageBucket, error) {
	return nil, nil
}

func (s *fakeStore) ClaimWork(_ context.Context, _, owner string, now, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner != "" && s.owner != owner && s.until.After(now) {
		return false, nil
	}
	s.owner, s.until = owner, until
	return true, nil
}

func (s *fakeStore) ReleaseWork(_ context.Context, _, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner == owner {
		s.owner = ""
	}
	return nil
}

var now0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func TestBuildOnceFoldsEverythingInBatches(t *testing.T) {
	s := &fakeStore{pending: 12345}
	b := New(Config{Store: s, Batch: 5000, Pause: time.Microsecond, Now: func() time.Time { return now0 }})
	n, err := b.BuildOnce(t.Context())
	if err != nil || n != 12345 {
		t.Fatalf("BuildOnce = %d, %v; want 12345", n, err)
	}
	if want := []int{5000, 5000, 2345, 0}; len(s.steps) != len(want) || s.steps[2] != 2345 {
		t.Fatalf("steps = %v, want %v", s.steps, want)
	}
	if s.owner != "" {
		t.Fatal("the lease was not released")
	}
}

func TestBuildOnceLeavesTheWorkToTheHolder(t *testing.T) {
	s := &fakeStore{pending: 10, owner: "other", until: now0.Add(time.Minute)}
	b := New(Config{Store: s, Now: func() time.Time { return now0 }})
	if n, err := b.BuildOnce(t.Context()); n != 0 || err != nil || len(s.steps) != 0 {
		t.Fatalf("BuildOnce = %d, %v, steps %v; want nothing done", n, err, s.steps)
	}
	b.cfg.Now = func() time.Time { return now0.Add(time.Hour) } // the holder died
	if n, err := b.BuildOnce(t.Context()); n != 10 || err != nil {
		t.Fatalf("after the lease lapsed: %d, %v", n, err)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	s := &fakeStore{pending: 3}
	b := New(Config{Store: s, Every: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		left := s.pending
		s.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not build at once")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
