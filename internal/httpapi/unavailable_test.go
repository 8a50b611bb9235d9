package httpapi

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/postgres"
	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// errDBDown is a store error as an engine returns it during an outage: the
// driver's cause, marked unavailable.
var errDBDown = fmt.Errorf("%w: dial tcp 127.0.0.1:5432: connect: connection refused (password hunter2)", aiproxy.ErrUnavailable)

func TestRenderDatabaseOutage(t *testing.T) {
	for name, err := range map[string]error{
		"bare":                  errDBDown,
		"wrapped by a store":    fmt.Errorf("read key: %w", errDBDown),
		"inside internal error": &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "x", Err: errDBDown},
	} {
		t.Run(name, func(t *testing.T) {
			w, status, logs := render(err)
			if status != 503 || w.Code != 503 {
				t.Fatalf("status %d/%d, want 503", status, w.Code)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			expectBody(t, w.Body.Bytes(), map[string]string{"detail": msgUnavailable, "code": "unavailable"})
			if strings.Contains(w.Body.String(), "hunter2") || !strings.Contains(logs.String(), "hunter2") {
				t.Fatalf("the cause must be logged, never shown: body %s logs %s", w.Body, logs)
			}
		})
	}
	// A coded error keeps its code even when its cause was an outage.
	w, status, _ := render(&aiproxy.Error{Code: aiproxy.CodeNotFound, Message: "Not found.", Err: errDBDown})
	if status != 404 || w.Header().Get("Retry-After") != "" {
		t.Fatalf("coded error: %d %v", status, w.Header())
	}
}

// outageStore is what the outage tests need of an engine.
type outageStore interface {
	admin.Stores
	KeyReader
	OrgReader
}

// outageAPI serves the admin API over a store and returns its URL and a
// platform key.
func outageAPI(t *testing.T, db outageStore) (url, auth string) {
	t.Helper()
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	srv := httptest.NewServer(New(Config{Catalog: cat, Keys: db, Orgs: db, Admin: adm}))
	t.Cleanup(srv.Close)
	full, _, err := adm.CreateKey(t.Context(), "", "ops", aiproxy.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, "Api-Key " + full
}

// expectOutage checks a call made while the database is away: 503
// unavailable with Retry-After, in the contract's shape.
func expectOutage(t *testing.T, url, method, path, auth, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+base+path, strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s %s during an outage = %d (Retry-After %q): %s", method, path, resp.StatusCode, resp.Header.Get("Retry-After"), got)
	}
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		t.Errorf("%s %s during an outage challenges for a key (%q): the key was not at fault", method, path, c)
	}
	expectBody(t, got, map[string]string{"detail": msgUnavailable, "code": "unavailable"})
}

// TestDatabaseOutageSQLite locks the SQLite file from another process past
// the busy timeout: writes are 503 with Retry-After, reads go on.
func TestDatabaseOutageSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := sqlite.OpenWith(t.Context(), path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	url, auth := outageAPI(t, db)

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	if _, err := other.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	expectOutage(t, url, "POST", "/admin/orgs/", auth, `{"key":"newco"}`)
	expectOutage(t, url, "POST", "/admin/keys/", auth, `{"name":"k"}`)
	if _, err := other.ExecContext(t.Context(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+base+"/admin/orgs/", strings.NewReader(`{"key":"newco"}`))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("after the lock is gone: %d", resp.StatusCode)
	}
}

// TestDatabaseOutagePostgres takes the Postgres server away behind a
// loopback relay (refused and cut connections): every call that needs the
// database is 503 with Retry-After, never 500.
func TestDatabaseOutagePostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	u, err := neturl.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	target := u.Host
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	stop := func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(stop)
	u.Host = ln.Addr().String()
	db, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	url, auth := outageAPI(t, db)
	if err := db.CreateOrg(t.Context(), aiproxy.Org{Key: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	stop()
	expectOutage(t, url, "GET", "/admin/orgs/", auth, ``)
	expectOutage(t, url, "GET", "/orgs/acme/services/", auth, ``)
	expectOutage(t, url, "GET", "/orgs/acme/credentials/", auth, ``)
	expectOutage(t, url, "POST", "/admin/orgs/", auth, `{"key":"newco"}`)
	expectOutage(t, url, "GET", "/admin/keys/", auth, ``)
}
