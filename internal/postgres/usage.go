package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// AppendUsage inserts records in one batch, in one transaction.
func (db *DB) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, r := range recs {
			b.Queue(`
				INSERT INTO usage_events (at, org_key, key_id, service, action, status, error_code,
					upstream_status, latency_ms, bytes_out, unit, units, cache, source)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				timestamp(r.At), r.OrgKey, r.KeyID, r.Service, r.Action, r.Status, string(r.ErrorCode),
				r.UpstreamStatus, r.LatencyMS, r.BytesOut, string(r.Unit), r.Units, r.Cache, string(r.Source))
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	return nil
}

// UsageReport sums usage per UTC day, org, service and unit, then folds the
// units of one day, org and service into one row. A zero From or To leaves
// that end of the range open.
func (db *DB) UsageReport(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, org_key, service, unit,
		       count(*),
		       count(*) FILTER (WHERE status >= 400 OR error_code <> ''),
		       count(*) FILTER (WHERE cache IN ('HIT', 'STALE')),
		       sum(bytes_out)::bigint, sum(latency_ms)::bigint, sum(units)::bigint
		FROM usage_events
		WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
		  AND ($3 = '' OR org_key = $3) AND ($4 = '' OR service = $4)
		GROUP BY day, org_key, service, unit
		ORDER BY day, org_key, service, unit`,
		timestamp(f.From), timestamp(f.To), f.OrgKey, f.Service)
	if err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.UsageRow
	for rows.Next() {
		var r aiproxy.UsageRow
		var unit string
		var units int64
		if err := rows.Scan(&r.Day, &r.OrgKey, &r.Service, &unit, &r.Requests, &r.Errors, &r.CacheHits,
			&r.BytesOut, &r.LatencyMS, &units); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
		out = aiproxy.FoldUsage(out, r, aiproxy.Metric(unit), units)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	return out, nil
}
