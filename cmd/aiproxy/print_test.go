package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Inc.":          "Acme Inc.",
		"Ünïcode ok":         "Ünïcode ok",
		"":                   "",
		"\x1b[31mred":        `"\x1b[31mred"`,
		"tab\there":          `"tab\there"`,
		"two\nlines":         `"two\nlines"`,
		"over\rwrite":        `"over\rwrite"`,
		"nul\x00":            `"nul\x00"`,
		"c1 \u009b31m":       `"c1 \u009b31m"`,
		"bidi \u202eevil":    `"bidi \u202eevil"`,
		"bad utf8 \xff":      `"bad utf8 \xff"`,
		`"quoted" but plain`: `"quoted" but plain`,
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestListsPrintNamesSafely stores names, URLs and details with terminal
// escapes straight into the database (as an older release, another tool or
// an attacker with the admin API of an older release could), then runs
// every list command: no table and no JSON output carries a raw control
// character, and each name is still recognisable.
func TestListsPrintNamesSafely(t *testing.T) {
	const evil = "\x1b[31mred\x1b]0;owned\x07\r\nfake row\u202e\x00"
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: evil, CreatedAt: now}))
	_, id, hash, _ := aiproxy.NewKeySecret()
	must(db.CreateKey(ctx, aiproxy.APIKey{ID: id, OrgKey: "acme", Name: evil, Role: aiproxy.RoleInvoke, SecretHash: hash, CreatedAt: now}))
	must(db.AppendAudit(ctx, aiproxy.AuditEvent{At: now, Actor: evil, Action: "org.created", OrgKey: "acme", Target: evil, Detail: evil}))
	must(db.PutCredential(ctx, aiproxy.Credential{Source: aiproxy.SourceTenant, OrgKey: "acme", Name: evil, Sealed: []byte("x"),
		Masked: map[string]string{"key": evil}, CreatedAt: now, UpdatedAt: now}))
	must(db.PutQuota(ctx, aiproxy.Quota{OrgKey: "acme", Service: evil, Metric: aiproxy.MetricRequests, Period: aiproxy.PeriodDay, Limit: 1, UpdatedAt: now}))
	must(db.DisableAccess(ctx, aiproxy.AccessRule{OrgKey: "acme", Service: evil}))
	must(db.AppendUsage(ctx, []aiproxy.UsageRecord{{At: now, OrgKey: "acme", Service: evil, Action: evil, Status: 200}}))
	must(db.CreateWebhookEndpoint(ctx, aiproxy.WebhookEndpoint{ID: "whe_1", OrgKey: "acme", URL: "https://example.com/" + evil,
		Sealed: []byte("x"), Events: []string{evil}, CreatedAt: now}))
	j := aiproxy.Job{ID: "job_1", OrgKey: "acme", Service: evil, Action: evil, StatusAction: "s", ProviderJobID: evil,
		Source: aiproxy.SourceTenant, CredentialOrg: "acme", CredentialName: "heygen", State: aiproxy.JobPending,
		CreatedAt: now, UpdatedAt: now, NextCheckAt: now.Add(time.Hour), DeadlineAt: now.Add(time.Hour)}
	must(db.CreateJob(ctx, j, aiproxy.JobEvent{ID: "evt_1", OrgKey: "acme", JobID: "job_1", Type: "job.created", Data: []byte("{}"), CreatedAt: now}, nil))
	db.Close()

	for _, args := range [][]string{
		{"org", "list"},
		{"key", "list", "--org", "acme"},
		{"credential", "list", "--org", "acme"},
		{"audit", "list"},
		{"quota", "list", "--org", "acme"},
		{"access", "list", "--org", "acme"},
		{"usage", "report"},
		{"jobs", "list", "--org", "acme"},
		{"jobs", "get", "job_1", "--org", "acme"},
		{"webhook", "list", "--org", "acme"},
	} {
		for _, asJSON := range []bool{false, true} {
			a := append(append([]string{}, args...), "--data-dir", dir)
			if asJSON {
				a = append(a, "--json")
			}
			t.Run(strings.Join(a[:len(args)], " ")+map[bool]string{true: " --json"}[asJSON], func(t *testing.T) {
				var out, errOut bytes.Buffer
				if err := run(ctx, a, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
					t.Fatalf("%v: %v\n%s", a, err, errOut.String())
				}
				text := out.String()
				for _, r := range text {
					if r != '\n' && !unicode.IsPrint(r) {
						t.Fatalf("raw %U in the output:\n%q", r, text)
					}
				}
				if strings.Count(text, "fake row") == 0 {
					t.Fatalf("the name is gone from the output:\n%s", text)
				}
				if asJSON && !json.Valid(out.Bytes()) {
					t.Fatalf("not JSON any more:\n%s", text)
				}
			})
		}
	}
}
