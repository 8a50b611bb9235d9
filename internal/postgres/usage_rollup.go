package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

var _ aiproxy.UsageRollupStore = (*DB)(nil)

// rollupBatch is how many raw records RollUpUsage folds when asked for no
// particular number.
const rollupBatch = 20000

// usageLock is the advisory lock that usage writers take, so that usage
// ids commit in order: an identity column hands ids out when rows are
// inserted, not when they commit, and the rollup watermark ("every id up
// to N is rolled up") needs no id below a committed one to commit later.
// Batches are short and few (one per second per replica), so one lock for
// every writer costs nothing measurable.
const usageLock = 0x7573616765 // "usage"

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
	sums := []string{"count(*)", "count(*) FILTER (WHERE status >= 400 OR error_code <> '')",
		"count(*) FILTER (WHERE cache IN ('HIT', 'STALE'))", "sum(bytes_out)::bigint", "sum(latency_ms)::bigint",
		"sum(units)::bigint", "sum(cost_micros)::bigint", "sum(saved_micros)::bigint"}
	low := ""
	for _, b := range aiproxy.LatencyBounds {
		sums = append(sums, fmt.Sprintf("count(*) FILTER (WHERE %slatency_ms <= %d)", low, b))
		low = fmt.Sprintf("latency_ms > %d AND ", b)
	}
	sums = append(sums, fmt.Sprintf("count(*) FILTER (WHERE latency_ms > %d)", aiproxy.LatencyBounds[len(aiproxy.LatencyBounds)-1]))
	return strings.Join(sums, ", ")
}()

// bucketStart is the SQL of the start of the UTC hour or day that holds
// the timestamptz column col.
func bucketStart(g aiproxy.Granularity, col string) string {
	return fmt.Sprintf("(date_trunc('%s', %s AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')", g, col)
}

// RollUpUsage folds the next raw records after the watermark into the
// rollups. The sums are read in their own snapshot; the write then moves
// the watermark only if it has not moved since (the row lock makes a
// racing builder wait, then find it moved), so a second builder that read
// the same records adds nothing. Usage writers commit in id order
// (usageLock), so the records after the watermark are exactly those no
// rollup holds, whatever their call time.
func (db *DB) RollUpUsage(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = rollupBatch
	}
	last, upTo, hours, err := db.readRollupBatch(ctx, limit)
	if err != nil {
		return 0, fmt.Errorf("roll up usage: %w", err)
	}
	if len(hours) == 0 {
		return 0, nil
	}
	n := 0
	for _, h := range hours {
		n += int(h.Requests)
	}
	moved := false
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE usage_rollup_state SET last_id = $1 WHERE name = 'usage' AND last_id = $2`, upTo, last)
		if err != nil || tag.RowsAffected() == 0 {
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
// after it into hour buckets, in one snapshot. It returns the watermark
// and the id of the last record summed.
func (db *DB) readRollupBatch(ctx context.Context, limit int) (last, upTo int64, hours []aiproxy.UsageBucket, err error) {
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT last_id FROM usage_rollup_state WHERE name = 'usage'`).Scan(&last); err != nil {
			return err
		}
		var top pgtype.Int8
		if err := tx.QueryRow(ctx, `SELECT max(id) FROM (SELECT id FROM usage_events WHERE id > $1 ORDER BY id LIMIT $2) AS next`,
			last, limit).Scan(&top); err != nil || !top.Valid {
			return err
		}
		upTo = top.Int64
		rows, err := tx.Query(ctx, `SELECT `+bucketStart(aiproxy.Hourly, "at")+` AS hour, org_key, service, action, key_id, user_id, unit, `+
			rollupSums+` FROM usage_events WHERE id > $1 AND id <= $2
			GROUP BY hour, org_key, service, action, key_id, user_id, unit`, last, upTo)
		if err != nil {
			return err
		}
		hours, err = collectBuckets(rows, aiproxy.Hourly)
		return err
	})
	return last, upTo, hours, err
}

// upsertBuckets adds each bucket to its stored row, creating it if needed,
// in one batch of statements.
func upsertBuckets(ctx context.Context, tx pgx.Tx, bs []aiproxy.UsageBucket) error {
	counts := append([]string{"requests", "errors", "cache_hits", "bytes_out", "latency_ms", "units", "cost_micros", "saved_micros"},
		latencyColumns...)
	set := make([]string, len(counts))
	params := make([]string, 8+len(counts))
	for i, c := range counts {
		set[i] = c + " = usage_rollups." + c + " + excluded." + c
	}
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	query := `INSERT INTO usage_rollups (bucket, start_at, org_key, service, action, key_id, user_id, unit, ` +
		strings.Join(counts, ", ") + `) VALUES (` + strings.Join(params, ", ") + `)
		ON CONFLICT (bucket, start_at, org_key, service, action, key_id, user_id, unit) DO UPDATE SET ` + strings.Join(set, ", ")
	batch := &pgx.Batch{}
	for _, b := range bs {
		args := []any{string(b.Granularity), timestamp(b.Start), b.OrgKey, b.Service, b.Action, b.KeyID, b.UserID,
			string(b.Unit), b.Requests, b.Errors, b.CacheHits, b.BytesOut, b.LatencyMS, b.Units, b.CostMicros, b.SavedMicros}
		for _, c := range b.Latency {
			args = append(args, c)
		}
		batch.Queue(query, args...)
	}
	return tx.SendBatch(ctx, batch).Close()
}

// collectBuckets reads rows of (start, org, service, action, key, user,
// unit, then the counts in rollupSums' order) as buckets of granularity g.
func collectBuckets(rows pgx.Rows, g aiproxy.Granularity) ([]aiproxy.UsageBucket, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (aiproxy.UsageBucket, error) {
		b := aiproxy.UsageBucket{Granularity: g}
		var start pgtype.Timestamptz
		var unit string
		dest := []any{&start, &b.OrgKey, &b.Service, &b.Action, &b.KeyID, &b.UserID, &unit,
			&b.Requests, &b.Errors, &b.CacheHits, &b.BytesOut, &b.LatencyMS, &b.Units, &b.CostMicros, &b.SavedMicros}
		for i := range b.Latency {
			dest = append(dest, &b.Latency[i])
		}
		err := r.Scan(dest...)
		b.Start, b.Unit = fromTimestamp(start), aiproxy.Metric(unit)
		return b, err
	})
}

// UsageBuckets returns the rollup buckets f selects, with the raw records
// not yet rolled up summed into theirs. The watermark, the rollups and the
// raw records are read in one snapshot, so that a builder committing
// meanwhile is counted once.
func (db *DB) UsageBuckets(ctx context.Context, f aiproxy.UsageBucketFilter) ([]aiproxy.UsageBucket, error) {
	g := f.Granularity
	if g != aiproxy.Daily {
		g = aiproxy.Hourly
	}
	from, to := spanTimes(aiproxy.Span{From: f.From, To: f.To})
	var out []aiproxy.UsageBucket
	err := db.readSnapshot(ctx, func(tx pgx.Tx, last int64) error {
		rows, err := tx.Query(ctx, `SELECT start_at, org_key, service, action, key_id, user_id, unit, requests, errors,
			cache_hits, bytes_out, latency_ms, units, cost_micros, saved_micros, `+strings.Join(latencyColumns, ", ")+`
			FROM usage_rollups WHERE bucket = $1 AND start_at >= $2 AND start_at < $3
			AND ($4 = '' OR org_key = $4) AND ($5 = '' OR service = $5)`,
			pgx.QueryExecModeExec, string(g), from, to, f.OrgKey, f.Service)
		if err != nil {
			return err
		}
		rolled, err := collectBuckets(rows, g)
		if err != nil {
			return err
		}
		start := bucketStart(g, "at")
		rows, err = tx.Query(ctx, `SELECT `+start+` AS start, org_key, service, action, key_id, user_id, unit, `+rollupSums+`
			FROM usage_events WHERE id > $1 AND `+start+` >= $2 AND `+start+` < $3
			AND ($4 = '' OR org_key = $4) AND ($5 = '' OR service = $5)
			GROUP BY 1, org_key, service, action, key_id, user_id, unit`,
			pgx.QueryExecModeExec, last, from, to, f.OrgKey, f.Service)
		if err != nil {
			return err
		}
		recent, err := collectBuckets(rows, g)
		out = aiproxy.MergeBuckets(append(rolled, recent...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("usage buckets: %w", err)
	}
	return out, nil
}

// readSnapshot runs fn in a read-only REPEATABLE READ transaction, with
// the rollup watermark that snapshot sees.
func (db *DB) readSnapshot(ctx context.Context, fn func(tx pgx.Tx, last int64) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT last_id FROM usage_rollup_state WHERE name = 'usage'`).Scan(&last); err != nil {
			return err
		}
		return fn(tx, last)
	})
}

// spanTimes is a span's ends in stored form, open ends as -infinity and
// infinity: plain bounds let the planner range over an index, where a
// "$1 IS NULL OR at >= $1" would make a generic plan scan the table.
func spanTimes(s aiproxy.Span) (from, to pgtype.Timestamptz) {
	from, to = timestamp(s.From), timestamp(s.To)
	if !from.Valid {
		from = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	if !to.Valid {
		to = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	return from, to
}

// dayOf formats the start of a UTC day as a report's day.
func dayOf(t pgtype.Timestamptz) string { return t.Time.UTC().Format(time.DateOnly) }
