package usage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sqlitedrv "modernc.org/sqlite"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/postgres"
	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// The outage tests break a real database the way production breaks: a
// SQLite file locked by another process past the busy timeout, made
// read-only, or full; a Postgres server that refuses connections (a
// loopback relay cut) or terminates its backends. Each fault is switched
// on right before a chosen write of the recorder and off once the
// recorder has seen it, from the writing goroutine itself, so that a
// connection is never used by two goroutines at once.

// usageDB is what the outage tests need of an engine.
type usageDB interface {
	Appender
	UsageReport(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error)
}

// fault is a real database outage a test switches on and off. sure says
// that every write fails while it is on; otherwise some may pass (a
// terminated backend is replaced by a fresh connection). cut and restore
// may run on any goroutine, so they return errors rather than stop the
// test.
type fault struct {
	name         string
	sure         bool
	cut, restore func() error
}

// engine opens a fresh database of one engine, with its faults.
type engine struct {
	name string
	open func(t *testing.T) (usageDB, []fault)
}

var engines = []engine{{"sqlite", openSQLite}, {"postgres", openPostgres}}

// sqliteWriters holds the writer connection of every SQLite file the
// tests open, so that a fault can make it read-only or cap the file's
// size. The driver's connection hooks are global to the process, and so
// is this registry.
var sqliteWriters struct {
	once  sync.Once
	mu    sync.Mutex
	conns map[string]sqlitedrv.ExecQuerierContext
}

// onWriter runs statements on the writer connection of the SQLite file
// at path, stopping at the first that fails.
func onWriter(path string, stmts ...string) error {
	sqliteWriters.mu.Lock()
	c := sqliteWriters.conns[path]
	sqliteWriters.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no writer connection for %s", path)
	}
	for _, stmt := range stmts {
		if _, err := c.ExecContext(context.Background(), stmt, nil); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

func watchSQLiteWriters() {
	sqliteWriters.once.Do(func() {
		sqliteWriters.conns = map[string]sqlitedrv.ExecQuerierContext{}
		sqlitedrv.RegisterConnectionHook(func(c sqlitedrv.ExecQuerierContext, dsn string) error {
			path, query, _ := strings.Cut(dsn, "?")
			if strings.Contains(query, "_txlock=immediate") { // the store's writer
				sqliteWriters.mu.Lock()
				sqliteWriters.conns[path] = c
				sqliteWriters.mu.Unlock()
			}
			return nil
		})
	})
}

func openSQLite(t *testing.T) (usageDB, []fault) {
	watchSQLiteWriters()
	path := filepath.Join(t.TempDir(), "aiproxy.db")
	db, err := sqlite.OpenWith(t.Context(), path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := sql.Open("sqlite", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	other.SetMaxOpenConns(1)
	exec := func(stmt string) func() error {
		return func() error {
			_, err := other.ExecContext(context.Background(), stmt)
			return err
		}
	}
	// quiesce waits until the store's own use of its writer connection has
	// ended: a write it began before the recorder stopped may still be
	// rolling back on another goroutine (database/sql rolls back a
	// cancelled transaction there). Taking the connection through the
	// store orders the test's direct use of it after that. The write
	// itself fails while the fault is on, or records a row of an org no
	// check reads.
	quiesce := func() {
		_ = db.AppendUsage(context.Background(), []aiproxy.UsageRecord{{At: time.Now(), OrgKey: "quiesce", Service: "s", Action: "a", Status: 200}})
	}
	return db, []fault{
		{name: "locked", sure: true, cut: exec(`BEGIN IMMEDIATE`), restore: exec(`ROLLBACK`)},
		{name: "read-only", sure: true,
			cut: func() error { return onWriter(path, `PRAGMA query_only = 1`) },
			restore: func() error {
				quiesce()
				return onWriter(path, `PRAGMA query_only = 0`)
			}},
		{name: "disk full", sure: true,
			cut: func() error { return fillSQLite(path) },
			restore: func() error {
				quiesce()
				return onWriter(path, `PRAGMA max_page_count = 1073741823`, `DELETE FROM filler`)
			}},
	}
}

// fillSQLite caps the file at its size and fills what is free in it, as a
// full disk would leave it: any write that needs a new page fails.
func fillSQLite(path string) error {
	if err := onWriter(path, `CREATE TABLE IF NOT EXISTS filler (b BLOB)`); err != nil {
		return err
	}
	sqliteWriters.mu.Lock()
	c := sqliteWriters.conns[path]
	sqliteWriters.mu.Unlock()
	rows, err := c.QueryContext(context.Background(), `PRAGMA page_count`, nil)
	if err != nil {
		return err
	}
	vals := make([]driver.Value, 1)
	err = rows.Next(vals)
	rows.Close()
	if err != nil {
		return err
	}
	pages, _ := vals[0].(int64)
	if err := onWriter(path, `PRAGMA max_page_count = `+strconv.FormatInt(pages, 10)); err != nil {
		return err
	}
	for _, size := range []int{65536, 4096, 512, 64, 8} {
		for i := 0; i < 100000; i++ {
			if onWriter(path, `INSERT INTO filler VALUES (randomblob(`+strconv.Itoa(size)+`))`) != nil {
				break
			}
		}
	}
	return nil
}

// relay is a loopback TCP relay to a database server that a test cuts
// (connections refused, open ones broken) and restores on the same
// address.
type relay struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	r := &relay{target: target, addr: "127.0.0.1:0"}
	if err := r.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.cut)
	return r
}

func (r *relay) listen() error {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", r.target)
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
	}()
	return nil
}

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *relay) restore() error {
	var err error
	for range 100 {
		if err = r.listen(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("listen again on %s: %w", r.addr, err)
}

func openPostgres(t *testing.T) (usageDB, []fault) {
	base := pgtest.URL(t)
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	app := "aiproxy-usage-" + randomHex()
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	r := newRelay(t, u.Host)
	u.Host = r.addr
	db, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, []fault{
		{name: "refused", sure: true, cut: func() error { r.cut(); return nil }, restore: r.restore},
		{name: "terminated", cut: func() error { return terminate(base, app) }, restore: func() error { return nil }},
	}
}

// terminate ends every backend of an application name, as an operator's
// pg_terminate_backend or a failover does, and waits until they are gone.
func terminate(dsn, app string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
		return err
	}
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// faultyAppender switches a fault on right before a chosen write, and off
// before the first write after restore is asked for, both from the
// writing goroutine.
type faultyAppender struct {
	t  *testing.T
	db usageDB
	f  fault

	mu        sync.Mutex
	calls     int
	cutAt     int
	on        bool
	restoring bool
	failures  int
}

func (a *faultyAppender) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	a.mu.Lock()
	a.calls++
	switch {
	case a.on && a.restoring:
		a.switchOff()
	case !a.on && a.calls == a.cutAt:
		if err := a.f.cut(); err != nil {
			a.t.Errorf("cut the database (%s): %v", a.f.name, err)
		}
		a.on = true
	}
	a.mu.Unlock()
	err := a.db.AppendUsage(ctx, recs)
	if err != nil {
		a.mu.Lock()
		a.failures++
		a.mu.Unlock()
	}
	return err
}

// arm cuts the database before the n-th write from now.
func (a *faultyAppender) arm(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cutAt, a.failures = a.calls+n, 0
}

// state returns whether the fault is on and how many writes failed.
func (a *faultyAppender) state() (on bool, failures int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.on, a.failures
}

// heal asks for the fault to be switched off before the next write.
func (a *faultyAppender) heal() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restoring = true
}

// restoreNow switches the fault off from the test goroutine, when no
// recorder writes.
func (a *faultyAppender) restoreNow() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.on {
		a.switchOff()
	}
}

func (a *faultyAppender) switchOff() {
	if err := a.f.restore(); err != nil {
		a.t.Errorf("restore the database (%s): %v", a.f.name, err)
	}
	a.on, a.restoring = false, false
}

// metered returns the requests and renders usage holds for an org.
func metered(t *testing.T, db usageDB, org string) (requests, units int64) {
	t.Helper()
	rows, err := db.UsageReport(context.Background(), aiproxy.UsageFilter{OrgKey: org})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		requests += r.Requests
		units += r.Units[aiproxy.MetricRenders]
	}
	return requests, units
}

// recordFor queues n records of an org, numbered 1..n in their units.
func recordFor(r *Recorder, org string, n int) {
	for i := 1; i <= n; i++ {
		r.Record(aiproxy.UsageRecord{At: time.Now().UTC(), OrgKey: org, KeyID: "k", Service: "heygen",
			Action: "generate-video", Status: 200, UpstreamStatus: 200, Unit: aiproxy.MetricRenders, Units: int64(i)})
	}
}

// expectMetered checks that an org's records are all in the store, once.
func expectMetered(t *testing.T, db usageDB, org string, n int) {
	t.Helper()
	req, units := metered(t, db, org)
	if want := int64(n * (n + 1) / 2); req != int64(n) || units != want {
		t.Fatalf("%s: %d requests and %d units metered, want %d and %d (each record once)", org, req, units, n, want)
	}
}

// TestUsageThroughDatabaseOutages breaks the database before the first
// write of a flush, before a later one, and for long enough that records
// pass memory into the spool and the recorder stops and restarts, on
// every engine and fault: every record is metered exactly once when the
// database is back, bounded in time.
func TestUsageThroughDatabaseOutages(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db, faults := e.open(t)
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) { usageOutage(t, db, f) })
			}
		})
	}
}

func usageOutage(t *testing.T, db usageDB, f fault) {
	dir := filepath.Join(t.TempDir(), "spool")
	fa := &faultyAppender{t: t, db: db, f: f}
	cfg := Config{Batch: 100, Every: 20 * time.Millisecond, MaxPending: 250, SpoolDir: dir,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, StopTimeout: 300 * time.Millisecond}
	org := strings.NewReplacer(" ", "-").Replace("org-" + f.name + "-" + randomHex())
	for step, n := range map[string]int{"first write": 1, "a later write": 3} {
		t.Run(step, func(t *testing.T) {
			t.Cleanup(fa.restoreNow) // after Run stops, also when the test fails
			r := New(fa, cfg)
			stop := run(t, r)
			org := org + "-" + strconv.Itoa(n)
			fa.arm(n)
			recordFor(r, org, 600)
			waitFor(t, 10*time.Second, "a failed write", func() bool {
				on, failures := fa.state()
				return on && (failures > 0 || !f.sure) && r.Pending() > 0
			})
			fa.heal()
			flush(t, r, 20*time.Second)
			stop()
			_, failures := fa.state()
			if failures == 0 && f.sure {
				t.Fatal("the fault never failed a write")
			}
			t.Logf("%d failed writes", failures)
			expectMetered(t, db, org, 600)
			if r.Pending() != 0 || r.Dropped() != 0 {
				t.Fatalf("pending %d, dropped %d", r.Pending(), r.Dropped())
			}
		})
	}
	t.Run("spooled, then restarted", func(t *testing.T) {
		if !f.sure {
			t.Skip("a terminated backend is replaced at once: no outage lasts long enough to spool through")
		}
		org := org + "-restart"
		t.Cleanup(fa.restoreNow)
		r := New(fa, cfg)
		stop := run(t, r)
		fa.arm(1)
		recordFor(r, org, 700)
		waitFor(t, 10*time.Second, "records past memory in the spool", func() bool { return r.Spooled() >= 400 })
		stop() // while the database is away: what memory held is spooled too
		fa.restoreNow()
		if r.Spooled() != 700 {
			t.Fatalf("stopped during the outage: %d spooled, want 700", r.Spooled())
		}
		for range 2 { // a restart, and one more, which must write nothing again
			again := New(fa, cfg)
			stop := run(t, again)
			flush(t, again, 20*time.Second)
			stop()
			expectMetered(t, db, org, 700)
		}
		if files, _ := os.ReadDir(dir); len(files) != 0 {
			t.Fatalf("%d spool files left", len(files))
		}
	})
}
