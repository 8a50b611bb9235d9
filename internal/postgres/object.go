package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.ObjectStore = (*DB)(nil)

// RecordObject records an object with the org and user that created it;
// the first record of a service, kind and id stays, whichever replica
// wrote it.
func (db *DB) RecordObject(ctx context.Context, o aiproxy.ProviderObject) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO provider_objects (service, kind, provider_id, org_key, user_id, source, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (service, kind, provider_id) DO NOTHING`,
		o.Service, o.Kind, o.ProviderID, o.OrgKey, o.User, string(o.Source), timestamp(o.CreatedAt))
	if err != nil {
		return fmt.Errorf("record %s %s %q: %w", o.Service, o.Kind, o.ProviderID, err)
	}
	return nil
}

// Objects returns the records of a service's objects with the given ids.
func (db *DB) Objects(ctx context.Context, service string, ids []string) ([]aiproxy.ProviderObject, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT service, kind, provider_id, org_key, user_id, source, created_at
		FROM provider_objects WHERE service = $1 AND provider_id = ANY($2)
		ORDER BY provider_id, kind`, service, ids)
	if err != nil {
		return nil, fmt.Errorf("objects of %s: %w", service, err)
	}
	defer rows.Close()
	var out []aiproxy.ProviderObject
	for rows.Next() {
		var o aiproxy.ProviderObject
		var src string
		var created pgtype.Timestamptz
		if err := rows.Scan(&o.Service, &o.Kind, &o.ProviderID, &o.OrgKey, &o.User, &src, &created); err != nil {
			return nil, fmt.Errorf("objects of %s: %w", service, err)
		}
		o.Source, o.CreatedAt = aiproxy.Source(src), fromTimestamp(created)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("objects of %s: %w", service, err)
	}
	return out, nil
}
