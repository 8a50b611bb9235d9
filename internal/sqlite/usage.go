package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// usageColumns is the number of values one usage row binds.
const usageColumns = 19

// usageInsertSizes are the row counts of the INSERTs a batch is cut into,
// largest first. Each is a statement prepared once, so that a busy server
// does not parse a new INSERT for every batch (parsing was half of a
// batch's cost); the largest keeps its bound values (256 × 19) well under
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
				string(r.Unit), r.Units, r.Cache, string(r.Source), r.UserID, r.CostMicros, r.RequestID, r.ErrorDetail, r.SavedMicros)
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
	upstream_status, latency_ms, bytes_out, unit, units, cache, source, user_id, cost_micros, request_id,
	error_detail, saved_micros) VALUES `
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
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

// UsageReport sums usage per UTC day, org, service and unit (and action,
// user and key when f.GroupBy says), then folds the units of one row into one. It
// reads the parts of the range that aiproxy.PlanUsageReport names: the
// rollups for whole days and hours up to the rollup watermark, the raw
// records for the rest (the records not yet rolled up, and parts of an
// hour at the ends), all in one read transaction so that a rollup
// committing meanwhile counts once.
func (db *DB) UsageReport(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error) {
	p := aiproxy.PlanUsageReport(f.From, f.To)
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last_id FROM usage_rollup_state WHERE name = 'usage'`).Scan(&last); err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	var parts []aiproxy.UsageRow
	read := func(query string, s aiproxy.Span, args ...any) error {
		from, to := spanMillis(s)
		args = append(args, from, to, f.OrgKey, f.OrgKey, f.Service, f.Service, f.UserID, f.UserID)
		rows, err := readUsageRows(ctx, tx, query, args...)
		parts = append(parts, rows...)
		return err
	}
	dims, group := usageDims(f.GroupBy)
	filters := ` AND (? = '' OR org_key = ?) AND (? = '' OR service = ?) AND (? = '' OR user_id = ?)` + group
	rollups := dims + `, sum(requests), sum(errors), sum(cache_hits), sum(bytes_out),
		sum(latency_ms), sum(units), sum(cost_micros), sum(saved_micros) FROM usage_rollups`
	raw := dims + `, count(*), sum(status >= 400 OR error_code <> ''),
		sum(cache IN ('HIT', 'STALE')), sum(bytes_out), sum(latency_ms), sum(units), sum(cost_micros), sum(saved_micros) FROM usage_events`
	if !p.Days.Empty() {
		if err := read(`SELECT start_at AS day`+rollups+` WHERE bucket = 'day' AND start_at >= ? AND start_at < ?`+filters, p.Days); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
	}
	for _, h := range p.Hours {
		if err := read(`SELECT `+floorTo("start_at", dayMillis)+` AS day`+rollups+`
			WHERE bucket = 'hour' AND start_at >= ? AND start_at < ?`+filters, h); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
	}
	for _, e := range p.Edges {
		if err := read(`SELECT `+floorTo("at", dayMillis)+` AS day`+raw+` WHERE at >= ? AND at < ?`+filters, e); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
	}
	if !p.Tail.Empty() {
		// The records after the watermark are usually few and the
		// newest: the primary key finds them, and the unary + keeps
		// SQLite off the index on at, which would visit the whole range.
		// When rollups lag far behind (or are off), the index on at
		// serves a short range better.
		tail := `WHERE id > ? AND +at >= ? AND +at < ?`
		var top sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(id) FROM usage_events`).Scan(&top); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
		if top.Int64-last > rawTailByID {
			tail = `WHERE id > ? AND at >= ? AND at < ?`
		}
		if err := read(`SELECT `+floorTo("at", dayMillis)+` AS day`+raw+` `+tail+filters, p.Tail, last); err != nil {
			return nil, fmt.Errorf("usage report: %w", err)
		}
	}
	return aiproxy.SumUsage(parts), nil
}

// usageDims returns a report query's columns after the day (org, service,
// action, user, key and unit; action, user and key as empty text unless
// the report is split by them) and its GROUP BY, which names only the columns that split
// rows.
func usageDims(by aiproxy.UsageGroups) (dims, group string) {
	action, user, key := "''", "''", "''"
	group = ` GROUP BY day, org_key, service`
	if by.Has(aiproxy.GroupByAction) {
		action, group = "action", group+", action"
	}
	if by.Has(aiproxy.GroupByUser) {
		user, group = "user_id", group+", user_id"
	}
	if by.Has(aiproxy.GroupByKey) {
		key, group = "key_id", group+", key_id"
	}
	return ", org_key, service, " + action + ", " + user + ", " + key + ", unit", group + ", unit"
}

// rawTailByID is the most records after the rollup watermark that a
// report reads by id rather than by time.
const rawTailByID = 100_000

// readUsageRows reads rows of (day start, org, service, action, user, key, unit,
// requests, errors, cache hits, bytes, latency, units, cost, saved) as report
// rows.
func readUsageRows(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]aiproxy.UsageRow, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []aiproxy.UsageRow
	for rows.Next() {
		var r aiproxy.UsageRow
		var day, units int64
		var unit string
		if err := rows.Scan(&day, &r.OrgKey, &r.Service, &r.Action, &r.UserID, &r.KeyID, &unit, &r.Requests, &r.Errors,
			&r.CacheHits, &r.BytesOut, &r.LatencyMS, &units, &r.CostMicros, &r.SavedMicros); err != nil {
			return nil, err
		}
		r.Day = time.UnixMilli(day).UTC().Format(time.DateOnly)
		r.Units = map[aiproxy.Metric]int64{aiproxy.Metric(unit): units}
		out = append(out, r)
	}
	return out, rows.Err()
}

// spanMillis is a span's ends in stored form, open ends as the extremes.
func spanMillis(s aiproxy.Span) (from, to int64) {
	return millisOr(s.From, math.MinInt64), millisOr(s.To, math.MaxInt64)
}

const requestColumns = `id, at, org_key, key_id, user_id, service, action, status, error_code, upstream_status,
	latency_ms, bytes_out, unit, units, cache, source, cost_micros, request_id, error_detail, saved_micros`

// Requests lists an org's raw usage records, newest first, through
// usage_events_by_org (org_key, at), whose rowid breaks ties. Only the raw
// records that retention keeps are there.
func (db *DB) Requests(ctx context.Context, f aiproxy.RequestFilter) ([]aiproxy.LoggedRequest, error) {
	where := []string{"org_key = ?"}
	args := []any{f.OrgKey}
	for _, c := range [][2]string{{"service", f.Service}, {"action", f.Action}, {"key_id", f.KeyID}, {"user_id", f.UserID}} {
		if c[1] != "" {
			where = append(where, c[0]+" = ?")
			args = append(args, c[1])
		}
	}
	if f.Status != 0 {
		clause := "status = ?"
		args = append(args, f.Status)
		if len(f.StatusCodes) > 0 {
			clause = "(status = ? OR (status = 0 AND error_code IN (?" + strings.Repeat(", ?", len(f.StatusCodes)-1) + ")))"
			for _, c := range f.StatusCodes {
				args = append(args, string(c))
			}
		}
		where = append(where, clause)
	}
	if f.ErrorsOnly {
		where = append(where, "(status >= 400 OR error_code <> '')")
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, f.To.UnixMilli())
	}
	if f.Before != nil {
		at := f.Before.At.UnixMilli()
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, f.Before.ID)
	}
	args = append(args, limitOr(f.Limit))
	rows, err := db.read.QueryContext(ctx, `SELECT `+requestColumns+` FROM usage_events INDEXED BY usage_events_by_org
		WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []aiproxy.LoggedRequest
	for rows.Next() {
		var (
			r                  aiproxy.LoggedRequest
			at                 int64
			code, unit, source string
		)
		if err := rows.Scan(&r.ID, &at, &r.OrgKey, &r.KeyID, &r.UserID, &r.Service, &r.Action, &r.Status, &code,
			&r.UpstreamStatus, &r.LatencyMS, &r.BytesOut, &unit, &r.Units, &r.Cache, &source, &r.CostMicros,
			&r.RequestID, &r.ErrorDetail, &r.SavedMicros); err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		r.At, r.ErrorCode, r.Unit, r.Source = time.UnixMilli(at).UTC(), aiproxy.Code(code), aiproxy.Metric(unit), aiproxy.Source(source)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}
