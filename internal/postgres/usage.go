package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageStore = (*DB)(nil)

// usageColumns is the number of values one usage row binds.
const usageColumns = 19

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
		// Ids commit in order, for the rollup watermark (usage_rollup.go).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(usageLock)); err != nil {
			return err
		}
		args := make([]any, 0, min(len(recs), usageRowsPerInsert)*usageColumns)
		for rest := recs; len(rest) > 0; {
			n := min(len(rest), usageRowsPerInsert)
			args = args[:0]
			for _, r := range rest[:n] {
				args = append(args, timestamp(r.At), r.OrgKey, r.KeyID, r.Service, r.Action, r.Status,
					string(r.ErrorCode), r.UpstreamStatus, r.LatencyMS, r.BytesOut, string(r.Unit), r.Units,
					r.Cache, string(r.Source), r.UserID, r.CostMicros, r.RequestID, r.ErrorDetail, r.SavedMicros)
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
	upstream_status, latency_ms, bytes_out, unit, units, cache, source, user_id, cost_micros, request_id,
	error_detail, saved_micros) VALUES `)
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

// UsageReport sums usage per UTC day, org, service and unit (and action,
// user and key when f.GroupBy says), then folds the units of one row into one. It
// reads the parts of the range that aiproxy.PlanUsageReport names: the
// rollups for whole days and hours up to the rollup watermark, the raw
// records for the rest (the records not yet rolled up, and parts of an
// hour at the ends), all in one snapshot so that a rollup committing
// meanwhile counts once. A zero From or To leaves that end of the range
// open.
func (db *DB) UsageReport(ctx context.Context, f aiproxy.UsageFilter) ([]aiproxy.UsageRow, error) {
	p := aiproxy.PlanUsageReport(f.From, f.To)
	dims, group := usageDims(f.GroupBy)
	filters := ` AND %[1]s >= $1 AND %[1]s < $2
		AND ($3 = '' OR org_key = $3) AND ($4 = '' OR service = $4) AND ($5 = '' OR user_id = $5)` + group
	rollups := dims + `, sum(requests)::bigint, sum(errors)::bigint, sum(cache_hits)::bigint,
		sum(bytes_out)::bigint, sum(latency_ms)::bigint, sum(units)::bigint, sum(cost_micros)::bigint, sum(saved_micros)::bigint FROM usage_rollups`
	raw := dims + `, count(*), count(*) FILTER (WHERE status >= 400 OR error_code <> ''),
		count(*) FILTER (WHERE cache IN ('HIT', 'STALE')), sum(bytes_out)::bigint, sum(latency_ms)::bigint,
		sum(units)::bigint, sum(cost_micros)::bigint, sum(saved_micros)::bigint FROM usage_events`
	day := bucketStart(aiproxy.Daily, "start_at")
	rawDay := bucketStart(aiproxy.Daily, "at")
	var parts []aiproxy.UsageRow
	err := db.readSnapshot(ctx, func(tx pgx.Tx, last int64) error {
		read := func(query string, s aiproxy.Span, args ...any) error {
			from, to := spanTimes(s)
			// Planned for these values every time: a plan cached for a
			// report over raw records (watermark 0) would read a whole
			// range by time once the watermark leaves only a few records.
			rows, err := tx.Query(ctx, query, append([]any{pgx.QueryExecModeExec, from, to, f.OrgKey, f.Service, f.UserID}, args...)...)
			if err != nil {
				return err
			}
			got, err := collectUsageRows(rows)
			parts = append(parts, got...)
			return err
		}
		if !p.Days.Empty() {
			if err := read(`SELECT start_at`+rollups+` WHERE bucket = 'day'`+fmt.Sprintf(filters, "start_at"), p.Days); err != nil {
				return err
			}
		}
		for _, h := range p.Hours {
			if err := read(`SELECT `+day+rollups+` WHERE bucket = 'hour'`+fmt.Sprintf(filters, "start_at"), h); err != nil {
				return err
			}
		}
		for _, e := range p.Edges {
			if err := read(`SELECT `+rawDay+raw+` WHERE true`+fmt.Sprintf(filters, "at"), e); err != nil {
				return err
			}
		}
		if !p.Tail.Empty() {
			return read(`SELECT `+rawDay+raw+` WHERE id > $6`+fmt.Sprintf(filters, "at"), p.Tail, last)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	return aiproxy.SumUsage(parts), nil
}

// usageDims returns a report query's columns after the day (org, service,
// action, user, key and unit; action, user and key as empty text unless
// the report is split by them) and its GROUP BY, which names only the columns that split
// rows (the day by position, as its expression differs per query).
func usageDims(by aiproxy.UsageGroups) (dims, group string) {
	action, user, key := "''::text", "''::text", "''::text"
	group = ` GROUP BY 1, org_key, service`
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

// collectUsageRows reads rows of (day start, org, service, action, user, key, unit,
// requests, errors, cache hits, bytes, latency, units, cost, saved) as report
// rows.
func collectUsageRows(rows pgx.Rows) ([]aiproxy.UsageRow, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (aiproxy.UsageRow, error) {
		var r aiproxy.UsageRow
		var day pgtype.Timestamptz
		var unit string
		var units int64
		err := row.Scan(&day, &r.OrgKey, &r.Service, &r.Action, &r.UserID, &r.KeyID, &unit, &r.Requests, &r.Errors,
			&r.CacheHits, &r.BytesOut, &r.LatencyMS, &units, &r.CostMicros, &r.SavedMicros)
		r.Day, r.Units = dayOf(day), map[aiproxy.Metric]int64{aiproxy.Metric(unit): units}
		return r, err
	})
}

const requestColumns = `id, at, org_key, key_id, user_id, service, action, status, error_code, upstream_status,
	latency_ms, bytes_out, unit, units, cache, source, cost_micros, request_id, error_detail, saved_micros`

// Requests lists an org's raw usage records, newest first, through
// usage_events_by_org_at_id. Only the raw records that retention keeps are
// there.
func (db *DB) Requests(ctx context.Context, f aiproxy.RequestFilter) ([]aiproxy.LoggedRequest, error) {
	where := []string{"org_key = $1"}
	args := []any{f.OrgKey}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, c := range [][2]string{{"service", f.Service}, {"action", f.Action}, {"key_id", f.KeyID}, {"user_id", f.UserID}} {
		if c[1] != "" {
			where = append(where, c[0]+" = "+arg(c[1]))
		}
	}
	if f.Status != 0 {
		clause := "status = " + arg(f.Status)
		if len(f.StatusCodes) > 0 {
			codes := make([]string, len(f.StatusCodes))
			for i, c := range f.StatusCodes {
				codes[i] = string(c)
			}
			clause = "(" + clause + " OR (status = 0 AND error_code = ANY(" + arg(codes) + ")))"
		}
		where = append(where, clause)
	}
	if f.ErrorsOnly {
		where = append(where, "(status >= 400 OR error_code <> '')")
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+arg(timestamp(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+arg(timestamp(f.To)))
	}
	if f.Before != nil {
		where = append(where, "(at, id) < ("+arg(timestamp(f.Before.At))+", "+arg(f.Before.ID)+")")
	}
	rows, err := db.pool.Query(ctx, `SELECT `+requestColumns+` FROM usage_events
		WHERE `+strings.Join(where, " AND ")+` ORDER BY at DESC, id DESC LIMIT `+arg(limitOr(f.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (aiproxy.LoggedRequest, error) {
		var (
			r                  aiproxy.LoggedRequest
			at                 pgtype.Timestamptz
			code, unit, source string
		)
		err := row.Scan(&r.ID, &at, &r.OrgKey, &r.KeyID, &r.UserID, &r.Service, &r.Action, &r.Status, &code,
			&r.UpstreamStatus, &r.LatencyMS, &r.BytesOut, &unit, &r.Units, &r.Cache, &source, &r.CostMicros,
			&r.RequestID, &r.ErrorDetail, &r.SavedMicros)
		r.At, r.ErrorCode, r.Unit, r.Source = fromTimestamp(at), aiproxy.Code(code), aiproxy.Metric(unit), aiproxy.Source(source)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}
