package aiproxy

import (
	"testing"
	"time"
)

// TestSavedCostSums: what the speech cache saved is kept by a record's
// bucket and summed, like cost, into hour and day buckets and report rows.
func TestSavedCostSums(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	miss := UsageRecord{At: at, OrgKey: "acme", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200,
		Unit: MetricCharacters, Units: 12, CostMicros: 1200}
	hit := UsageRecord{At: at.Add(time.Hour), OrgKey: "acme", Service: "elevenlabs", Action: "tts", Status: 200, Cache: "HIT",
		Unit: MetricCharacters, SavedMicros: 1200}
	hours := MergeBuckets([]UsageBucket{BucketOf(miss, Hourly), BucketOf(hit, Hourly), BucketOf(hit, Hourly)})
	if len(hours) != 2 || hours[0].CostMicros != 1200 || hours[0].SavedMicros != 0 ||
		hours[1].CostMicros != 0 || hours[1].SavedMicros != 2400 || hours[1].CacheHits != 2 {
		t.Fatalf("hour buckets = %+v", hours)
	}
	days := RollUpDays(hours)
	if len(days) != 1 || days[0].CostMicros != 1200 || days[0].SavedMicros != 2400 || days[0].Requests != 3 {
		t.Fatalf("day buckets = %+v", days)
	}
	rows := SumUsage([]UsageRow{
		{Day: "2026-12-06", OrgKey: "acme", Service: "elevenlabs", Requests: 1, CostMicros: 1200},
		{Day: "2026-12-06", OrgKey: "acme", Service: "elevenlabs", Requests: 2, CacheHits: 2, SavedMicros: 2400},
	})
	if len(rows) != 1 || rows[0].CostMicros != 1200 || rows[0].SavedMicros != 2400 || rows[0].Requests != 3 {
		t.Fatalf("report rows = %+v", rows)
	}
}
