package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestOutageIsUnavailable checks that the faults that make the database
// unable to serve, rather than a statement wrong, come back marked
// aiproxy.ErrUnavailable (so that clients get 503, not 500), with the
// driver's cause kept, and that ordinary errors do not.
func TestOutageIsUnavailable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := OpenWith(ctx, path, Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	newOrg := func() error {
		n++
		return db.CreateOrg(ctx, aiproxy.Org{Key: "org" + strconv.Itoa(n), Name: strings.Repeat("x", 2000)})
	}

	t.Run("ordinary errors stay as they are", func(t *testing.T) {
		err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "again"})
		if !errors.Is(err, aiproxy.ErrConflict) || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("duplicate org: %v", err)
		}
		if _, err := db.Org(ctx, "nobody"); !errors.Is(err, aiproxy.ErrNotFound) || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("missing org: %v", err)
		}
		_, err = db.read.ExecContext(ctx, `INSERT INTO orgs (key, name, created_at) VALUES ('x', 'x', 0)`)
		if err == nil || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("a write on the read-only pool is a bug, not an outage: %v", err)
		}
	})

	t.Run("locked by another process past the busy timeout", func(t *testing.T) {
		other, err := sql.Open("sqlite", path+"?_busy_timeout=0")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		other.SetMaxOpenConns(1)
		if _, err := other.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		err = newOrg()
		other.ExecContext(ctx, `ROLLBACK`)
		if !errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("write while locked: %v", err)
		}
		if _, err := db.Org(ctx, "acme"); err != nil {
			t.Fatalf("reads go on while another process writes: %v", err)
		}
		if err := newOrg(); err != nil {
			t.Fatalf("after the lock is gone: %v", err)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		onWriter(t, db, `PRAGMA query_only = 1`)
		err := newOrg()
		onWriter(t, db, `PRAGMA query_only = 0`)
		if !errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("write on a read-only database: %v", err)
		}
	})

	t.Run("disk full", func(t *testing.T) {
		var pages int64
		if err := db.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			t.Fatal(err)
		}
		onWriter(t, db, `PRAGMA max_page_count = `+strconv.FormatInt(pages, 10))
		var err error
		for range 50 {
			if err = newOrg(); err != nil {
				break
			}
		}
		onWriter(t, db, `PRAGMA max_page_count = 1073741823`)
		if !errors.Is(err, aiproxy.ErrUnavailable) || !strings.Contains(err.Error(), "full") {
			t.Fatalf("write on a full disk: %v", err)
		}
		if err := newOrg(); err != nil {
			t.Fatalf("after space came back: %v", err)
		}
	})
}

func onWriter(t *testing.T, db *DB, stmt string) {
	t.Helper()
	if _, err := db.write.ExecContext(t.Context(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestRefusesNewerSchema checks that a binary does not serve a database a
// newer release has migrated, unless told to, and says why.
func TestRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	db, path := openTemp(t)
	known := schemaVersion(ctx, t, db)
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, known+1); err != nil {
		t.Fatal(err)
	}

	_, err := Open(ctx, path)
	var tooNew *aiproxy.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != known+1 || tooNew.Known != known {
		t.Fatalf("Open on a newer schema: %v", err)
	}
	for _, want := range []string{strconv.FormatInt(known+1, 10), strconv.FormatInt(known, 10), "--allow-newer-schema", "AIPROXY_ALLOW_NEWER_SCHEMA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message lacks %q: %v", want, err)
		}
	}

	newer, err := OpenWith(ctx, path, Options{AllowNewerSchema: true})
	if err != nil {
		t.Fatalf("OpenWith AllowNewerSchema: %v", err)
	}
	defer newer.Close()
	if v, err := newer.SchemaVersion(ctx); err != nil || v != known+1 {
		t.Fatalf("schema version = %d, %v; the override must leave the schema alone", v, err)
	}
	if err := newer.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatalf("serving the newer schema: %v", err)
	}
}
