package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UserTokenStore = (*DB)(nil)

const userTokenColumns = `id, org_key, user_id, key_id, secret_hash, services, actions, max_spend_micros,
	single_use, test_only, created_at, expires_at, revoked_at, used_at`

// CreateUserToken stores a new token; it returns aiproxy.ErrConflict if the
// ID exists and aiproxy.ErrNotFound if its org or minting key does not.
func (db *DB) CreateUserToken(ctx context.Context, t aiproxy.UserToken) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO user_tokens (`+userTokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgKey, t.User, t.KeyID, nonNil(t.SecretHash), servicesJSON(t.Services), servicesJSON(t.Actions),
		t.MaxSpendMicros, t.SingleUse, t.TestOnly, millis(t.CreatedAt), millis(t.ExpiresAt),
		millis(t.RevokedAt), millis(t.UsedAt))
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
	t, err := scanUserToken(db.queryRow(ctx, `SELECT `+userTokenColumns+` FROM user_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx, `SELECT `+userTokenColumns+` FROM user_tokens
		WHERE org_key = ? AND (? = '' OR user_id = ?) AND expires_at > ?
		ORDER BY created_at DESC, id DESC`, orgKey, user, user, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("user tokens of %q/%q: %w", orgKey, user, err)
	}
	defer rows.Close()
	var out []aiproxy.UserToken
	for rows.Next() {
		t, err := scanUserToken(rows)
		if err != nil {
			return nil, fmt.Errorf("user tokens of %q/%q: %w", orgKey, user, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
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
	res, err := db.write.ExecContext(ctx,
		`UPDATE user_tokens SET revoked_at = ifnull(revoked_at, ?) WHERE id = ? AND org_key = ?`,
		millis(at), id, orgKey)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("revoke user token %q of org %q: %w", id, orgKey, err)
	}
	return nil
}

// SpendUserToken marks a token used at a time, in one conditional UPDATE:
// of racing spenders exactly one changes the row, and the rest, like a
// spender of a used, revoked or unknown token, get false.
func (db *DB) SpendUserToken(ctx context.Context, id string, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, fmt.Errorf("spend user token %q: zero time", id)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE user_tokens SET used_at = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, millis(at), id)
	if err != nil {
		return false, fmt.Errorf("spend user token %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("spend user token %q: %w", id, err)
	}
	return n == 1, nil
}

// DeleteExpiredUserTokens removes the tokens that expired before a time and
// returns how many.
func (db *DB) DeleteExpiredUserTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM user_tokens WHERE expires_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired user tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired user tokens: %w", err)
	}
	return n, nil
}

// scanUserToken reads the columns of userTokenColumns into a token.
func scanUserToken(s scanner) (aiproxy.UserToken, error) {
	var (
		t                               aiproxy.UserToken
		services, actions               string
		created, expires, revoked, used sql.NullInt64
	)
	err := s.Scan(&t.ID, &t.OrgKey, &t.User, &t.KeyID, &t.SecretHash, &services, &actions, &t.MaxSpendMicros,
		&t.SingleUse, &t.TestOnly, &created, &expires, &revoked, &used)
	if err != nil {
		return aiproxy.UserToken{}, err
	}
	if t.Services, err = parseServices(services); err != nil {
		return aiproxy.UserToken{}, err
	}
	if t.Actions, err = parseServices(actions); err != nil {
		return aiproxy.UserToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = fromMillis(created), fromMillis(expires)
	t.RevokedAt, t.UsedAt = fromMillis(revoked), fromMillis(used)
	return t, nil
}
