package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// typedServeVars returns the variables behind serve's duration, number and
// boolean flags, read from the flags' usage, so that a flag added later is
// covered too.
func typedServeVars(t *testing.T) []string {
	t.Helper()
	var f serverFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(string) string { return "" }, "aiproxy-data")
	varName := regexp.MustCompile(`\[(AIPROXY_[A-Z0-9_]+)`)
	var names []string
	fs.VisitAll(func(fl *flag.Flag) {
		g, ok := fl.Value.(flag.Getter)
		if !ok {
			return
		}
		switch g.Get().(type) {
		case time.Duration, int, int64, bool:
			if m := varName.FindStringSubmatch(fl.Usage); m != nil {
				names = append(names, m[1])
			}
		}
	})
	if len(names) < 15 {
		t.Fatalf("found only %d typed variables (%v): the usage texts changed?", len(names), names)
	}
	return names
}

// TestServeConfigReportsEveryBadEnvValue sets every typed variable to a
// value that does not parse, plus other bad settings, and expects serve to
// refuse to start with one error that names each of them, before it opens
// a database.
func TestServeConfigReportsEveryBadEnvValue(t *testing.T) {
	names := typedServeVars(t)
	vars := map[string]string{
		"AIPROXY_REDIS_FAILURE": "sometimes",
		"AIPROXY_RATE_LIMITS":   "org=lots",
		"AIPROXY_UPSTREAMS":     "heygen",
	}
	for _, n := range names {
		vars[n] = "abc"
	}
	dir := t.TempDir()
	var errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, func(n string) string { return vars[n] },
		strings.NewReader(""), io.Discard, &errOut)
	if err == nil {
		t.Fatal("serve started with bad settings")
	}
	msg := err.Error()
	for _, n := range names {
		if !strings.Contains(msg, n+`="abc"`) {
			t.Errorf("the error does not name %s:\n%s", n, msg)
		}
	}
	for _, want := range []string{"--redis-failure", "AIPROXY_UPSTREAMS", "org=lots", "no master key"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not report %q:\n%s", want, msg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("serve created %v before its configuration was valid", entries)
	}
}

// TestServeConfigLogFlush: AIPROXY_LOG_FLUSH=abc stops serve, naming the
// variable, instead of buffering logs for the default 100 ms.
func TestServeConfigLogFlush(t *testing.T) {
	var f serverFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(n string) string {
		return map[string]string{"AIPROXY_LOG_FLUSH": "abc"}[n]
	}, "aiproxy-data")
	err := configureServer(&f, fs, []string{"--log-flush", "10ms"})
	if err == nil || !strings.Contains(err.Error(), "AIPROXY_LOG_FLUSH") {
		t.Fatalf("configureServer = %v, want an error naming AIPROXY_LOG_FLUSH", err)
	}
}

// TestServeConfigGood: valid settings from the environment and flags pass,
// the flags win, and the raw settings are parsed for assembly.
func TestServeConfigGood(t *testing.T) {
	vars := map[string]string{
		"AIPROXY_LOG_FLUSH":                "0s",
		"AIPROXY_UPSTREAMS":                "heygen=http://env.example, elevenlabs=http://el.example",
		"AIPROXY_RATE_LIMITS":              "org=600/m",
		"AIPROXY_MAX_RUNNING_JOBS":         "org:heygen=2",
		"AIPROXY_PROVIDER_WEBHOOK_SECRETS": "heygen=whsec_1",
		"AIPROXY_WEBHOOK_ALLOW_PRIVATE":    "true",
		"AIPROXY_MAX_BODY_BYTES":           "2048",
	}
	var f serverFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(n string) string { return vars[n] }, "aiproxy-data")
	if err := configureServer(&f, fs, []string{"--upstream", "heygen=http://flag.example", "--max-inflight", "org=5"}); err != nil {
		t.Fatal(err)
	}
	if f.upstreams["heygen"] != "http://flag.example" || f.upstreams["elevenlabs"] != "http://el.example" {
		t.Errorf("upstreams = %v, want the flag's heygen and the environment's elevenlabs", f.upstreams)
	}
	if len(f.guard.rules) != 1 || len(f.guard.caps) != 1 || len(f.jobs.caps) != 1 {
		t.Errorf("rules %v, caps %v, running caps %v: want one of each", f.guard.rules, f.guard.caps, f.jobs.caps)
	}
	if f.jobs.secrets["heygen"] != "whsec_1" || !f.jobs.allowPrivateHooks || f.obs.maxBodyBytes != 2048 || f.logFlush != 0 {
		t.Errorf("secrets %v, allow private %v, max body %d, log flush %v: not as the environment says",
			f.jobs.secrets, f.jobs.allowPrivateHooks, f.obs.maxBodyBytes, f.logFlush)
	}
}

// TestJobsCommandBadEnvValue: a management command that reads a typed
// variable refuses a bad value too.
func TestJobsCommandBadEnvValue(t *testing.T) {
	vars := map[string]string{"AIPROXY_WEBHOOK_ALLOW_PRIVATE": "maybe"}
	dir := t.TempDir()
	err := run(context.Background(), []string{"jobs", "list", "--org", "acme", "--data-dir", dir}, func(n string) string { return vars[n] },
		strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AIPROXY_WEBHOOK_ALLOW_PRIVATE") {
		t.Fatalf("jobs list = %v, want an error naming AIPROXY_WEBHOOK_ALLOW_PRIVATE", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "aiproxy.db")); err == nil {
		t.Error("jobs list opened the database despite the bad variable")
	}
}
