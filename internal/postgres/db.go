// Package postgres implements aiproxy's stores on PostgreSQL, the engine for
// running several replicas on one database. It talks to the server through a
// pgx connection pool and migrates its schema with goose from SQL files
// embedded in the binary, under an advisory lock so that replicas starting
// together apply each migration once.
//
// Times are stored as timestamptz at millisecond precision, the precision
// the SQLite engine keeps, so that both engines return the same instants; the
// zero time is NULL. Rows that belong to no org (platform keys and
// credentials) have a NULL org_key, so the foreign key to orgs applies only
// to rows that name an org.
//
// The database URL is anything pgx accepts, for example
// postgres://user:pass@host:5432/db?sslmode=require, including the pool's
// pool_max_conns and related parameters. A search_path parameter selects the
// schema, which must already exist.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open aiproxy database. It implements aiproxy.OrgStore, KeyStore,
// CredentialStore, QuotaStore, UsageStore, AccessStore, JobStore,
// WebhookStore and IdempotencyStore, and is safe for concurrent use by any
// number of goroutines and replicas.
type DB struct {
	pool classifiedPool
	// eventLock is the advisory lock that serialises job event writers; see
	// insertEvent.
	eventLock int64
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
}

// Open connects to the database at url and migrates its schema to the
// latest version. Errors never include the URL, which may hold a password.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, opts Options) (*DB, error) {
	// pgxpool's defaults stand unless the URL's pool_* parameters say
	// otherwise: at most max(4, NumCPU) connections, each recycled after an
	// hour, checked every minute.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors already redact the password.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: classifiedPool{pool}}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := db.migrate(ctx, opts.AllowNewerSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	schema, err := db.currentSchema(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.eventLock = lockID("job events", schema)
	return db, nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database can be reached.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// SQLSTATE codes the stores map to domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// errCode returns the SQLSTATE of err, or "".
func errCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// classify marks err with aiproxy.ErrUnavailable when it says that the
// database cannot serve right now, rather than that a statement is wrong:
// no connection could be made (refused, reset, timed out while dialing),
// a connection broke mid-statement, or the server answered with a class of
// errors that means the same (08 connection exception, 53 insufficient
// resources such as a full disk, 57P01-57P03 shut down or starting up,
// 25006 a read-only standby after a failover). Every statement's error
// passes through it (classifiedPool).
func classify(err error) error {
	if err == nil || errors.Is(err, aiproxy.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", aiproxy.ErrUnavailable, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; the database may be fine
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") ||
			c == "57P01" || c == "57P02" || c == "57P03" || c == "25006"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	// pgx answers the first use of a pooled connection whose socket the
	// server or the network closed with ErrConnClosed.
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// classifiedPool is the connection pool with the errors of every statement
// run through it, or through a transaction begun on it, passed through
// classify: a store's caller then learns that the database was unavailable
// without any store having to ask.
type classifiedPool struct{ *pgxpool.Pool }

func (p classifiedPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, classify(err)
}

func (p classifiedPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := p.Pool.Query(ctx, sql, args...)
	return classifiedRows{rows}, classify(err)
}

func (p classifiedPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{p.Pool.QueryRow(ctx, sql, args...)}
}

func (p classifiedPool) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return nil, classify(err)
	}
	return classifiedTx{tx}, nil
}

func (p classifiedPool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := p.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, classify(err)
	}
	return classifiedTx{tx}, nil
}

func (p classifiedPool) Ping(ctx context.Context) error { return classify(p.Pool.Ping(ctx)) }

type classifiedTx struct{ pgx.Tx }

func (t classifiedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.Tx.Exec(ctx, sql, args...)
	return tag, classify(err)
}

func (t classifiedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.Tx.Query(ctx, sql, args...)
	return classifiedRows{rows}, classify(err)
}

func (t classifiedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{t.Tx.QueryRow(ctx, sql, args...)}
}

func (t classifiedTx) Commit(ctx context.Context) error   { return classify(t.Tx.Commit(ctx)) }
func (t classifiedTx) Rollback(ctx context.Context) error { return classify(t.Tx.Rollback(ctx)) }

// classifiedRows classifies the error that ends a result, where a broken
// connection shows up mid-read.
type classifiedRows struct{ pgx.Rows }

func (r classifiedRows) Err() error { return classify(r.Rows.Err()) }

type classifiedRow struct{ pgx.Row }

func (r classifiedRow) Scan(dest ...any) error { return classify(r.Row.Scan(dest...)) }

// isUniqueViolation reports whether err is a primary-key or unique violation.
func isUniqueViolation(err error) bool { return errCode(err) == uniqueViolation }

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool { return errCode(err) == foreignKeyViolation }

// affectedOne returns ErrNotFound when an update or delete touched no row.
func affectedOne(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return aiproxy.ErrNotFound
	}
	return nil
}

// timestamp converts a time to its stored form: the same instant truncated
// to milliseconds, or NULL for the zero time.
func timestamp(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.Truncate(time.Millisecond), Valid: true}
}

// fromTimestamp is the inverse of timestamp; it returns times in UTC.
func fromTimestamp(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// orgKey converts an org key to its stored form: NULL for "" (no org).
func orgKey(key string) pgtype.Text {
	return pgtype.Text{String: key, Valid: key != ""}
}

// nonNil returns b, or an empty slice for nil, because pgx binds a nil slice
// as NULL and the bytea columns are NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
