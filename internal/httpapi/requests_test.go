package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// requestsFixture is the admin API over a database holding four of acme's
// calls (one refused by aiproxy, one a provider's 400 passed through) and
// one of another org.
func requestsFixture(t *testing.T) *adminRoutesEnv {
	t.Helper()
	e := newAdminRoutesEnv(t)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := []aiproxy.UsageRecord{
		{At: t0, OrgKey: "acme", KeyID: "k1", UserID: "alice", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200,
			LatencyMS: 40, Unit: aiproxy.MetricCharacters, Units: 12, CostMicros: 1200, Cache: "MISS", Source: aiproxy.SourcePlatform, RequestID: "r1"},
		{At: t0.Add(time.Minute), OrgKey: "acme", KeyID: "k2", Service: "heygen", Action: "generate-video", ErrorCode: aiproxy.CodeQuotaExceeded,
			RequestID: "r2", ErrorDetail: "Quota exceeded: 1 render a day."},
		{At: t0.Add(2 * time.Minute), OrgKey: "acme", KeyID: "k1", Service: "heygen", Action: "video-status", Status: 400, UpstreamStatus: 400, RequestID: "r3"},
		{At: t0.Add(24 * time.Hour), OrgKey: "acme", KeyID: "k1", Service: "elevenlabs", Action: "tts", Status: 200, UpstreamStatus: 200, RequestID: "r4"},
		{At: t0, OrgKey: "other", KeyID: "k9", Service: "heygen", Action: "list-avatars", Status: 200, RequestID: "r5"},
	}
	if err := e.db.AppendUsage(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return e
}

func requestIDsOf(t *testing.T, body []byte) (ids string, next string) {
	t.Helper()
	var out RequestListJSON
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("request log %s: %v", body, err)
	}
	var list []string
	for _, r := range out.Requests {
		list = append(list, r.RequestID)
	}
	return fmt.Sprint(list), out.NextCursor
}

func TestRequestLogFilters(t *testing.T) {
	e := requestsFixture(t)
	admin := "Api-Key " + e.acmeAdmin
	for _, c := range []struct{ name, query, want string }{
		{"newest first", "", "[r4 r3 r2 r1]"},
		{"service", "service=heygen", "[r3 r2]"},
		{"action", "action=tts", "[r4 r1]"},
		{"key", "key=k2", "[r2]"},
		{"user", "user=alice", "[r1]"},
		{"status of a refused call", "status=429", "[r2]"},
		{"status of a provider answer", "status=400", "[r3]"},
		{"errors", "status=errors", "[r3 r2]"},
		{"a day", "from=2026-05-01&to=2026-05-01", "[r3 r2 r1]"},
		{"instants", "from=2026-05-01T10:01:00Z&to=2026-05-01T10:02:00Z", "[r2]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := e.do("GET", base+"/orgs/acme/requests/?"+c.query, admin, "")
			if status != 200 {
				t.Fatalf("GET ?%s = %d %s", c.query, status, body)
			}
			if got, _ := requestIDsOf(t, body); got != c.want {
				t.Fatalf("GET ?%s = %s, want %s", c.query, got, c.want)
			}
		})
	}
}

func TestRequestLogShape(t *testing.T) {
	e := requestsFixture(t)
	status, _, body := e.do("GET", base+"/orgs/acme/requests/?key=k2", "Api-Key "+e.acmeAdmin, "")
	if status != 200 {
		t.Fatalf("GET = %d %s", status, body)
	}
	var out struct {
		Requests []map[string]any `json:"requests"`
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Requests) != 1 {
		t.Fatalf("body %s: %v", body, err)
	}
	got, _ := json.Marshal(out.Requests[0])
	const want = `{"action":"generate-video","at":"2026-05-01T10:01:00Z","cache":null,"cost_usd":0,` +
		`"error_code":"quota_exceeded","error_detail":"Quota exceeded: 1 render a day.","key_id":"k2","latency_ms":0,` +
		`"request_id":"r2","service":"heygen","source":null,"status":429,"unit":null,"units":0,"upstream_status":null,"user":null}`
	if string(got) != want {
		t.Fatalf("refused call =\n%s\nwant\n%s", got, want)
	}
	_, _, body = e.do("GET", base+"/orgs/acme/requests/?user=alice", "Api-Key "+e.acmeAdmin, "")
	var ok RequestListJSON
	if err := json.Unmarshal(body, &ok); err != nil || len(ok.Requests) != 1 {
		t.Fatalf("body %s: %v", body, err)
	}
	if r := ok.Requests[0]; r.ErrorCode != nil || r.ErrorDetail != nil || *r.UpstreamStatus != 200 || *r.Unit != "characters" ||
		r.Units != 12 || r.CostUSD != 0.0012 || *r.Cache != "MISS" || *r.Source != "platform" || r.LatencyMS != 40 {
		t.Fatalf("answered call = %+v", r)
	}
}

func TestRequestLogPages(t *testing.T) {
	e := requestsFixture(t)
	admin := "Api-Key " + e.acmeAdmin
	var seen []string
	path := base + "/orgs/acme/requests/?limit=3"
	for range 5 {
		status, _, body := e.do("GET", path, admin, "")
		if status != 200 {
			t.Fatalf("GET %s = %d %s", path, status, body)
		}
		ids, next := requestIDsOf(t, body)
		seen = append(seen, ids)
		if next == "" {
			break
		}
		path = base + "/orgs/acme/requests/?limit=3&cursor=" + next
	}
	if got := fmt.Sprint(seen); got != "[[r4 r3 r2] [r1]]" {
		t.Fatalf("pages = %s, want [r4 r3 r2] then [r1]", got)
	}
}

func TestRequestLogIsForOrgAdmins(t *testing.T) {
	e := requestsFixture(t)
	for _, c := range []struct {
		name, auth, org string
		want            int
	}{
		{"org admin", e.acmeAdmin, "acme", 200},
		{"platform admin", e.platform, "acme", 200},
		{"invoke key", e.acmeInvoke, "acme", 403},
		{"another org's key", e.otherInvoke, "acme", 403},
		{"admin of another org", e.acmeAdmin, "other", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, _, body := e.do("GET", base+"/orgs/"+c.org+"/requests/", "Api-Key "+c.auth, ""); status != c.want {
				t.Fatalf("GET = %d %s, want %d", status, body, c.want)
			}
		})
	}
	if status, _, _ := e.do("GET", base+"/orgs/acme/requests/", "", ""); status != 401 {
		t.Fatalf("no key = %d, want 401", status)
	}
}

func TestRequestLogRefusesBadQueries(t *testing.T) {
	e := requestsFixture(t)
	for _, q := range []string{"status=abc", "status=42", "from=yesterday", "to=2026-13-01", "from=2026-05-02&to=2026-05-01",
		"limit=0", "cursor=!!", "cursor=" + encodeRaw("1:x")} {
		if status, _, body := e.do("GET", base+"/orgs/acme/requests/?"+q, "Api-Key "+e.acmeAdmin, ""); status != 400 {
			t.Errorf("GET ?%s = %d %s, want 400", q, status, body)
		}
	}
}

func TestRequestCursorRoundTrip(t *testing.T) {
	c := aiproxy.RequestCursor{At: time.UnixMilli(1777626000123).UTC(), ID: 42}
	if got, ok := decodeRequestCursor(encodeRequestCursor(c)); !ok || !got.At.Equal(c.At) || got.ID != c.ID {
		t.Fatalf("round trip = %+v, %v", got, ok)
	}
}

// FuzzRequestCursor checks that any cursor text decodes or is refused
// without panicking, and that a decoded one encodes back to the same
// position.
func FuzzRequestCursor(f *testing.F) {
	f.Add(encodeRequestCursor(aiproxy.RequestCursor{At: time.UnixMilli(1), ID: 7}))
	f.Add("")
	f.Add(encodeRaw("1:x"))
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := decodeRequestCursor(s)
		if !ok {
			return
		}
		again, ok := decodeRequestCursor(encodeRequestCursor(c))
		if !ok || !again.At.Equal(c.At) || again.ID != c.ID {
			t.Fatalf("%q → %+v → %+v", s, c, again)
		}
	})
}
