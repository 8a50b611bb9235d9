package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// migrate applies every embedded migration that has not run yet. Goose keeps
// its bookkeeping in the goose_db_version table of the same schema.
//
// The whole run holds a session advisory lock on the schema, so that
// replicas starting together take turns: the first applies the migrations,
// the others then find nothing pending. Goose's own session locker was not
// used because it guards only the apply step (its pending check creates the
// version table outside the lock, retrying on the races that follow) and
// polls for the lock every five seconds, where pg_advisory_lock wakes the
// next waiter at once.
//
// A schema newer than the last embedded migration is refused, unless
// allowNewer: an older replica must not serve tables a newer one changed.
func (db *DB) migrate(ctx context.Context, allowNewer bool) error {
	return db.withMigrationLock(ctx, func() error {
		p, sqlDB, err := db.provider(ctx)
		if err != nil {
			return err
		}
		defer sqlDB.Close()
		current, known, err := p.GetVersions(ctx)
		if err != nil {
			return err
		}
		if current > known && !allowNewer {
			return &aiproxy.SchemaTooNewError{Database: current, Known: known}
		}
		_, err = p.Up(ctx)
		return err
	})
}

// withMigrationLock runs fn while holding the schema's migration lock. The
// lock is taken on a connection of its own, outside the pool, so that a pool
// of one connection is left to goose; closing that connection ends its
// session, which releases the lock, and so does a replica's death.
// Cancelling ctx ends the wait for the lock.
func (db *DB) withMigrationLock(ctx context.Context, fn func() error) error {
	schema, err := db.currentSchema(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("migrate: lock connection: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID(schema)); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// currentSchema returns the schema that new tables go to: the first one in
// the search_path that exists.
func (db *DB) currentSchema(ctx context.Context) (string, error) {
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		return "", fmt.Errorf("current schema: %w", err)
	}
	if schema == "" {
		return "", fmt.Errorf("no schema in the search_path exists; create it first")
	}
	return schema, nil
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, sqlDB, err := db.provider(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	defer sqlDB.Close()
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// provider returns a goose provider over the embedded migrations, on a
// database/sql handle that borrows connections from the pool. Closing the
// handle leaves the pool open.
func (db *DB) provider(ctx context.Context) (*goose.Provider, *sql.DB, error) {
	if _, err := db.currentSchema(ctx); err != nil {
		return nil, nil, err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool.Pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return p, sqlDB, nil
}

// migrationLockID is the advisory lock key that guards the migrations of
// one schema. Replicas on the same schema share it; test runs, each in its
// own schema, do not wait for each other.
func migrationLockID(schema string) int64 { return lockID("migrations", schema) }

// lockID derives an advisory lock key from what the lock guards and the
// schema it guards it in.
func lockID(purpose, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("aiproxy " + purpose + " " + schema))
	return int64(h.Sum64())
}
