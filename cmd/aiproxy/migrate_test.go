package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
)

// migrate runs `aiproxy migrate` with args and returns its output.
func migrate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"migrate"}, args...),
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--data-dir", dir},
		{"--database-url", "sqlite://" + filepath.Join(dir, "other.db")},
	} {
		for range 2 { // the second run finds nothing to do
			out, err := migrate(t, args...)
			if err != nil || !strings.HasPrefix(out, "sqlite schema at version ") {
				t.Fatalf("migrate %v = %q, %v", args, out, err)
			}
		}
	}
}

func TestMigratePostgres(t *testing.T) {
	url := pgtest.URL(t)
	for _, u := range []string{url, "postgresql" + strings.TrimPrefix(url, "postgres")} {
		out, err := migrate(t, "--database-url", u)
		if err != nil || !strings.HasPrefix(out, "postgres schema at version ") || strings.HasSuffix(out, "version 0\n") {
			t.Fatalf("migrate = %q, %v", out, err)
		}
	}
}

// TestDatabaseURLErrorsHidePassword needs no server: an unknown scheme and an
// unreachable Postgres both fail without printing the password.
func TestDatabaseURLErrorsHidePassword(t *testing.T) {
	for _, url := range []string{
		"mysql://aiproxy:hunter2secret@127.0.0.1/aiproxy",
		"postgres://aiproxy:hunter2secret@127.0.0.1:1/aiproxy?sslmode=disable&connect_timeout=2",
	} {
		out, err := migrate(t, "--database-url", url)
		if err == nil {
			t.Fatalf("migrate --database-url %s succeeded: %s", url, out)
		}
		if msg := out + err.Error(); strings.Contains(msg, "hunter2secret") {
			t.Fatalf("the password leaked: %s", msg)
		}
	}
}
