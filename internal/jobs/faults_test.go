package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sqlitedrv "modernc.org/sqlite"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/postgres"
	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// Real database faults for the durability tests (durable_test.go): a
// SQLite file locked by another process past the busy timeout, made
// read-only, or full; a Postgres server that refuses connections (a
// loopback relay cut) or terminates its backends. stepStore switches one
// on before a chosen store call.

// durableDB is what a durability test needs of an engine.
type durableDB interface {
	Store
	admin.Stores
	aiproxy.UsageStore
	io.Closer
}

// fault is a real database outage a test switches on and off. sure says
// that every write fails while it is on (a terminated backend is replaced
// by a fresh connection at once), except the store calls it spares (a
// full disk still lets rows be deleted).
type fault struct {
	name         string
	sure         bool
	spares       []string
	cut, restore func() error
}

// dbEngine opens a fresh database of one engine, with its faults.
type dbEngine struct {
	name string
	open func(t *testing.T) (durableDB, []fault)
}

var dbEngines = []dbEngine{{"sqlite", openSQLiteFaulty}, {"postgres", openPostgresFaulty}}

// sqliteWriters holds the writer connection of every SQLite file the
// tests open, so that a fault can make it read-only or cap the file's
// size. The driver's connection hooks are global to the process, and so
// is this registry.
var sqliteWriters struct {
	once  sync.Once
	mu    sync.Mutex
	conns map[string]sqlitedrv.ExecQuerierContext
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

func openSQLiteFaulty(t *testing.T) (durableDB, []fault) {
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
	return db, []fault{
		{name: "locked", sure: true, cut: exec(`BEGIN IMMEDIATE`), restore: exec(`ROLLBACK`)},
		{name: "read-only", sure: true,
			cut:     func() error { return onWriter(path, `PRAGMA query_only = 1`) },
			restore: func() error { return onWriter(path, `PRAGMA query_only = 0`) }},
		{name: "disk full", sure: true, spares: []string{"ReleaseJobSlot"},
			cut:     func() error { return fillSQLite(db, path) },
			restore: func() error { return onWriter(path, `PRAGMA max_page_count = 1073741823`, `DELETE FROM filler`) }},
	}
}

// fillSQLite caps the file at its size and fills what is free in it, as a
// full disk would leave it: free pages with blobs, then the room left in
// the jobs' own pages with jobs of an org no test reads, until such a job
// no longer fits.
func fillSQLite(db durableDB, path string) error {
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
	for _, size := range []int{65536, 4096, 512, 64} {
		for i := 0; i < 100000; i++ {
			if onWriter(path, `INSERT INTO filler VALUES (randomblob(`+strconv.Itoa(size)+`))`) != nil {
				break
			}
		}
	}
	for refused := 0; refused < 20; {
		j := aiproxy.Job{ID: aiproxy.NewID("job_"), OrgKey: "filler", Service: "filler", Action: "generate-video",
			StatusAction: "video-status", ProviderJobID: aiproxy.NewID("vid_"), Source: aiproxy.SourcePlatform,
			CredentialName: "heygen", State: aiproxy.JobCompleted, ResultURLs: map[string]string{},
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
		err := db.CreateJob(context.Background(), j, newEvent(j, aiproxy.EventJobCreated, j.CreatedAt), nil)
		switch {
		case errors.Is(err, aiproxy.ErrUnavailable):
			refused++
		case err != nil:
			return err
		default:
			refused = 0
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

func openPostgresFaulty(t *testing.T) (durableDB, []fault) {
	base := pgtest.URL(t)
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	app := "aiproxy-jobs-" + randomHex()
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

// stepStore is the database as the job hooks, the idempotency hooks and
// the proxy's credential reads see it: it names each call a job start
// makes, and switches a fault on right before the chosen one.
type stepStore struct {
	durableDB
	rig *rig

	mu       sync.Mutex
	seen     []string
	cutAt    int
	fault    *fault
	failures int
}

func (s *stepStore) step(name string) {
	s.mu.Lock()
	s.seen = append(s.seen, name)
	fire := len(s.seen) == s.cutAt
	s.mu.Unlock()
	if fire {
		s.rig.switchOn(*s.fault)
	}
}

func (s *stepStore) note(err error) error {
	if err != nil && !errors.Is(err, aiproxy.ErrNotFound) && !errors.Is(err, aiproxy.ErrConflict) {
		s.mu.Lock()
		s.failures++
		s.mu.Unlock()
	}
	return err
}

// arm cuts the database before the n-th call from now (0: never).
func (s *stepStore) arm(n int, f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen, s.failures, s.fault = nil, 0, f
	s.cutAt = n
}

func (s *stepStore) calls() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen), s.failures
}

func (s *stepStore) ClaimIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord, now time.Time) (aiproxy.IdempotencyRecord, bool, error) {
	s.step("ClaimIdempotency")
	held, claimed, err := s.durableDB.ClaimIdempotency(ctx, rec, now)
	return held, claimed, s.note(err)
}

func (s *stepStore) ReleaseIdempotency(ctx context.Context, org, key string) error {
	s.step("ReleaseIdempotency")
	return s.note(s.durableDB.ReleaseIdempotency(ctx, org, key))
}

func (s *stepStore) CompleteIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord) error {
	s.step("CompleteIdempotency")
	return s.note(s.durableDB.CompleteIdempotency(ctx, rec))
}

func (s *stepStore) Credential(ctx context.Context, src aiproxy.Source, org, name string) (aiproxy.Credential, error) {
	s.step("Credential")
	c, err := s.durableDB.Credential(ctx, src, org, name)
	return c, s.note(err)
}

func (s *stepStore) ClaimJobSlot(ctx context.Context, sl aiproxy.JobSlot, caps []aiproxy.JobCap, now time.Time) (*aiproxy.JobCap, error) {
	s.step("ClaimJobSlot")
	full, err := s.durableDB.ClaimJobSlot(ctx, sl, caps, now)
	return full, s.note(err)
}

func (s *stepStore) ReleaseJobSlot(ctx context.Context, id string) error {
	s.step("ReleaseJobSlot")
	return s.note(s.durableDB.ReleaseJobSlot(ctx, id))
}

func (s *stepStore) CreateJob(ctx context.Context, j aiproxy.Job, ev aiproxy.JobEvent, done *aiproxy.IdempotencyRecord) error {
	s.step("CreateJob")
	return s.note(s.durableDB.CreateJob(ctx, j, ev, done))
}
