package httpapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// usageFixture is the admin API over a database holding a day of acme's
// calls by two users, the org itself and a sign-in, with two keys, and one
// call of another org; each character cost 100 micro-USD. One of alice's
// calls was answered from the speech cache: it cost nothing and saved
// what its first call cost.
func usageFixture(t *testing.T) *adminRoutesEnv {
	t.Helper()
	e := newAdminRoutesEnv(t)
	day := time.Date(2025, 6, 5, 10, 0, 0, 0, time.UTC)
	rec := func(org, key, user string, units int64) aiproxy.UsageRecord {
		return aiproxy.UsageRecord{At: day, OrgKey: org, KeyID: key, UserID: user, Service: "elevenlabs", Action: "tts",
			Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricCharacters, Units: units, CostMicros: 100 * units}
	}
	recs := []aiproxy.UsageRecord{rec("acme", "k1", "alice", 10), rec("acme", "k2", "alice", 20),
		rec("acme", "k1", "bob", 3), rec("acme", "k1", "", 1), rec("acme", "", "carol", 4), rec("other", "k3", "alice", 100),
		{At: day, OrgKey: "acme", KeyID: "k1", UserID: "alice", Service: "elevenlabs", Action: "tts", Status: 200,
			Cache: "HIT", SavedMicros: 1000}}
	if err := e.db.AppendUsage(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return e
}

// usageRowsOf reads a JSON report as generic rows, so that a test sees
// which fields are there and which are null.
func usageRowsOf(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatalf("report %s: %v", body, err)
	}
	return rows
}

// splitOf describes a row by its user and key fields ("-" when absent,
// "null" when null), its characters, its cost in dollars and what the
// speech cache saved, when it did.
func splitOf(row map[string]any) string {
	field := func(name string) string {
		v, ok := row[name]
		switch {
		case !ok:
			return "-"
		case v == nil:
			return "null"
		}
		s, _ := v.(string)
		return s
	}
	units, _ := row["units"].(map[string]any)
	chars, _ := units["characters"].(float64)
	cost, ok := row["cost_usd"].(float64)
	if !ok {
		return fmt.Sprintf("%s/%s=%d, cost_usd %v", field("user"), field("key_id"), int64(chars), row["cost_usd"])
	}
	out := fmt.Sprintf("%s/%s=%d$%s", field("user"), field("key_id"), int64(chars), strconv.FormatFloat(cost, 'f', -1, 64))
	saved, ok := row["saved_usd"].(float64)
	switch {
	case !ok:
		return out + ", saved_usd " + fmt.Sprint(row["saved_usd"])
	case saved != 0:
		out += " saved $" + strconv.FormatFloat(saved, 'f', -1, 64)
	}
	return out
}

func TestUsageReportSplitByUserAndKey(t *testing.T) {
	e := usageFixture(t)
	admin := "Api-Key " + e.acmeAdmin
	for _, c := range []struct {
		name, query string
		want        []string // user/key=characters per row, in order
	}{
		{"not split", "", []string{"-/-=38$0.0038 saved $0.001"}},
		{"by user", "group_by=user", []string{"null/-=1$0.0001", "alice/-=30$0.003 saved $0.001", "bob/-=3$0.0003", "carol/-=4$0.0004"}},
		{"by key", "group_by=key", []string{"-/null=4$0.0004", "-/k1=14$0.0014 saved $0.001", "-/k2=20$0.002"}},
		{"by both", "group_by=user,key", []string{"null/k1=1$0.0001", "alice/k1=10$0.001 saved $0.001", "alice/k2=20$0.002",
			"bob/k1=3$0.0003", "carol/null=4$0.0004"}},
		{"by both, named the other way", "group_by=key,user", []string{"null/k1=1$0.0001", "alice/k1=10$0.001 saved $0.001",
			"alice/k2=20$0.002", "bob/k1=3$0.0003", "carol/null=4$0.0004"}},
		{"one user", "user=alice", []string{"-/-=30$0.003 saved $0.001"}},
		{"one user, by key", "user=alice&group_by=key", []string{"-/k1=10$0.001 saved $0.001", "-/k2=20$0.002"}},
		{"a user with no calls", "user=dave&group_by=user", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := e.do("GET", base+"/orgs/acme/usage/?"+c.query, admin, "")
			if status != 200 {
				t.Fatalf("GET ?%s = %d %s", c.query, status, body)
			}
			var got []string
			for _, row := range usageRowsOf(t, body) {
				if row["org"] != "acme" || row["day"] != "2025-06-05" || row["service"] != "elevenlabs" {
					t.Fatalf("row %v is not acme's elevenlabs of 2025-06-05", row)
				}
				got = append(got, splitOf(row))
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("GET ?%s rows = %q, want %q\n%s", c.query, got, c.want, body)
			}
		})
	}
}

func TestUsageReportSplitAsCSV(t *testing.T) {
	e := usageFixture(t)
	status, hdr, body := e.do("GET", base+"/orgs/acme/usage/?format=csv&group_by=user,key", "Api-Key "+e.acmeAdmin, "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV = %d %q %s", status, hdr.Get("Content-Type"), body)
	}
	want := []string{
		"day,org,service,user,key_id,requests,errors,cache_hits,bytes_out,avg_latency_ms,characters,cost_usd,saved_usd",
		"2025-06-05,acme,elevenlabs,,k1,1,0,0,0,0,1,0.0001,0",
		"2025-06-05,acme,elevenlabs,alice,k1,2,0,1,0,0,10,0.001,0.001",
		"2025-06-05,acme,elevenlabs,alice,k2,1,0,0,0,0,20,0.002,0",
		"2025-06-05,acme,elevenlabs,bob,k1,1,0,0,0,0,3,0.0003,0",
		"2025-06-05,acme,elevenlabs,carol,,1,0,0,0,0,4,0.0004,0",
	}
	if got := strings.Split(strings.TrimSpace(string(body)), "\n"); !slices.Equal(got, want) {
		t.Fatalf("CSV =\n%s\nwant\n%s", body, strings.Join(want, "\n"))
	}
	status, _, body = e.do("GET", base+"/orgs/acme/usage/?format=csv&group_by=key", "Api-Key "+e.acmeAdmin, "")
	if head, _, _ := strings.Cut(string(body), "\n"); status != 200 ||
		head != "day,org,service,key_id,requests,errors,cache_hits,bytes_out,avg_latency_ms,characters,cost_usd,saved_usd" {
		t.Fatalf("CSV by key = %d, header %q", status, head)
	}
}

// TestUsageReportSplitByAction: group_by=action gives a row per action
// (alone or with user), an "action" field only then, and an action column
// in the CSV.
func TestUsageReportSplitByAction(t *testing.T) {
	e := usageFixture(t)
	day := time.Date(2025, 6, 5, 11, 0, 0, 0, time.UTC)
	more := []aiproxy.UsageRecord{
		{At: day, OrgKey: "acme", KeyID: "k1", UserID: "alice", Service: "elevenlabs", Action: "list-voices", Status: 200,
			UpstreamStatus: 200, BytesOut: 50},
		{At: day, OrgKey: "acme", KeyID: "k2", UserID: "bob", Service: "elevenlabs", Action: "list-voices", Status: 502,
			UpstreamStatus: 502, ErrorCode: aiproxy.CodeUpstreamFailed},
		{At: day, OrgKey: "other", KeyID: "k3", Service: "elevenlabs", Action: "list-voices", Status: 200},
	}
	if err := e.db.AppendUsage(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	admin := "Api-Key " + e.acmeAdmin
	// Rows as "action user requests/errors characters".
	describe := func(row map[string]any) string {
		field := func(name string) string {
			v, ok := row[name]
			switch {
			case !ok:
				return "-"
			case v == nil:
				return "null"
			}
			return fmt.Sprint(v)
		}
		units, _ := row["units"].(map[string]any)
		return fmt.Sprintf("%s %s %v/%v %v", field("action"), field("user"), row["requests"], row["errors"], units["characters"])
	}
	for _, c := range []struct {
		name, query string
		want        []string
	}{
		{"not split", "", []string{"- - 8/1 38"}},
		{"by user only", "group_by=user", []string{"- null 1/0 1", "- alice 4/0 30", "- bob 2/1 3", "- carol 1/0 4"}},
		{"by action", "group_by=action", []string{"list-voices - 2/1 <nil>", "tts - 6/0 38"}},
		{"by action and user", "group_by=user,action", []string{"list-voices alice 1/0 <nil>", "list-voices bob 1/1 <nil>",
			"tts null 1/0 1", "tts alice 3/0 30", "tts bob 1/0 3", "tts carol 1/0 4"}},
		{"one user, by action", "user=bob&group_by=action", []string{"list-voices - 1/1 <nil>", "tts - 1/0 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := e.do("GET", base+"/orgs/acme/usage/?"+c.query, admin, "")
			if status != 200 {
				t.Fatalf("GET ?%s = %d %s", c.query, status, body)
			}
			var got []string
			for _, row := range usageRowsOf(t, body) {
				got = append(got, describe(row))
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("GET ?%s rows = %q, want %q\n%s", c.query, got, c.want, body)
			}
		})
	}
	status, _, body := e.do("GET", base+"/orgs/acme/usage/?format=csv&group_by=action,key", admin, "")
	want := []string{
		"day,org,service,action,key_id,requests,errors,cache_hits,bytes_out,avg_latency_ms,characters,cost_usd,saved_usd",
		"2025-06-05,acme,elevenlabs,list-voices,k1,1,0,0,50,0,0,0,0",
		"2025-06-05,acme,elevenlabs,list-voices,k2,1,1,0,0,0,0,0,0",
		"2025-06-05,acme,elevenlabs,tts,,1,0,0,0,0,4,0.0004,0",
		"2025-06-05,acme,elevenlabs,tts,k1,4,0,1,0,0,14,0.0014,0.001",
		"2025-06-05,acme,elevenlabs,tts,k2,1,0,0,0,0,20,0.002,0",
	}
	if got := strings.Split(strings.TrimSpace(string(body)), "\n"); status != 200 || !slices.Equal(got, want) {
		t.Fatalf("CSV by action and key = %d\n%s\nwant\n%s", status, body, strings.Join(want, "\n"))
	}
}

func TestPlatformUsageReportSplitByUser(t *testing.T) {
	e := usageFixture(t)
	status, _, body := e.do("GET", base+"/admin/usage/?user=alice&group_by=user", "Api-Key "+e.platform, "")
	if status != 200 {
		t.Fatalf("platform report = %d %s", status, body)
	}
	var got []string
	for _, row := range usageRowsOf(t, body) {
		got = append(got, row["org"].(string)+":"+splitOf(row))
	}
	if want := []string{"acme:alice/-=30$0.003 saved $0.001", "other:alice/-=100$0.01"}; !slices.Equal(got, want) {
		t.Fatalf("alice's calls in every org = %q, want %q", got, want)
	}
}

func TestUsageReportRefusesBadSplitsAndUsers(t *testing.T) {
	e := usageFixture(t)
	for _, c := range []struct{ name, query, detail string }{
		{"unknown dimension", "group_by=team", `Invalid group_by "team": use action, user or key, or several comma-separated (action,user).`},
		{"empty item", "group_by=user,", `Invalid group_by "user,": use action, user or key, or several comma-separated (action,user).`},
		{"service is not a dimension", "group_by=service", `Invalid group_by "service": use action, user or key, or several comma-separated (action,user).`},
		{"user with a space", "user=" + url.QueryEscape("a b"), "Invalid user: use 1 to 128 characters, without spaces or control characters."},
		{"user too long", "user=" + strings.Repeat("u", 129), "Invalid user: use 1 to 128 characters, without spaces or control characters."},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/orgs/acme/usage/?", "/admin/usage/?org=acme&"} {
				auth := map[bool]string{true: e.acmeAdmin, false: e.platform}[strings.HasPrefix(path, "/orgs")]
				status, _, body := e.do("GET", base+path+c.query, "Api-Key "+auth, "")
				if status != 400 {
					t.Fatalf("GET %s%s = %d %s, want 400", path, c.query, status, body)
				}
				expectBody(t, body, map[string]string{"detail": c.detail, "code": "invalid"})
			}
		})
	}
}

// TestUsageRowJSONRoundTrip: a row reads back as written, a split with no
// value included, so that clients decoding into UsageRowJSON see what the
// server meant.
func TestUsageRowJSONRoundTrip(t *testing.T) {
	row := aiproxy.UsageRow{Day: "2025-06-05", OrgKey: "acme", Service: "heygen", Action: "list-avatars", KeyID: "k1",
		Requests: 2, LatencyMS: 30, Units: map[aiproxy.Metric]int64{}, CostMicros: 1_234_567}
	for _, by := range []aiproxy.UsageGroups{0, aiproxy.GroupByUser, aiproxy.GroupByKey, aiproxy.GroupByUser | aiproxy.GroupByKey,
		aiproxy.GroupByAction, aiproxy.GroupByAction | aiproxy.GroupByKey} {
		in := ToUsageRowJSON(row, by)
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out UsageRowJSON
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("split by %q: %s: %v", by, data, err)
		}
		if out.Action != in.Action || out.User != in.User || out.KeyID != in.KeyID || out.AvgLatencyMS != 15 || out.CostUSD != 1.234567 {
			t.Fatalf("split by %q: %s reads back as %+v, want %+v", by, data, out, in)
		}
	}
}

// TestUsageCostInDollars: a row's cost is a JSON number and a CSV cell of
// US dollars, exact to the micro-dollar (6 decimals at most), from a
// micro-dollar to a large bill.
func TestUsageCostInDollars(t *testing.T) {
	for _, c := range []struct {
		micros int64
		want   string
	}{
		{0, "0"}, {1, "0.000001"}, {500, "0.0005"}, {1200, "0.0012"}, {999_999, "0.999999"}, {1_000_000, "1"},
		{123_456_789, "123.456789"}, {9_900_000_000, "9900"},
		{aiproxy.MaxBudgetMicros - 1, "999999999.999999"}, // a call's largest cost, a micro-dollar short
	} {
		row := ToUsageRowJSON(aiproxy.UsageRow{Day: "2025-06-05", OrgKey: "acme", Service: "elevenlabs", Requests: 1,
			CostMicros: c.micros, SavedMicros: c.micros}, 0)
		data, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		var csvOut strings.Builder
		if err := WriteUsageCSV(&csvOut, 0, []UsageRowJSON{row}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"cost_usd":`+c.want+`,"saved_usd":`+c.want+`}`) {
			t.Errorf("%d micro-USD as JSON: %s, want cost_usd and saved_usd %s", c.micros, data, c.want)
		}
		if !strings.HasSuffix(strings.TrimSpace(csvOut.String()), ","+c.want+","+c.want) {
			t.Errorf("%d micro-USD as CSV:\n%s\nwant the last two cells %s", c.micros, csvOut.String(), c.want)
		}
	}
}
