package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.QuotaStore = (*DB)(nil)

// PutQuota creates or replaces a quota; it returns aiproxy.ErrNotFound if
// the org does not exist.
func (db *DB) PutQuota(ctx context.Context, q aiproxy.Quota) error {
	_, err := db.write.ExecContext(ctx, `
		INSERT INTO quotas (org_key, service, metric, period, max_units, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_key, service, metric, period)
		DO UPDATE SET max_units = excluded.max_units, updated_at = excluded.updated_at`,
		q.OrgKey, q.Service, string(q.Metric), string(q.Period), q.Limit, millis(q.UpdatedAt))
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
	res, err := db.write.ExecContext(ctx,
		`DELETE FROM quotas WHERE org_key = ? AND service = ? AND metric = ? AND period = ?`,
		org, service, string(m), string(p))
	if err == nil {
		err = affectedOne(res)
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
	rows, err := db.read.QueryContext(ctx, `
		SELECT q.org_key, q.service, q.metric, q.period, q.max_units, q.updated_at, ifnull(c.used, 0)
		FROM quotas q
		LEFT JOIN quota_counters c
		  ON c.org_key = q.org_key AND c.service = q.service AND c.metric = q.metric
		 AND c.period = q.period
		 AND c.window_start = CASE q.period WHEN 'day' THEN ? ELSE ? END
		WHERE q.org_key = ?
		ORDER BY q.service, q.metric, q.period`, day.UnixMilli(), month.UnixMilli(), org)
	if err != nil {
		return nil, fmt.Errorf("list quotas of org %q: %w", org, err)
	}
	defer rows.Close()
	var out []aiproxy.QuotaUse
	for rows.Next() {
		var u aiproxy.QuotaUse
		var metric, period string
		var updated sql.NullInt64
		if err := rows.Scan(&u.OrgKey, &u.Service, &metric, &period, &u.Limit, &updated, &u.Used); err != nil {
			return nil, fmt.Errorf("list quotas of org %q: %w", org, err)
		}
		u.Metric, u.Period, u.UpdatedAt = aiproxy.Metric(metric), aiproxy.Period(period), fromMillis(updated)
		u.WindowStart, _ = u.Period.Window(at)
		out = append(out, u)
	}
	return out, rows.Err()
}

// applicable returns the org's quotas that apply to a service's demand.
func applicable(ctx context.Context, tx *sql.Tx, org, service string, d aiproxy.Demand) ([]aiproxy.Quota, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT service, metric, period, max_units FROM quotas
		WHERE org_key = ? AND service IN (?, '')
		ORDER BY service DESC, metric, period`, org, service)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []aiproxy.Quota
	for rows.Next() {
		q := aiproxy.Quota{OrgKey: org}
		var metric, period string
		if err := rows.Scan(&q.Service, &metric, &period, &q.Limit); err != nil {
			return nil, err
		}
		q.Metric, q.Period = aiproxy.Metric(metric), aiproxy.Period(period)
		if d[q.Metric] > 0 {
			out = append(out, q)
		}
	}
	return out, rows.Err()
}

// ReserveQuota adds a demand to every applicable counter, all or nothing.
// The writer connection serialises reservations, and the transaction
// begins IMMEDIATE, so two reservations never read the same counter value.
func (db *DB) ReserveQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	return db.quotaTx(ctx, org, service, d, func(tx *sql.Tx, q aiproxy.Quota, n int64) error {
		start, end := q.Period.Window(at)
		var used int64
		err := tx.QueryRowContext(ctx, `
			SELECT used FROM quota_counters
			WHERE org_key = ? AND service = ? AND metric = ? AND period = ? AND window_start = ?`,
			org, q.Service, string(q.Metric), string(q.Period), start.UnixMilli()).Scan(&used)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if used+n > q.Limit {
			return &aiproxy.QuotaExceededError{Quota: q, Used: used, WindowEnd: end}
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO quota_counters (org_key, service, metric, period, window_start, used)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_key, service, metric, period, window_start)
			DO UPDATE SET used = used + excluded.used`,
			org, q.Service, string(q.Metric), string(q.Period), start.UnixMilli(), n)
		return err
	})
}

// ReleaseQuota gives back a demand reserved at the time at.
func (db *DB) ReleaseQuota(ctx context.Context, org, service string, d aiproxy.Demand, at time.Time) error {
	return db.quotaTx(ctx, org, service, d, func(tx *sql.Tx, q aiproxy.Quota, n int64) error {
		start, _ := q.Period.Window(at)
		_, err := tx.ExecContext(ctx, `
			UPDATE quota_counters SET used = max(0, used - ?)
			WHERE org_key = ? AND service = ? AND metric = ? AND period = ? AND window_start = ?`,
			n, org, q.Service, string(q.Metric), string(q.Period), start.UnixMilli())
		return err
	})
}

// quotaTx runs fn for every quota that applies to a demand, in one write
// transaction that rolls back on the first error.
func (db *DB) quotaTx(ctx context.Context, org, service string, d aiproxy.Demand, fn func(*sql.Tx, aiproxy.Quota, int64) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	defer tx.Rollback()
	quotas, err := applicable(ctx, tx, org, service, d)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	if len(quotas) == 0 {
		return nil
	}
	for _, q := range quotas {
		if err := fn(tx, q, d[q.Metric]); err != nil {
			if _, ok := err.(*aiproxy.QuotaExceededError); ok {
				return err
			}
			return fmt.Errorf("quota: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return nil
}
