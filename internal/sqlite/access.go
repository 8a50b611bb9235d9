package sqlite

import (
	"context"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.AccessStore = (*DB)(nil)

// DisableAccess stores a rule; it returns aiproxy.ErrNotFound if the org
// does not exist.
func (db *DB) DisableAccess(ctx context.Context, r aiproxy.AccessRule) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT OR IGNORE INTO access_rules (org_key, service, endpoint) VALUES (?, ?, ?)`,
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
	_, err := db.write.ExecContext(ctx,
		`DELETE FROM access_rules WHERE org_key = ? AND service = ? AND endpoint = ?`,
		r.OrgKey, r.Service, r.Endpoint)
	if err != nil {
		return fmt.Errorf("enable access: %w", err)
	}
	return nil
}

// AccessRules lists an org's rules.
func (db *DB) AccessRules(ctx context.Context, org string) ([]aiproxy.AccessRule, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT service, endpoint FROM access_rules WHERE org_key = ? ORDER BY service, endpoint`, org)
	if err != nil {
		return nil, fmt.Errorf("list access rules of org %q: %w", org, err)
	}
	defer rows.Close()
	var out []aiproxy.AccessRule
	for rows.Next() {
		r := aiproxy.AccessRule{OrgKey: org}
		if err := rows.Scan(&r.Service, &r.Endpoint); err != nil {
			return nil, fmt.Errorf("list access rules of org %q: %w", org, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
