package retention

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fakeStore holds rows per kind (their times) and one lease table.
type fakeStore struct {
	mu     sync.Mutex
	rows   map[aiproxy.RetentionKind][]time.Time
	calls  []string
	leases map[string]lease
	fail   aiproxy.RetentionKind
}

type lease struct {
	owner string
	until time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{rows: map[aiproxy.RetentionKind][]time.Time{}, leases: map[string]lease{}}
}

func (s *fakeStore) Prune(_ context.Context, k aiproxy.RetentionKind, before, now time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, string(k))
	if k == s.fail {
		return 0, errors.New("disk full")
	}
	var kept []time.Time
	n := 0
	for _, t := range s.rows[k] {
		if n < limit && t.Before(before) {
			n++
			continue
		}
		kept = append(kept, t)
	}
	s.rows[k] = kept
	return n, nil
}

func (s *fakeStore) ClaimWork(_ context.Context, name, owner string, now, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner != owner && l.until.After(now) {
		return false, nil
	}
	s.leases[name] = lease{owner, until}
	return true, nil
}

func (s *fakeStore) ReleaseWork(_ context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[name].owner == owner {
		delete(s.leases, name)
	}
	return nil
}

var now0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func TestPruneOnceFollowsThePolicy(t *testing.T) {
	s := newFakeStore()
	for i := range 250 { // one row a day, the newest today
		s.rows[aiproxy.RetainUsage] = append(s.rows[aiproxy.RetainUsage], now0.Add(-time.Duration(i)*Day))
		s.rows[aiproxy.RetainAudit] = append(s.rows[aiproxy.RetainAudit], now0.Add(-time.Duration(i)*Day))
	}
	p := New(Config{Store: s, Policy: Policy{aiproxy.RetainUsage: 30 * Day, aiproxy.RetainJobs: 90 * Day},
		Batch: 100, Pause: time.Microsecond, Now: func() time.Time { return now0 }})
	counts, err := p.PruneOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Rows 31 to 249 days old go (219), in batches of 100: 100, 100, 19.
	if counts[aiproxy.RetainUsage] != 219 || len(s.rows[aiproxy.RetainUsage]) != 31 {
		t.Fatalf("counts = %v, %d usage rows left; want 219 pruned, 31 left", counts, len(s.rows[aiproxy.RetainUsage]))
	}
	if len(s.rows[aiproxy.RetainAudit]) != 250 {
		t.Fatal("the audit log was pruned without a retention for it")
	}
	if got := strings.Join(s.calls, " "); got != "usage usage usage jobs" {
		t.Fatalf("Prune calls = %q", got)
	}
	if len(s.leases) != 0 {
		t.Fatalf("the lease was not released: %v", s.leases)
	}
}

func TestPruneOnceSkipsWhenAnotherReplicaHoldsTheWork(t *testing.T) {
	s := newFakeStore()
	s.leases[LeaseName] = lease{"other", now0.Add(time.Minute)}
	p := New(Config{Store: s, Policy: DefaultPolicy(), Now: func() time.Time { return now0 }})
	if counts, err := p.PruneOnce(t.Context()); err != nil || counts != nil || len(s.calls) != 0 {
		t.Fatalf("PruneOnce = %v, %v with %v calls; want nothing done", counts, err, s.calls)
	}
	// Once the other's lease lapses, the work is this replica's.
	p.cfg.Now = func() time.Time { return now0.Add(2 * time.Minute) }
	if _, err := p.PruneOnce(t.Context()); err != nil || len(s.calls) == 0 {
		t.Fatalf("after the lease lapsed: %v, calls %v", err, s.calls)
	}
}

func TestTwoPrunersOneWorks(t *testing.T) {
	s := newFakeStore()
	release := make(chan struct{})
	blocking := &blockingStore{fakeStore: s, release: release}
	var wg sync.WaitGroup
	worked := make([]bool, 2)
	for i := range 2 {
		p := New(Config{Store: blocking, Policy: Policy{aiproxy.RetainUsage: Day}, Owner: string(rune('a' + i)),
			Now: func() time.Time { return now0 }})
		wg.Go(func() {
			c, _ := p.PruneOnce(t.Context())
			worked[i] = c != nil
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if worked[0] == worked[1] {
		t.Fatalf("worked = %v; want exactly one pruner at work", worked)
	}
}

// blockingStore holds every Prune until release is closed.
type blockingStore struct {
	*fakeStore
	release chan struct{}
}

func (b *blockingStore) Prune(ctx context.Context, k aiproxy.RetentionKind, before, now time.Time, limit int) (int, error) {
	<-b.release
	return b.fakeStore.Prune(ctx, k, before, now, limit)
}

func TestAFailingKindDoesNotStopTheOthers(t *testing.T) {
	s := newFakeStore()
	s.fail = aiproxy.RetainJobEvents
	p := New(Config{Store: s, Policy: DefaultPolicy(), Now: func() time.Time { return now0 }})
	if _, err := p.PruneOnce(t.Context()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("PruneOnce = %v, want the failure", err)
	}
	if !strings.Contains(strings.Join(s.calls, " "), "provider_webhooks") {
		t.Fatalf("calls after the failing kind = %v", s.calls)
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(DefaultPolicy(), "usage=7d, audit=365d,job_events=36h,usage_hourly=keep")
	if err != nil {
		t.Fatal(err)
	}
	if p[aiproxy.RetainUsage] != 7*Day || p[aiproxy.RetainAudit] != 365*Day || p[aiproxy.RetainJobEvents] != 36*time.Hour ||
		p[aiproxy.RetainUsageHourly] != 0 || p[aiproxy.RetainJobs] != 90*Day {
		t.Fatalf("policy = %v", p)
	}
	if got := p.String(); got != "usage=7d,webhook_deliveries=30d,job_events=36h0m0s,jobs=90d,idempotency=1d,user_tokens=1d,provider_webhooks=7d,audit=365d" {
		t.Fatalf("String = %q", got)
	}
	_, err = ParsePolicy(nil, "usage=forever,logs=1d,jobs=-3d,jobs")
	for _, want := range []string{`"usage=forever"`, `"logs=1d"`, `"jobs=-3d"`, `"jobs"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePolicy error %v does not name %s", err, want)
		}
	}
	if DefaultPolicy()[aiproxy.RetainAudit] != 0 || DefaultPolicy()[aiproxy.RetainUsageDaily] != 0 {
		t.Fatal("the default policy prunes the audit log or the daily rollups")
	}
}

// TestDefaultPolicyPrunesUserTokensADayAfterExpiry: expired user tokens
// go once they expired more than a day ago; the others stay.
func TestDefaultPolicyPrunesUserTokensADayAfterExpiry(t *testing.T) {
	s := newFakeStore()
	expiries := []time.Duration{-3 * Day, -Day - time.Minute, -Day + time.Minute, -time.Hour, time.Hour}
	for _, d := range expiries {
		s.rows[aiproxy.RetainUserTokens] = append(s.rows[aiproxy.RetainUserTokens], now0.Add(d))
	}
	p := New(Config{Store: s, Policy: DefaultPolicy(), Now: func() time.Time { return now0 }})
	counts, err := p.PruneOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	left := s.rows[aiproxy.RetainUserTokens]
	if counts[aiproxy.RetainUserTokens] != 2 || len(left) != 3 || !left[0].Equal(now0.Add(-Day+time.Minute)) {
		t.Fatalf("counts = %v, tokens left expiring at %v; want the 2 expired over a day ago pruned", counts, left)
	}
}
