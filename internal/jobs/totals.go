package jobs

import (
	"context"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// JobTotals adds up an org's jobs under a filter (every page of it): how
// many were started, completed and failed, and the video time made.
func (s *Service) JobTotals(ctx context.Context, f aiproxy.JobFilter) (aiproxy.JobTotals, error) {
	f.State, f.Limit, f.Before = "", 0, nil
	return s.cfg.Store.JobTotals(ctx, f)
}

// JobTotals records the held starts first, as Jobs does, so that the
// totals count them.
func (s *SpooledStore) JobTotals(ctx context.Context, f aiproxy.JobFilter) (aiproxy.JobTotals, error) {
	s.catchUp(ctx)
	return s.Store.JobTotals(ctx, f)
}

// TotalsJSON is a summary of an org's jobs in a period, for the console's
// Home: started, completed and failed jobs, and the video time the
// completed ones made, in seconds (0 when no length is known).
type TotalsJSON struct {
	Jobs         int64   `json:"jobs"`
	Completed    int64   `json:"completed"`
	Failed       int64   `json:"failed"`
	VideoSeconds float64 `json:"video_seconds"`
}

// ToTotalsJSON converts totals for output.
func ToTotalsJSON(t aiproxy.JobTotals) TotalsJSON {
	return TotalsJSON{Jobs: t.Jobs, Completed: t.Completed, Failed: t.Failed, VideoSeconds: t.Seconds}
}
