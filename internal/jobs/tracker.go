package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// trackBatch is how many due jobs one tracking pass takes from the store.
const trackBatch = 256

// TrackOnce reads the status of every unfinished job that is due, at most
// Concurrency at a time, and fails those past their deadline. It returns the
// number of jobs it looked at.
func (s *Service) TrackOnce(ctx context.Context) int {
	now := s.now()
	due, err := s.cfg.Store.DueJobs(ctx, now, trackBatch)
	if err != nil {
		s.log.Error("list due jobs", "err", err)
		return 0
	}
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range due {
		if !j.DeadlineAt.IsZero() && !now.Before(j.DeadlineAt) {
			s.fail(ctx, j, fmt.Sprintf("aiproxy gave up on the job: it did not finish within %s (deadline %s).",
				s.cfg.Deadline, j.DeadlineAt.Format("2006-01-02T15:04:05Z07:00")))
			continue
		}
		sem <- struct{}{}
		// The gate is checked once a slot is free, so that a 429 met by an
		// earlier read in this pass holds this one back.
		if until, held := s.gated(j, s.now()); held {
			<-sem
			s.postpone(ctx, j, until)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := s.refresh(ctx, j.ID, false); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Debug("track job", "job", j.ID, "err", err)
			}
		})
	}
	wg.Wait()
	return len(due)
}

// postpone moves a job's next read to when its credential may be used again.
func (s *Service) postpone(ctx context.Context, j aiproxy.Job, until time.Time) {
	j.NextCheckAt = until
	if err := s.cfg.Store.UpdateJob(ctx, j, nil); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		s.log.Error("postpone job", "job", j.ID, "err", err)
	}
}
