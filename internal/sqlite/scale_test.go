package sqlite

import (
	"context"
	"testing"

	"github.com/aiproxy/aiproxy/internal/storetest"
)

// TestScale is the scale test (docs/performance.md); it runs only with
// AIPROXY_SCALE=1.
func TestScale(t *testing.T) {
	rows, jobs := storetest.RequireScale(t)
	db, _ := openTemp(t)
	storetest.RunScale(t, storetest.ScaleEngine{
		Store: db,
		Size: func(ctx context.Context) (int64, error) {
			var pages, size int64
			err := db.read.QueryRowContext(ctx, `SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&pages, &size)
			return pages * size, err
		},
		Compact: func(ctx context.Context) error {
			_, err := db.write.ExecContext(ctx, `VACUUM`)
			return err
		},
	}, rows, jobs)
}
