package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.RetentionStore = (*DB)(nil)

// pruneBatch is how many rows Prune removes when asked for no particular
// number.
const pruneBatch = 1000

// Prune removes up to limit rows of kind older than before (never after
// now), each kind by the index migration 00008 (00009 for user tokens)
// gives it, in one short transaction. The conditions that keep what is still needed are in the
// DELETE statements themselves, so that a row that changed since it was
// picked (a delivery queued again) is left alone; a foreign key that
// still holds refuses the batch, which the next run tries again.
func (db *DB) Prune(ctx context.Context, kind aiproxy.RetentionKind, before, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = pruneBatch
	}
	if before.After(now) {
		before = now
	}
	b, n := timestamp(before), timestamp(now)
	var (
		removed int
		err     error
	)
	switch kind {
	case aiproxy.RetainUsage:
		// Only records the rollups hold: ids up to the watermark.
		removed, err = db.pruneExec(ctx, `DELETE FROM usage_events WHERE id IN (
			SELECT id FROM usage_events
			WHERE at < $1 AND id <= (SELECT last_id FROM usage_rollup_state WHERE name = 'usage')
			ORDER BY at LIMIT $2)`, b, limit)
	case aiproxy.RetainUsageHourly, aiproxy.RetainUsageDaily:
		g := aiproxy.Hourly
		if kind == aiproxy.RetainUsageDaily {
			g = aiproxy.Daily
		}
		removed, err = db.pruneExec(ctx, `DELETE FROM usage_rollups
			WHERE (bucket, start_at, org_key, service, action, key_id, user_id, unit) IN (
				SELECT bucket, start_at, org_key, service, action, key_id, user_id, unit FROM usage_rollups
				WHERE bucket = $1 AND start_at <= $2 ORDER BY start_at LIMIT $3)`,
			string(g), timestamp(before.Add(-g.Width())), limit)
	case aiproxy.RetainDeliveries:
		removed, err = db.pruneExec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1
			ORDER BY updated_at LIMIT $2) AND state <> 'pending'`, b, limit)
	case aiproxy.RetainJobEvents:
		removed, err = db.pruneJobEvents(ctx, before, limit)
	case aiproxy.RetainJobs:
		removed, err = db.pruneJobs(ctx, before, now, limit)
	case aiproxy.RetainIdempotency:
		removed, err = db.pruneExec(ctx, `DELETE FROM idempotency_keys WHERE (org_key, key) IN (
			SELECT org_key, key FROM idempotency_keys
			WHERE expires_at < $1 AND (locked_until IS NULL OR locked_until <= $2)
			ORDER BY expires_at LIMIT $3) AND expires_at < $1`, b, n, limit)
	case aiproxy.RetainUserTokens:
		// before is never after now, so only expired tokens go.
		removed, err = db.pruneExec(ctx, `DELETE FROM user_tokens WHERE id IN (
			SELECT id FROM user_tokens WHERE expires_at < $1
			ORDER BY expires_at LIMIT $2) AND expires_at < $1`, b, limit)
	case aiproxy.RetainProviderWebhooks:
		removed, err = db.pruneExec(ctx, `DELETE FROM provider_webhooks WHERE (service, event_id) IN (
			SELECT service, event_id FROM provider_webhooks WHERE received_at < $1
			ORDER BY received_at LIMIT $2)`, b, limit)
	case aiproxy.RetainAudit:
		removed, err = db.pruneAudit(ctx, before, limit)
	default:
		return 0, fmt.Errorf("prune: unknown kind %q", kind)
	}
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", kind, err)
	}
	return removed, nil
}

// pruneExec runs one DELETE and returns how many rows it removed.
func (db *DB) pruneExec(ctx context.Context, query string, args ...any) (int, error) {
	tag, err := db.pool.Exec(ctx, query, args...)
	return int(tag.RowsAffected()), err
}

// pruneJobEvents removes old events of finished jobs that no pending
// delivery waits for, with their finished deliveries (which refer to
// them).
func (db *DB) pruneJobEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var ids []string
		rows, err := tx.Query(ctx, `SELECT e.id FROM job_events e JOIN jobs j ON j.id = e.job_id
			WHERE e.created_at < $1 AND j.state IN ('completed', 'failed')
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
			ORDER BY e.created_at LIMIT $2
			FOR UPDATE OF e SKIP LOCKED`, timestamp(before), limit)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE event_id = ANY($1) AND state <> 'pending'`, ids); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM job_events WHERE id = ANY($1)`, ids)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// pruneJobs removes finished jobs, with their events and deliveries,
// unless a pending delivery, an unexpired lease or an unexpired
// idempotency record still needs the job. The jobs are locked first, so
// that a job updated meanwhile (which ends its lease, or is read again)
// waits for the prune or is skipped.
func (db *DB) pruneJobs(ctx context.Context, before, now time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT j.id FROM jobs j
			WHERE j.state IN ('completed', 'failed') AND j.completed_at < $1
				AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= $2)
				AND NOT EXISTS (SELECT 1 FROM job_events e JOIN webhook_deliveries d ON d.event_id = e.id
					WHERE e.job_id = j.id AND d.state = 'pending')
				AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
					WHERE k.job_id = j.id AND k.job_id <> '' AND k.expires_at > $2)
			ORDER BY j.completed_at LIMIT $3
			FOR UPDATE SKIP LOCKED`, timestamp(before), timestamp(now), limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, q := range []string{
			`DELETE FROM webhook_deliveries
				WHERE event_id IN (SELECT id FROM job_events WHERE job_id = ANY($1)) AND state <> 'pending'`,
			`DELETE FROM job_events WHERE job_id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, q, ids); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = ANY($1)`, ids)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// pruneAudit removes audit events older than before. The audit log's
// trigger refuses every delete except of rows older than the cutoff in
// audit_retention, which is set only for the length of this transaction.
func (db *DB) pruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_retention (id, before_at) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET before_at = excluded.before_at`, timestamp(before)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)`, timestamp(before), limit)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `DELETE FROM audit_retention`)
		return err
	})
	return n, err
}
