package storetest

import (
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
