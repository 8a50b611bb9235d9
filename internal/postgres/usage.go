package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// usageColumns is the number of values one usage row binds.
const usageColumns = 14

// usageRowsPerInsert bounds one INSERT's rows so that its bound values stay
// well under PostgreSQL's limit of 65,535 parameters.
const usageRowsPerInsert = 1000

// AppendUsage inserts records in one transaction, many rows per INSERT:
// one statement per batch instead of one per record.
func (db *DB) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		args := make([]any, 0, min(len(recs), usageRowsPerInsert)*usageColumns)
		for rest := recs; len(rest) > 0; {
			n := min(len(rest), usageRowsPerInsert)
			args = args[:0]
			for _, r := range rest[:n] {
				args = append(args, timestamp(r.At), r.OrgKey, r.KeyID, r.Service, r.Action, r.Status,
					string(r.ErrorCode), r.UpstreamStatus, r.LatencyMS, r.BytesOut, string(r.Unit), r.Units,
					r.Cache, string(r.Source))
			}
			if _, err := tx.Exec(ctx, insertUsageSQL(n), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	return nil
}

// insertUsageSQL is an INSERT of n usage rows with numbered parameters.
func insertUsageSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO usage_events (at, org_key, key_id, service, action, status, error_code,
	upstream_status, latency_ms, bytes_out, unit, units, cache, source) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range usageColumns {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*usageColumns + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
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
