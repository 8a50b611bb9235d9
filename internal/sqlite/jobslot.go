package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.JobSlotStore = (*DB)(nil)

// ClaimJobSlot stores a slot unless a cap that applies to it is full. The
// writer's transaction begins IMMEDIATE, so racing claims run one after
// another and each counts the slots of those before it.
func (db *DB) ClaimJobSlot(ctx context.Context, s aiproxy.JobSlot, caps []aiproxy.JobCap, now time.Time) (*aiproxy.JobCap, error) {
	var full *aiproxy.JobCap
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM job_slots WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
			return err
		}
		for _, c := range caps {
			if !c.Applies(s.Service, s.Source) {
				continue
			}
			n, err := countRunning(ctx, tx, c, s)
			if err != nil {
				return err
			}
			if n >= int64(c.Max) {
				full = &c
				return nil
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO job_slots (id, org_key, service, source, expires_at) VALUES (?, ?, ?, ?, ?)`,
			s.ID, s.OrgKey, s.Service, string(s.Source), s.ExpiresAt.UnixMilli())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim job slot: %w", err)
	}
	return full, nil
}

// countRunning counts the running jobs and live slots a cap counts for s.
func countRunning(ctx context.Context, tx *sql.Tx, c aiproxy.JobCap, s aiproxy.JobSlot) (int64, error) {
	var n int64
	var err error
	if c.Scope == aiproxy.JobCapOrg {
		err = tx.QueryRowContext(ctx, `
			SELECT (SELECT count(*) FROM jobs WHERE org_key = ?1 AND (?2 = '' OR service = ?2)
			          AND state IN ('pending', 'processing'))
			     + (SELECT count(*) FROM job_slots WHERE org_key = ?1 AND (?2 = '' OR service = ?2))`,
			s.OrgKey, c.Service).Scan(&n)
	} else {
		err = tx.QueryRowContext(ctx, `
			SELECT (SELECT count(*) FROM jobs WHERE service = ?1 AND source = 'platform'
			          AND state IN ('pending', 'processing'))
			     + (SELECT count(*) FROM job_slots WHERE service = ?1 AND source = 'platform')`,
			s.Service).Scan(&n)
	}
	return n, err
}

// ReleaseJobSlot removes a slot.
func (db *DB) ReleaseJobSlot(ctx context.Context, id string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM job_slots WHERE id = ?`, id); err != nil {
		return fmt.Errorf("release job slot %q: %w", id, err)
	}
	return nil
}
