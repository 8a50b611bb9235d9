package postgres

import (
	"context"
	"testing"

	"github.com/aiproxy/aiproxy/internal/postgres/pgtest"
	"github.com/aiproxy/aiproxy/internal/storetest"
)

// scaleTables are the tables the scale test fills.
var scaleTables = []string{"usage_events", "usage_rollups", "jobs", "job_events", "webhook_deliveries"}

// TestScale is the scale test (docs/performance.md); it runs only with
// AIPROXY_SCALE=1 and a test server.
func TestScale(t *testing.T) {
	rows, jobs := storetest.RequireScale(t)
	db, err := Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	each := func(ctx context.Context, stmt string) error {
		for _, table := range scaleTables {
			if _, err := db.pool.Exec(ctx, stmt+" "+table); err != nil {
				return err
			}
		}
		return nil
	}
	storetest.RunScale(t, storetest.ScaleEngine{
		Store: db,
		Size: func(ctx context.Context) (int64, error) {
			var n int64
			err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
				FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
			return n, err
		},
		// Only this schema's tables: a bare VACUUM would visit every
		// schema of the test server.
		Compact:   func(ctx context.Context) error { return each(ctx, "VACUUM FULL") },
		AfterLoad: func(ctx context.Context) error { return each(ctx, "ANALYZE") },
	}, rows, jobs)
}
