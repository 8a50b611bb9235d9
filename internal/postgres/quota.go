package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.QuotaStore = (*DB)(nil)

// PutQuota creates or replaces a quota; it returns aiproxy.ErrNotFound if
// the org does not exist.
func (db *DB) PutQuota(ctx context.Context, q aiproxy.Quota) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO quotas (org_key, service, metric, period, max_units, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_key, service, metric, period)
		DO UPDATE SET max_units = excluded.max_units, updated_at = excluded.updated_at`,
		q.OrgKey, q.Service, string(q.Metric), string(q.Period), q.Limit, timestamp(q.UpdatedAt))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("put quota: org %q: %w", q.OrgKey, aiproxy.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put quota: %w", err)
	}
	return nil
}

// DeleteQuota removes a quota, or returns aiproxy.ErrNotFound.
func (db *DB) DeleteQuota(ctx context.Context, org, service string, m aiproxy.Metric, p aiproxy.Period) error {
	tag, err := db.pool.Exec(ctx,
		`DELETE FROM quotas WHERE org_key = $1 AND service = $2 AND metric = $3 AND period = $4`,
		org, service, string(m), string(p))
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("delete quota: %w", err)
	}
	return nil
}

// Quotas lists an org's quotas with their use in the windows holding at.
func (db *DB) Quotas(ctx context.Context, org string, at time.Time) ([]aiproxy.QuotaUse, error) {
	day, _ := aiproxy.PeriodDay.Window(at)
	month, _ := aiproxy.PeriodMonth.Window(at)
	rows, err := db.pool.Query(ctx, `
		SELECT q.org_key, q.service, q.metric, q.period, q.max_units, q.updated_at, coalesce(c.used, 0)
		FROM quotas q
		LEFT JOIN quota_counters c
		  ON c.org_key = q.org_key AND c.service = q.service AND c.metric = q.metric
		 AND c.period = q.period
		 AND c.window_start = CASE q.period WHEN 'day' THEN $1::timestamptz ELSE $2::timestamptz END
		WHERE q.org_key = $3
		ORDER BY q.service, q.metric, q.period`, day, month, org)
	if err != nil {
		return nil, fmt.Errorf("list quotas of org %q: %w", org, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.QuotaUse, error) {
		var (
			u              aiproxy.QuotaUse
			metric, period string
			updated        pgtype.Timestamptz
		)
		if err := r.Scan(&u.OrgKey, &u.Service, &metric, &period, &u.Limit, &updated, &u.Used); err != nil {
			return u, err
		}
		u.Metric, u.Period, u.UpdatedAt = aiproxy.Metric(metric), aiproxy.Period(period), fromTimestamp(updated)
		u.WindowStart, _ = u.Period.Window(at)
		return u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list quotas of org %q: %w", org, err)
	}
	return out, nil
}

// ReserveQuota adds a demand to every applicable counter, all or nothing.
// Each counter is raised by one conditional upsert that holds the counter's
// row lock until the transaction ends, so reservations racing on any number
// of replicas never pass a limit; the quotas are visited in one fixed order,
// so two reservations cannot deadlock.
func (db *DB) ReserveQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	return db.quotaTx(ctx, org, service, d, func(tx pgx.Tx, q aiproxy.Quota, n int64) error {
		start, end := q.Period.Window(at)
		var used int64
		err := tx.QueryRow(ctx, `
			INSERT INTO quota_counters AS c (org_key, service, metric, period, window_start, used)
			SELECT $1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::bigint
			WHERE $6::bigint <= $7::bigint
			ON CONFLICT (org_key, service, metric, period, window_start)
			DO UPDATE SET used = c.used + excluded.used
			WHERE c.used + excluded.used <= $7::bigint
			RETURNING c.used`,
			org, q.Service, string(q.Metric), string(q.Period), start, n, q.Limit).Scan(&used)
		if errors.Is(err, pgx.ErrNoRows) {
			// The counter stands where it was: read it for the error.
			err = tx.QueryRow(ctx, `
				SELECT coalesce(max(used), 0) FROM quota_counters
				WHERE org_key = $1 AND service = $2 AND metric = $3 AND period = $4 AND window_start = $5`,
				org, q.Service, string(q.Metric), string(q.Period), start).Scan(&used)
			if err == nil {
				err = &aiproxy.QuotaExceededError{Quota: q, Used: used, WindowEnd: end}
			}
		}
		return err
	})
}

// ReleaseQuota gives back a demand reserved at the time at.
func (db *DB) ReleaseQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	return db.quotaTx(ctx, org, service, d, func(tx pgx.Tx, q aiproxy.Quota, n int64) error {
		start, _ := q.Period.Window(at)
		_, err := tx.Exec(ctx, `
			UPDATE quota_counters SET used = greatest(0, used - $1)
			WHERE org_key = $2 AND service = $3 AND metric = $4 AND period = $5 AND window_start = $6`,
			n, org, q.Service, string(q.Metric), string(q.Period), start)
		return err
	})
}

// quotaTx runs fn for every quota that applies to a demand, in one
// transaction that rolls back on the first error.
func (db *DB) quotaTx(ctx context.Context, org, service string, d aiproxy.Demand, fn func(pgx.Tx, aiproxy.Quota, int64) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	defer tx.Rollback(ctx)
	quotas, err := applicable(ctx, tx, org, service, d)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	if len(quotas) == 0 {
		return nil
	}
	for _, q := range quotas {
		if err := fn(tx, q, d[q.Metric]); err != nil {
			var qe *aiproxy.QuotaExceededError
			if errors.As(err, &qe) {
				return err
			}
			return fmt.Errorf("quota: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return nil
}

// applicable returns the org's quotas that apply to a service's demand: the
// service's own first, then the all-services ones.
func applicable(ctx context.Context, tx pgx.Tx, org, service string, d aiproxy.Demand) ([]aiproxy.Quota, error) {
	rows, err := tx.Query(ctx, `
		SELECT service, metric, period, max_units FROM quotas
		WHERE org_key = $1 AND service IN ($2, '')
		ORDER BY service DESC, metric, period`, org, service)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.Quota, error) {
		q := aiproxy.Quota{OrgKey: org}
		var metric, period string
		err := r.Scan(&q.Service, &metric, &period, &q.Limit)
		q.Metric, q.Period = aiproxy.Metric(metric), aiproxy.Period(period)
		return q, err
	})
	if err != nil {
		return nil, err
	}
	var out []aiproxy.Quota
	for _, q := range all {
		if d[q.Metric] > 0 {
			out = append(out, q)
		}
	}
	return out, nil
}
