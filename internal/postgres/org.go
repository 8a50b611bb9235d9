package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const orgColumns = `key, name, created_at, user_token_ttl_seconds, user_token_max_ttl_seconds`

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
		o           aiproxy.Org
		created     pgtype.Timestamptz
		ttl, maxTTL int64
	)
	if err := row.Scan(&o.Key, &o.Name, &created, &ttl, &maxTTL); err != nil {
		return aiproxy.Org{}, err
	}
	o.CreatedAt = fromTimestamp(created)
	o.Settings = aiproxy.OrgSettings{UserTokenTTL: time.Duration(ttl) * time.Second, UserTokenMaxTTL: time.Duration(maxTTL) * time.Second}
	return o, nil
}

// SetOrgSettings replaces an org's settings.
func (db *DB) SetOrgSettings(ctx context.Context, key string, s aiproxy.OrgSettings) error {
	tag, err := db.pool.Exec(ctx, `UPDATE orgs SET user_token_ttl_seconds = $1, user_token_max_ttl_seconds = $2 WHERE key = $3`,
		int64(s.UserTokenTTL/time.Second), int64(s.UserTokenMaxTTL/time.Second), key)
	if err != nil {
		return fmt.Errorf("set settings of org %q: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set settings of org %q: %w", key, aiproxy.ErrNotFound)
	}
	return nil
}
