package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// usageColumns is the number of values one usage row binds.
const usageColumns = 14

// usageRowsPerInsert bounds one INSERT's rows so that its bound values stay
// well under SQLite's limit of 32,766 variables.
const usageRowsPerInsert = 500

// AppendUsage inserts records in one transaction, many rows per INSERT:
// one statement per batch instead of one per record.
func (db *DB) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	defer tx.Rollback()
	args := make([]any, 0, min(len(recs), usageRowsPerInsert)*usageColumns)
	for len(recs) > 0 {
		n := min(len(recs), usageRowsPerInsert)
		args = args[:0]
		for _, r := range recs[:n] {
			args = append(args, r.At.UnixMilli(), r.OrgKey, r.KeyID, r.Service, r.Action,
				r.Status, string(r.ErrorCode), r.UpstreamStatus, r.LatencyMS, r.BytesOut,
				string(r.Unit), r.Units, r.Cache, string(r.Source))
		}
		if _, err := tx.ExecContext(ctx, insertUsageSQL(n), args...); err != nil {
			return fmt.Errorf("append usage: %w", err)
		}
		recs = recs[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	return nil
}

// insertUsageSQL is an INSERT of n usage rows.
func insertUsageSQL(n int) string {
	const head = `INSERT INTO usage_events (at, org_key, key_id, service, action, status, error_code,
	upstream_status, latency_ms, bytes_out, unit, units, cache, source) VALUES `
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+1))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// UsageReport sums usage per UTC day, org, service and unit, then folds the
// units of one day, org and service into one row.
func (db *DB) UsageReport(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.From.IsZero() {
		from = f.From.UnixMilli()
	}
	if !f.To.IsZero() {
		to = f.To.UnixMilli()
	}
	rows, err := db.read.QueryContext(ctx, `
		SELECT date(at / 1000, 'unixepoch') AS day, org_key, service, unit,
		       count(*),
		       sum(status >= 400 OR error_code <> ''),
		       sum(cache IN ('HIT', 'STALE')),
		       sum(bytes_out), sum(latency_ms), sum(units)
		FROM usage_events
		WHERE at >= ? AND at < ? AND (? = '' OR org_key = ?) AND (? = '' OR service = ?)
		GROUP BY day, org_key, service, unit
		ORDER BY day, org_key, service, unit`,
		from, to, f.OrgKey, f.OrgKey, f.Service, f.Service)
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
	return out, rows.Err()
}
