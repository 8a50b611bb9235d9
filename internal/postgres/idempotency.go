package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const idempotencyColumns = `org_key, key, fingerprint, state, status, content_type, body, job_id,
	created_at, locked_until, expires_at`

// ClaimIdempotency stores rec as started unless a live record holds its key,
// and returns the record that holds the key and whether rec claimed it. An
// expired record is replaced.
//
// The claim is one upsert whose update applies only to an expired record,
// so replicas racing on one key agree on a single winner. When it does not
// apply, the upsert still locks the live record, which the transaction then
// reads.
func (db *DB) ClaimIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord, now time.Time) (aiproxy.IdempotencyRecord, bool, error) {
	var held aiproxy.IdempotencyRecord
	claimed := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys AS k (`+idempotencyColumns+`)
			VALUES ($1, $2, $3, 'started', 0, '', NULL, '', $4, $5, $6)
			ON CONFLICT (org_key, key) DO UPDATE SET
				fingerprint = excluded.fingerprint, state = excluded.state, status = excluded.status,
				content_type = excluded.content_type, body = excluded.body, job_id = excluded.job_id,
				created_at = excluded.created_at, locked_until = excluded.locked_until,
				expires_at = excluded.expires_at
			WHERE k.expires_at IS NULL OR k.expires_at <= $7`,
			rec.OrgKey, rec.Key, rec.Fingerprint, timestamp(rec.CreatedAt), timestamp(rec.LockedUntil),
			timestamp(rec.ExpiresAt), timestamp(now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			rec.State = aiproxy.IdempotencyStarted
			held, claimed = rec, true
			return nil
		}
		held, err = scanIdempotency(tx.QueryRow(ctx, `SELECT `+idempotencyColumns+`
			FROM idempotency_keys WHERE org_key = $1 AND key = $2`, rec.OrgKey, rec.Key))
		return err
	})
	if err != nil {
		return aiproxy.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return held, claimed, nil
}

// CompleteIdempotency stores a claimed record's answer.
func (db *DB) CompleteIdempotency(ctx context.Context, rec aiproxy.IdempotencyRecord) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return completeIdempotency(ctx, tx, rec) })
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

func completeIdempotency(ctx context.Context, tx pgx.Tx, rec aiproxy.IdempotencyRecord) error {
	tag, err := tx.Exec(ctx, `UPDATE idempotency_keys SET state = 'done', status = $1, content_type = $2,
		body = $3, job_id = $4 WHERE org_key = $5 AND key = $6 AND fingerprint = $7`,
		rec.Status, rec.ContentType, nonNil(rec.Body), rec.JobID, rec.OrgKey, rec.Key, rec.Fingerprint)
	if err != nil {
		return err
	}
	return affectedOne(tag)
}

// ReleaseIdempotency forgets a started record.
func (db *DB) ReleaseIdempotency(ctx context.Context, org, key string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE org_key = $1 AND key = $2 AND state = 'started'`, org, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

func scanIdempotency(row pgx.Row) (aiproxy.IdempotencyRecord, error) {
	var (
		r                        aiproxy.IdempotencyRecord
		created, locked, expires pgtype.Timestamptz
	)
	err := row.Scan(&r.OrgKey, &r.Key, &r.Fingerprint, &r.State, &r.Status, &r.ContentType, &r.Body, &r.JobID,
		&created, &locked, &expires)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.LockedUntil, r.ExpiresAt = fromTimestamp(created), fromTimestamp(locked), fromTimestamp(expires)
	return r, nil
}
