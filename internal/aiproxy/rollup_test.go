package aiproxy

import (
	"testing"
	"time"
)

func TestPlanUsageReport(t *testing.T) {
	d := func(day, hour, minute int) time.Time { return time.Date(2025, 6, day, hour, minute, 0, 0, time.UTC) }
	open := time.Time{}
	span := func(a, b time.Time) Span { return Span{a, b} }
	tests := []struct {
		name       string
		from, to   time.Time
		days       Span
		hours      []Span
		edges      []Span
		tail       Span
		emptyDays  bool
		emptyTail  bool
		emptyEdges bool
	}{
		{name: "whole days", from: d(1, 0, 0), to: d(8, 0, 0), days: span(d(1, 0, 0), d(8, 0, 0)), tail: span(d(1, 0, 0), d(8, 0, 0))},
		{name: "open", from: open, to: open, days: span(open, open), tail: span(open, open)},
		{name: "open start, hour end", from: open, to: d(3, 5, 0), days: span(open, d(3, 0, 0)),
			hours: []Span{span(d(3, 0, 0), d(3, 5, 0))}, tail: span(open, d(3, 5, 0))},
		{name: "hours around days", from: d(1, 22, 0), to: d(4, 2, 0), days: span(d(2, 0, 0), d(4, 0, 0)),
			hours: []Span{span(d(1, 22, 0), d(2, 0, 0)), span(d(4, 0, 0), d(4, 2, 0))}, tail: span(d(1, 22, 0), d(4, 2, 0))},
		{name: "hours within a day", from: d(1, 3, 0), to: d(1, 9, 0), emptyDays: true,
			hours: []Span{span(d(1, 3, 0), d(1, 9, 0))}, tail: span(d(1, 3, 0), d(1, 9, 0))},
		{name: "minutes at both ends", from: d(1, 23, 30), to: d(3, 0, 15), days: span(d(2, 0, 0), d(3, 0, 0)),
			edges: []Span{span(d(1, 23, 30), d(2, 0, 0)), span(d(3, 0, 0), d(3, 0, 15))}, tail: span(d(2, 0, 0), d(3, 0, 0))},
		{name: "within an hour", from: d(1, 3, 10), to: d(1, 3, 50), emptyDays: true, emptyTail: true,
			edges: []Span{span(d(1, 3, 10), d(1, 3, 50))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanUsageReport(tt.from, tt.to)
			if tt.emptyDays != p.Days.Empty() || (!tt.emptyDays && p.Days != tt.days) {
				t.Errorf("Days = %v, want %v (empty %v)", p.Days, tt.days, tt.emptyDays)
			}
			if tt.emptyTail != p.Tail.Empty() || (!tt.emptyTail && p.Tail != tt.tail) {
				t.Errorf("Tail = %v, want %v", p.Tail, tt.tail)
			}
			if !sameSpans(p.Hours, tt.hours) || !sameSpans(p.Edges, tt.edges) {
				t.Errorf("Hours, Edges = %v, %v; want %v, %v", p.Hours, p.Edges, tt.hours, tt.edges)
			}
		})
	}
}

func sameSpans(a, b []Span) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatencyHistogram(t *testing.T) {
	if n := len(LatencyHistogram{}); n != len(LatencyBounds)+1 {
		t.Fatalf("histogram has %d buckets", n)
	}
	for ms, want := range map[int64]int{0: 0, 10: 0, 11: 1, 25: 1, 1000: 6, 30000: 10, 30001: 11, 1 << 40: 11} {
		if got := LatencyBucket(ms); got != want {
			t.Errorf("LatencyBucket(%d) = %d, want %d", ms, got, want)
		}
	}
	var h LatencyHistogram
	if h.Quantile(0.5) != 0 {
		t.Error("an empty histogram has a median")
	}
	h[LatencyBucket(5)] += 90
	h[LatencyBucket(700)] += 9
	h[LatencyBucket(60000)]++
	for q, want := range map[float64]int64{0.5: 10, 0.9: 10, 0.91: 1000, 0.99: 1000, 0.999: -1, 1: -1} {
		if got := h.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %d, want %d", q, got, want)
		}
	}
}

func TestRollUpDaysAndMergeBuckets(t *testing.T) {
	h := func(hour int, org string) UsageBucket {
		return BucketOf(UsageRecord{At: time.Date(2025, 6, 1, hour, 5, 0, 0, time.UTC), OrgKey: org, Service: "s",
			Action: "a", KeyID: "k", Status: 200, LatencyMS: 3, BytesOut: 10}, Hourly)
	}
	days := RollUpDays([]UsageBucket{h(1, "b"), h(2, "a"), h(3, "b"), h(23, "b")})
	if len(days) != 2 || days[0].OrgKey != "a" || days[1].Requests != 3 || days[1].BytesOut != 30 ||
		days[1].Latency[0] != 3 || days[1].Granularity != Daily || !days[1].Start.Equal(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("RollUpDays = %+v", days)
	}
}
