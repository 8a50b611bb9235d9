package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const orgColumns = `key, name, created_at, user_token_ttl_seconds, user_token_max_ttl_seconds`

// CreateOrg stores a new org; it returns aiproxy.ErrConflict if the key
// exists.
func (db *DB) CreateOrg(ctx context.Context, o aiproxy.Org) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT INTO orgs (key, name, created_at) VALUES (?, ?, ?)`,
		o.Key, o.Name, millis(o.CreatedAt))
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
	row := db.read.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE key = ?`, key)
	o, err := scanOrg(row)
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.Org{}, fmt.Errorf("org %q: %w", key, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Org{}, fmt.Errorf("org %q: %w", key, err)
	}
	return o, nil
}

// Orgs returns every org ordered by key.
func (db *DB) Orgs(ctx context.Context) ([]aiproxy.Org, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+orgColumns+` FROM orgs ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return out, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanOrg reads the columns of orgColumns into an org.
func scanOrg(s scanner) (aiproxy.Org, error) {
	var (
		o           aiproxy.Org
		created     sql.NullInt64
		ttl, maxTTL int64
	)
	if err := s.Scan(&o.Key, &o.Name, &created, &ttl, &maxTTL); err != nil {
		return aiproxy.Org{}, err
	}
	o.CreatedAt = fromMillis(created)
	o.Settings = aiproxy.OrgSettings{UserTokenTTL: time.Duration(ttl) * time.Second, UserTokenMaxTTL: time.Duration(maxTTL) * time.Second}
	return o, nil
}

// SetOrgSettings replaces an org's settings.
func (db *DB) SetOrgSettings(ctx context.Context, key string, s aiproxy.OrgSettings) error {
	res, err := db.write.ExecContext(ctx, `UPDATE orgs SET user_token_ttl_seconds = ?, user_token_max_ttl_seconds = ? WHERE key = ?`,
		int64(s.UserTokenTTL/time.Second), int64(s.UserTokenMaxTTL/time.Second), key)
	if err != nil {
		return fmt.Errorf("set settings of org %q: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("set settings of org %q: %w", key, err)
	}
	if n == 0 {
		return fmt.Errorf("set settings of org %q: %w", key, aiproxy.ErrNotFound)
	}
	return nil
}
