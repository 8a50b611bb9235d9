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

// trackOnce is TrackOnce.
func (t *tracker) trackOnce(ctx context.Context) int {
	total, batch := 0, claimBatch(t.cfg.Concurrency)
	for range maxClaimRounds {
		now := t.now()
		due, err := t.cfg.Store.ClaimDueJobs(ctx, t.cfg.Owner, now, now.Add(t.cfg.Lease), batch)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Error("claim due jobs", "err", err)
			}
			return total
		}
		t.track(ctx, now, due)
		total += len(due)
		if len(due) < batch || ctx.Err() != nil {
			break
		}
	}
	return total
}

// track reads the status of claimed jobs, at most Concurrency at a time.
func (t *tracker) track(ctx context.Context, now time.Time, due []aiproxy.Job) {
	sem := make(chan struct{}, t.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range due {
		if !j.DeadlineAt.IsZero() && !now.Before(j.DeadlineAt) {
			t.fail(ctx, j, fmt.Sprintf("aiproxy gave up on the job: it did not finish within %s (deadline %s).",
				t.cfg.Deadline, j.DeadlineAt.Format("2006-01-02T15:04:05Z07:00")))
			continue
		}
		// A job a client call read moments ago needs no read yet; moving its
		// next check also ends the claim, which would otherwise hold it.
		if t.servable(j, now) && !t.terminal(j) {
			t.postpone(ctx, j, j.CheckedAt.Add(t.cfg.FreshFor))
			continue
		}
		sem <- struct{}{}
		// The gate is checked once a slot is free, so that a 429 met by an
		// earlier read in this pass holds this one back.
		if until, held := t.gated(j, t.now()); held {
			<-sem
			t.postpone(ctx, j, until)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := t.refresh(ctx, j.ID, false); err != nil && !errors.Is(err, context.Canceled) {
				t.log.Debug("track job", "job", j.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// postpone moves a job's next read to when its credential may be used again.
func (t *tracker) postpone(ctx context.Context, j aiproxy.Job, until time.Time) {
	j.NextCheckAt = until
	if err := t.cfg.Store.UpdateJob(ctx, j, nil); err != nil && !errors.Is(err, aiproxy.ErrConflict) {
		t.log.Error("postpone job", "job", j.ID, "err", err)
	}
}

// terminal reports whether a job's last known provider status is final.
func (t *tracker) terminal(j aiproxy.Job) bool {
	_, spec, ok := t.statusSpec(j)
	return ok && spec.States[j.ProviderStatus].Terminal()
}
