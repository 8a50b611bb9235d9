package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const endpointColumns = `id, org_key, url, sealed, events, created_at`

// CreateWebhookEndpoint stores an org's webhook endpoint.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e aiproxy.WebhookEndpoint) error {
	events, err := json.Marshal(e.Events)
	if err != nil {
		return fmt.Errorf("create webhook endpoint %q: %w", e.ID, err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.OrgKey, e.URL, nonNil(e.Sealed), string(events), millis(e.CreatedAt))
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
	e, err := scanEndpoint(db.read.QueryRowContext(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE org_key = ? AND id = ?`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("webhook endpoint %q: %w", id, aiproxy.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("webhook endpoint %q: %w", id, err)
	}
	return e, nil
}

// WebhookEndpoints lists an org's endpoints, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE org_key = ? ORDER BY created_at, id`, org)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an org's endpoint with its deliveries.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, org, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND org_key = ?`, id, org); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE org_key = ? AND id = ?`, org, id)
		if err != nil {
			return err
		}
		return affectedOne(res)
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %q: %w", id, err)
	}
	return nil
}

func scanEndpoint(s scanner) (aiproxy.WebhookEndpoint, error) {
	var (
		e       aiproxy.WebhookEndpoint
		events  string
		created sql.NullInt64
	)
	if err := s.Scan(&e.ID, &e.OrgKey, &e.URL, &e.Sealed, &events, &created); err != nil {
		return aiproxy.WebhookEndpoint{}, err
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return aiproxy.WebhookEndpoint{}, fmt.Errorf("decode events: %w", err)
	}
	e.CreatedAt = fromMillis(created)
	return e, nil
}

const deliveryColumns = `id, org_key, event_id, event_type, endpoint_id, state, attempts, last_status, last_error,
	next_attempt_at, created_at, updated_at, delivered_at`

// DueDeliveries returns pending deliveries whose next attempt is due.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]aiproxy.WebhookDelivery, error) {
	return db.queryDeliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
		millis(now), limitOr(limit))
}

// UpdateDelivery records the outcome of a delivery attempt and ends the
// delivery's lease.
func (db *DB) UpdateDelivery(ctx context.Context, d aiproxy.WebhookDelivery) error {
	res, err := db.write.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?,
		last_error = ?, next_attempt_at = ?, updated_at = ?, delivered_at = ?,
		lease_owner = '', lease_expires_at = NULL WHERE id = ?`,
		d.State, d.Attempts, d.LastStatus, d.LastError, millis(d.NextAttemptAt), millis(d.UpdatedAt),
		millis(d.DeliveredAt), d.ID)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update delivery %q: %w", d.ID, err)
	}
	return nil
}

// Deliveries lists an org's deliveries, newest first.
func (db *DB) Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE org_key = ?
		AND (? = '' OR endpoint_id = ?) AND (? = '' OR event_id = ?)`
	args := []any{f.OrgKey, f.EndpointID, f.EndpointID, f.EventID, f.EventID}
	if f.BeforeID != "" {
		q += ` AND (created_at, id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ? AND org_key = ?)`
		args = append(args, f.BeforeID, f.OrgKey)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	return db.queryDeliveries(ctx, q, append(args, limitOr(f.Limit))...)
}

func (db *DB) queryDeliveries(ctx context.Context, query string, args ...any) ([]aiproxy.WebhookDelivery, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.WebhookDelivery
	for rows.Next() {
		var (
			d                                 aiproxy.WebhookDelivery
			next, created, updated, delivered sql.NullInt64
		)
		if err := rows.Scan(&d.ID, &d.OrgKey, &d.EventID, &d.EventType, &d.EndpointID, &d.State, &d.Attempts,
			&d.LastStatus, &d.LastError, &next, &created, &updated, &delivered); err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		d.NextAttemptAt, d.CreatedAt = fromMillis(next), fromMillis(created)
		d.UpdatedAt, d.DeliveredAt = fromMillis(updated), fromMillis(delivered)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// RecordProviderWebhook remembers a provider event id and reports whether it
// was new.
func (db *DB) RecordProviderWebhook(ctx context.Context, service, eventID string, at time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, `INSERT INTO provider_webhooks (service, event_id, received_at)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, service, eventID, millis(at))
	if err != nil {
		return false, fmt.Errorf("record provider webhook: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
