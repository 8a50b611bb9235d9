package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.WorkLeaseStore = (*DB)(nil)

// ClaimWork gives the lease name to owner until until unless another owner
// holds it past now. The upsert locks the lease's row, so racing claims
// from any replica take turns and one of them wins.
func (db *DB) ClaimWork(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO work_leases (name, owner, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE work_leases.owner = excluded.owner OR work_leases.expires_at <= $4`,
		name, owner, timestamp(until), timestamp(now))
	if err != nil {
		return false, fmt.Errorf("claim work %q: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseWork ends owner's lease name.
func (db *DB) ReleaseWork(ctx context.Context, name, owner string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM work_leases WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("release work %q: %w", name, err)
	}
	return nil
}
