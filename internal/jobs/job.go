package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// recheckEvery is how often waiters look at the store even without a
// wake-up, in case another process changed the job.
const recheckEvery = 2 * time.Second

// Jobs lists an org's jobs, newest first.
func (s *Service) Jobs(ctx context.Context, f aiproxy.JobFilter) ([]aiproxy.Job, error) {
	if f.State != "" && !aiproxy.ValidJobState(f.State) {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Unknown job state %q; use pending, processing, completed or failed.", f.State)
	}
	return s.cfg.Store.Jobs(ctx, f)
}

// Job returns one of an org's jobs; another org's job is not found.
func (s *Service) Job(ctx context.Context, org, id string) (aiproxy.Job, error) {
	j, err := s.cfg.Store.Job(ctx, id)
	if errors.Is(err, aiproxy.ErrNotFound) || (err == nil && j.OrgKey != org) {
		return aiproxy.Job{}, aiproxy.Errorf(aiproxy.CodeNotFound, "Job %q not found.", id)
	}
	return j, err
}

// WaitJob returns an org's job once its state differs from since (its
// current state when since is empty) or it is final, or when wait has
// passed, whichever is first: the long-poll form of status.
func (s *Service) WaitJob(ctx context.Context, org, id string, since aiproxy.JobState, wait time.Duration) (aiproxy.Job, error) {
	res := s.wait(ctx, org, id, since, wait)
	return res.job, res.err
}

// wait is WaitJob with every read shared with the other waiters on the job
// (watch.go).
func (s *Service) wait(ctx context.Context, org, id string, since aiproxy.JobState, wait time.Duration) *watchResult {
	w, leave := s.join(org, id)
	defer leave()
	res, changed := w.fresh(ctx)
	if res.err != nil {
		return res
	}
	if since == "" {
		since = res.job.State
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for res.job.State == since && !res.job.State.Terminal() {
		select {
		case <-ctx.Done():
			return res
		case <-timeout.C:
			return res
		case <-changed:
		}
		if res, changed = w.latest(); res.err != nil {
			return res
		}
	}
	return res
}

// Events returns an org's job events after a sequence number, oldest first.
func (s *Service) Events(ctx context.Context, org string, after int64, limit int) ([]aiproxy.JobEvent, error) {
	return s.cfg.Store.JobEvents(ctx, org, after, limit)
}

// Subscribe returns a channel that receives a value when one of an org's
// jobs changes in this process, and a func that ends the subscription.
// Subscribers re-read the store: a missed value only delays them.
func (s *Service) Subscribe(org string) (<-chan struct{}, func()) {
	sub, cancel := s.hub.subscribe(org)
	return sub.C, cancel
}
