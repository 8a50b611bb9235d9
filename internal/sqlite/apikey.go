package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const keyColumns = `id, org_key, name, role, secret_hash, created_at, revoked_at, last_used_at, test_only, expires_at, services`

// CreateKey stores a new key; it returns aiproxy.ErrConflict if the ID exists
// and aiproxy.ErrNotFound if its org does not exist. A key with an empty
// OrgKey is a platform key.
func (db *DB) CreateKey(ctx context.Context, k aiproxy.APIKey) error {
	_, err := db.write.ExecContext(ctx, `
		INSERT INTO api_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, orgKey(k.OrgKey), k.Name, string(k.Role), nonNil(k.SecretHash),
		millis(k.CreatedAt), millis(k.RevokedAt), millis(k.LastUsedAt), k.TestOnly,
		millis(k.ExpiresAt), servicesJSON(k.Services))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create key %q: %w", k.ID, aiproxy.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create key %q: org %q: %w", k.ID, k.OrgKey, aiproxy.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	return nil
}

// Key returns one key by ID, or aiproxy.ErrNotFound.
func (db *DB) Key(ctx context.Context, id string) (aiproxy.APIKey, error) {
	row := db.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.APIKey{}, fmt.Errorf("key %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.APIKey{}, fmt.Errorf("key %q: %w", id, err)
	}
	return k, nil
}

// Keys returns the keys of one org (platform keys for ""), oldest first; keys
// created in the same millisecond are ordered by ID.
func (db *DB) Keys(ctx context.Context, org string) ([]aiproxy.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+keyColumns+` FROM api_keys
		WHERE org_key IS ?
		ORDER BY created_at, id`, orgKey(org))
	if err != nil {
		return nil, fmt.Errorf("list keys of org %q: %w", org, err)
	}
	defer rows.Close()
	var out []aiproxy.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys of org %q: %w", org, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys of org %q: %w", org, err)
	}
	return out, nil
}

// RevokeKey marks a key revoked at a time; it returns aiproxy.ErrNotFound for
// an unknown ID. Revoking a revoked key keeps its first revocation time.
func (db *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke key %q: zero revocation time", id)
	}
	res, err := db.write.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = ifnull(revoked_at, ?) WHERE id = ?`,
		millis(at), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	return nil
}

// TouchKey records that a key was used at a time; it returns
// aiproxy.ErrNotFound for an unknown ID.
func (db *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	res, err := db.write.ExecContext(ctx,
		`UPDATE api_keys SET last_used_at = ? WHERE id = ?`, millis(at), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("touch key %q: %w", id, err)
	}
	return nil
}

// scanKey reads the columns of keyColumns into a key.
func scanKey(s scanner) (aiproxy.APIKey, error) {
	var (
		k                          aiproxy.APIKey
		org                        sql.NullString
		role                       string
		created, revoked, lastUsed sql.NullInt64
		expires                    sql.NullInt64
		services                   string
	)
	err := s.Scan(&k.ID, &org, &k.Name, &role, &k.SecretHash, &created, &revoked, &lastUsed, &k.TestOnly,
		&expires, &services)
	if err != nil {
		return aiproxy.APIKey{}, err
	}
	if k.Services, err = parseServices(services); err != nil {
		return aiproxy.APIKey{}, err
	}
	k.ExpiresAt = fromMillis(expires)
	k.OrgKey = org.String
	k.Role = aiproxy.Role(role)
	k.CreatedAt = fromMillis(created)
	k.RevokedAt = fromMillis(revoked)
	k.LastUsedAt = fromMillis(lastUsed)
	return k, nil
}

// nonNil returns b, or an empty slice for nil, because the driver binds a nil
// slice as NULL and the BLOB columns are NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
