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

var _ aiproxy.UserTokenStore = (*DB)(nil)

const userTokenColumns = `id, org_key, user_id, key_id, secret_hash, services, actions, max_spend_micros,
	single_use, test_only, created_at, expires_at, revoked_at, used_at`

// CreateUserToken stores a new token; it returns aiproxy.ErrConflict if the
// ID exists and aiproxy.ErrNotFound if its org or minting key does not.
func (db *DB) CreateUserToken(ctx context.Context, t aiproxy.UserToken) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO user_tokens (`+userTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		t.ID, t.OrgKey, t.User, t.KeyID, nonNil(t.SecretHash), servicesJSON(t.Services), servicesJSON(t.Actions),
		t.MaxSpendMicros, t.SingleUse, t.TestOnly, timestamp(t.CreatedAt), timestamp(t.ExpiresAt),
		timestamp(t.RevokedAt), timestamp(t.UsedAt))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create user token %q: %w", t.ID, aiproxy.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create user token %q: org %q or key %q: %w", t.ID, t.OrgKey, t.KeyID, aiproxy.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create user token %q: %w", t.ID, err)
	}
	return nil
}

// UserToken returns one token by ID, or aiproxy.ErrNotFound.
func (db *DB) UserToken(ctx context.Context, id string) (aiproxy.UserToken, error) {
	t, err := scanUserToken(db.pool.QueryRow(ctx, `SELECT `+userTokenColumns+` FROM user_tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return aiproxy.UserToken{}, fmt.Errorf("user token %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.UserToken{}, fmt.Errorf("user token %q: %w", id, err)
	}
	return t, nil
}

// UserTokens returns an org's tokens that have not expired at now, of one
// user or, for user "", of every user; newest first, ties broken by ID.
func (db *DB) UserTokens(ctx context.Context, orgKey, user string, now time.Time) ([]aiproxy.UserToken, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userTokenColumns+` FROM user_tokens
		WHERE org_key = $1 AND ($2 = '' OR user_id = $2) AND expires_at > $3
		ORDER BY created_at DESC, id DESC`, orgKey, user, timestamp(now))
	if err != nil {
		return nil, fmt.Errorf("user tokens of %q/%q: %w", orgKey, user, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.UserToken, error) { return scanUserToken(r) })
	if err != nil {
		return nil, fmt.Errorf("user tokens of %q/%q: %w", orgKey, user, err)
	}
	return out, nil
}

// RevokeUserToken marks an org's token revoked at a time; it returns
// aiproxy.ErrNotFound for an unknown ID or another org's token. Revoking a
// revoked token keeps its first revocation time.
func (db *DB) RevokeUserToken(ctx context.Context, orgKey, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke user token %q: zero revocation time", id)
	}
	tag, err := db.pool.Exec(ctx,
		`UPDATE user_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND org_key = $3`,
		timestamp(at), id, orgKey)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("revoke user token %q of org %q: %w", id, orgKey, err)
	}
	return nil
}

// SpendUserToken marks a token used at a time, in one conditional UPDATE:
// a racing spender waits for the first one's row lock, then finds used_at
// set and changes nothing, so exactly one gets true; a spender of a used,
// revoked or unknown token gets false.
func (db *DB) SpendUserToken(ctx context.Context, id string, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, fmt.Errorf("spend user token %q: zero time", id)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE user_tokens SET used_at = $1
		WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL`, timestamp(at), id)
	if err != nil {
		return false, fmt.Errorf("spend user token %q: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteExpiredUserTokens removes the tokens that expired before a time and
// returns how many.
func (db *DB) DeleteExpiredUserTokens(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM user_tokens WHERE expires_at < $1`, timestamp(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired user tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

// scanUserToken reads the columns of userTokenColumns into a token.
func scanUserToken(row pgx.Row) (aiproxy.UserToken, error) {
	var (
		t                               aiproxy.UserToken
		services, actions               []byte
		created, expires, revoked, used pgtype.Timestamptz
	)
	err := row.Scan(&t.ID, &t.OrgKey, &t.User, &t.KeyID, &t.SecretHash, &services, &actions, &t.MaxSpendMicros,
		&t.SingleUse, &t.TestOnly, &created, &expires, &revoked, &used)
	if err != nil {
		return aiproxy.UserToken{}, err
	}
	if t.Services, err = parseServices(string(services)); err != nil {
		return aiproxy.UserToken{}, err
	}
	if t.Actions, err = parseServices(string(actions)); err != nil {
		return aiproxy.UserToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = fromTimestamp(created), fromTimestamp(expires)
	t.RevokedAt, t.UsedAt = fromTimestamp(revoked), fromTimestamp(used)
	return t, nil
}
