package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/retention"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

func configureData(t *testing.T, vars map[string]string, args ...string) (dataFlags, error) {
	t.Helper()
	var f serverFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(n string) string { return vars[n] }, "aiproxy-data")
	err := configureServer(&f, fs, args)
	return f.data, err
}

// TestRetentionConfig: the defaults, AIPROXY_RETENTION over them and the
// --retention flags over both; every bad pair is reported at once.
func TestRetentionConfig(t *testing.T) {
	f, err := configureData(t, map[string]string{"AIPROXY_RETENTION": "usage=7d,audit=400d", "AIPROXY_ROLLUP_EVERY": "30s"},
		"--retention", "audit=keep", "--retention", "jobs=180d", "--prune-every", "0")
	if err != nil {
		t.Fatal(err)
	}
	want := retention.DefaultPolicy()
	want[aiproxy.RetainUsage], want[aiproxy.RetainJobs] = 7*retention.Day, 180*retention.Day
	if f.policy.String() != want.String() || f.rollupEvery != 30*time.Second || f.pruneEvery != 0 {
		t.Fatalf("policy %v, rollup every %v, prune every %v", f.policy, f.rollupEvery, f.pruneEvery)
	}
	if u := f.build(nil, nil); u.builder == nil || u.pruner != nil {
		t.Fatalf("upkeep = %+v, want the builder alone", u)
	}
	_, err = configureData(t, map[string]string{"AIPROXY_RETENTION": "usage=soon"}, "--retention", "everything=1d",
		"--rollup-every", "-1s")
	for _, want := range []string{"AIPROXY_RETENTION", `"usage=soon"`, "--retention", `"everything=1d"`, "--rollup-every"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error %v does not name %s", err, want)
		}
	}
}

// TestUpkeepRollsUpInTheBackground: serve's background work folds usage
// into the rollups and stops with its context.
func TestUpkeepRollsUpInTheBackground(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := aiproxy.UsageRecord{At: time.Now(), OrgKey: "acme", KeyID: "k", Service: "heygen", Action: "list-avatars", Status: 200}
	if err := db.AppendUsage(ctx, []aiproxy.UsageRecord{rec, rec, rec}); err != nil {
		t.Fatal(err)
	}
	f := dataFlags{rollupEvery: 10 * time.Millisecond, pruneEvery: time.Hour, policy: retention.DefaultPolicy()}
	stop := f.build(db, nil).run(ctx)
	defer stop()
	// Raw usage can be pruned only once it is rolled up (all but the
	// newest record, which SQLite keeps), and nothing here rolls up.
	later := time.Now().Add(time.Hour)
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := db.Prune(ctx, aiproxy.RetainUsage, later, later, 10)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background builder did not roll up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
}
