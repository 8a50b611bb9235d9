package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// splitTotals adds up a report's rows per user and key, across days (a
// test running over midnight has two), as "user/key" → "requests/characters"
// with "-" for an absent field and "null" for a null one.
func splitTotals(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatalf("report %s: %v", body, err)
	}
	field := func(row map[string]json.RawMessage, name string) string {
		raw, ok := row[name]
		if !ok {
			return "-"
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s %s is neither a string nor null", name, raw)
		}
		if s == nil {
			return "null"
		}
		return *s
	}
	type sums struct{ requests, chars int64 }
	by := map[string]sums{}
	for _, row := range rows {
		var counts struct {
			Requests int64            `json:"requests"`
			Units    map[string]int64 `json:"units"`
		}
		whole, _ := json.Marshal(row)
		if err := json.Unmarshal(whole, &counts); err != nil {
			t.Fatalf("row %s: %v", whole, err)
		}
		k := field(row, "user") + "/" + field(row, "key_id")
		s := by[k]
		s.requests += counts.Requests
		s.chars += counts.Units["characters"]
		by[k] = s
	}
	out := map[string]string{}
	for k, s := range by {
		out[k] = fmt.Sprintf("%d/%d", s.requests, s.chars)
	}
	return out
}

// TestUsageReportSplitByUserAndKey makes calls through the real program as
// two users (user tokens minted by two keys of the org), as a user named by
// the org's backend, and as the org itself, then reads the org's usage
// report, the platform's and the CLI's, split by user, by key and by both.
func TestUsageReportSplitByUserAndKey(t *testing.T) {
	d := startDemo(t)
	second := d.cli("", "key", "create", "--org", d.org, "--role", "invoke")
	platform := d.cli("", "key", "create", "--platform")
	k1, _, ok1 := aiproxy.ParseKey(d.key)
	k2, _, ok2 := aiproxy.ParseKey(second)
	if !ok1 || !ok2 {
		t.Fatalf("keys %q and %q do not parse", d.key, second)
	}
	alice, bob := d.token(d.org, d.key, "alice"), d.token(d.org, second, "bob")

	tts := func(text string) map[string]any {
		return map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": text}}
	}
	path := invokePath(d.org, "elevenlabs", "tts")
	calls := []struct {
		who, auth, text string
		extra           []string
	}{
		{"alice", "Token " + alice, "Hello", nil},                                     // 5 characters, key 1
		{"alice", "Token " + alice, "Hello", nil},                                     // 5, key 1
		{"bob", "Token " + bob, "Hi there", nil},                                      // 8, key 2
		{"the org", "Api-Key " + d.key, "Hey", nil},                                   // 3, key 1, no user
		{"carol", "Api-Key " + second, "Howdy!", []string{"X-AIProxy-User", "carol"}}, // 6, key 2
	}
	for _, c := range calls {
		if status, _, body := d.as("POST", path, c.auth, tts(c.text), c.extra...); status != 200 {
			t.Fatalf("tts as %s = %d %.200s", c.who, status, body)
		}
	}

	report := "/api/ai-proxy/orgs/" + d.org + "/usage/?service=elevenlabs"
	// Usage is written in batches, off the request path: wait until the
	// report holds every call.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, _, body := d.do("GET", report, d.key, nil, nil)
		if splitTotals(t, body)["-/-"] == fmt.Sprintf("%d/27", len(calls)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the report never held the %d calls: %s", len(calls), body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, c := range []struct {
		name, query string
		want        map[string]string
	}{
		{"by user", "&group_by=user", map[string]string{"alice/-": "2/10", "bob/-": "1/8", "carol/-": "1/6", "null/-": "1/3"}},
		{"by key", "&group_by=key", map[string]string{"-/" + k1: "3/13", "-/" + k2: "2/14"}},
		{"by both", "&group_by=user,key", map[string]string{
			"alice/" + k1: "2/10", "bob/" + k2: "1/8", "carol/" + k2: "1/6", "null/" + k1: "1/3"}},
		{"one user", "&user=alice", map[string]string{"-/-": "2/10"}},
		{"one user, by key", "&user=bob&group_by=key", map[string]string{"-/" + k2: "1/8"}},
	} {
		status, _, body := d.do("GET", report+c.query, d.key, nil, nil)
		if got := splitTotals(t, body); status != 200 || !maps.Equal(got, c.want) {
			t.Errorf("org report %s = %d %v, want %v", c.name, status, got, c.want)
		}
	}

	status, _, body := d.do("GET", "/api/ai-proxy/admin/usage/?service=elevenlabs&org="+d.org+"&group_by=user", platform, nil, nil)
	if got := splitTotals(t, body); status != 200 || got["alice/-"] != "2/10" || got["null/-"] != "1/3" || len(got) != 4 {
		t.Errorf("platform report by user = %d %v", status, got)
	}

	status, h, body := d.do("GET", report+"&group_by=user,key&format=csv", d.key, nil, nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(lines[0], "day,org,service,user,key_id,requests,") || len(lines) < 5 ||
		!slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, ",elevenlabs,bob,"+k2+",1,") }) {
		t.Errorf("CSV by user and key = %d %q:\n%s", status, h.Get("Content-Type"), body)
	}

	status, _, body = d.do("GET", report+"&group_by=team", d.key, nil, nil)
	if status != 400 || !strings.Contains(string(body), `"code":"invalid"`) || !strings.Contains(string(body), "group_by") {
		t.Errorf("group_by=team = %d %s, want 400 invalid", status, body)
	}

	t.Run("CLI", func(t *testing.T) {
		out := d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--group-by", "user", "--format", "json")
		if got := splitTotals(t, []byte(out)); !maps.Equal(got, map[string]string{
			"alice/-": "2/10", "bob/-": "1/8", "carol/-": "1/6", "null/-": "1/3"}) {
			t.Errorf("usage report --group-by user = %v\n%s", got, out)
		}
		out = d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--user", "carol", "--group-by", "key")
		if !strings.Contains(out, "KEY") || strings.Contains(out, "USER") || !strings.Contains(out, k2) ||
			strings.Contains(out, k1) || !strings.Contains(out, "characters=6") {
			t.Errorf("usage report --user carol --group-by key =\n%s", out)
		}
		out = d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--group-by", "action,user")
		if head, _, _ := strings.Cut(out, "\n"); !strings.Contains(head, "ACTION") || !strings.Contains(head, "USER") ||
			strings.Contains(head, "KEY") || !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
			f := strings.Fields(l)
			return len(f) > 5 && f[3] == "tts" && f[4] == "alice" && slices.Contains(f, "characters=10")
		}) {
			t.Errorf("usage report --group-by action,user =\n%s", out)
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"usage", "report", "--group-by", "team", "--data-dir", d.dir},
			func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), `"team"`) {
			t.Errorf("usage report --group-by team = %v", err)
		}
	})
}
