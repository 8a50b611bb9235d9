package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.AccessStore = (*DB)(nil)

// DisableAccess stores a rule; it returns aiproxy.ErrNotFound if the org
// does not exist.
func (db *DB) DisableAccess(ctx context.Context, r aiproxy.AccessRule) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO access_rules (org_key, service, endpoint) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`,
		r.OrgKey, r.Service, r.Endpoint)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("disable access: org %q: %w", r.OrgKey, aiproxy.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("disable access: %w", err)
	}
	return nil
}

// EnableAccess removes a rule.
func (db *DB) EnableAccess(ctx context.Context, r aiproxy.AccessRule) error {
	_, err := db.pool.Exec(ctx,
		`DELETE FROM access_rules WHERE org_key = $1 AND service = $2 AND endpoint = $3`,
		r.OrgKey, r.Service, r.Endpoint)
	if err != nil {
		return fmt.Errorf("enable access: %w", err)
	}
	return nil
}

// AccessRules lists an org's rules.
func (db *DB) AccessRules(ctx context.Context, org string) ([]aiproxy.AccessRule, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT service, endpoint FROM access_rules WHERE org_key = $1 ORDER BY service, endpoint`, org)
	if err != nil {
		return nil, fmt.Errorf("list access rules of org %q: %w", org, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.AccessRule, error) {
		rule := aiproxy.AccessRule{OrgKey: org}
		err := r.Scan(&rule.Service, &rule.Endpoint)
		return rule, err
	})
	if err != nil {
		return nil, fmt.Errorf("list access rules of org %q: %w", org, err)
	}
	return out, nil
}
