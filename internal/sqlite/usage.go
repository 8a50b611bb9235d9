package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// usageColumns is the number of values one usage row binds.
const usageColumns = 14

// usageInsertSizes are the row counts of the INSERTs a batch is cut into,
// largest first. Each is a statement prepared once, so that a busy server
// does not parse a new INSERT for every batch (parsing was half of a
// batch's cost); the largest keeps its bound values (256 × 14) well under
// SQLite's limit of 32,766. A batch of 300 is 256 + 2 × 16 + 3 × 4; the usage
// recorder's batches are at most 256 by default.
var usageInsertSizes = [...]int{256, 64, 16, 4, 1}

// AppendUsage inserts records in one transaction, many rows per INSERT.
func (db *DB) AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	// Prepare the statements this batch needs before the transaction
	// takes the write connection.
	var stmts [len(usageInsertSizes)]*sql.Stmt
	for rest := len(recs); rest > 0; {
		i := usageInsertSize(rest)
		if stmts[i] == nil {
			st, err := db.writeStmt(ctx, usageInsertSQL[usageInsertSizes[i]])
			if err != nil {
				return fmt.Errorf("append usage: %w", err)
			}
			stmts[i] = st
		}
		rest -= usageInsertSizes[i]
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	defer tx.Rollback()
	args := make([]any, 0, min(len(recs), usageInsertSizes[0])*usageColumns)
	for len(recs) > 0 {
		i := usageInsertSize(len(recs))
		n := usageInsertSizes[i]
		args = args[:0]
		for _, r := range recs[:n] {
			args = append(args, r.At.UnixMilli(), r.OrgKey, r.KeyID, r.Service, r.Action,
				r.Status, string(r.ErrorCode), r.UpstreamStatus, r.LatencyMS, r.BytesOut,
				string(r.Unit), r.Units, r.Cache, string(r.Source))
		}
		if _, err := tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("append usage: %w", err)
		}
		recs = recs[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	return nil
}

// usageInsertSQL is the INSERT text of each of usageInsertSizes.
var usageInsertSQL = func() map[int]string {
	m := make(map[int]string, len(usageInsertSizes))
	for _, n := range usageInsertSizes {
		m[n] = insertUsageSQL(n)
	}
	return m
}()

// usageInsertSize is the index in usageInsertSizes of the largest
// statement that fits in n records (n ≥ 1).
func usageInsertSize(n int) int {
	for i, size := range usageInsertSizes {
		if size <= n {
			return i
		}
	}
	return len(usageInsertSizes) - 1
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
