package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/storetest"
)

// openTemp opens a store in a fresh schema, or skips without a test server.
func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	db, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, url
}

func TestStores(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db, _ := openTemp(t)
		return db
	})
}

// TestConcurrentOpen starts replicas together on one empty schema: every one
// must open, and each migration must be applied exactly once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 8
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	checkVersionRows(t.Context(), t, dbs[0])
	if err := dbs[replicas-1].CreateOrg(t.Context(), aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatalf("CreateOrg after concurrent open: %v", err)
	}
}

// TestMigrationWaitsForLock shows that migrations take the advisory lock: an
// Open on a schema whose lock another session holds waits until it is
// released.
func TestMigrationWaitsForLock(t *testing.T) {
	db, url := openTemp(t)
	ctx := t.Context()
	schema := mustQueryString(ctx, t, db, `SELECT current_schema()`)
	holder, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID(schema)); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if other, err := Open(short, url); err == nil {
		other.Close()
		t.Fatal("Open succeeded while another session held the migration lock")
	}

	opened := make(chan error, 1)
	go func() {
		other, err := Open(ctx, url)
		if err == nil {
			other.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open returned (%v) before the lock was released", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLockID(schema)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open after the lock was released: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open still waiting 10s after the lock was released")
	}
}

// TestPoolOfOne opens with a pool of a single connection: the migration
// lock must not hold the only connection goose can use.
func TestPoolOfOne(t *testing.T) {
	url := pgtest.URL(t) + "&pool_max_conns=1"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open with pool_max_conns=1: %v", err)
	}
	defer db.Close()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationLockIsPerSchema(t *testing.T) {
	if migrationLockID("a") == migrationLockID("b") {
		t.Fatal("two schemas share a migration lock")
	}
	// Replicas of different builds meet on one schema during a rolling
	// upgrade, so a schema's lock id is pinned, not only compared with
	// itself: a new derivation would let an old and a new replica migrate
	// at once. The numbers are FNV-1a (64 bit) of "aiproxy migrations
	// <schema>", worked out apart from this package.
	for schema, want := range map[string]int64{
		"public": 9091721928837962071,
		"a":      -5847868359638047491,
	} {
		if got := migrationLockID(schema); got != want {
			t.Errorf("migrationLockID(%q) = %d, want %d", schema, got, want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	db, url := openTemp(t)
	ctx := t.Context()
	created := time.Date(2025, 1, 2, 3, 4, 5, 6000000, time.UTC)
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme", CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCredential(ctx, aiproxy.Credential{Source: aiproxy.SourcePlatform, Name: "heygen", Sealed: []byte{3}}); err != nil {
		t.Fatal(err)
	}
	before, err := db.SchemaVersion(ctx)
	if err != nil || before < 1 {
		t.Fatalf("SchemaVersion = %d, %v", before, err)
	}
	db.Close()

	again, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if after, err := again.SchemaVersion(ctx); err != nil || after != before {
		t.Fatalf("schema version after reopen = %d, %v; want %d", after, err, before)
	}
	checkVersionRows(ctx, t, again)
	o, err := again.Org(ctx, "acme")
	if err != nil || o.Name != "Acme" || !o.CreatedAt.Equal(created) {
		t.Fatalf("org after reopen = %+v, %v", o, err)
	}
	if _, err := again.Credential(ctx, aiproxy.SourcePlatform, "", "heygen"); err != nil {
		t.Fatalf("credential after reopen: %v", err)
	}
}

// checkVersionRows checks that goose recorded each migration once: a
// version-0 row, then one row per migration file.
func checkVersionRows(ctx context.Context, t *testing.T, db *DB) {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&n); err != nil {
		t.Fatalf("count goose_db_version: %v", err)
	}
	if files, _ := migrations.ReadDir("migrations"); n != len(files)+1 {
		t.Fatalf("goose_db_version has %d rows, want %d", n, len(files)+1)
	}
}

func TestSchemaConstraints(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	// The store never writes these rows; the schema refuses them anyway.
	for name, stmt := range map[string]string{
		"platform credential with org":  `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('platform', 'acme', 'x', '\x00')`,
		"tenant credential without org": `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('tenant', NULL, 'x', '\x00')`,
		"unknown source":                `INSERT INTO credentials (source, org_key, name, sealed) VALUES ('other', NULL, 'x', '\x00')`,
		"masked not an object":          `INSERT INTO credentials (source, org_key, name, sealed, masked) VALUES ('platform', NULL, 'x', '\x00', '[]')`,
		"key with empty org":            `INSERT INTO api_keys (id, org_key, name, role, secret_hash) VALUES ('k', '', 'n', 'admin', '\x00')`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := db.pool.Exec(ctx, stmt); err == nil {
				t.Fatal("insert succeeded, want a constraint error")
			}
		})
	}
}

// TestOrderIsByteOrder checks that listings sort as SQLite does even when the
// database's own collation would not: the key columns are COLLATE "C".
func TestOrderIsByteOrder(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	for _, k := range []string{"b", "a-2", "a_1", "A"} {
		if err := db.CreateOrg(ctx, aiproxy.Org{Key: k, Name: k}); err != nil {
			t.Fatal(err)
		}
	}
	orgs, err := db.Orgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range orgs {
		got = append(got, o.Key)
	}
	if want := "A a-2 a_1 b"; strings.Join(got, " ") != want {
		t.Fatalf("Orgs order = %v, want %s", got, want)
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

// TestOpenErrorHidesPassword needs no server: nothing listens on port 1.
func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://aiproxy:hunter2secret@127.0.0.1:1/aiproxy?sslmode=disable",
		"postgres://aiproxy:hunter2secret@127.0.0.1:1/aiproxy?sslmode=disable&pool_max_conns=zero",
	} {
		db, err := Open(ctx, url)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", url)
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Fatalf("Open error reveals the password: %v", err)
		}
	}
}

func TestOpenWithoutSchema(t *testing.T) {
	url := pgtest.URL(t)
	url = strings.Replace(url, "search_path=", "search_path=missing_", 1)
	db, err := Open(t.Context(), url)
	if err == nil {
		db.Close()
		t.Fatal("Open on a search_path with no existing schema succeeded")
	}
	if !strings.Contains(err.Error(), "schema") {
		t.Fatalf("Open error = %v, want one that names the schema problem", err)
	}
}

func mustQueryString(ctx context.Context, t *testing.T, db *DB, sql string) string {
	t.Helper()
	var s string
	if err := db.pool.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}
