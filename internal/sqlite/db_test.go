package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/storetest"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, path
}

func TestStores(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db, _ := openTemp(t)
		return db
	})
}

func TestPragmas(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"read", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"read", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"read", "busy_timeout", "5000"},
		{"write", "synchronous", "1"}, // NORMAL
		{"read", "synchronous", "1"},
		{"write", "query_only", "0"},
		{"read", "query_only", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.pool+"/"+tt.pragma, func(t *testing.T) {
			pool := db.write
			if tt.pool == "read" {
				pool = db.read
			}
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestReaderCannotWrite(t *testing.T) {
	db, _ := openTemp(t)
	_, err := db.read.ExecContext(t.Context(), `INSERT INTO orgs (key, name) VALUES ('x', 'x')`)
	if err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 6000000, time.UTC)
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme", CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(ctx, aiproxy.APIKey{ID: "k1", OrgKey: "acme", Role: aiproxy.RoleAdmin, SecretHash: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCredential(ctx, aiproxy.Credential{Source: aiproxy.SourcePlatform, Name: "heygen", Sealed: []byte{3}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	o, err := db.Org(ctx, "acme")
	if err != nil || o.Name != "Acme" || !o.CreatedAt.Equal(created) {
		t.Fatalf("org after reopen = %+v, %v", o, err)
	}
	if _, err := db.Key(ctx, "k1"); err != nil {
		t.Fatalf("key after reopen: %v", err)
	}
	if _, err := db.Credential(ctx, aiproxy.SourcePlatform, "", "heygen"); err != nil {
		t.Fatalf("credential after reopen: %v", err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	db, path := openTemp(t)
	ctx := t.Context()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	before := schemaVersion(ctx, t, db)
	for range 2 {
		if err := db.migrate(ctx, false); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
	}
	// A second handle on the same file migrates nothing and sees the data.
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer other.Close()
	if after := schemaVersion(ctx, t, other); after != before {
		t.Fatalf("schema version moved from %d to %d", before, after)
	}
	if _, err := other.Org(ctx, "acme"); err != nil {
		t.Fatalf("org after re-migration: %v", err)
	}
}

func schemaVersion(ctx context.Context, t *testing.T, db *DB) int64 {
	t.Helper()
	var v int64
	var n int
	err := db.read.QueryRowContext(ctx,
		`SELECT max(version_id), count(*) FROM goose_db_version`).Scan(&v, &n)
	if err != nil {
		t.Fatalf("schema version: %v", err)
	}
	if v < 1 {
		t.Fatalf("schema version = %d; migrations did not run", v)
	}
	// goose writes a version-0 row, then one row per applied migration.
	if files, _ := migrations.ReadDir("migrations"); n != len(files)+1 {
		t.Fatalf("goose_db_version has %d rows, want %d", n, len(files)+1)
	}
	return v
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if db, err := Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want error", p)
		}
	}
}

func TestSchemaConstraints(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	// The store never writes these rows; the schema refuses them anyway.
	for name, stmt := range map[string]string{
		"platform credential with org":  `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('platform', 'acme', 'x', x'00')`,
		"tenant credential without org": `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('tenant', NULL, 'x', x'00')`,
		"unknown source":                `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('other', NULL, 'x', x'00')`,
		"masked not json":               `INSERT INTO credentials (source, org_key, name, sealed, masked) VALUES ('platform', NULL, 'x', x'00', 'nope')`,
		"key with empty org":            `INSERT INTO api_keys (id, org_key, name, role, secret_hash) VALUES ('k', '', 'n', 'admin', x'00')`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := db.write.ExecContext(ctx, stmt); err == nil {
				t.Fatal("insert succeeded, want a constraint error")
			}
		})
	}
}

func TestPlatformCredentialWithOrgIsRejected(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	err := db.PutCredential(ctx, aiproxy.Credential{Source: aiproxy.SourcePlatform, OrgKey: "acme", Name: "x", Sealed: []byte{1}})
	if err == nil || errors.Is(err, aiproxy.ErrNotFound) || errors.Is(err, aiproxy.ErrConflict) {
		t.Fatalf("PutCredential(platform with org) error = %v, want a plain error", err)
	}
}
