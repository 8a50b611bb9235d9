package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const orgColumns = `key, name, created_at`

// CreateOrg stores a new org; it returns aiproxy.ErrConflict if the key
// exists.
func (db *DB) CreateOrg(ctx context.Context, o aiproxy.Org) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO orgs (key, name, created_at) VALUES ($1, $2, $3)`,
		o.Key, o.Name, timestamp(o.CreatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("create org %q: %w", o.Key, aiproxy.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create org %q: %w", o.Key, err)
	}
	return nil
}

// Org returns one org, or aiproxy.ErrNotFound.
func (db *DB) Org(ctx context.Context, key string) (aiproxy.Org, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE key = $1`, key)
	o, err := scanOrg(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return aiproxy.Org{}, fmt.Errorf("org %q: %w", key, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Org{}, fmt.Errorf("org %q: %w", key, err)
	}
	return o, nil
}

// Orgs returns every org ordered by key.
func (db *DB) Orgs(ctx context.Context) ([]aiproxy.Org, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+orgColumns+` FROM orgs ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.Org, error) { return scanOrg(r) })
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return out, nil
}

// scanOrg reads the columns of orgColumns into an org.
func scanOrg(row pgx.Row) (aiproxy.Org, error) {
	var (
		o       aiproxy.Org
		created pgtype.Timestamptz
	)
	if err := row.Scan(&o.Key, &o.Name, &created); err != nil {
		return aiproxy.Org{}, err
	}
	o.CreatedAt = fromTimestamp(created)
	return o, nil
}
