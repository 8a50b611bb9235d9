package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// budgetJSON is what budget set and list print with --json.
type budgetJSON struct {
	ID              string    `json:"id"`
	Org             string    `json:"org"`
	Scope           string    `json:"scope"`
	Subject         string    `json:"subject"`
	Window          string    `json:"window"`
	LimitMicros     int64     `json:"limit_micros"`
	AlertThresholds []float64 `json:"alert_thresholds"`
	Enforcement     string    `json:"enforcement"`
}

// runClientAs runs a client command with another credential in
// AIPROXY_API_KEY.
func runClientAs(d *demo, key string, args ...string) (string, string, error) {
	d.t.Helper()
	vars := map[string]string{"AIPROXY_URL": d.url, "AIPROXY_ORG": d.org, "AIPROXY_API_KEY": key}
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestBudgetCommands sets, lists, reads and deletes budgets with the CLI
// against a running demo: amounts in dollars in and out, a member's status
// as a percentage only, and each change checked over HTTP.
func TestBudgetCommands(t *testing.T) {
	d := startDemo(t)

	out, _ := mustRunClient(d, "budget", "set", "--scope", "user", "--window", "month", "--limit", "0.0024", "--json")
	var perUser budgetJSON
	if err := json.Unmarshal([]byte(out), &perUser); err != nil {
		t.Fatalf("set --json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(perUser.ID, "bud_") || perUser.Org != d.org || perUser.Scope != "user" || perUser.Subject != "" ||
		perUser.LimitMicros != 2400 || !slices.Equal(perUser.AlertThresholds, []float64{0.8, 0.95}) || perUser.Enforcement != "block" {
		t.Fatalf("set a per-user budget: %+v", perUser)
	}

	out, _ = mustRunClient(d, "budget", "set", "--scope", "user", "--subject", "carol", "--window", "day", "--limit", "$5",
		"--alert", "0.5,0.9", "--alert-only")
	if !strings.HasPrefix(out, "set budget bud_") || !strings.Contains(out, ": user carol, day, $5.00, alerts at 50%, 90%, alert only") {
		t.Errorf("set for people printed %q", out)
	}
	carol := strings.TrimSuffix(strings.Fields(out)[2], ":")
	mustRunClient(d, "budget", "set", "--id", carol, "--scope", "user", "--subject", "carol", "--window", "day", "--limit", "7.5")

	var stored []budgetJSON
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/budgets/", d.key, 200, &stored)
	limits := map[string]int64{}
	for _, b := range stored {
		limits[b.ID] = b.LimitMicros
	}
	if len(stored) != 2 || limits[perUser.ID] != 2400 || limits[carol] != 7_500_000 {
		t.Errorf("budgets over HTTP after set and replace: %+v", stored)
	}
	out, _ = mustRunClient(d, "budget", "list")
	if !lineHas(out, perUser.ID, "user", "(each", "user)", "month", "$0.0024", "80%,", "95%", "block") ||
		!lineHas(out, carol, "carol", "day", "$7.50", "block") || !strings.HasPrefix(out, "ID") {
		t.Errorf("budget list:\n%s", out)
	}

	alice := d.token(d.org, d.key, "alice")
	for range 2 {
		if status, _, body := d.as("POST", invokePath(d.org, "elevenlabs", "tts"), "Token "+alice, ttsEnv("Hello there.")); status != 200 {
			t.Fatalf("alice's speech within her budget = %d %.200s", status, body)
		}
	}
	if status, _, body := d.as("POST", invokePath(d.org, "elevenlabs", "tts"), "Token "+alice, ttsEnv("Hello there.")); status != 402 {
		t.Fatalf("alice's third speech = %d %.200s, want 402", status, body)
	}

	out, _ = mustRunClient(d, "budget", "status")
	if !lineHas(out, perUser.ID, "user", "alice", "month", "$0.0024", "$0.00", "100%", "exhausted") || !strings.Contains(out, "HELD") {
		t.Errorf("the admin's budget status:\n%s", out)
	}
	out, _, err := runClientAs(d, alice, "budget", "status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "SCOPE") || !lineHas(out, "user", "month", "100%", "exhausted") || strings.Contains(out, "$") ||
		strings.Contains(out, perUser.ID) || strings.Contains(out, "carol") {
		t.Errorf("alice's budget status:\n%s", out)
	}
	out, _, err = runClientAs(d, alice, "budget", "status", "--json")
	var mine []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &mine) != nil || len(mine) != 1 || mine[0]["percent"] != 100.0 || mine[0]["spent_micros"] != nil {
		t.Errorf("alice's budget status --json: %v\n%s", err, out)
	}

	out, _ = mustRunClient(d, "budget", "delete", perUser.ID)
	if out != "deleted budget "+perUser.ID+" and its counters\n" {
		t.Errorf("delete printed %q", out)
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/budgets/", d.key, 200, &stored)
	if len(stored) != 1 || stored[0].ID != carol {
		t.Errorf("budgets after delete: %+v", stored)
	}
	if status, _, body := d.as("POST", invokePath(d.org, "elevenlabs", "tts"), "Token "+alice, ttsEnv("Hello there.")); status != 200 {
		t.Errorf("alice after her budget was deleted = %d %.200s", status, body)
	}
}

// TestBudgetCommandErrors checks the CLI's own checks, the server's
// refusals as one line (and as JSON with --json), a member's 403, a 402
// printed by another command, and the group's help.
func TestBudgetCommandErrors(t *testing.T) {
	d := startDemo(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"budget", "set", "--window", "month"}, "--limit, --scope are required"},
		{[]string{"budget", "set", "--scope", "org", "--window", "month", "--limit", "ten"}, `--limit: "ten" is not an amount`},
		{[]string{"budget", "set", "--scope", "org", "--window", "month", "--limit", "0.0000001"}, "more than six decimals"},
		{[]string{"budget", "set", "--scope", "org", "--window", "month", "--limit", "1", "--alert", "high"}, `"high" is not a fraction`},
		{[]string{"budget", "set", "--scope", "team", "--window", "month", "--limit", "1"}, "(HTTP 400, invalid)"},
		{[]string{"budget", "delete", "bud_nope"}, "(HTTP 404, not_found)"},
	}
	for _, tt := range tests {
		// A flag the flag package refuses is a usage error, its reason on stderr.
		if _, stderr, err := runClient(d, tt.args...); err == nil || !strings.Contains(err.Error()+stderr, tt.want) {
			t.Errorf("%v = %v, want %q\n%s", tt.args, err, tt.want, stderr)
		}
	}
	out, _, err := runClient(d, "budget", "set", "--scope", "team", "--window", "month", "--limit", "1", "--json")
	var e struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err == nil || json.Unmarshal([]byte(out), &e) != nil || e.Status != 400 || !strings.Contains(e.Detail, `scope "team"`) {
		t.Errorf("a bad scope with --json printed %q (%v)", out, err)
	}
	mustRunClient(d, "budget", "set", "--scope", "user", "--window", "week", "--limit", "1")
	if _, _, err := runClient(d, "budget", "set", "--scope", "user", "--window", "week", "--limit", "2"); err == nil || !strings.Contains(err.Error(), "HTTP 409") {
		t.Errorf("a second per-user weekly budget: %v", err)
	}

	// A member may read its own status, and manage nothing.
	tok := d.token(d.org, d.key, "alice")
	for _, args := range [][]string{{"budget", "list"}, {"budget", "set", "--scope", "org", "--window", "day", "--limit", "1"}} {
		if _, _, err := runClientAs(d, tok, args...); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("%v with a user token: %v", args, err)
		}
	}

	// A call an org budget refuses prints the 402's detail.
	mustRunClient(d, "budget", "set", "--scope", "org", "--window", "lifetime", "--limit", "0.001")
	_, _, err = runClient(d, "tts", "--voice", "21m00Tcm4TlvDq8ikWAM", "--text", "Hello there.", "-o", filepath.Join(t.TempDir(), "hi.mp3"))
	if err == nil || !strings.Contains(err.Error(), "Budget exceeded: org '"+d.org+"' lifetime budget has $0.0010 left of $0.0010") ||
		!strings.Contains(err.Error(), "never resets") || !strings.Contains(err.Error(), "(HTTP 402, budget_exceeded)") {
		t.Errorf("tts under a spent org budget: %v", err)
	}

	_, stderr, err := runClient(d, "budget")
	if !errors.Is(err, errUsage) {
		t.Errorf("budget alone = %v, want a usage error", err)
	}
	for _, want := range []string{"set ", "list ", "delete ", "status ", "in dollars", "its counters", "as a percentage"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("budget's help lacks %q:\n%s", want, stderr)
		}
	}
	if _, stderr, err := runClient(d, "budget", "set", "--help"); err != nil || !strings.Contains(stderr, "--alert-only") {
		t.Errorf("budget set --help = %v\n%s", err, stderr)
	}
}

func TestDollars(t *testing.T) {
	tests := []struct {
		in     string
		micros int64
		out    string
	}{
		{"5", 5_000_000, "$5.00"},
		{"5.00", 5_000_000, "$5.00"},
		{"$0.25", 250_000, "$0.25"},
		{".5", 500_000, "$0.50"},
		{"7.", 7_000_000, "$7.00"},
		{"0.0024", 2400, "$0.0024"},
		{"0.000001", 1, "$0.000001"},
		{"123.456789", 123_456_789, "$123.456789"},
		{"0", 0, "$0.00"},
	}
	for _, tt := range tests {
		got, err := parseDollars(tt.in)
		if err != nil || got != tt.micros {
			t.Errorf("parseDollars(%q) = %d, %v, want %d", tt.in, got, err, tt.micros)
		}
		if s := dollars(tt.micros); s != tt.out {
			t.Errorf("dollars(%d) = %q, want %q", tt.micros, s, tt.out)
		}
	}
	for _, bad := range []string{"", ".", "$", "-1", "1e3", "1,5", "1.2.3", "0.0000001", "99999999999999999"} {
		if got, err := parseDollars(bad); err == nil {
			t.Errorf("parseDollars(%q) = %d, want an error", bad, got)
		}
	}
	if s := dollars(-1_500_000); s != "-$1.50" {
		t.Errorf("dollars(-1.5 USD) = %q", s)
	}
}
