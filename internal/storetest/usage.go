package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
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
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, LatencyMS: 10, BytesOut: 100, Unit: aiproxy.MetricCharacters, Units: 12, CostMicros: 1200},
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "list-voices", Status: 200, UpstreamStatus: 200, LatencyMS: 20, BytesOut: 50},
			{At: d1, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 429, ErrorCode: aiproxy.CodeRateLimited, LatencyMS: 1},
			{At: d1, OrgKey: "acme", KeyID: "k2", Service: "heygen", Action: "list-avatars", Status: 200, Cache: "HIT", BytesOut: 7},
			{At: d2, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricCharacters, Units: 3, CostMicros: 150},
			{At: d2, OrgKey: "beta", KeyID: "k3", Service: "heygen", Action: "generate-video", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricRenders, Units: 1, CostMicros: 9_900_000_000},
			{At: d2, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricCharacters, Units: 4, CostMicros: 400},
			{At: d2, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, Cache: "HIT", SavedMicros: 400}, // the speech cache's
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
			first.Units[aiproxy.MetricCharacters] != 12 || first.CostMicros != 1200 || first.SavedMicros != 0 {
			t.Errorf("first row = %+v", first)
		}
		if rows[1].Service != "heygen" || rows[1].CacheHits != 1 || rows[1].CostMicros != 0 {
			t.Errorf("second row = %+v, want heygen with one cache hit and no cost", rows[1])
		}
		if rows[2].Day != "2025-06-02" || rows[2].Units[aiproxy.MetricCharacters] != 7 || rows[2].CostMicros != 550 ||
			rows[2].Requests != 3 || rows[2].CacheHits != 1 || rows[2].SavedMicros != 400 {
			t.Errorf("third row = %+v", rows[2])
		}
		only, err := s.UsageReport(ctx, aiproxy.UsageFilter{OrgKey: "beta", From: d2.Truncate(24 * time.Hour)})
		if err != nil || len(only) != 1 || only[0].Units[aiproxy.MetricRenders] != 1 || only[0].CostMicros != 9_900_000_000 {
			t.Fatalf("filtered UsageReport = %+v, %v", only, err)
		}
		none, err := s.UsageReport(ctx, aiproxy.UsageFilter{Service: "heygen", To: d1})
		if err != nil || len(none) != 0 {
			t.Fatalf("UsageReport before any usage = %+v, %v", none, err)
		}
	})
	t.Run("PerUser", func(t *testing.T) { testUsagePerUser(t, open) })
	t.Run("RequestLog", func(t *testing.T) { testRequestLog(t, open) })
	t.Run("GroupByActionUserAndKey", func(t *testing.T) { testUsageGroupBy(t, rollupStores(t, open)) })
	t.Run("GroupedAsRawSums", func(t *testing.T) { testUsageGroupedSums(t, rollupStores(t, open)) })
	t.Run("ManyRecordsInOneCall", func(t *testing.T) {
		s, ctx := guardrails(t, open), t.Context()
		at := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
		recs := make([]aiproxy.UsageRecord, 2345)
		for i := range recs {
			recs[i] = aiproxy.UsageRecord{At: at, OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts",
				Status: 200, UpstreamStatus: 200, LatencyMS: 1, BytesOut: int64(i), Unit: aiproxy.MetricCharacters, Units: 2,
				CostMicros: int64(i), SavedMicros: 3 * int64(i)}
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
			r.LatencyMS != int64(len(recs)) || r.Units[aiproxy.MetricCharacters] != int64(2*len(recs)) || r.CostMicros != want ||
			r.SavedMicros != 3*want {
			t.Fatalf("row = %+v, want %d requests, 1 error, 1 cache hit, %d bytes and micro-USD, thrice that saved", r, len(recs), want)
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
			Unit: aiproxy.MetricCharacters, Units: units, CostMicros: 100 * units}
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
			got = append(got, fmt.Sprintf("%s:%d/%d/%d", b.UserID, b.Requests, b.Units, b.CostMicros))
		}
		checkStrings(t, stage+": acme's hour buckets (user:requests/units/cost)", got,
			[]string{":1/1/100", "alice:2/15/1500", "bob:1/7/700"})
	}
	check("raw records")
	if n, err := rs.RollUpUsage(ctx, 0); err != nil || n != len(recs) {
		t.Fatalf("RollUpUsage = %d, %v; want %d", n, err, len(recs))
	}
	check("rolled up")
}

// testUsageGroupBy checks reports split by action, by user, by key and by
// several of them, with and without a user filter, on every path a report reads (day and hour
// rollups, raw records at the edges and after the watermark), before, while
// and after the records are rolled up.
func testUsageGroupBy(t *testing.T, s RollupStores) {
	ctx := t.Context()
	day := time.Date(2025, 6, 5, 0, 0, 0, 0, time.UTC)
	rec := func(org, key, user string, at time.Duration, service string, units int64) aiproxy.UsageRecord {
		r := aiproxy.UsageRecord{At: day.Add(at), OrgKey: org, KeyID: key, UserID: user, Service: service,
			Action: "tts", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricCharacters, Units: units, CostMicros: 10 * units}
		if service == "heygen" {
			r.Action, r.Unit, r.Cache = "list-avatars", "", "HIT"
		}
		return r
	}
	ten := 10 * time.Hour
	recs := []aiproxy.UsageRecord{
		rec("acme", "k1", "alice", ten, "elevenlabs", 10),
		rec("acme", "k2", "alice", ten+5*time.Minute, "elevenlabs", 20),
		rec("acme", "k1", "bob", ten+10*time.Minute, "elevenlabs", 3),
		rec("acme", "k1", "", ten+15*time.Minute, "elevenlabs", 1),               // for the org itself
		rec("acme", "", "carol", ten+20*time.Minute, "elevenlabs", 4),            // a sign-in: no key
		rec("acme", "k2", "alice", ten+25*time.Minute, "heygen", 0),              // a cache hit
		rec("beta", "k3", "alice", ten, "elevenlabs", 100),                       // another org's alice
		rec("acme", "k1", "alice", 24*time.Hour+30*time.Minute, "elevenlabs", 7), // the next day
	}
	recs[2].Status, recs[2].UpstreamStatus, recs[2].CostMicros = 500, 500, 0 // a failed call costs nothing
	recs[2].Action, recs[4].Action = "speech-to-text", "sound-effects"
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatalf("AppendUsage: %v", err)
	}
	// Rows as "day org service user key requests/errors/cache hits/characters/cost",
	// the service as "service:action" when the report is split by action.
	cases := []struct {
		name string
		f    aiproxy.UsageFilter
		want []string
	}{
		{"not split", aiproxy.UsageFilter{OrgKey: "acme"}, []string{
			`06-05 acme elevenlabs "" "" 5/1/0/38/350`, `06-05 acme heygen "" "" 1/0/1/0/0`, `06-06 acme elevenlabs "" "" 1/0/0/7/70`}},
		{"by user", aiproxy.UsageFilter{OrgKey: "acme", GroupBy: aiproxy.GroupByUser}, []string{
			`06-05 acme elevenlabs "" "" 1/0/0/1/10`, `06-05 acme elevenlabs "alice" "" 2/0/0/30/300`,
			`06-05 acme elevenlabs "bob" "" 1/1/0/3/0`, `06-05 acme elevenlabs "carol" "" 1/0/0/4/40`,
			`06-05 acme heygen "alice" "" 1/0/1/0/0`, `06-06 acme elevenlabs "alice" "" 1/0/0/7/70`}},
		{"by key", aiproxy.UsageFilter{OrgKey: "acme", GroupBy: aiproxy.GroupByKey}, []string{
			`06-05 acme elevenlabs "" "" 1/0/0/4/40`, `06-05 acme elevenlabs "" "k1" 3/1/0/14/110`,
			`06-05 acme elevenlabs "" "k2" 1/0/0/20/200`, `06-05 acme heygen "" "k2" 1/0/1/0/0`,
			`06-06 acme elevenlabs "" "k1" 1/0/0/7/70`}},
		{"by user and key", aiproxy.UsageFilter{OrgKey: "acme", GroupBy: aiproxy.GroupByUser | aiproxy.GroupByKey}, []string{
			`06-05 acme elevenlabs "" "k1" 1/0/0/1/10`, `06-05 acme elevenlabs "alice" "k1" 1/0/0/10/100`,
			`06-05 acme elevenlabs "alice" "k2" 1/0/0/20/200`, `06-05 acme elevenlabs "bob" "k1" 1/1/0/3/0`,
			`06-05 acme elevenlabs "carol" "" 1/0/0/4/40`, `06-05 acme heygen "alice" "k2" 1/0/1/0/0`,
			`06-06 acme elevenlabs "alice" "k1" 1/0/0/7/70`}},
		{"one user of every org, by key", aiproxy.UsageFilter{UserID: "alice", GroupBy: aiproxy.GroupByKey}, []string{
			`06-05 acme elevenlabs "" "k1" 1/0/0/10/100`, `06-05 acme elevenlabs "" "k2" 1/0/0/20/200`,
			`06-05 acme heygen "" "k2" 1/0/1/0/0`, `06-05 beta elevenlabs "" "k3" 1/0/0/100/1000`,
			`06-06 acme elevenlabs "" "k1" 1/0/0/7/70`}},
		{"one service, by user", aiproxy.UsageFilter{Service: "heygen", GroupBy: aiproxy.GroupByUser}, []string{
			`06-05 acme heygen "alice" "" 1/0/1/0/0`}},
		{"by action", aiproxy.UsageFilter{OrgKey: "acme", GroupBy: aiproxy.GroupByAction}, []string{
			`06-05 acme elevenlabs:sound-effects "" "" 1/0/0/4/40`, `06-05 acme elevenlabs:speech-to-text "" "" 1/1/0/3/0`,
			`06-05 acme elevenlabs:tts "" "" 3/0/0/31/310`, `06-05 acme heygen:list-avatars "" "" 1/0/1/0/0`,
			`06-06 acme elevenlabs:tts "" "" 1/0/0/7/70`}},
		{"by action and user", aiproxy.UsageFilter{OrgKey: "acme", GroupBy: aiproxy.GroupByAction | aiproxy.GroupByUser}, []string{
			`06-05 acme elevenlabs:sound-effects "carol" "" 1/0/0/4/40`, `06-05 acme elevenlabs:speech-to-text "bob" "" 1/1/0/3/0`,
			`06-05 acme elevenlabs:tts "" "" 1/0/0/1/10`, `06-05 acme elevenlabs:tts "alice" "" 2/0/0/30/300`,
			`06-05 acme heygen:list-avatars "alice" "" 1/0/1/0/0`, `06-06 acme elevenlabs:tts "alice" "" 1/0/0/7/70`}},
		{"one user of every org, by action and key", aiproxy.UsageFilter{UserID: "alice", GroupBy: aiproxy.GroupByAction | aiproxy.GroupByKey}, []string{
			`06-05 acme elevenlabs:tts "" "k1" 1/0/0/10/100`, `06-05 acme elevenlabs:tts "" "k2" 1/0/0/20/200`,
			`06-05 acme heygen:list-avatars "" "k2" 1/0/1/0/0`, `06-05 beta elevenlabs:tts "" "k3" 1/0/0/100/1000`,
			`06-06 acme elevenlabs:tts "" "k1" 1/0/0/7/70`}},
	}
	// Each range holds every record: whole days, whole hours, and ends
	// inside an hour.
	ranges := map[string][2]time.Time{
		"open":          {},
		"whole days":    {day, day.AddDate(0, 0, 2)},
		"whole hours":   {day.Add(ten), day.Add(25 * time.Hour)},
		"part of hours": {day.Add(ten - 30*time.Second), day.Add(24*time.Hour + 45*time.Minute)},
	}
	check := func(stage string) {
		t.Helper()
		for rname, r := range ranges {
			for _, c := range cases {
				f := c.f
				f.From, f.To = r[0], r[1]
				rows, err := s.UsageReport(ctx, f)
				if err != nil {
					t.Fatalf("%s: UsageReport(%s, %s): %v", stage, c.name, rname, err)
				}
				got := make([]string, 0, len(rows))
				for _, row := range rows {
					service := row.Service
					if c.f.GroupBy.Has(aiproxy.GroupByAction) {
						service += ":" + row.Action
					} else if row.Action != "" {
						t.Fatalf("%s: UsageReport(%s, %s) row %+v has an action, but the report is not split by it", stage, c.name, rname, row)
					}
					got = append(got, fmt.Sprintf("%s %s %s %q %q %d/%d/%d/%d/%d", row.Day[5:], row.OrgKey, service,
						row.UserID, row.KeyID, row.Requests, row.Errors, row.CacheHits, row.Units[aiproxy.MetricCharacters],
						row.CostMicros))
				}
				checkStrings(t, fmt.Sprintf("%s: report %s over %s", stage, c.name, rname), got, c.want)
			}
		}
	}
	check("raw records")
	if n, err := s.RollUpUsage(ctx, 3); err != nil || n == 0 {
		t.Fatalf("RollUpUsage(3) = %d, %v", n, err)
	}
	check("partly rolled up")
	drainRollups(ctx, t, s)
	check("rolled up")
}

// testUsageGroupedSums compares reports split by action, user, key or
// several of them with
// sums of random raw records, before and after they are rolled up, and
// checks that a split report adds up to the report that is not split.
func testUsageGroupedSums(t *testing.T, s RollupStores) {
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(7, 11))
	users := []string{"", "alice", "bob", "carol"}
	recs := make([]aiproxy.UsageRecord, 600)
	for i := range recs {
		recs[i] = randomRecord(rnd)
		recs[i].UserID = users[rnd.IntN(len(users))]
		if rnd.IntN(8) == 0 {
			recs[i].KeyID = "" // a sign-in
		}
		if !recs[i].Failed() && recs[i].Units > 0 {
			recs[i].CostMicros = recs[i].Units * int64(1+rnd.IntN(100_000))
		}
		if recs[i].Cache == "HIT" {
			recs[i].SavedMicros = int64(1 + rnd.IntN(100_000))
		}
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatalf("AppendUsage: %v", err)
	}
	day := func(n int) time.Time { return rollupDay.AddDate(0, 0, n) }
	filters := []aiproxy.UsageFilter{
		{},
		{OrgKey: "acme"},
		{OrgKey: "beta", Service: "elevenlabs", From: day(1), To: day(3)},
		{UserID: "alice"},
		{OrgKey: "corp", UserID: "bob", From: day(1).Add(5 * time.Hour), To: day(2).Add(7 * time.Hour)},
		{From: day(0).Add(90*time.Minute + 7*time.Second), To: day(2).Add(23*time.Hour + 59*time.Minute)},
	}
	groupings := []aiproxy.UsageGroups{0, aiproxy.GroupByUser, aiproxy.GroupByKey, aiproxy.GroupByUser | aiproxy.GroupByKey,
		aiproxy.GroupByAction, aiproxy.GroupByAction | aiproxy.GroupByUser, aiproxy.GroupByAction | aiproxy.GroupByKey,
		aiproxy.GroupByAction | aiproxy.GroupByUser | aiproxy.GroupByKey}
	check := func(stage string) {
		t.Helper()
		for _, f := range filters {
			var plain []aiproxy.UsageRow
			for _, g := range groupings {
				f.GroupBy = g
				got, err := s.UsageReport(ctx, f)
				if err != nil {
					t.Fatalf("%s: UsageReport(%+v): %v", stage, f, err)
				}
				if want := groupedReport(recs, f); !sameRows(got, want) {
					t.Fatalf("%s: UsageReport(%+v) =\n%+v\nwant the raw records' sums\n%+v", stage, f, got, want)
				}
				if g == 0 {
					plain = got
					continue
				}
				if folded := unsplit(got); !sameRows(folded, plain) {
					t.Fatalf("%s: UsageReport(%+v) does not add up to the report not split:\n%+v\nwant\n%+v", stage, f, folded, plain)
				}
			}
		}
	}
	check("raw records")
	if _, err := s.RollUpUsage(ctx, 250); err != nil {
		t.Fatalf("RollUpUsage: %v", err)
	}
	check("partly rolled up")
	drainRollups(ctx, t, s)
	check("rolled up")
}

// groupedReport is the report of recs that f selects, split as f says,
// summed here without the stores' code.
func groupedReport(recs []aiproxy.UsageRecord, f aiproxy.UsageFilter) []aiproxy.UsageRow {
	type dims struct{ day, org, service, action, user, key string }
	sums := map[dims]*aiproxy.UsageRow{}
	for _, r := range recs {
		if (!f.From.IsZero() && r.At.Before(f.From)) || (!f.To.IsZero() && !r.At.Before(f.To)) ||
			(f.OrgKey != "" && r.OrgKey != f.OrgKey) || (f.Service != "" && r.Service != f.Service) ||
			(f.UserID != "" && r.UserID != f.UserID) {
			continue
		}
		d := dims{day: r.At.UTC().Format(time.DateOnly), org: r.OrgKey, service: r.Service}
		if f.GroupBy.Has(aiproxy.GroupByAction) {
			d.action = r.Action
		}
		if f.GroupBy.Has(aiproxy.GroupByUser) {
			d.user = r.UserID
		}
		if f.GroupBy.Has(aiproxy.GroupByKey) {
			d.key = r.KeyID
		}
		row := sums[d]
		if row == nil {
			row = &aiproxy.UsageRow{Day: d.day, OrgKey: d.org, Service: d.service, Action: d.action, UserID: d.user,
				KeyID: d.key, Units: map[aiproxy.Metric]int64{}}
			sums[d] = row
		}
		b := aiproxy.BucketOf(r, aiproxy.Daily)
		row.Requests++
		row.Errors += b.Errors
		row.CacheHits += b.CacheHits
		row.BytesOut += r.BytesOut
		row.LatencyMS += r.LatencyMS
		row.Units[r.Unit] += r.Units
		row.CostMicros += r.CostMicros
		row.SavedMicros += r.SavedMicros
	}
	out := make([]aiproxy.UsageRow, 0, len(sums))
	for _, row := range sums {
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b aiproxy.UsageRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.OrgKey, b.OrgKey), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Action, b.Action), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.KeyID, b.KeyID))
	})
	return out
}

// unsplit adds up a split report's rows per day, org and service, in its
// order.
func unsplit(rows []aiproxy.UsageRow) []aiproxy.UsageRow {
	var out []aiproxy.UsageRow
	for _, r := range rows {
		n := len(out)
		if n > 0 && out[n-1].Day == r.Day && out[n-1].OrgKey == r.OrgKey && out[n-1].Service == r.Service {
			o := &out[n-1]
			o.Requests, o.Errors, o.CacheHits = o.Requests+r.Requests, o.Errors+r.Errors, o.CacheHits+r.CacheHits
			o.BytesOut, o.LatencyMS, o.CostMicros = o.BytesOut+r.BytesOut, o.LatencyMS+r.LatencyMS, o.CostMicros+r.CostMicros
			o.SavedMicros += r.SavedMicros
			for u, v := range r.Units {
				o.Units[u] += v
			}
			continue
		}
		units := map[aiproxy.Metric]int64{}
		for u, v := range r.Units {
			units[u] = v
		}
		out = append(out, aiproxy.UsageRow{Day: r.Day, OrgKey: r.OrgKey, Service: r.Service, Requests: r.Requests,
			Errors: r.Errors, CacheHits: r.CacheHits, BytesOut: r.BytesOut, LatencyMS: r.LatencyMS, Units: units,
			CostMicros: r.CostMicros, SavedMicros: r.SavedMicros})
	}
	return out
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

func testRequestLog(t *testing.T, open func(t *testing.T) Stores) {
	s, ctx := guardrails(t, open), t.Context()
	t1 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	recs := []aiproxy.UsageRecord{
		{At: t1, OrgKey: "acme", KeyID: "k1", UserID: "ann", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200,
			LatencyMS: 10, Unit: aiproxy.MetricCharacters, Units: 12, CostMicros: 1200, Cache: "MISS", Source: aiproxy.SourcePlatform, RequestID: "req-1"},
		{At: t1, OrgKey: "acme", KeyID: "k2", Service: "heygen", Action: "generate-video", ErrorCode: aiproxy.CodeRateLimited,
			RequestID: "req-2", ErrorDetail: "Rate limit exceeded: retry in 3s."},
		{At: t1.Add(time.Minute), OrgKey: "acme", KeyID: "k1", Service: "heygen", Action: "video-status", Status: 400, UpstreamStatus: 400, RequestID: "req-3"},
		{At: t1.Add(2 * time.Minute), OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, Cache: "HIT",
			SavedMicros: 1200, RequestID: "req-4"},
		{At: t1.Add(2 * time.Minute), OrgKey: "beta", KeyID: "k9", Service: "heygen", Action: "list-avatars", Status: 200, RequestID: "req-5"},
	}
	if err := s.AppendUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	ids := func(f aiproxy.RequestFilter) string {
		t.Helper()
		f.OrgKey = "acme"
		list, err := s.Requests(ctx, f)
		if err != nil {
			t.Fatalf("Requests(%+v): %v", f, err)
		}
		var out []string
		for _, r := range list {
			out = append(out, r.RequestID)
		}
		return fmt.Sprint(out)
	}
	all, err := s.Requests(ctx, aiproxy.RequestFilter{OrgKey: "acme"})
	if err != nil || len(all) != 4 {
		t.Fatalf("Requests(acme) = %+v, %v; want acme's four", all, err)
	}
	byID := map[string]aiproxy.UsageRecord{}
	for _, r := range all {
		byID[r.RequestID] = r.UsageRecord
	}
	for _, want := range []aiproxy.UsageRecord{recs[0], recs[1], recs[3]} {
		if got := byID[want.RequestID]; got != want {
			t.Fatalf("record read back = %+v, want %+v", got, want)
		}
	}
	cases := []struct {
		name string
		f    aiproxy.RequestFilter
		want string
	}{
		{"newest first", aiproxy.RequestFilter{}, ""},
		{"service", aiproxy.RequestFilter{Service: "heygen"}, "[req-3 req-2]"},
		{"action", aiproxy.RequestFilter{Action: "tts"}, "[req-4 req-1]"},
		{"key", aiproxy.RequestFilter{KeyID: "k2"}, "[req-2]"},
		{"user", aiproxy.RequestFilter{UserID: "ann"}, "[req-1]"},
		{"status", aiproxy.RequestFilter{Status: 400}, "[req-3]"},
		{"status of refused calls by their codes", aiproxy.RequestFilter{Status: 429,
			StatusCodes: []aiproxy.Code{aiproxy.CodeRateLimited, aiproxy.CodeQuotaExceeded}}, "[req-2]"},
		{"status without codes", aiproxy.RequestFilter{Status: 429}, "[]"},
		{"errors", aiproxy.RequestFilter{ErrorsOnly: true}, "[req-3 req-2]"},
		{"from inclusive, to exclusive", aiproxy.RequestFilter{From: t1.Add(time.Minute), To: t1.Add(2 * time.Minute)}, "[req-3]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ids(c.f)
			if c.want == "" {
				if got != "[req-4 req-3 req-2 req-1]" && got != "[req-4 req-3 req-1 req-2]" {
					t.Fatalf("requests = %s, want newest first", got)
				}
				return
			}
			if got != c.want {
				t.Fatalf("requests = %s, want %s", got, c.want)
			}
		})
	}
	t.Run("pages through ties", func(t *testing.T) {
		var seen []string
		f := aiproxy.RequestFilter{OrgKey: "acme", Limit: 1}
		for range 10 {
			page, err := s.Requests(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			last := page[len(page)-1]
			seen = append(seen, last.RequestID)
			f.Before = &aiproxy.RequestCursor{At: last.At, ID: last.ID}
		}
		if len(seen) != 4 || fmt.Sprint(seen) != ids(aiproxy.RequestFilter{}) {
			t.Fatalf("pages of one = %v, want each of acme's four once, in the list's order", seen)
		}
	})
}
