package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewerSchemaNeedsTheFlag bumps a database's schema past what this
// binary knows: migrate (and so serve, which opens the database the same
// way) refuses with both versions and the override named, and runs with
// --allow-newer-schema or AIPROXY_ALLOW_NEWER_SCHEMA.
func TestNewerSchemaNeedsTheFlag(t *testing.T) {
	dir := t.TempDir()
	if out, err := migrate(t, "--data-dir", dir); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	var known int64
	if err := raw.QueryRow(`SELECT max(version_id) FROM goose_db_version`).Scan(&known); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, known+1000); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	_, err = migrate(t, "--data-dir", dir)
	if err == nil {
		t.Fatal("migrate served a newer schema")
	}
	for _, want := range []string{fmt.Sprintf("version %d, newer than version %d", known+1000, known), "--allow-newer-schema", "AIPROXY_ALLOW_NEWER_SCHEMA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	if out, err := migrate(t, "--data-dir", dir, "--allow-newer-schema"); err != nil || !strings.Contains(out, fmt.Sprintf("version %d", known+1000)) {
		t.Fatalf("migrate --allow-newer-schema = %q, %v", out, err)
	}
	var out, errOut bytes.Buffer
	env := func(k string) string { return map[string]string{"AIPROXY_ALLOW_NEWER_SCHEMA": "1"}[k] }
	if err := run(context.Background(), []string{"migrate", "--data-dir", dir}, env, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("AIPROXY_ALLOW_NEWER_SCHEMA=1 migrate: %v %s", err, errOut.String())
	}
}
