package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// RollupStores is what an engine provides for usage rollups and retention.
// Like GuardrailStores it is asserted rather than required by Stores.
type RollupStores interface {
	JobStores
	aiproxy.UsageStore
	aiproxy.UsageRollupStore
	aiproxy.RetentionStore
	aiproxy.WorkLeaseStore
}

func rollupStores(t *testing.T, open func(t *testing.T) Stores) RollupStores {
	t.Helper()
	s, ok := open(t).(RollupStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.UsageRollupStore, RetentionStore and WorkLeaseStore")
	}
	return s
}

func runRollups(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("EqualRawRecords", func(t *testing.T) { testRollupProperty(t, rollupStores(t, open)) })
	t.Run("RacingWritersAndBuilders", func(t *testing.T) { testRollupRacingWriters(t, rollupStores(t, open)) })
	t.Run("LateRecordCountsOnce", func(t *testing.T) { testRollupLateRecord(t, rollupStores(t, open)) })
	t.Run("LatencyHistogram", func(t *testing.T) { testRollupHistogram(t, rollupStores(t, open)) })
	t.Run("WorkLease", func(t *testing.T) { testWorkLease(t, rollupStores(t, open)) })
}

// rollupDay is the first day of the rollup tests' usage.
var rollupDay = time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)

// randomRecord is a call at a random minute of four days from rollupDay,
// by one of a few orgs, keys and endpoints, with random outcomes.
func randomRecord(r *rand.Rand) aiproxy.UsageRecord {
	orgs := []string{"acme", "beta", "corp"}
	type ep struct {
		service, action string
		unit            aiproxy.Metric
	}
	eps := []ep{{"elevenlabs", "tts", aiproxy.MetricCharacters}, {"elevenlabs", "list-voices", ""},
		{"heygen", "generate-video", aiproxy.MetricRenders}, {"heygen", "list-avatars", ""}}
	e := eps[r.IntN(len(eps))]
	rec := aiproxy.UsageRecord{
		At:     rollupDay.Add(time.Duration(r.IntN(4*24*60))*time.Minute + time.Duration(r.IntN(60000))*time.Millisecond),
		OrgKey: orgs[r.IntN(len(orgs))], KeyID: fmt.Sprintf("k%d", r.IntN(3)), Service: e.service, Action: e.action,
		Status: 200, UpstreamStatus: 200, LatencyMS: int64(r.ExpFloat64() * 400), BytesOut: int64(r.IntN(5000)),
		Unit: e.unit,
	}
	if e.unit != "" {
		rec.Units = int64(1 + r.IntN(500))
		rec.CostMicros = rec.Units * 100
	}
	switch r.IntN(10) {
	case 0:
		rec.Status, rec.ErrorCode, rec.UpstreamStatus = 429, aiproxy.CodeRateLimited, 0
	case 1:
		rec.Status, rec.UpstreamStatus = 404, 404
	case 2:
		rec.Cache = "HIT"
		if e.unit == aiproxy.MetricCharacters { // the speech cache's: no units, what it saved
			rec.Units, rec.SavedMicros, rec.CostMicros = 0, rec.CostMicros, 0
		}
	case 3:
		rec.Cache = "STALE"
	}
	return rec
}

// expectedReport is the report of recs that f selects, summed here.
func expectedReport(recs []aiproxy.UsageRecord, f aiproxy.UsageFilter) []aiproxy.UsageRow {
	var rows []aiproxy.UsageRow
	for _, r := range recs {
		if (!f.From.IsZero() && r.At.Before(f.From)) || (!f.To.IsZero() && !r.At.Before(f.To)) ||
			(f.OrgKey != "" && r.OrgKey != f.OrgKey) || (f.Service != "" && r.Service != f.Service) {
			continue
		}
		b := aiproxy.BucketOf(r, aiproxy.Daily)
		rows = append(rows, aiproxy.UsageRow{Day: r.At.UTC().Format(time.DateOnly), OrgKey: r.OrgKey, Service: r.Service,
			Requests: 1, Errors: b.Errors, CacheHits: b.CacheHits, BytesOut: r.BytesOut, LatencyMS: r.LatencyMS,
			Units: map[aiproxy.Metric]int64{r.Unit: r.Units}, CostMicros: r.CostMicros, SavedMicros: r.SavedMicros})
	}
	return aiproxy.SumUsage(rows)
}

// expectedBuckets is every bucket of granularity g that recs make.
func expectedBuckets(recs []aiproxy.UsageRecord, g aiproxy.Granularity) []aiproxy.UsageBucket {
	bs := make([]aiproxy.UsageBucket, 0, len(recs))
	for _, r := range recs {
		bs = append(bs, aiproxy.BucketOf(r, g))
	}
	return aiproxy.MergeBuckets(bs)
}

// checkReports compares the store's reports and buckets with sums of the
// raw records. unaligned adds ranges that end inside an hour, which only
// raw records can answer (so not after they are pruned).
func checkReports(ctx context.Context, t *testing.T, s RollupStores, recs []aiproxy.UsageRecord, stage string, unaligned bool) {
	t.Helper()
	day := func(n int) time.Time { return rollupDay.AddDate(0, 0, n) }
	filters := []aiproxy.UsageFilter{
		{},
		{OrgKey: "acme"},
		{Service: "heygen"},
		{OrgKey: "beta", Service: "elevenlabs", From: day(1), To: day(3)},
		{From: day(2)},
		{To: day(1)},
		{From: day(1).Add(5 * time.Hour), To: day(2).Add(7 * time.Hour)},
	}
	if unaligned {
		filters = append(filters,
			aiproxy.UsageFilter{From: day(0).Add(90 * time.Minute), To: day(2).Add(23*time.Hour + 59*time.Minute)},
			aiproxy.UsageFilter{OrgKey: "corp", From: day(1).Add(10*time.Minute + 3*time.Second), To: day(1).Add(50 * time.Minute)})
	}
	for _, f := range filters {
		got, err := s.UsageReport(ctx, f)
		if err != nil {
			t.Fatalf("%s: UsageReport(%+v): %v", stage, f, err)
		}
		if want := expectedReport(recs, f); !sameRows(got, want) {
			t.Fatalf("%s: UsageReport(%+v) =\n%+v\nwant the raw records' sums\n%+v", stage, f, got, want)
		}
	}
	for _, g := range []aiproxy.Granularity{aiproxy.Hourly, aiproxy.Daily} {
		got, err := s.UsageBuckets(ctx, aiproxy.UsageBucketFilter{Granularity: g})
		if err != nil {
			t.Fatalf("%s: UsageBuckets(%s): %v", stage, g, err)
		}
		if want := expectedBuckets(recs, g); !sameBuckets(got, want) {
			t.Fatalf("%s: %s buckets differ from the raw records' sums: got %d buckets, want %d\n%s", stage, g,
				len(got), len(want), firstBucketDiff(got, want))
		}
	}
	one, err := s.UsageBuckets(ctx, aiproxy.UsageBucketFilter{Granularity: aiproxy.Hourly, OrgKey: "acme",
		Service: "heygen", From: day(1).Add(3 * time.Hour), To: day(1).Add(9 * time.Hour)})
	if err != nil {
		t.Fatalf("%s: filtered UsageBuckets: %v", stage, err)
	}
	var sel []aiproxy.UsageRecord
	for _, r := range recs {
		if h := r.At.UTC().Truncate(time.Hour); r.OrgKey == "acme" && r.Service == "heygen" &&
			!h.Before(day(1).Add(3*time.Hour)) && h.Before(day(1).Add(9*time.Hour)) {
			sel = append(sel, r)
		}
	}
	if want := expectedBuckets(sel, aiproxy.Hourly); !sameBuckets(one, want) {
		t.Fatalf("%s: filtered buckets differ\n%s", stage, firstBucketDiff(one, want))
	}
}

func sameRows(got, want []aiproxy.UsageRow) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	norm := func(rows []aiproxy.UsageRow) []aiproxy.UsageRow {
		out := make([]aiproxy.UsageRow, len(rows))
		for i, r := range rows {
			r.Units = namedUnits(r.Units)
			out[i] = r
		}
		return out
	}
	return reflect.DeepEqual(norm(got), norm(want))
}

// namedUnits drops zero and unnamed units, which reports may or may not list.
func namedUnits(m map[aiproxy.Metric]int64) map[aiproxy.Metric]int64 {
	out := map[aiproxy.Metric]int64{}
	for k, v := range m {
		if k != "" && v != 0 {
			out[k] = v
		}
	}
	return out
}

func sameBuckets(got, want []aiproxy.UsageBucket) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) {
			return false
		}
		g.Start, w.Start = time.Time{}, time.Time{}
		if g != w {
			return false
		}
	}
	return true
}

func firstBucketDiff(got, want []aiproxy.UsageBucket) string {
	for i := range min(len(got), len(want)) {
		if !sameBuckets(got[i:i+1], want[i:i+1]) {
			return fmt.Sprintf("first difference at %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// testRollupProperty appends random calls in random batches (some of them
// hours late) while two builders, as two replicas would, fold them into the
// rollups in random steps, at times at once and at times stopped halfway
// (a restart). After every round the reports and buckets must equal the
// sums of the raw records; at the end the raw records are pruned, and the
// reports over whole hours must still equal them.
func testRollupProperty(t *testing.T, s RollupStores) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 21))
	var recs []aiproxy.UsageRecord
	checkReports(ctx, t, s, recs, "empty", true)
	for round := range 8 {
		for range 1 + r.IntN(4) {
			batch := make([]aiproxy.UsageRecord, 1+r.IntN(300))
			for i := range batch {
				batch[i] = randomRecord(r)
			}
			if err := s.AppendUsage(ctx, batch); err != nil {
				t.Fatalf("AppendUsage: %v", err)
			}
			recs = append(recs, batch...)
		}
		stage := fmt.Sprintf("round %d (%d records)", round, len(recs))
		switch round % 3 {
		case 0: // one builder, a few small steps
			for range 1 + r.IntN(5) {
				if _, err := s.RollUpUsage(ctx, 1+r.IntN(200)); err != nil {
					t.Fatalf("%s: RollUpUsage: %v", stage, err)
				}
			}
		case 1: // two builders at once
			var wg sync.WaitGroup
			for b := range 2 {
				limit := 1 + r.IntN(150)
				wg.Go(func() {
					for range 4 {
						if _, err := s.RollUpUsage(ctx, limit); err != nil {
							t.Errorf("%s: builder %d: RollUpUsage: %v", stage, b, err)
						}
					}
				})
			}
			wg.Wait()
		case 2: // a builder stopped halfway, then another
			stopped, cancel := context.WithCancel(ctx)
			delay := time.Duration(r.IntN(3000)) * time.Microsecond
			go func() {
				time.Sleep(delay)
				cancel()
			}()
			if _, err := s.RollUpUsage(stopped, 1+r.IntN(300)); err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("%s: the stopped builder: %v", stage, err)
			}
			cancel()
			if _, err := s.RollUpUsage(ctx, 1+r.IntN(100)); err != nil {
				t.Fatalf("%s: RollUpUsage after a stop: %v", stage, err)
			}
		}
		checkReports(ctx, t, s, recs, stage, true)
	}
	drainRollups(ctx, t, s)
	checkReports(ctx, t, s, recs, "rolled up", true)
	// The rollups replace the raw records: with every one pruned that
	// may be, the reports over whole hours are unchanged.
	far := rollupDay.AddDate(1, 0, 0)
	pruned := pruneAll(ctx, t, s, aiproxy.RetainUsage, far, far)
	if pruned < len(recs)-1 {
		t.Fatalf("pruned %d of %d rolled-up records", pruned, len(recs))
	}
	checkReports(ctx, t, s, recs, "raw records pruned", false)
}

// testRollupRacingWriters appends from many writers while two builders
// roll up: a record that commits after a later one (its id smaller than
// one already rolled up) must still be counted, once.
func testRollupRacingWriters(t *testing.T, s RollupStores) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const writers, batches = 8, 25
	all := make([][]aiproxy.UsageRecord, writers)
	for w := range writers {
		r := rand.New(rand.NewPCG(seed, uint64(w)))
		for range batches * 3 {
			all[w] = append(all[w], randomRecord(r))
		}
	}
	done := make(chan struct{})
	var builders sync.WaitGroup
	for b := range 2 {
		builders.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.RollUpUsage(ctx, 7); err != nil {
					t.Errorf("builder %d: %v", b, err)
					return
				}
			}
		})
	}
	errs := parallel(writers, func(w int) error {
		for i := range batches {
			if err := s.AppendUsage(ctx, all[w][i*3:i*3+3]); err != nil {
				return err
			}
		}
		return nil
	})
	close(done)
	builders.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	var recs []aiproxy.UsageRecord
	for _, rs := range all {
		recs = append(recs, rs...)
	}
	drainRollups(ctx, t, s)
	checkReports(ctx, t, s, recs, "racing writers", true)
}

// drainRollups rolls up every record.
func drainRollups(ctx context.Context, t *testing.T, s RollupStores) {
	t.Helper()
	for range 10000 {
		n, err := s.RollUpUsage(ctx, 500)
		if err != nil {
			t.Fatalf("RollUpUsage: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("RollUpUsage never ran out of records")
}

// pruneAll prunes kind in small batches until a batch comes back short.
func pruneAll(ctx context.Context, t *testing.T, s aiproxy.RetentionStore, kind aiproxy.RetentionKind, before, now time.Time) int {
	t.Helper()
	total := 0
	for {
		n, err := s.Prune(ctx, kind, before, now, 100)
		if err != nil {
			t.Fatalf("Prune(%s): %v", kind, err)
		}
		if n > 100 {
			t.Fatalf("Prune(%s) removed %d rows, over its limit of 100", kind, n)
		}
		total += n
		if n < 100 {
			return total
		}
	}
}

// testRollupLateRecord appends a call of an hour that is already rolled
// up: it is counted once, before and after the next build.
func testRollupLateRecord(t *testing.T, s RollupStores) {
	ctx := t.Context()
	hour := rollupDay.Add(5 * time.Hour)
	recs := []aiproxy.UsageRecord{
		{At: hour.Add(time.Minute), OrgKey: "acme", KeyID: "k1", Service: "heygen", Action: "list-avatars", Status: 200, LatencyMS: 30},
		{At: hour.Add(2 * time.Hour), OrgKey: "acme", KeyID: "k1", Service: "heygen", Action: "list-avatars", Status: 200, LatencyMS: 40},
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	drainRollups(ctx, t, s)
	late := aiproxy.UsageRecord{At: hour.Add(59 * time.Minute), OrgKey: "acme", KeyID: "k1", Service: "heygen",
		Action: "list-avatars", Status: 502, ErrorCode: aiproxy.CodeUpstreamFailed, LatencyMS: 3000}
	if err := s.AppendUsage(ctx, []aiproxy.UsageRecord{late}); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, late)
	checkReports(ctx, t, s, recs, "late record not rolled up", true)
	if n, err := s.RollUpUsage(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RollUpUsage = %d, %v; want the late record", n, err)
	}
	checkReports(ctx, t, s, recs, "late record rolled up", true)
	if n, err := s.RollUpUsage(ctx, 0); err != nil || n != 0 {
		t.Fatalf("RollUpUsage with nothing left = %d, %v", n, err)
	}
}

// testRollupHistogram checks the latency histogram of a bucket and the
// quantiles read from it.
func testRollupHistogram(t *testing.T, s RollupStores) {
	ctx := t.Context()
	var recs []aiproxy.UsageRecord
	for i := range 100 {
		recs = append(recs, aiproxy.UsageRecord{At: rollupDay.Add(time.Duration(i) * time.Second), OrgKey: "acme",
			KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, LatencyMS: int64(i * 10),
			Unit: aiproxy.MetricCharacters, Units: 2})
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"raw", "rolled up"} {
		bs, err := s.UsageBuckets(ctx, aiproxy.UsageBucketFilter{Granularity: aiproxy.Daily, OrgKey: "acme"})
		if err != nil || len(bs) != 1 {
			t.Fatalf("%s: UsageBuckets = %+v, %v; want one bucket", stage, bs, err)
		}
		b := bs[0]
		// Latencies 0, 10, …, 990 ms: two at most 10, one in (10, 25], …
		want := aiproxy.LatencyHistogram{2, 1, 3, 5, 15, 25, 49, 0, 0, 0, 0, 0}
		if b.Latency != want || b.Requests != 100 || b.Units != 200 || b.LatencyMS != 49500 || !b.Start.Equal(rollupDay) {
			t.Fatalf("%s: bucket = %+v, want histogram %v", stage, b, want)
		}
		if p50, p95, p100 := b.Latency.Quantile(0.5), b.Latency.Quantile(0.95), b.Latency.Quantile(1); p50 != 500 || p95 != 1000 || p100 != 1000 {
			t.Fatalf("%s: p50, p95, p100 = %d, %d, %d; want 500, 1000, 1000", stage, p50, p95, p100)
		}
		drainRollups(ctx, t, s)
	}
}

// testWorkLease checks that one owner at a time holds a named lease.
func testWorkLease(t *testing.T, s RollupStores) {
	ctx := t.Context()
	claim := func(owner string, now, until int, want bool) {
		t.Helper()
		got, err := s.ClaimWork(ctx, "rollup", owner, at(now), at(until))
		if err != nil || got != want {
			t.Fatalf("ClaimWork(%s at %d) = %v, %v; want %v", owner, now, got, err, want)
		}
	}
	claim("a", 0, 5, true)
	claim("b", 1, 6, false)
	claim("a", 4, 9, true) // extends
	claim("b", 6, 11, false)
	if got, err := s.ClaimWork(ctx, "prune", "b", at(6), at(11)); err != nil || !got {
		t.Fatalf("another name's lease = %v, %v", got, err)
	}
	claim("b", 9, 14, true) // a's lease lapsed
	if err := s.ReleaseWork(ctx, "rollup", "a"); err != nil {
		t.Fatal(err)
	}
	claim("c", 10, 15, false) // a no longer held it: b still does
	if err := s.ReleaseWork(ctx, "rollup", "b"); err != nil {
		t.Fatal(err)
	}
	claim("c", 10, 15, true)

	// Racing claimers: exactly one wins.
	wins := make([]bool, 8)
	errs := parallel(len(wins), func(i int) error {
		var err error
		wins[i], err = s.ClaimWork(ctx, "race", fmt.Sprintf("r%d", i), at(0), at(5))
		return err
	})
	n := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("claimer %d: %v", i, err)
		}
		if wins[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d racing claimers won the lease, want 1", n)
	}
}
