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
	"time"

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
	pool *pgxpool.Pool
	// eventLock is the advisory lock that serialises job event writers; see
	// insertEvent.
	eventLock int64
}

var (
	_ aiproxy.OrgStore        = (*DB)(nil)
	_ aiproxy.KeyStore        = (*DB)(nil)
	_ aiproxy.CredentialStore = (*DB)(nil)
)

// Open connects to the database at url and migrates its schema to the
// latest version. Errors never include the URL, which may hold a password.
func Open(ctx context.Context, url string) (*DB, error) {
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
	db := &DB{pool: pool}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
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
