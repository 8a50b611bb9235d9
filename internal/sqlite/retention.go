package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.RetentionStore = (*DB)(nil)

// pruneBatch is how many rows Prune removes when asked for no particular
// number: a few milliseconds of the single writer.
const pruneBatch = 1000

// Prune removes up to limit rows of kind older than before (never after
// now), each kind by the index migration 00008 (00009 for user tokens)
// gives it, in one short write transaction.
func (db *DB) Prune(ctx context.Context, kind aiproxy.RetentionKind, before, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = pruneBatch
	}
	if before.After(now) {
		before = now
	}
	b, n := before.UnixMilli(), now.UnixMilli()
	var (
		removed int
		err     error
	)
	switch kind {
	case aiproxy.RetainUsage:
		// Only records the rollups hold (id up to the watermark), and
		// never the newest record, so that ids never restart below it.
		removed, err = db.pruneExec(ctx, `DELETE FROM usage_events WHERE id IN (
			SELECT id FROM usage_events INDEXED BY usage_events_by_at
			WHERE at < ? AND id <= (SELECT last_id FROM usage_rollup_state WHERE name = 'usage')
				AND id < (SELECT max(id) FROM usage_events)
			ORDER BY at LIMIT ?)`, b, limit)
	case aiproxy.RetainUsageHourly, aiproxy.RetainUsageDaily:
		g := aiproxy.Hourly
		if kind == aiproxy.RetainUsageDaily {
			g = aiproxy.Daily
		}
		removed, err = db.pruneExec(ctx, `DELETE FROM usage_rollups
			WHERE (bucket, start_at, org_key, service, action, key_id, user_id, unit) IN (
				SELECT bucket, start_at, org_key, service, action, key_id, user_id, unit FROM usage_rollups
				WHERE bucket = ? AND start_at <= ? ORDER BY start_at LIMIT ?)`,
			string(g), b-g.Width().Milliseconds(), limit)
	case aiproxy.RetainDeliveries:
		removed, err = db.pruneExec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?
			ORDER BY updated_at LIMIT ?)`, b, limit)
	case aiproxy.RetainJobEvents:
		removed, err = db.pruneJobEvents(ctx, b, limit)
	case aiproxy.RetainJobs:
		removed, err = db.pruneJobs(ctx, b, n, limit)
	case aiproxy.RetainIdempotency:
		removed, err = db.pruneExec(ctx, `DELETE FROM idempotency_keys WHERE rowid IN (
			SELECT rowid FROM idempotency_keys
			WHERE expires_at < ? AND (locked_until IS NULL OR locked_until <= ?)
			ORDER BY expires_at LIMIT ?)`, b, n, limit)
	case aiproxy.RetainUserTokens:
		// before is never after now, so only expired tokens go.
		removed, err = db.pruneExec(ctx, `DELETE FROM user_tokens WHERE id IN (
			SELECT id FROM user_tokens INDEXED BY user_tokens_by_expiry
			WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, b, limit)
	case aiproxy.RetainProviderWebhooks:
		removed, err = db.pruneExec(ctx, `DELETE FROM provider_webhooks WHERE rowid IN (
			SELECT rowid FROM provider_webhooks WHERE received_at < ? ORDER BY received_at LIMIT ?)`, b, limit)
	case aiproxy.RetainAudit:
		removed, err = db.pruneAudit(ctx, b, limit)
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
	res, err := db.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// pruneJobEvents removes old events of finished jobs that no pending
// delivery waits for, with their finished deliveries (which refer to
// them).
func (db *DB) pruneJobEvents(ctx context.Context, before int64, limit int) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := selectIDs(ctx, tx, `SELECT e.id FROM job_events e INDEXED BY job_events_by_created
			JOIN jobs j ON j.id = e.job_id
			WHERE e.created_at < ? AND j.state IN ('completed', 'failed')
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
			ORDER BY e.created_at LIMIT ?`, before, limit)
		if err != nil || ids == "[]" {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries
			WHERE event_id IN (SELECT value FROM json_each(?)) AND state <> 'pending'`, ids); err != nil {
			return err
		}
		n, err = execCount(ctx, tx, `DELETE FROM job_events WHERE id IN (SELECT value FROM json_each(?))`, ids)
		return err
	})
	return n, err
}

// pruneJobs removes finished jobs, with their events and deliveries,
// unless a pending delivery, an unexpired lease or an unexpired
// idempotency record still needs the job.
func (db *DB) pruneJobs(ctx context.Context, before, now int64, limit int) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := selectIDs(ctx, tx, `SELECT j.id FROM jobs j INDEXED BY jobs_finished
			WHERE j.state IN ('completed', 'failed') AND j.completed_at < ?
				AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= ?)
				AND NOT EXISTS (SELECT 1 FROM job_events e JOIN webhook_deliveries d ON d.event_id = e.id
					WHERE e.job_id = j.id AND d.state = 'pending')
				AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
					WHERE k.job_id = j.id AND k.job_id <> '' AND k.expires_at > ?)
			ORDER BY j.completed_at LIMIT ?`, before, now, now, limit)
		if err != nil || ids == "[]" {
			return err
		}
		for _, q := range []string{
			`DELETE FROM webhook_deliveries WHERE event_id IN (
				SELECT id FROM job_events WHERE job_id IN (SELECT value FROM json_each(?))) AND state <> 'pending'`,
			`DELETE FROM job_events WHERE job_id IN (SELECT value FROM json_each(?))`,
		} {
			if _, err := tx.ExecContext(ctx, q, ids); err != nil {
				return err
			}
		}
		n, err = execCount(ctx, tx, `DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))`, ids)
		return err
	})
	return n, err
}

// pruneAudit removes audit events older than before. The audit log's
// trigger refuses every delete except of rows older than the cutoff in
// audit_retention, which is set only for the length of this transaction.
func (db *DB) pruneAudit(ctx context.Context, before int64, limit int) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_retention (id, before_at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET before_at = excluded.before_at`, before); err != nil {
			return err
		}
		var err error
		n, err = execCount(ctx, tx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)`, before, limit)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_retention`)
		return err
	})
	return n, err
}

// selectIDs runs a query of one text column and returns its values as a
// JSON array, for json_each.
func selectIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) (string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// execCount runs a statement in tx and returns how many rows it changed.
func execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
