package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ClaimDueJobs leases due, unleased jobs to owner until until. The rows are
// picked with FOR UPDATE SKIP LOCKED, so replicas claiming at once neither
// wait for nor take each other's jobs.
func (db *DB) ClaimDueJobs(ctx context.Context, owner string, now, until time.Time, limit int) ([]aiproxy.Job, error) {
	rows, err := db.pool.Query(ctx, `WITH due AS (
			SELECT id FROM jobs
			WHERE state IN ('pending', 'processing') AND next_check_at <= $3
				AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
			ORDER BY next_check_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED)
		UPDATE jobs SET lease_owner = $1, lease_expires_at = $2 FROM due WHERE jobs.id = due.id
		RETURNING `+qualified("jobs", jobColumns), owner, timestamp(until), timestamp(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b aiproxy.Job) int {
		return cmp.Or(a.NextCheckAt.Compare(b.NextCheckAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ClaimDueDeliveries leases due, unleased deliveries to owner until until,
// skipping rows other claims hold locked.
func (db *DB) ClaimDueDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]aiproxy.WebhookDelivery, error) {
	rows, err := db.pool.Query(ctx, `WITH due AS (
			SELECT id FROM webhook_deliveries
			WHERE state = 'pending' AND next_attempt_at <= $3
				AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
			ORDER BY next_attempt_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries d SET lease_owner = $1, lease_expires_at = $2 FROM due WHERE d.id = due.id
		RETURNING `+qualified("d", deliveryColumns), owner, timestamp(until), timestamp(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.WebhookDelivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	slices.SortFunc(out, func(a, b aiproxy.WebhookDelivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// qualified prefixes every column of a list with a table name, for a
// RETURNING clause that a FROM list makes ambiguous.
func qualified(table, columns string) string {
	var out []string
	for _, c := range strings.Split(columns, ",") {
		out = append(out, table+"."+strings.TrimSpace(c))
	}
	return strings.Join(out, ", ")
}

// scanDelivery reads a row of deliveryColumns.
func scanDelivery(row pgx.Row) (aiproxy.WebhookDelivery, error) {
	var (
		d                                 aiproxy.WebhookDelivery
		next, created, updated, delivered pgtype.Timestamptz
	)
	err := row.Scan(&d.ID, &d.OrgKey, &d.EventID, &d.EventType, &d.EndpointID, &d.State, &d.Attempts,
		&d.LastStatus, &d.LastError, &next, &created, &updated, &delivered)
	d.NextAttemptAt, d.CreatedAt = fromTimestamp(next), fromTimestamp(created)
	d.UpdatedAt, d.DeliveredAt = fromTimestamp(updated), fromTimestamp(delivered)
	return d, err
}
