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

var _ aiproxy.UsageRollupStore = (*DB)(nil)

// rollupBatch is how many raw records RollUpUsage folds when asked for no
// particular number.
const rollupBatch = 20000

// hourMillis and dayMillis are the bucket widths in stored time units.
const (
	hourMillis = int64(time.Hour / time.Millisecond)
	dayMillis  = 24 * hourMillis
)

// latencyColumns names usage_rollups' histogram columns, one per bucket of
// aiproxy.LatencyHistogram: lat_le_N, then lat_inf.
var latencyColumns = func() []string {
	cols := make([]string, 0, len(aiproxy.LatencyBounds)+1)
	for _, b := range aiproxy.LatencyBounds {
		cols = append(cols, fmt.Sprintf("lat_le_%d", b))
	}
	return append(cols, "lat_inf")
}()

// rollupSums is the select list that sums raw usage rows into a bucket's
// counts, in the order of usage_rollups' count columns: requests, errors,
// cache hits, bytes, latency, units, cost, saved cost and the histogram.
var rollupSums = func() string {
	sums := []string{"count(*)", "sum(status >= 400 OR error_code <> '')", "sum(cache IN ('HIT', 'STALE'))",
		"sum(bytes_out)", "sum(latency_ms)", "sum(units)", "sum(cost_micros)", "sum(saved_micros)"}
	low := "" // the previous bound's condition
	for _, b := range aiproxy.LatencyBounds {
		sums = append(sums, fmt.Sprintf("sum(%slatency_ms <= %d)", low, b))
		low = fmt.Sprintf("latency_ms > %d AND ", b)
	}
	sums = append(sums, fmt.Sprintf("sum(latency_ms > %d)", aiproxy.LatencyBounds[len(aiproxy.LatencyBounds)-1]))
	return strings.Join(sums, ", ")
}()

// floorTo is the SQL that rounds the integer column col down to a multiple
// of width, also below zero (SQLite's % keeps the dividend's sign).
func floorTo(col string, width int64) string {
	return fmt.Sprintf("(%[1]s - ((%[1]s %% %[2]d) + %[2]d) %% %[2]d)", col, width)
}

// RollUpUsage folds the next raw records after the watermark into the
// rollups. The sums are read on a reader connection, so that the single
// writer is held only for the upserts; the write then moves the watermark
// only if it has not moved since, so that a second builder that read the
// same records adds nothing. SQLite commits one writer at a time, so the
// records after the watermark are exactly those no rollup holds, whatever
// their call time.
func (db *DB) RollUpUsage(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = rollupBatch
	}
	last, upTo, hours, err := db.readRollupBatch(ctx, limit)
	if err != nil || len(hours) == 0 {
		return 0, wrapErr("roll up usage", err)
	}
	n := 0
	for _, h := range hours {
		n += int(h.Requests)
	}
	var moved bool
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE usage_rollup_state SET last_id = ? WHERE name = 'usage' AND last_id = ?`, upTo, last)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return err // another builder folded these records first
		}
		moved = true
		return upsertBuckets(ctx, tx, append(hours, aiproxy.RollUpDays(hours)...))
	})
	if err != nil {
		return 0, fmt.Errorf("roll up usage: %w", err)
	}
	if !moved {
		return 0, nil
	}
	return n, nil
}

// readRollupBatch reads the watermark and sums the next limit raw records
// after it into hour buckets, in one read transaction. It returns the
// watermark and the id of the last record summed.
func (db *DB) readRollupBatch(ctx context.Context, limit int) (last, upTo int64, hours []aiproxy.UsageBucket, err error) {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT last_id FROM usage_rollup_state WHERE name = 'usage'`).Scan(&last); err != nil {
		return 0, 0, nil, err
	}
	var top sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT max(id) FROM (SELECT id FROM usage_events WHERE id > ? ORDER BY id LIMIT ?)`,
		last, limit).Scan(&top)
	if err != nil || !top.Valid {
		return last, last, nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+floorTo("at", hourMillis)+` AS hour, org_key, service, action, key_id, user_id, unit, `+
		rollupSums+` FROM usage_events WHERE id > ? AND id <= ?
		GROUP BY hour, org_key, service, action, key_id, user_id, unit`, last, top.Int64)
	if err != nil {
		return 0, 0, nil, err
	}
	hours, err = scanBuckets(rows, aiproxy.Hourly)
	return last, top.Int64, hours, err
}

// upsertBuckets adds each bucket to its stored row, creating it if needed.
func upsertBuckets(ctx context.Context, tx *sql.Tx, bs []aiproxy.UsageBucket) error {
	counts := append([]string{"requests", "errors", "cache_hits", "bytes_out", "latency_ms", "units", "cost_micros", "saved_micros"},
		latencyColumns...)
	set := make([]string, len(counts))
	for i, c := range counts {
		set[i] = c + " = " + c + " + excluded." + c
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO usage_rollups (bucket, start_at, org_key, service, action, key_id, user_id, unit, `+
		strings.Join(counts, ", ")+`) VALUES (?`+strings.Repeat(", ?", 7+len(counts))+`)
		ON CONFLICT (bucket, start_at, org_key, service, action, key_id, user_id, unit) DO UPDATE SET `+strings.Join(set, ", "))
	if err != nil {
		return err
	}
	defer st.Close()
	args := make([]any, 0, 8+len(counts))
	for _, b := range bs {
		args = append(args[:0], string(b.Granularity), b.Start.UnixMilli(), b.OrgKey, b.Service, b.Action, b.KeyID,
			b.UserID, string(b.Unit), b.Requests, b.Errors, b.CacheHits, b.BytesOut, b.LatencyMS, b.Units, b.CostMicros, b.SavedMicros)
		for _, c := range b.Latency {
			args = append(args, c)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// scanBuckets reads rows of (start, org, service, action, key, user, unit,
// then the counts in rollupSums' order) as buckets of granularity g.
func scanBuckets(rows *sql.Rows, g aiproxy.Granularity) ([]aiproxy.UsageBucket, error) {
	defer rows.Close()
	var out []aiproxy.UsageBucket
	for rows.Next() {
		b := aiproxy.UsageBucket{Granularity: g}
		var start int64
		var unit string
		dest := []any{&start, &b.OrgKey, &b.Service, &b.Action, &b.KeyID, &b.UserID, &unit,
			&b.Requests, &b.Errors, &b.CacheHits, &b.BytesOut, &b.LatencyMS, &b.Units, &b.CostMicros, &b.SavedMicros}
		for i := range b.Latency {
			dest = append(dest, &b.Latency[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		b.Start, b.Unit = time.UnixMilli(start).UTC(), aiproxy.Metric(unit)
		out = append(out, b)
	}
	return out, rows.Err()
}

// UsageBuckets returns the rollup buckets f selects, with the raw records
// not yet rolled up summed into theirs. The watermark, the rollups and the
// raw records are read in one transaction, so that a builder committing
// meanwhile is counted once.
func (db *DB) UsageBuckets(ctx context.Context, f aiproxy.UsageBucketFilter) ([]aiproxy.UsageBucket, error) {
	g := f.Granularity
	if g != aiproxy.Daily {
		g = aiproxy.Hourly
	}
	width := g.Width().Milliseconds()
	from, to := millisOr(f.From, math.MinInt64), millisOr(f.To, math.MaxInt64)
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last_id FROM usage_rollup_state WHERE name = 'usage'`).Scan(&last); err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT start_at, org_key, service, action, key_id, user_id, unit, requests, errors,
		cache_hits, bytes_out, latency_ms, units, cost_micros, saved_micros, `+strings.Join(latencyColumns, ", ")+`
		FROM usage_rollups WHERE bucket = ? AND start_at >= ? AND start_at < ?
		AND (? = '' OR org_key = ?) AND (? = '' OR service = ?)`,
		string(g), from, to, f.OrgKey, f.OrgKey, f.Service, f.Service)
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	rolled, err := scanBuckets(rows, g)
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	// The raw records whose bucket starts in [from, to).
	rows, err = tx.QueryContext(ctx, `SELECT `+floorTo("at", width)+` AS start, org_key, service, action, key_id, user_id, unit, `+
		rollupSums+` FROM usage_events WHERE id > ? AND `+floorTo("at", width)+` >= ? AND `+floorTo("at", width)+` < ?
		AND (? = '' OR org_key = ?) AND (? = '' OR service = ?)
		GROUP BY start, org_key, service, action, key_id, user_id, unit`,
		last, from, to, f.OrgKey, f.OrgKey, f.Service, f.Service)
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	recent, err := scanBuckets(rows, g)
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	return aiproxy.MergeBuckets(append(rolled, recent...)), nil
}

// millisOr is t in stored form, or def for the zero time (an open end).
func millisOr(t time.Time, def int64) int64 {
	if t.IsZero() {
		return def
	}
	return t.UnixMilli()
}

// wrapErr wraps a non-nil err with what failed.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
