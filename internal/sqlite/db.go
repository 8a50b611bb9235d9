// Package sqlite implements aiproxy's stores on an embedded SQLite database,
// the default engine. It uses the pure-Go modernc.org/sqlite driver, so the
// binary needs no cgo, and migrates its schema with goose from SQL files
// embedded in the binary.
//
// SQLite allows one writer at a time. A DB therefore holds two pools on the
// same file: a writer pool of exactly one connection, whose transactions
// begin IMMEDIATE, and a pool of read-only connections. Concurrent writers in
// this process queue for the one connection in database/sql instead of
// failing with SQLITE_BUSY, and readers proceed in parallel thanks to WAL.
// busy_timeout covers the remaining case of another process writing.
//
// Times are stored as UTC unix milliseconds; the zero time is NULL. Rows that
// belong to no org (platform keys and credentials) have a NULL org_key, so
// the foreign key to orgs applies only to rows that name an org.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for another process's lock
// before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// DB is an open aiproxy database. It implements aiproxy.OrgStore,
// aiproxy.KeyStore and aiproxy.CredentialStore, and is safe for concurrent
// use.
type DB struct {
	write *sql.DB // one connection; every write goes through it
	read  *sql.DB // query_only connections
	stmts stmtCache
	// writeStmts holds statements prepared on the write connection.
	writeStmts stmtCache
	// health keeps the last background integrity check (health.go).
	health health
}

var (
	_ aiproxy.OrgStore        = (*DB)(nil)
	_ aiproxy.KeyStore        = (*DB)(nil)
	_ aiproxy.CredentialStore = (*DB)(nil)
)

// Options tune OpenWith. The zero value is what Open uses.
type Options struct {
	// AllowNewerSchema lets Open use a database whose schema a newer release
	// has migrated past the last migration this binary knows; without it
	// Open refuses with an *aiproxy.SchemaTooNewError.
	AllowNewerSchema bool
	// BusyTimeout is how long a connection waits for another process's lock
	// before failing; 0 means 5 seconds.
	BusyTimeout time.Duration
}

// Open opens the database file at path, creating it if needed, and migrates
// its schema to the latest version. path must name a file: an in-memory
// database would not be shared between the writer and reader pools.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: path %q must be a plain file path", path)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = busyTimeout
	}
	write, err := openPool(dsn(path, false, opts.BusyTimeout), false)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	db := &DB{write: write}
	if err := db.migrate(ctx, opts.AllowNewerSchema); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The reader pool opens only after the writer has switched the file to
	// WAL, which is a persistent property of the file.
	db.read, err = openPool(dsn(path, true, opts.BusyTimeout), true)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.startHealth(integrityEvery)
	return db, nil
}

// dsn builds the driver's connection string. Every connection gets the same
// pragmas; the writer's transactions begin IMMEDIATE so that a transaction
// that reads before it writes cannot fail to upgrade its lock.
func dsn(path string, readOnly bool, busy time.Duration) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// migrate applies every embedded migration that has not run yet. Goose keeps
// its bookkeeping in the goose_db_version table. A schema newer than the
// last embedded migration is refused unless allowNewer.
func (db *DB) migrate(ctx context.Context, allowNewer bool) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := checkNotNewer(ctx, p, allowNewer); err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// checkNotNewer refuses a database migrated past the provider's last
// migration, unless allowNewer.
func checkNotNewer(ctx context.Context, p *goose.Provider, allowNewer bool) error {
	current, known, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > known && !allowNewer {
		return &aiproxy.SchemaTooNewError{Database: current, Known: known}
	}
	return nil
}

func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db.write, fsys, goose.WithDisableGlobalRegistry(true))
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	var errs []error
	db.stopHealth()
	db.closeStmts()
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// Ping reports whether the database can be reached for reading and
// writing, and whether its file passed the last integrity check
// (ErrIntegrity).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite writer: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite reader: %w", err)
	}
	return db.integrity() // health.go
}

// errCode returns the extended SQLite result code of err, or 0.
func errCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// classify marks err with aiproxy.ErrUnavailable when it says that the
// database cannot serve right now, rather than that a statement is wrong:
// another process held its lock past the busy timeout, the file cannot be
// written (read-only, disk full) or read (I/O error), or it cannot be
// opened. On the query_only reader a refused write is a bug, not an outage.
// Every connection's errors pass through it (conn.go).
func classify(err error, reader bool) error {
	switch errCode(err) & 0xff {
	case sqlite3.SQLITE_READONLY:
		if reader {
			return err
		}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS:
	default:
		return err
	}
	return fmt.Errorf("%w: %w", aiproxy.ErrUnavailable, err)
}

// isUniqueViolation reports whether err is a primary-key or unique violation.
func isUniqueViolation(err error) bool {
	c := errCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
	return errCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// affectedOne returns ErrNotFound when an update or delete touched no row.
func affectedOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return aiproxy.ErrNotFound
	}
	return nil
}

// millis converts a time to its stored form: UTC unix milliseconds, or NULL
// for the zero time.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis is the inverse of millis; it returns times in UTC.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// orgKey converts an org key to its stored form: NULL for "" (no org).
func orgKey(key string) sql.NullString {
	return sql.NullString{String: key, Valid: key != ""}
}
