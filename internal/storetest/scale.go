package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The scale test runs only when AIPROXY_SCALE=1. AIPROXY_SCALE_ROWS sets
// how many usage records it makes (default 300,000; the documented run
// uses 3,000,000), AIPROXY_SCALE_JOBS how many jobs (default one per 60
// records).
const (
	ScaleEnv     = "AIPROXY_SCALE"
	ScaleRowsEnv = "AIPROXY_SCALE_ROWS"
	ScaleJobsEnv = "AIPROXY_SCALE_JOBS"
)

// ScaleEngine is what the scale test needs of an engine besides the
// contracts.
type ScaleEngine struct {
	// Store is a fresh, empty store.
	Store RollupStores
	// Size returns the bytes the database takes on disk.
	Size func(ctx context.Context) (int64, error)
	// Compact returns the space of deleted rows to the file system
	// (VACUUM, VACUUM FULL), as an operator may after a first prune.
	Compact func(ctx context.Context) error
	// AfterLoad, if set, runs after the bulk load, as the engine's own
	// maintenance would (Postgres's autovacuum analyses a grown table).
	AfterLoad func(ctx context.Context) error
}

// RequireScale skips the test unless AIPROXY_SCALE=1, and returns the
// numbers of usage records and jobs to make.
func RequireScale(t *testing.T) (rows, jobs int) {
	t.Helper()
	if os.Getenv(ScaleEnv) != "1" {
		t.Skip("set " + ScaleEnv + "=1 (and " + ScaleRowsEnv + "=3000000 for the documented run) to run the scale test")
	}
	rows, jobs = 300_000, 0
	if s := os.Getenv(ScaleRowsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			t.Fatalf("%s=%q: want a number of at least 1000", ScaleRowsEnv, s)
		}
		rows = n
	}
	jobs = rows / 60
	if s := os.Getenv(ScaleJobsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a number", ScaleJobsEnv, s)
		}
		jobs = n
	}
	return rows, jobs
}

// scaleYear is the year the scale test's usage is spread over.
var scaleYear = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// scaleOrgs are the orgs of the scale test, as in the demo's database
// the issue measured.
var scaleOrgs = []string{"acme", "beta", "corp"}

// RunScale fills the store with rows usage records spread over a year and
// jobs jobs, and logs (as "SCALE" lines) what docs/performance.md quotes:
// how fast the data is written, the database's size per million calls, the
// latency of a day's, a month's and a year's report before and after the
// rollup, of job listings, and the pruner's throughput.
func RunScale(t *testing.T, e ScaleEngine, rows, jobs int) {
	ctx := t.Context()
	s := e.Store
	log := func(format string, args ...any) { t.Logf("SCALE "+format, args...) }
	log("usage records %d, jobs %d", rows, jobs)

	start := time.Now()
	scaleUsage(ctx, t, s, rows)
	took := time.Since(start)
	log("write usage: %d records in %v (%.0f records/s)", rows, took.Round(time.Millisecond), float64(rows)/took.Seconds())
	if e.AfterLoad != nil {
		if err := e.AfterLoad(ctx); err != nil {
			t.Fatalf("after load: %v", err)
		}
	}
	size := scaleSize(ctx, t, e, "raw usage", rows)

	reports := scaleReports()
	before := make([][]aiproxy.UsageRow, len(reports))
	for i, r := range reports {
		before[i] = timeReport(ctx, t, s, "raw", r, 3)
	}

	start = time.Now()
	folded := 0
	for {
		n, err := s.RollUpUsage(ctx, 20000)
		if err != nil {
			t.Fatalf("RollUpUsage: %v", err)
		}
		if n == 0 {
			break
		}
		folded += n
	}
	took = time.Since(start)
	log("rollup: %d records in %v (%.0f records/s)", folded, took.Round(time.Millisecond), float64(folded)/took.Seconds())
	// The still-open part: the last hour's calls, not rolled up yet.
	recent := scaleRecords(rand.New(rand.NewPCG(2, 2)), 5000, scaleYear.AddDate(1, 0, 0).Add(-time.Hour), time.Hour)
	if err := s.AppendUsage(ctx, recent); err != nil {
		t.Fatal(err)
	}
	for i, r := range reports {
		got := timeReport(ctx, t, s, "rollups", r, 7)
		if want := addRecent(before[i], recent, r.f); !sameRows(got, want) {
			t.Fatalf("%s: the report over rollups differs from the one over raw records", r.name)
		}
	}
	sizeRolled := scaleSize(ctx, t, e, "raw usage and rollups", rows)

	scaleJobs(ctx, t, s, jobs)
	if jobs > 0 {
		scaleJobListing(ctx, t, s)
		scaleSize(ctx, t, e, "with jobs", rows)
	}

	// Retention as the defaults have it, a year after the data began.
	now := scaleYear.AddDate(1, 0, 0)
	for _, k := range []aiproxy.RetentionKind{aiproxy.RetainUsage, aiproxy.RetainJobs} {
		keep := map[aiproxy.RetentionKind]time.Duration{aiproxy.RetainUsage: 14 * 24 * time.Hour, aiproxy.RetainJobs: 90 * 24 * time.Hour}[k]
		start = time.Now()
		total, batches := 0, 0
		for {
			n, err := s.Prune(ctx, k, now.Add(-keep), now, 1000)
			if err != nil {
				t.Fatalf("Prune(%s): %v", k, err)
			}
			total, batches = total+n, batches+1
			if n < 1000 {
				break
			}
		}
		took = time.Since(start)
		log("prune %s older than %v: %d rows in %d batches of at most 1000, %v (%.0f rows/s, %.1f ms a batch)", k, keep,
			total, batches, took.Round(time.Millisecond), float64(total)/took.Seconds(),
			float64(took.Milliseconds())/float64(batches))
	}
	for i, r := range reports {
		got := timeReport(ctx, t, s, "after pruning", r, 3)
		if want := addRecent(before[i], recent, r.f); !sameRows(got, want) {
			t.Fatalf("%s: the report after pruning differs from the one over raw records", r.name)
		}
	}
	scaleSize(ctx, t, e, "after pruning, as stored", rows)
	start = time.Now()
	if err := e.Compact(ctx); err != nil {
		t.Fatalf("compact: %v", err)
	}
	log("compact: %v", time.Since(start).Round(time.Millisecond))
	after := scaleSize(ctx, t, e, "after pruning and compacting", rows)
	log("summary: %.0f MB per million calls with raw rows only, %.0f MB with rollups too, %.0f MB after a year's retention",
		float64(size)/1e6/(float64(rows)/1e6), float64(sizeRolled)/1e6/(float64(rows)/1e6), float64(after)/1e6/(float64(rows)/1e6))
}

// scaleRecords makes n random calls spread over [from, from+span).
func scaleRecords(r *rand.Rand, n int, from time.Time, span time.Duration) []aiproxy.UsageRecord {
	recs := make([]aiproxy.UsageRecord, n)
	for i := range recs {
		rec := randomRecord(r)
		rec.OrgKey = scaleOrgs[r.IntN(len(scaleOrgs))]
		rec.At = from.Add(time.Duration(r.Int64N(int64(span))))
		recs[i] = rec
	}
	return recs
}

// scaleUsage appends rows records spread over scaleYear, in batches of
// 5000, in time order as a server would (each batch one second's calls).
func scaleUsage(ctx context.Context, t *testing.T, s RollupStores, rows int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	const batch = 5000
	year := scaleYear.AddDate(1, 0, 0).Sub(scaleYear)
	step := year / time.Duration((rows+batch-1)/batch)
	for done := 0; done < rows; done += batch {
		n := min(batch, rows-done)
		from := scaleYear.Add(time.Duration(done/batch) * step)
		recs := scaleRecords(r, n, from, step)
		slices.SortFunc(recs, func(a, b aiproxy.UsageRecord) int { return a.At.Compare(b.At) })
		if err := s.AppendUsage(ctx, recs); err != nil {
			t.Fatalf("AppendUsage: %v", err)
		}
	}
}

// scaleReport is one report the scale test times.
type scaleReport struct {
	name string
	f    aiproxy.UsageFilter
}

func scaleReports() []scaleReport {
	d := func(m time.Month, day int) time.Time { return time.Date(2025, m, day, 0, 0, 0, 0, time.UTC) }
	return []scaleReport{
		{"one org, a day", aiproxy.UsageFilter{OrgKey: "acme", From: d(12, 31), To: d(12, 32)}},
		{"one org, a month", aiproxy.UsageFilter{OrgKey: "acme", From: d(12, 1), To: d(12, 32)}},
		{"every org, a month", aiproxy.UsageFilter{From: d(12, 1), To: d(12, 32)}},
		{"one org, a year", aiproxy.UsageFilter{OrgKey: "acme", From: d(1, 1), To: d(12, 32)}},
		{"every org, a year", aiproxy.UsageFilter{From: d(1, 1), To: d(12, 32)}},
	}
}

// timeReport runs a report n times and logs the first and the median
// latency.
func timeReport(ctx context.Context, t *testing.T, s RollupStores, stage string, r scaleReport, n int) []aiproxy.UsageRow {
	t.Helper()
	var rows []aiproxy.UsageRow
	took := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		var err error
		rows, err = s.UsageReport(ctx, r.f)
		if err != nil {
			t.Fatalf("UsageReport(%s): %v", r.name, err)
		}
		took[i] = time.Since(start)
	}
	first := took[0]
	slices.Sort(took)
	t.Logf("SCALE report %-20s %-14s first %8.1f ms, median of %d %8.1f ms (%d rows)", r.name, stage,
		ms(first), n, ms(took[n/2]), len(rows))
	return rows
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// addRecent adds the records f selects to a report.
func addRecent(rows []aiproxy.UsageRow, recs []aiproxy.UsageRecord, f aiproxy.UsageFilter) []aiproxy.UsageRow {
	return aiproxy.SumUsage(append(slices.Clone(rows), expectedReport(recs, f)...))
}

// scaleSize logs the database's size, in all and per million calls.
func scaleSize(ctx context.Context, t *testing.T, e ScaleEngine, stage string, calls int) int64 {
	t.Helper()
	n, err := e.Size(ctx)
	if err != nil {
		t.Fatalf("size: %v", err)
	}
	t.Logf("SCALE size %-30s %8.1f MB, %6.1f MB per million calls", stage, float64(n)/1e6,
		float64(n)/1e6/(float64(calls)/1e6))
	return n
}

// scaleJobs creates jobs spread over scaleYear, nine in ten finished,
// each with its creation event, from four writers.
func scaleJobs(ctx context.Context, t *testing.T, s RollupStores, jobs int) {
	t.Helper()
	if jobs == 0 {
		return
	}
	for _, o := range scaleOrgs {
		mustCreateOrg(ctx, t, s, o)
	}
	start := time.Now()
	year := scaleYear.AddDate(1, 0, 0).Sub(scaleYear)
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < jobs; i += writers {
				created := scaleYear.Add(year / time.Duration(jobs) * time.Duration(i))
				j := newJob(scaleOrgs[i%len(scaleOrgs)], fmt.Sprintf("job_%024d", i), fmt.Sprintf("vid%d", i), created)
				if i%10 != 0 {
					j.State, j.CompletedAt, j.UpdatedAt, j.NextCheckAt = aiproxy.JobCompleted, created.Add(3*time.Minute),
						created.Add(3*time.Minute), time.Time{}
				}
				if err := s.CreateJob(ctx, j, newEvent(j, aiproxy.EventJobCreated), nil); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
	}
	took := time.Since(start)
	t.Logf("SCALE write jobs: %d jobs in %v (%.0f jobs/s)", jobs, took.Round(time.Millisecond), float64(jobs)/took.Seconds())
}

// scaleJobListing times the job listings the console and the API make.
func scaleJobListing(ctx context.Context, t *testing.T, s RollupStores) {
	t.Helper()
	first, err := s.Jobs(ctx, aiproxy.JobFilter{OrgKey: "acme"})
	if err != nil || len(first) == 0 {
		t.Fatalf("Jobs = %d, %v", len(first), err)
	}
	mid := scaleYear.AddDate(0, 6, 0)
	for _, c := range []struct {
		name string
		f    aiproxy.JobFilter
	}{
		{"newest 50", aiproxy.JobFilter{OrgKey: "acme"}},
		{"page from mid-year", aiproxy.JobFilter{OrgKey: "acme", Before: &aiproxy.JobCursor{CreatedAt: mid, ID: "job_~"}}},
		{"running, newest 50", aiproxy.JobFilter{OrgKey: "acme", State: aiproxy.JobPending}},
		{"one action, newest 50", aiproxy.JobFilter{OrgKey: "acme", Service: "heygen", Action: "generate-video"}},
	} {
		took := make([]time.Duration, 7)
		var got []aiproxy.Job
		for i := range took {
			start := time.Now()
			if got, err = s.Jobs(ctx, c.f); err != nil {
				t.Fatalf("Jobs(%s): %v", c.name, err)
			}
			took[i] = time.Since(start)
		}
		slices.Sort(took)
		t.Logf("SCALE jobs %-24s median of 7 %6.2f ms (%d jobs)", c.name, ms(took[3]), len(got))
	}
}
