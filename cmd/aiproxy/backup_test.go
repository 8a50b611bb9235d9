package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

func TestBackupCommand(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // the database stays open, as under a running server
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "AIPROXY_DATA_DIR" {
			return dir
		}
		return ""
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"backup", "--out", out}, env, nil, &stdout, &stderr); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "integrity ok") {
		t.Fatalf("backup printed %q", stdout.String())
	}
	copyDB, err := sqlite.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := copyDB.Org(ctx, "acme"); err != nil {
		t.Fatalf("the backup lacks the org: %v", err)
	}
	copyDB.Close()

	stdout.Reset()
	if err := run(ctx, []string{"backup", "--check", out}, env, nil, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "integrity ok, schema version") {
		t.Fatalf("backup --check = %v, %q", err, stdout.String())
	}
	for name, args := range map[string][]string{
		"existing file": {"backup", "--out", out},
		"postgres":      {"backup", "--out", out + "2", "--database-url", "postgres://u@127.0.0.1/db"},
		"not a backup":  {"backup", "--check", writeFile(t, "junk")},
	} {
		if err := run(context.Background(), args, env, nil, &stdout, &stderr); err == nil {
			t.Errorf("%s: backup succeeded", name)
		}
	}
	if err := run(ctx, []string{"backup"}, env, nil, &stdout, &stderr); err != errUsage {
		t.Errorf("backup without --out = %v, want usage", err)
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
