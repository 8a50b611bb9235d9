package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.JobSlotStore = (*DB)(nil)

// jobSlotLock is the advisory lock that serializes slot claims. Claims are
// rare (one per job start) and short, so one lock for every cap is simpler
// than a lock per cap and costs nothing measurable.
const jobSlotLock = 0x6a6f62736c6f74 // "jobslot"

// ClaimJobSlot stores a slot unless a cap that applies to it is full. The
// transaction takes an advisory lock first, so that racing claims, from any
// replica, run one after another and each counts the slots of those before
// it (READ COMMITTED reads each statement's latest committed rows).
func (db *DB) ClaimJobSlot(ctx context.Context, s aiproxy.JobSlot, caps []aiproxy.JobCap, now time.Time) (*aiproxy.JobCap, error) {
	var full *aiproxy.JobCap
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(jobSlotLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM job_slots WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		for _, c := range caps {
			if !c.Applies(s.Service, s.Source) {
				continue
			}
			room, err := roomFor(ctx, tx, c, s)
			if err != nil {
				return err
			}
			if !room {
				full = &c
				return nil
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO job_slots (id, org_key, service, source, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			s.ID, s.OrgKey, s.Service, string(s.Source), s.ExpiresAt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim job slot: %w", err)
	}
	return full, nil
}

// roomFor reports whether a cap leaves room for s: an org cap while the
// org's running jobs and live slots are under Max, a credential cap when
// its fair-share rule grants s's org one more given what every org runs.
func roomFor(ctx context.Context, tx pgx.Tx, c aiproxy.JobCap, s aiproxy.JobSlot) (bool, error) {
	if c.Scope == aiproxy.JobCapCredential {
		held, err := runningByOrg(ctx, tx, s.Service)
		if err != nil {
			return false, err
		}
		return c.Shares.Grant(c.Max, s.OrgKey, held), nil
	}
	var n int64
	err := tx.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM jobs WHERE org_key = $1 AND ($2 = '' OR service = $2)
		          AND state IN ('pending', 'processing'))
		     + (SELECT count(*) FROM job_slots WHERE org_key = $1 AND ($2 = '' OR service = $2))`,
		s.OrgKey, c.Service).Scan(&n)
	return n < int64(c.Max), err
}

// runningByOrg counts, per org, the running jobs and live slots started
// with the platform credential of a service.
func runningByOrg(ctx context.Context, tx pgx.Tx, service string) (map[string]int, error) {
	rows, err := tx.Query(ctx, `
		SELECT org_key, count(*) FROM (
			SELECT org_key FROM jobs WHERE service = $1 AND source = 'platform'
			  AND state IN ('pending', 'processing')
			UNION ALL
			SELECT org_key FROM job_slots WHERE service = $1 AND source = 'platform'
		) AS running GROUP BY org_key`, service)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := map[string]int{}
	for rows.Next() {
		var org string
		var n int
		if err := rows.Scan(&org, &n); err != nil {
			return nil, err
		}
		held[org] = n
	}
	return held, rows.Err()
}

// ReleaseJobSlot removes a slot.
func (db *DB) ReleaseJobSlot(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM job_slots WHERE id = $1`, id); err != nil {
		return fmt.Errorf("release job slot %q: %w", id, err)
	}
	return nil
}
