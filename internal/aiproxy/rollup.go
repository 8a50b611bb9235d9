package aiproxy

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"
)

// Granularity is the width of a usage rollup bucket.
type Granularity string

// The rollup granularities. Buckets start on the UTC hour or day.
const (
	Hourly Granularity = "hour"
	Daily  Granularity = "day"
)

// Width returns the length of a bucket of granularity g.
func (g Granularity) Width() time.Duration {
	if g == Daily {
		return 24 * time.Hour
	}
	return time.Hour
}

// BucketStart returns the start of the bucket of granularity g that holds t,
// in UTC.
func (g Granularity) BucketStart(t time.Time) time.Time {
	return t.UTC().Truncate(g.Width())
}

// LatencyBounds are the inclusive upper bounds, in milliseconds, of the
// latency histogram's buckets; a last bucket holds everything slower. They
// are fixed, so that histograms of any buckets add up, and both engines
// keep one column per bucket (migration 00008).
var LatencyBounds = [...]int64{10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// LatencyHistogram counts calls per latency bucket: element i counts the
// calls slower than LatencyBounds[i-1] and no slower than LatencyBounds[i];
// the last element counts those slower than every bound.
type LatencyHistogram [len(LatencyBounds) + 1]int64

// LatencyBucket returns the histogram bucket of a latency in milliseconds.
func LatencyBucket(ms int64) int {
	for i, b := range LatencyBounds {
		if ms <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// Add adds o to h.
func (h *LatencyHistogram) Add(o LatencyHistogram) {
	for i := range h {
		h[i] += o[i]
	}
}

// Count returns the number of calls h counts.
func (h LatencyHistogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns an upper bound of the q-quantile (0 < q ≤ 1) of the
// latencies h counts, in milliseconds: the bound of the bucket where the
// quantile falls, so that "p95 ≤ 250 ms" is what a reader may conclude.
// It returns 0 for an empty histogram and -1 when the quantile falls in
// the last bucket, which has no bound.
func (h LatencyHistogram) Quantile(q float64) int64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	// The rank of the quantile, rounded up: at least one call.
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= rank {
			if i == len(LatencyBounds) {
				return -1
			}
			return LatencyBounds[i]
		}
	}
	return -1
}

// UsageBucket is the usage of one org, service, action, key, user and unit
// in one hour or day: what usage rollups keep instead of the raw records.
type UsageBucket struct {
	Granularity Granularity
	// Start is the bucket's first instant, in UTC.
	Start   time.Time
	OrgKey  string
	Service string
	Action  string
	KeyID   string
	// UserID is the user within the org the calls were made for, or ""
	// for calls made for the org itself.
	UserID string
	// Unit names what Units counts ("characters", "renders"), or "".
	Unit      Metric
	Requests  int64
	Errors    int64
	CacheHits int64
	BytesOut  int64
	// LatencyMS is the sum of the calls' latencies, for averaging.
	LatencyMS int64
	Units     int64
	// CostMicros is the calls' price in micro-USD, from the price table
	// (docs/budgets.md).
	CostMicros int64
	// SavedMicros is what the calls answered from the speech cache would
	// have cost, in micro-USD.
	SavedMicros int64
	Latency     LatencyHistogram
}

// Add adds the counts of o to b; the dimensions stay b's.
func (b *UsageBucket) Add(o UsageBucket) {
	b.Requests += o.Requests
	b.Errors += o.Errors
	b.CacheHits += o.CacheHits
	b.BytesOut += o.BytesOut
	b.LatencyMS += o.LatencyMS
	b.Units += o.Units
	b.CostMicros += o.CostMicros
	b.SavedMicros += o.SavedMicros
	b.Latency.Add(o.Latency)
}

// BucketOf returns the one-call bucket of granularity g that a usage
// record adds to a rollup.
func BucketOf(r UsageRecord, g Granularity) UsageBucket {
	b := UsageBucket{Granularity: g, Start: g.BucketStart(r.At), OrgKey: r.OrgKey, Service: r.Service,
		Action: r.Action, KeyID: r.KeyID, UserID: r.UserID, Unit: r.Unit, Requests: 1, BytesOut: r.BytesOut,
		LatencyMS: r.LatencyMS, Units: r.Units, CostMicros: r.CostMicros, SavedMicros: r.SavedMicros}
	if r.Failed() {
		b.Errors = 1
	}
	if r.Cache == "HIT" || r.Cache == "STALE" {
		b.CacheHits = 1
	}
	b.Latency[LatencyBucket(r.LatencyMS)] = 1
	return b
}

// UsageBucketFilter selects rollup buckets: those of one granularity whose
// start is in [From, To), of one org and service when those are set. Zero
// times leave that end open.
type UsageBucketFilter struct {
	Granularity Granularity
	OrgKey      string
	Service     string
	From        time.Time
	To          time.Time
}

// UsageRollupStore keeps usage summarised per hour and per day, built from
// the raw usage records incrementally: every raw record is folded into
// exactly one hour bucket and one day bucket, once, whoever builds and
// however often the build stops or runs twice at once.
//
// The stores' usage reports (UsageStore.UsageReport) read the rollups for
// what has been rolled up and the raw records only for the rest, so that a
// report costs the same whatever the age of the data.
type UsageRollupStore interface {
	// RollUpUsage folds up to limit raw records that no rollup holds yet,
	// oldest first, into their hour and day buckets, and returns how many
	// it folded; 0 means that nothing was left, or that another builder
	// folded the same records first. Records are folded in the order the
	// store committed them, so a record that arrives late (a batch written
	// after a restart) is still folded.
	RollUpUsage(ctx context.Context, limit int) (int, error)
	// UsageBuckets returns the buckets f selects, records not yet rolled
	// up included, ordered by start, org, service, action, key, user and
	// unit.
	UsageBuckets(ctx context.Context, f UsageBucketFilter) ([]UsageBucket, error)
}

// WorkLeaseStore keeps named leases on background work that one replica at
// a time should do (building rollups, pruning), so that replicas do not
// repeat each other's work. A lease is only an economy: the work itself
// must stay correct when two holders overlap (a lease that expired while
// its holder was paused).
type WorkLeaseStore interface {
	// ClaimWork gives the lease name to owner until until, if no other
	// owner holds it past now; it reports whether owner holds it. An owner
	// that holds it may claim it again to extend it.
	ClaimWork(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	// ReleaseWork ends owner's lease name, if owner holds it.
	ReleaseWork(ctx context.Context, name, owner string) error
}

// RollUpDays folds hour buckets into the day buckets that hold them.
func RollUpDays(hours []UsageBucket) []UsageBucket {
	days := make([]UsageBucket, 0, len(hours))
	for _, h := range hours {
		d := h
		d.Granularity, d.Start = Daily, Daily.BucketStart(h.Start)
		days = append(days, d)
	}
	return MergeBuckets(days)
}

// MergeBuckets adds up the buckets that share granularity, start and every
// dimension, and orders the result by start, org, service, action, key,
// user and unit (byte order, as both engines sort).
func MergeBuckets(bs []UsageBucket) []UsageBucket {
	type dims struct {
		g                                         Granularity
		start                                     int64
		org, service, action, key, user, unitText string
	}
	idx := make(map[dims]int, len(bs))
	out := make([]UsageBucket, 0, len(bs))
	for _, b := range bs {
		k := dims{b.Granularity, b.Start.UnixMilli(), b.OrgKey, b.Service, b.Action, b.KeyID, b.UserID, string(b.Unit)}
		if i, ok := idx[k]; ok {
			out[i].Add(b)
			continue
		}
		idx[k] = len(out)
		out = append(out, b)
	}
	slices.SortFunc(out, compareBuckets)
	return out
}

func compareBuckets(a, b UsageBucket) int {
	return cmp.Or(cmp.Compare(a.Granularity, b.Granularity), a.Start.Compare(b.Start),
		cmp.Compare(a.OrgKey, b.OrgKey), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Action, b.Action),
		cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.Unit, b.Unit))
}

// Span is a range of time, From inclusive and To exclusive; a zero end is
// open.
type Span struct{ From, To time.Time }

// Empty reports whether s holds no instant.
func (s Span) Empty() bool { return !s.From.IsZero() && !s.To.IsZero() && !s.From.Before(s.To) }

// UsageReportPlan splits a report's range into the parts a store reads
// from different places, so that a report of any range reads as few rows
// as it can and counts every record once:
//
//   - Days, the whole UTC days of the range, from the day rollups;
//   - Hours, the whole hours outside Days, from the hour rollups;
//   - Edges, the parts of an hour at either end, from the raw records;
//   - Tail, the whole hours (Days and Hours together), from the raw
//     records that no rollup holds yet.
//
// A report through the API asks for whole days, so it reads Days and the
// Tail only.
type UsageReportPlan struct {
	Days  Span
	Hours []Span
	Edges []Span
	Tail  Span
}

// PlanUsageReport splits the range [from, to) of a report (zero ends open).
func PlanUsageReport(from, to time.Time) UsageReportPlan {
	ceil := func(t time.Time, g Granularity) time.Time {
		if t.IsZero() {
			return t
		}
		s := g.BucketStart(t)
		if s.Before(t) {
			s = s.Add(g.Width())
		}
		return s
	}
	floor := func(t time.Time, g Granularity) time.Time {
		if t.IsZero() {
			return t
		}
		return g.BucketStart(t)
	}
	var p UsageReportPlan
	whole := Span{ceil(from, Hourly), floor(to, Hourly)}
	if whole.Empty() {
		return UsageReportPlan{Edges: []Span{{from, to}}, Days: emptySpan, Tail: emptySpan}
	}
	p.Tail = whole
	for _, e := range []Span{{from, whole.From}, {whole.To, to}} {
		if !e.From.IsZero() && !e.To.IsZero() && e.From.Before(e.To) {
			p.Edges = append(p.Edges, e)
		}
	}
	p.Days = Span{ceil(whole.From, Daily), floor(whole.To, Daily)}
	if p.Days.Empty() {
		p.Days, p.Hours = emptySpan, []Span{whole}
		return p
	}
	for _, h := range []Span{{whole.From, p.Days.From}, {p.Days.To, whole.To}} {
		if !h.From.IsZero() && !h.To.IsZero() && h.From.Before(h.To) {
			p.Hours = append(p.Hours, h)
		}
	}
	return p
}

// emptySpan is a span that holds nothing.
var emptySpan = Span{From: time.Unix(0, 0).UTC(), To: time.Unix(0, 0).UTC()}
