package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.AuditStore = (*DB)(nil)

// AppendAudit adds one event to the append-only audit log.
func (db *DB) AppendAudit(ctx context.Context, e aiproxy.AuditEvent) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO audit_events (at, actor, action, org_key, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		timestamp(e.At), e.Actor, string(e.Action), e.OrgKey, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AuditEvents lists audit events newest first.
func (db *DB) AuditEvents(ctx context.Context, f aiproxy.AuditFilter) ([]aiproxy.AuditEvent, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, at, actor, action, org_key, target, detail FROM audit_events
		WHERE ($1 = '' OR org_key = $1) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`,
		f.OrgKey, f.Before, auditLimit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.AuditEvent, error) {
		var e aiproxy.AuditEvent
		var at pgtype.Timestamptz
		var action string
		err := r.Scan(&e.ID, &at, &e.Actor, &action, &e.OrgKey, &e.Target, &e.Detail)
		e.At, e.Action = fromTimestamp(at), aiproxy.AuditAction(action)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// auditLimit applies the filter's default and cap.
func auditLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return min(n, 1000)
}

// servicesJSON is a key's service allow-list as stored: a JSON array.
func servicesJSON(services []string) string {
	if len(services) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(services)
	return string(b)
}

// parseServices is the inverse of servicesJSON; it returns nil for none.
func parseServices(text string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("key services %q: %w", text, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
