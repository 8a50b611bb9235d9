package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// maxClaimRounds bounds one tracking or delivery pass.
const maxClaimRounds = 64

// TrackOnce reads the status of every unfinished job that is due, at most
// Concurrency at a time, and fails those past their deadline. It claims the
// jobs in batches with a lease, so that replicas sharing the store never
// track one job at once. It returns the number of jobs it looked at.
func (s *Service) TrackOnce(ctx context.Context) int {
	total, batch := 0, claimBatch(s.cfg.Concurrency)
	for range maxClaimRounds {
		now := s.now()
		due, err := s.cfg.Store.ClaimDueJobs(ctx, s.cfg.Owner, now, now.Add(s.cfg.Lease), batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim due jobs", "err", err)
			}
			return total
		}
		s.track(ctx, now, due)
		total += len(due)
		if len(due) < batch || ctx.Err() != nil {
			break
		}
	}
	return total
}

// track reads the status of claimed jobs, at most Concurrency at a time.
func (s *Service) track(ctx context.Context, now time.Time, due []aiproxy.Job) {
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range due {
		if !j.DeadlineAt.IsZero() && !now.Before(j.DeadlineAt) {
			s.fail(ctx, j, fmt.Sprintf("aiproxy gave up on the job: it did not finish within %s (deadline %s).",
				s.cfg.Deadline, j.DeadlineAt.Format("2006-01-02T15:04:05Z07:00")))
			continue
		}
		// A job a client call read moments ago needs no read yet; moving its
		// next check also ends the claim, which would otherwise hold it.
		if s.servable(j, now) && !s.terminal(j) {
			s.postpone(ctx, j, j.CheckedAt.Add(s.cfg.FreshFor))
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
}

// postpone moves a job's next read to when its credential may be used again.
func (s *Service) postpone(ctx context.Context, j aiproxy.Job, until time.Time) {
	j.NextCheckAt = until
	if err := s.cfg.Store.UpdateJob(ctx, j, nil); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		s.log.Error("postpone job", "job", j.ID, "err", err)
	}
}

// terminal reports whether a job's last known provider status is final.
func (s *Service) terminal(j aiproxy.Job) bool {
	_, spec, ok := s.statusSpec(j)
	return ok && spec.States[j.ProviderStatus].Terminal()
}
