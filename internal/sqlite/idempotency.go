package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const idempotencyColumns = `org_key, key, fingerprint, state, status, content_type, body, job_id,
	created_at, locked_until, expires_at`

// ClaimIdempotency stores rec as started unless a live record holds its key,
// and returns the record that holds the key and whether rec claimed it. An
// expired record is replaced.
func (db *DB) ClaimIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord, now time.Time) (aiproxy.IdempotencyRecord, bool, error) {
	var held aiproxy.IdempotencyRecord
	claimed := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanIdempotency(tx.QueryRowContext(ctx, `SELECT `+idempotencyColumns+`
			FROM idempotency_keys WHERE org_key = ? AND key = ?`, rec.OrgKey, rec.Key))
		if err == nil && cur.ExpiresAt.After(now) {
			held = cur
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO idempotency_keys (`+idempotencyColumns+`)
			VALUES (?, ?, ?, 'started', 0, '', NULL, '', ?, ?, ?)`,
			rec.OrgKey, rec.Key, rec.Fingerprint, millis(rec.CreatedAt), millis(rec.LockedUntil), millis(rec.ExpiresAt))
		rec.State = aiproxy.IdempotencyStarted
		held, claimed = rec, true
		return err
	})
	if err != nil {
		return aiproxy.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return held, claimed, nil
}

// CompleteIdempotency stores a claimed record's answer.
func (db *DB) CompleteIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error { return completeIdempotency(ctx, tx, rec) })
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

func completeIdempotency(ctx context.Context, tx *sql.Tx, rec aiproxy.IdempotencyRecord) error {
	res, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'done', status = ?, content_type = ?,
		body = ?, job_id = ? WHERE org_key = ? AND key = ? AND fingerprint = ?`,
		rec.Status, rec.ContentType, nonNil(rec.Body), rec.JobID, rec.OrgKey, rec.Key, rec.Fingerprint)
	if err != nil {
		return err
	}
	return affectedOne(res)
}

// ReleaseIdempotency forgets a started record.
func (db *DB) ReleaseIdempotency(ctx context.Context, org, key string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE org_key = ? AND key = ? AND state = 'started'`, org, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

func scanIdempotency(s scanner) (aiproxy.IdempotencyRecord, error) {
	var (
		r                        aiproxy.IdempotencyRecord
		created, locked, expires sql.NullInt64
	)
	err := s.Scan(&r.OrgKey, &r.Key, &r.Fingerprint, &r.State, &r.Status, &r.ContentType, &r.Body, &r.JobID,
		&created, &locked, &expires)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.LockedUntil, r.ExpiresAt = fromMillis(created), fromMillis(locked), fromMillis(expires)
	return r, nil
}
