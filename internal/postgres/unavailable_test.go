package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
)

// relay is a loopback TCP relay in front of the test server, so that a
// test can take the database away: stop closes the listener, so that new
// connections are refused, and cuts the ones open.
type relay struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
}

func newRelay(t *testing.T, to string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, to: to}
	t.Cleanup(r.stop)
	go r.serve()
	return r
}

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", r.to)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, up)
		r.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (r *relay) stop() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// viaRelay returns the database URL with its host replaced by a relay's.
func viaRelay(t *testing.T, dbURL string) (string, *relay) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, u.Host)
	u.Host = r.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	return u.String(), r
}

// TestOutageIsUnavailable checks that a database that refuses or drops
// connections, or whose backend is shut down by an administrator, gives
// errors marked aiproxy.ErrUnavailable (503 for clients, not 500), and that
// ordinary errors do not.
func TestOutageIsUnavailable(t *testing.T) {
	direct := pgtest.URL(t)
	ctx := t.Context()

	t.Run("ordinary errors stay as they are", func(t *testing.T) {
		db, err := Open(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		err = db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "again"})
		if !errors.Is(err, aiproxy.ErrConflict) || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("duplicate org: %v", err)
		}
		if _, err := db.Org(ctx, "nobody"); !errors.Is(err, aiproxy.ErrNotFound) || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("missing org: %v", err)
		}
		if _, err := db.pool.Exec(ctx, `SELECT * FROM no_such_table`); err == nil || errors.Is(err, aiproxy.ErrUnavailable) {
			t.Fatalf("a bad statement: %v", err)
		}
	})

	t.Run("refused and dropped connections", func(t *testing.T) {
		viaURL, r := viaRelay(t, direct)
		db, err := Open(ctx, viaURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Org(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		r.stop()
		for i := range 3 {
			_, err := db.Org(ctx, "acme")
			if !errors.Is(err, aiproxy.ErrUnavailable) {
				t.Fatalf("read %d with the database gone: %v", i, err)
			}
			err = db.CreateOrg(ctx, aiproxy.Org{Key: "new" + strconv.Itoa(i), Name: "x"})
			if !errors.Is(err, aiproxy.ErrUnavailable) {
				t.Fatalf("write %d with the database gone: %v", i, err)
			}
			if err := db.Ping(ctx); !errors.Is(err, aiproxy.ErrUnavailable) {
				t.Fatalf("ping %d with the database gone: %v", i, err)
			}
		}
	})

	t.Run("backend terminated mid-statement", func(t *testing.T) {
		u, _ := url.Parse(direct)
		q := u.Query()
		q.Set("application_name", "aiproxy_outage_test")
		u.RawQuery = q.Encode()
		db, err := Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for name, run := range map[string]func() error{
			"statement": func() error { _, err := db.pool.Exec(ctx, `SELECT pg_sleep(30)`); return err },
			"transaction": func() error {
				return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, `SELECT pg_sleep(30)`)
					return err
				})
			},
			"row": func() error { var x any; return db.pool.QueryRow(ctx, `SELECT pg_sleep(30)`).Scan(&x) },
		} {
			t.Run(name, func(t *testing.T) {
				done := make(chan error, 1)
				go func() { done <- run() }()
				terminate(t, direct, "aiproxy_outage_test")
				select {
				case err := <-done:
					if !errors.Is(err, aiproxy.ErrUnavailable) || !strings.Contains(err.Error(), "57P01") {
						t.Fatalf("terminated backend: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the statement was not cut")
				}
			})
		}
		if _, err := db.Org(ctx, "acme"); err != nil {
			t.Fatalf("the pool does not recover: %v", err)
		}
	})
}

// terminate ends, as an administrator would, the backends of an
// application once one of them runs pg_sleep.
func terminate(t *testing.T, dsn, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for ctx.Err() == nil {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE '%pg_sleep%' AND state = 'active'`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no backend to terminate")
}

// TestRefusesNewerSchema checks that a binary does not serve a database a
// newer release has migrated, unless told to, and says why.
func TestRefusesNewerSchema(t *testing.T) {
	db, dbURL := openTemp(t)
	ctx := t.Context()
	known, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, known+1); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dbURL)
	var tooNew *aiproxy.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != known+1 || tooNew.Known != known {
		t.Fatalf("Open on a newer schema: %v", err)
	}
	for _, want := range []string{strconv.FormatInt(known+1, 10), strconv.FormatInt(known, 10), "--allow-newer-schema", "AIPROXY_ALLOW_NEWER_SCHEMA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message lacks %q: %v", want, err)
		}
	}
	newer, err := OpenWith(ctx, dbURL, Options{AllowNewerSchema: true})
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
