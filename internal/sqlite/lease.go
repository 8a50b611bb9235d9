package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ClaimDueJobs leases due, unleased jobs to owner until until. SQLite has
// one writer, so the statement alone is atomic: racing claims take turns.
func (db *DB) ClaimDueJobs(ctx context.Context, owner string, now, until time.Time, limit int) ([]aiproxy.Job, error) {
	rows, err := db.write.QueryContext(ctx, `UPDATE jobs SET lease_owner = ?, lease_expires_at = ?
		WHERE id IN (SELECT id FROM jobs
			WHERE state IN ('pending', 'processing') AND next_check_at <= ?
				AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
			ORDER BY next_check_at, id LIMIT ?)
		RETURNING `+jobColumns, owner, millis(until), millis(now), millis(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b aiproxy.Job) int {
		return cmp.Or(a.NextCheckAt.Compare(b.NextCheckAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ClaimDueDeliveries leases due, unleased deliveries to owner until until.
func (db *DB) ClaimDueDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]aiproxy.WebhookDelivery, error) {
	rows, err := db.write.QueryContext(ctx, `UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ?
		WHERE id IN (SELECT id FROM webhook_deliveries
			WHERE state = 'pending' AND next_attempt_at <= ?
				AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
			ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+deliveryColumns, owner, millis(until), millis(now), millis(now), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	slices.SortFunc(out, func(a, b aiproxy.WebhookDelivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// scanDelivery reads a row of deliveryColumns.
func scanDelivery(s scanner) (aiproxy.WebhookDelivery, error) {
	var (
		d                                 aiproxy.WebhookDelivery
		next, created, updated, delivered sql.NullInt64
	)
	if err := s.Scan(&d.ID, &d.OrgKey, &d.EventID, &d.EventType, &d.EndpointID, &d.State, &d.Attempts,
		&d.LastStatus, &d.LastError, &next, &created, &updated, &delivered); err != nil {
		return d, err
	}
	d.NextAttemptAt, d.CreatedAt = fromMillis(next), fromMillis(created)
	d.UpdatedAt, d.DeliveredAt = fromMillis(updated), fromMillis(delivered)
	return d, nil
}
