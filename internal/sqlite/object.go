package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.ObjectStore = (*DB)(nil)

// RecordObject records an object with the org and user that created it;
// the first record of a service, kind and id stays.
func (db *DB) RecordObject(ctx context.Context, o aiproxy.ProviderObject) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO provider_objects (service, kind, provider_id, org_key, user_id, source, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service, kind, provider_id) DO NOTHING`,
		o.Service, o.Kind, o.ProviderID, o.OrgKey, o.User, string(o.Source), o.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("record %s %s %q: %w", o.Service, o.Kind, o.ProviderID, err)
	}
	return nil
}

// Objects returns the records of a service's objects with the given ids.
// The ids travel as one JSON array, so that a page of a hundred items is
// one statement with one parameter.
func (db *DB) Objects(ctx context.Context, service string, ids []string) ([]aiproxy.ProviderObject, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("objects of %s: %w", service, err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT service, kind, provider_id, org_key, user_id, source, created_at
		FROM provider_objects WHERE service = ? AND provider_id IN (SELECT value FROM json_each(?))
		ORDER BY provider_id, kind`, service, string(list))
	if err != nil {
		return nil, fmt.Errorf("objects of %s: %w", service, err)
	}
	defer rows.Close()
	var out []aiproxy.ProviderObject
	for rows.Next() {
		var o aiproxy.ProviderObject
		var src string
		var created int64
		if err := rows.Scan(&o.Service, &o.Kind, &o.ProviderID, &o.OrgKey, &o.User, &src, &created); err != nil {
			return nil, fmt.Errorf("objects of %s: %w", service, err)
		}
		o.Source = aiproxy.Source(src)
		o.CreatedAt = fromMillis(sql.NullInt64{Int64: created, Valid: true})
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("objects of %s: %w", service, err)
	}
	return out, nil
}
