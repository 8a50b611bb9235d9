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

const endpointColumns = `id, org_key, url, sealed, events, created_at`

// CreateWebhookEndpoint stores an org's webhook endpoint.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e aiproxy.WebhookEndpoint) error {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.ID, e.OrgKey, e.URL, nonNil(e.Sealed), events, timestamp(e.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create webhook endpoint %q: %w", e.ID, aiproxy.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("create webhook endpoint %q: org %q: %w", e.ID, e.OrgKey, aiproxy.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create webhook endpoint %q: %w", e.ID, err)
	}
	return nil
}

// WebhookEndpoint returns one endpoint of an org, or aiproxy.ErrNotFound.
func (db *DB) WebhookEndpoint(ctx context.Context, org, id string) (aiproxy.WebhookEndpoint, error) {
	e, err := scanEndpoint(db.pool.QueryRow(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE org_key = $1 AND id = $2`, org, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("webhook endpoint %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("webhook endpoint %q: %w", id, err)
	}
	return e, nil
}

// WebhookEndpoints lists an org's endpoints, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE org_key = $1 ORDER BY created_at, id`, org)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.WebhookEndpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an org's endpoint with its deliveries.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, org, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND org_key = $2`, id, org); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE org_key = $1 AND id = $2`, org, id)
		if err != nil {
			return err
		}
		return affectedOne(tag)
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %q: %w", id, err)
	}
	return nil
}

// scanEndpoint reads the columns of endpointColumns; pgx decodes the jsonb
// event list straight into the slice.
func scanEndpoint(row pgx.Row) (aiproxy.WebhookEndpoint, error) {
	var (
		e       aiproxy.WebhookEndpoint
		created pgtype.Timestamptz
	)
	if err := row.Scan(&e.ID, &e.OrgKey, &e.URL, &e.Sealed, &e.Events, &created); err != nil {
		return aiproxy.WebhookEndpoint{}, err
	}
	e.CreatedAt = fromTimestamp(created)
	return e, nil
}

const deliveryColumns = `id, org_key, event_id, event_type, endpoint_id, state, attempts, last_status, last_error,
	next_attempt_at, created_at, updated_at, delivered_at`

// DueDeliveries returns pending deliveries whose next attempt is due.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]aiproxy.WebhookDelivery, error) {
	return db.queryDeliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2`,
		timestamp(now), limitOr(limit))
}

// UpdateDelivery records the outcome of a delivery attempt and ends the
// delivery's lease.
func (db *DB) UpdateDelivery(ctx context.Context, d aiproxy.WebhookDelivery) error {
	tag, err := db.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, last_status = $3,
		last_error = $4, next_attempt_at = $5, updated_at = $6, delivered_at = $7,
		lease_owner = '', lease_expires_at = NULL WHERE id = $8`,
		d.State, d.Attempts, d.LastStatus, d.LastError, timestamp(d.NextAttemptAt), timestamp(d.UpdatedAt),
		timestamp(d.DeliveredAt), d.ID)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("update delivery %q: %w", d.ID, err)
	}
	return nil
}

// Deliveries lists an org's deliveries, newest first.
func (db *DB) Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE org_key = $1
		AND ($2 = '' OR endpoint_id = $2) AND ($3 = '' OR event_id = $3)`
	args := []any{f.OrgKey, f.EndpointID, f.EventID}
	if f.BeforeID != "" {
		q += ` AND (created_at, id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = $4 AND org_key = $1)`
		args = append(args, f.BeforeID)
	}
	args = append(args, limitOr(f.Limit))
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	return db.queryDeliveries(ctx, q, args...)
}

func (db *DB) queryDeliveries(ctx context.Context, query string, args ...any) ([]aiproxy.WebhookDelivery, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.WebhookDelivery, error) {
		var (
			d                                 aiproxy.WebhookDelivery
			next, created, updated, delivered pgtype.Timestamptz
		)
		err := r.Scan(&d.ID, &d.OrgKey, &d.EventID, &d.EventType, &d.EndpointID, &d.State, &d.Attempts,
			&d.LastStatus, &d.LastError, &next, &created, &updated, &delivered)
		d.NextAttemptAt, d.CreatedAt = fromTimestamp(next), fromTimestamp(created)
		d.UpdatedAt, d.DeliveredAt = fromTimestamp(updated), fromTimestamp(delivered)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// RecordProviderWebhook remembers a provider event id and reports whether it
// was new. Replicas racing on one event id agree: exactly one sees it new.
func (db *DB) RecordProviderWebhook(ctx context.Context, service, eventID string, at time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO provider_webhooks (service, event_id, received_at)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, service, eventID, timestamp(at))
	if err != nil {
		return false, fmt.Errorf("record provider webhook: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
