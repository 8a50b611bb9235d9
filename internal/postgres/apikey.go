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

const keyColumns = `id, org_key, name, role, secret_hash, created_at, revoked_at, last_used_at, test_only, expires_at, services`

// CreateKey stores a new key; it returns aiproxy.ErrConflict if the ID exists
// and aiproxy.ErrNotFound if its org does not exist. A key with an empty
// OrgKey is a platform key.
func (db *DB) CreateKey(ctx context.Context, k aiproxy.APIKey) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		k.ID, orgKey(k.OrgKey), k.Name, string(k.Role), nonNil(k.SecretHash),
		timestamp(k.CreatedAt), timestamp(k.RevokedAt), timestamp(k.LastUsedAt), k.TestOnly,
		timestamp(k.ExpiresAt), servicesJSON(k.Services))
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
	row := db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
	k, err := scanKey(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	// coalesce(org_key, '') matches the index api_keys_by_org; no org key
	// is empty, so "" selects exactly the platform keys.
	rows, err := db.pool.Query(ctx, `
		SELECT `+keyColumns+` FROM api_keys
		WHERE coalesce(org_key, '') = $1
		ORDER BY created_at, id`, org)
	if err != nil {
		return nil, fmt.Errorf("list keys of org %q: %w", org, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.APIKey, error) { return scanKey(r) })
	if err != nil {
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
	tag, err := db.pool.Exec(ctx,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
		timestamp(at), id)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	return nil
}

// TouchKey records that a key was used at a time; it returns
// aiproxy.ErrNotFound for an unknown ID.
func (db *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, timestamp(at), id)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("touch key %q: %w", id, err)
	}
	return nil
}

// scanKey reads the columns of keyColumns into a key.
func scanKey(row pgx.Row) (aiproxy.APIKey, error) {
	var (
		k                          aiproxy.APIKey
		org                        pgtype.Text
		role                       string
		created, revoked, lastUsed pgtype.Timestamptz
		expires                    pgtype.Timestamptz
		services                   []byte
	)
	err := row.Scan(&k.ID, &org, &k.Name, &role, &k.SecretHash, &created, &revoked, &lastUsed, &k.TestOnly,
		&expires, &services)
	if err != nil {
		return aiproxy.APIKey{}, err
	}
	if k.Services, err = parseServices(string(services)); err != nil {
		return aiproxy.APIKey{}, err
	}
	k.ExpiresAt = fromTimestamp(expires)
	k.OrgKey = org.String
	k.Role = aiproxy.Role(role)
	k.CreatedAt = fromTimestamp(created)
	k.RevokedAt = fromTimestamp(revoked)
	k.LastUsedAt = fromTimestamp(lastUsed)
	return k, nil
}
