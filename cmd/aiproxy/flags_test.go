package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// helpText runs "aiproxy ARGS --help" and returns what it printed.
func helpText(t *testing.T, args ...string) string {
	t.Helper()
	_, help, err := runArgs(t, noEnv, append(args, "--help")...)
	if err != nil && !errors.Is(err, errUsage) {
		t.Fatalf("aiproxy %v --help: %v", args, err)
	}
	return help
}

// verbsIn returns the verbs a command group's help lists: under
// "Commands:", or as "Usage: aiproxy NOUN VERB" lines; nil for a command
// whose help lists its flags.
func verbsIn(noun, help string) []string {
	if strings.Contains(help, "\nFlags:\n") {
		return nil
	}
	var verbs []string
	if _, list, ok := strings.Cut(help, "Commands:\n"); ok {
		list, _, _ = strings.Cut(list, "\n\n")
		for _, line := range strings.Split(list, "\n") {
			verbs = append(verbs, strings.Fields(line)[0])
		}
		return verbs
	}
	for _, line := range strings.Split(help, "\n") {
		if _, rest, ok := strings.Cut(line, "aiproxy "+noun+" "); ok {
			verbs = append(verbs, strings.Fields(rest)[0])
		}
	}
	return verbs
}

// orgHelp returns the help text of a command's --org flag, without the
// default the flag package adds, and whether it has the flag.
func orgHelp(help string) (string, bool) {
	_, after, ok := strings.Cut(help, "\n  --org string\n")
	if !ok {
		return "", false
	}
	line, _, _ := strings.Cut(after, "\n")
	text, _, _ := strings.Cut(strings.TrimSpace(line), ` (default "`)
	return text, true
}

// TestOrgFlagWording checks that the --org of every command and subcommand
// says which of its documented meanings it has (help.go, docs/clients.md):
// the org to act on, a filter of a report across orgs (audit list, usage
// report), or the demo's own org.
func TestOrgFlagWording(t *testing.T) {
	want := map[string]string{"audit list": orgFilter, "usage report": orgFilter, "demo": orgDemo}
	seen := 0
	for _, c := range commands() {
		help := helpText(t, c.name)
		paths := []string{c.name}
		if verbs := verbsIn(c.name, help); verbs != nil {
			paths = paths[:0]
			for _, v := range verbs {
				paths = append(paths, c.name+" "+v)
			}
		}
		for _, path := range paths {
			text, ok := orgHelp(helpText(t, strings.Fields(path)...))
			if !ok {
				continue
			}
			seen++
			meaning, known := want[path]
			if !known {
				meaning = orgActOn
			}
			if text != meaning {
				t.Errorf("aiproxy %s --org says %q, want %q", path, text, meaning)
			}
		}
	}
	// Every command that names an org has --org: the org, key, credential,
	// quota, access, jobs and webhook verbs, the client commands, audit,
	// usage and demo.
	if seen < 30 {
		t.Errorf("found --org in %d commands; the help is not being read", seen)
	}
}

// TestReportsIgnoreAIPROXYORG checks that audit list and usage report read
// --org as a filter only: an exported AIPROXY_ORG leaves them reporting
// every org, and says so on stderr; --org narrows them.
func TestReportsIgnoreAIPROXYORG(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, org := range []string{"acme", "beta"} {
		if err := db.CreateOrg(ctx, aiproxy.Org{Key: org, Name: org, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendAudit(ctx, aiproxy.AuditEvent{At: now, Actor: "test", Action: "org.created", OrgKey: org, Target: org}); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendUsage(ctx, []aiproxy.UsageRecord{{At: now, OrgKey: org, Service: "heygen", Action: "list-avatars", Status: 200}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	exported := func(name string) string {
		if name == "AIPROXY_ORG" {
			return "acme"
		}
		return ""
	}
	for _, report := range [][]string{{"audit", "list"}, {"usage", "report"}} {
		args := append(append([]string{}, report...), "--data-dir", dir)
		out, stderr, err := runArgs(t, exported, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		if !strings.Contains(out, "acme") || !strings.Contains(out, "beta") {
			t.Errorf("%v with AIPROXY_ORG=acme:\n%s\nwant every org", report, out)
		}
		if !strings.Contains(stderr, "every org") || !strings.Contains(stderr, "--org acme") {
			t.Errorf("%v with AIPROXY_ORG=acme says %q on stderr, want that it reports every org", report, stderr)
		}
		out, stderr, err = runArgs(t, exported, append(args, "--org", "beta")...)
		if err != nil {
			t.Fatalf("%v --org beta: %v\n%s", args, err, stderr)
		}
		if strings.Contains(out, "acme") || !strings.Contains(out, "beta") || stderr != "" {
			t.Errorf("%v --org beta:\n%s\nstderr %q; want beta's rows only, and no note", report, out, stderr)
		}
		if out, stderr, err = runArgs(t, noEnv, args...); err != nil || !strings.Contains(out, "acme") || stderr != "" {
			t.Errorf("%v without AIPROXY_ORG = %v, stderr %q:\n%s", report, err, stderr, out)
		}
	}
}
