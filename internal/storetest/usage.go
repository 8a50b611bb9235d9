package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func runUsage(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("ReportPerDayOrgService", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		d1 := time.Date(2025, 6, 1, 23, 59, 0, 0, time.UTC)
		d2 := d1.Add(2 * time.Minute)
		recs := []aiproxy.UsageRecord{
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, LatencyMS: 10, BytesOut: 100, Unit: aiproxy.MetricCharacters, Units: 12},
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "list-voices", Status: 200, UpstreamStatus: 200, LatencyMS: 20, BytesOut: 50},
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 429, ErrorCode: aiproxy.CodeRateLimited, LatencyMS: 1},
			{At: d1, OrgKey: "acme", KeyID: "k2", Service: "heygen", Action: "list-avatars", Status: 200, Cache: "HIT", BytesOut: 7},
			{At: d2, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricCharacters, Units: 3},
			{At: d2, OrgKey: "beta", KeyID: "k3", Service: "heygen", Action: "generate-video", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricRenders, Units: 1},
		}
		if err := s.AppendUsage(ctx, recs[:3]); err != nil {
			t.Fatalf("AppendUsage: %v", err)
		}
		if err := s.AppendUsage(ctx, recs[3:]); err != nil {
			t.Fatalf("AppendUsage: %v", err)
		}
		rows, err := s.UsageReport(ctx, aiproxy.UsageFilter{})
		if err != nil || len(rows) != 4 {
			t.Fatalf("UsageReport = %+v, %v; want 4 rows", rows, err)
		}
		first := rows[0]
		if first.Day != "2025-06-01" || first.OrgKey != "acme" || first.Service != "elevenlabs" ||
			first.Requests != 3 || first.Errors != 1 || first.BytesOut != 150 || first.LatencyMS != 31 ||
			first.Units[aiproxy.MetricCharacters] != 12 {
			t.Errorf("first row = %+v", first)
		}
		if rows[1].Service != "heygen" || rows[1].CacheHits != 1 {
			t.Errorf("second row = %+v, want heygen with one cache hit", rows[1])
		}
		if rows[2].Day != "2025-06-02" || rows[2].Units[aiproxy.MetricCharacters] != 3 {
			t.Errorf("third row = %+v", rows[2])
		}
		only, err := s.UsageReport(ctx, aiproxy.UsageFilter{OrgKey: "beta", From: d2.Truncate(24 * time.Hour)})
		if err != nil || len(only) != 1 || only[0].Units[aiproxy.MetricRenders] != 1 {
			t.Fatalf("filtered UsageReport = %+v, %v", only, err)
		}
		none, err := s.UsageReport(ctx, aiproxy.UsageFilter{Service: "heygen", To: d1})
		if err != nil || len(none) != 0 {
			t.Fatalf("UsageReport before any usage = %+v, %v", none, err)
		}
	})
	t.Run("PerUser", func(t *testing.T) { testUsagePerUser(t, open) })
	t.Run("ManyRecordsInOneCall", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		at := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
		recs := make([]aiproxy.UsageRecord, 2345)
		for i := range recs {
			recs[i] = aiproxy.UsageRecord{At: at, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts",
				Status: 200, UpstreamStatus: 200, LatencyMS: 1, BytesOut: int64(i), Unit: aiproxy.MetricCharacters, Units: 2}
		}
		recs[7].Status, recs[7].ErrorCode = 502, aiproxy.CodeUpstreamFailed
		recs[2000].Cache = "HIT"
		if err := s.AppendUsage(ctx, recs); err != nil {
			t.Fatalf("AppendUsage: %v", err)
		}
		rows, err := s.UsageReport(ctx, aiproxy.UsageFilter{})
		if err != nil || len(rows) != 1 {
			t.Fatalf("UsageReport = %+v, %v; want 1 row", rows, err)
		}
		want := int64(len(recs)*(len(recs)-1)) / 2
		if r := rows[0]; r.Requests != int64(len(recs)) || r.Errors != 1 || r.CacheHits != 1 || r.BytesOut != want ||
			r.LatencyMS != int64(len(recs)) || r.Units[aiproxy.MetricCharacters] != int64(2*len(recs)) {
			t.Fatalf("row = %+v, want %d requests, 1 error, 1 cache hit, %d bytes", r, len(recs), want)
		}
	})
}

// testUsagePerUser checks that the user of each record is kept: a report
// selects one user's calls, and buckets are per user, from the raw records
// and from the rollups alike.
func testUsagePerUser(t *testing.T, open func(t *testing.T) Stores) {
	s, ctx := guardrails(t, open), t.Context()
	rs, ok := s.(aiproxy.UsageRollupStore)
	if !ok {
		t.Fatal("the store does not implement aiproxy.UsageRollupStore")
	}
	day := time.Date(2025, 6, 4, 0, 0, 0, 0, time.UTC)
	ten := day.Add(10 * time.Hour)
	rec := func(org, user string, minute int, units int64) aiproxy.UsageRecord {
		return aiproxy.UsageRecord{At: ten.Add(time.Duration(minute) * time.Minute), OrgKey: org, KeyID: "k-" + org,
			UserID: user, Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200,
			Unit: aiproxy.MetricCharacters, Units: units}
	}
	recs := []aiproxy.UsageRecord{rec("acme", "alice", 0, 10), rec("acme", "alice", 30, 5), rec("acme", "bob", 10, 7),
		rec("acme", "", 20, 1), rec("beta", "alice", 0, 100)}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatalf("AppendUsage: %v", err)
	}
	ranges := map[string]aiproxy.UsageFilter{
		"open": {}, "a day": {From: day, To: day.AddDate(0, 0, 1)}, "an hour": {From: ten, To: ten.Add(time.Hour)},
		"part of an hour": {From: ten, To: ten.Add(45 * time.Minute)},
	}
	check := func(stage string) {
		t.Helper()
		for name, f := range ranges {
			for _, c := range []struct {
				org, user string
				want      []int64 // units per row, in org order
			}{
				{"acme", "alice", []int64{15}}, {"acme", "bob", []int64{7}}, {"acme", "", []int64{23}},
				{"", "alice", []int64{15, 100}}, {"beta", "bob", nil},
			} {
				f.OrgKey, f.UserID = c.org, c.user
				rows, err := s.UsageReport(ctx, f)
				if err != nil {
					t.Fatalf("%s: UsageReport(%s, %+v): %v", stage, name, f, err)
				}
				var got []int64
				for _, r := range rows {
					got = append(got, r.Units[aiproxy.MetricCharacters])
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s: UsageReport(%s, org %q, user %q) units = %v, want %v", stage, name, c.org, c.user, got, c.want)
				}
			}
		}
		bs, err := rs.UsageBuckets(ctx, aiproxy.UsageBucketFilter{Granularity: aiproxy.Hourly, OrgKey: "acme"})
		if err != nil {
			t.Fatalf("%s: UsageBuckets: %v", stage, err)
		}
		var got []string
		for _, b := range bs {
			got = append(got, fmt.Sprintf("%s:%d/%d", b.UserID, b.Requests, b.Units))
		}
		checkStrings(t, stage+": acme's hour buckets (user:requests/units)", got, []string{":1/1", "alice:2/15", "bob:1/7"})
	}
	check("raw records")
	if n, err := rs.RollUpUsage(ctx, 0); err != nil || n != len(recs) {
		t.Fatalf("RollUpUsage = %d, %v; want %d", n, err, len(recs))
	}
	check("rolled up")
}

func runAccess(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("DisableEnable", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		rules := []aiproxy.AccessRule{
			{OrgKey: "acme", Service: "heygen", Endpoint: "generate-video"},
			{OrgKey: "acme", Service: "elevenlabs"},
		}
		for _, r := range append(rules, rules[0]) {
			if err := s.DisableAccess(ctx, r); err != nil {
				t.Fatalf("DisableAccess(%+v): %v", r, err)
			}
		}
		got, err := s.AccessRules(ctx, "acme")
		if err != nil || len(got) != 2 || got[0] != rules[1] || got[1] != rules[0] {
			t.Fatalf("AccessRules = %+v, %v", got, err)
		}
		if !aiproxy.Disables(got, "elevenlabs", "tts") || !aiproxy.Disables(got, "heygen", "generate-video") ||
			aiproxy.Disables(got, "heygen", "list-avatars") {
			t.Fatal("Disables does not follow the rules")
		}
		if err := s.EnableAccess(ctx, rules[1]); err != nil {
			t.Fatalf("EnableAccess: %v", err)
		}
		if err := s.EnableAccess(ctx, rules[1]); err != nil {
			t.Fatalf("second EnableAccess: %v", err)
		}
		if got, _ := s.AccessRules(ctx, "acme"); len(got) != 1 {
			t.Fatalf("after enable: %+v", got)
		}
		if other, _ := s.AccessRules(ctx, "other"); len(other) != 0 {
			t.Fatalf("another org's rules = %+v", other)
		}
	})
}
