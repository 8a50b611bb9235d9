package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"
)

// costTotals adds up a report's rows across days (a test running over
// midnight has two) per user ("-" when the report is not split by user,
// "null" for the org itself), as "requests/micro-USD". A row's cost must be
// a JSON number of dollars with at most 6 decimals.
func costTotals(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatalf("report %s: %v", body, err)
	}
	type sums struct{ requests, micros int64 }
	by := map[string]sums{}
	for i, row := range rows {
		var requests int64
		var usd float64
		if err := json.Unmarshal(row["requests"], &requests); err != nil {
			t.Fatalf("row %d's requests: %v: %s", i, err, body)
		}
		if err := json.Unmarshal(row["cost_usd"], &usd); err != nil {
			t.Fatalf("row %d's cost_usd %q is not a number: %s", i, row["cost_usd"], body)
		}
		if _, frac, _ := strings.Cut(string(row["cost_usd"]), "."); len(frac) > 6 {
			t.Fatalf("row %d's cost_usd %s has more than 6 decimals", i, row["cost_usd"])
		}
		user := "-"
		if raw, ok := row["user"]; ok {
			var name *string
			if err := json.Unmarshal(raw, &name); err != nil {
				t.Fatalf("row %d's user %s is neither a string nor null", i, raw)
			}
			user = "null"
			if name != nil {
				user = *name
			}
		}
		s := by[user]
		s.requests += requests
		s.micros += int64(math.Round(usd * 1e6))
		by[user] = s
	}
	out := map[string]string{}
	for k, s := range by {
		out[k] = fmt.Sprintf("%d/%d", s.requests, s.micros)
	}
	return out
}

// TestUsageReportsCost makes text-to-speech calls through the real program
// (ElevenLabs' default model: 100 micro-USD a character; Flash half that,
// at the credits the provider reports) as the org itself, with no budget,
// and as a user whose budget applies, then reads the org's usage report for
// the day: every successful call's cost is there, budgeted or not, a
// failed call costs nothing, a split by user adds up, and a user's cost is
// what their budget was charged. The CSV and the CLI show it too.
func TestUsageReportsCost(t *testing.T) {
	d := startDemo(t)
	first := time.Now().UTC().Format(time.DateOnly)
	d.putBudget(d.org, d.key, map[string]any{"scope": "user", "subject": "alice", "window": "month", "limit_micros": 5_000_000})
	alice := "Token " + d.token(d.org, d.key, "alice")
	path := invokePath(d.org, "elevenlabs", "tts")
	flash := ttsEnv("Hello")
	flash["body"].(map[string]any)["model_id"] = "eleven_flash_v2_5"
	unknown := ttsEnv("Hello")
	unknown["body"].(map[string]any)["model_id"] = "no_such_model"
	calls := []struct {
		who, auth string
		env       map[string]any
		status    int
	}{
		{"the org", "Api-Key " + d.key, ttsEnv("Hello"), 200},      // 5 characters: 500
		{"alice", alice, ttsEnv("Hello, world"), 200},              // 12: 1,200
		{"alice", alice, flash, 200},                               // 3 credits the provider reports: 300
		{"the org", "Api-Key " + d.key, unknown, 400},              // refused by the provider: 0
		{"alice", alice, ttsEnv(strings.Repeat("la", 1000)), 200},  // 2,000: 200,000
		{"the org", "Api-Key " + d.key, ttsEnv("Good night"), 200}, // 10: 1,000
	}
	for _, c := range calls {
		if status, _, body := d.as("POST", path, c.auth, c.env); status != c.status {
			t.Fatalf("tts as %s = %d %.200s, want %d", c.who, status, body, c.status)
		}
	}
	if status, _, body := d.invoke(d.org, d.key, "elevenlabs", "list-voices", map[string]any{}); status != 200 {
		t.Fatalf("list-voices = %d %.200s", status, body)
	}
	last := time.Now().UTC().Format(time.DateOnly)

	report := "/api/ai-proxy/orgs/" + d.org + "/usage/?service=elevenlabs&from=" + first + "&to=" + last
	const total = 500 + 1200 + 300 + 200_000 + 1000
	// Usage is written in batches, off the request path: wait until the
	// report holds every call.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, _, body := d.do("GET", report, d.key, nil, nil)
		if costTotals(t, body)["-"] == fmt.Sprintf("%d/%d", len(calls)+1, total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the report never held the %d calls at %d micro-USD: %s", len(calls)+1, total, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	status, _, body := d.do("GET", report+"&group_by=user", d.key, nil, nil)
	want := map[string]string{"null": "4/1500", "alice": "3/201500"}
	if got := costTotals(t, body); status != 200 || !maps.Equal(got, want) {
		t.Errorf("report by user = %d %v, want %v\n%s", status, got, want, body)
	}
	status, _, body = d.do("GET", report+"&user=alice", d.key, nil, nil)
	if got := costTotals(t, body); status != 200 || got["-"] != "3/201500" {
		t.Errorf("alice's report = %d %v, want 3 calls at 201500 micro-USD", status, got)
	}
	var spent int64 = -1
	for _, b := range d.budgetStatus(d.org, "Api-Key "+d.key) {
		if b["subject"] == "alice" {
			n, _ := b["spent_micros"].(float64)
			spent = int64(n)
		}
	}
	if spent != 201500 {
		t.Errorf("alice's budget spent %d micro-USD, want what her usage cost: 201500", spent)
	}

	status, _, body = d.do("GET", report+"&group_by=user&format=csv", d.key, nil, nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if status != 200 || !strings.HasSuffix(lines[0], ",cost_usd,saved_usd") || len(lines) < 3 {
		t.Fatalf("CSV by user = %d:\n%s", status, body)
	}
	if first == last && (!strings.Contains(string(body), ",elevenlabs,alice,") || !strings.HasSuffix(lines[1], ",0.0015,0") ||
		!strings.HasSuffix(lines[2], ",0.2015,0")) {
		t.Errorf("CSV by user:\n%s\nwant the org's 0.0015 then alice's 0.2015 in the cost column, nothing saved", body)
	}

	out := d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--from", first, "--to", last,
		"--group-by", "user", "--format", "json")
	if got := costTotals(t, []byte(out)); !maps.Equal(got, want) {
		t.Errorf("CLI usage report --group-by user = %v, want %v\n%s", got, want, out)
	}
	out = d.cli("", "usage", "report", "--org", d.org, "--service", "elevenlabs", "--from", first, "--to", last, "--user", "alice")
	if head, _, _ := strings.Cut(out, "\n"); !strings.HasSuffix(strings.Join(strings.Fields(head), " "), "COST SAVED") ||
		(first == last && !strings.Contains(out, "$0.2015")) {
		t.Errorf("CLI usage report table:\n%s\nwant COST and SAVED columns, alice's $0.2015", out)
	}
}
