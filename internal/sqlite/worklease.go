package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.WorkLeaseStore = (*DB)(nil)

// ClaimWork gives the lease name to owner until until unless another owner
// holds it past now. The upsert is one statement on the single writer, so
// racing claims take turns and one of them wins.
func (db *DB) ClaimWork(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, `INSERT INTO work_leases (name, owner, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE work_leases.owner = excluded.owner OR work_leases.expires_at <= ?`,
		name, owner, until.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("claim work %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim work %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseWork ends owner's lease name.
func (db *DB) ReleaseWork(ctx context.Context, name, owner string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM work_leases WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("release work %q: %w", name, err)
	}
	return nil
}
