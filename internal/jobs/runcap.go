package jobs

import (
	"context"
	"math"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Running-job caps. A provider caps the renders an account runs at once
// (HeyGen, per plan), and refuses a start past it; aiproxy refuses first,
// with a 429 naming its own cap, so that one org cannot fill the platform
// account and clients learn the cause. Running jobs are counted in the
// store, not in memory: a job runs from its start until the tracker (or a
// webhook, or the deadline) finds it completed or failed, which may be on
// another replica or after a restart. Between the cap check and the job's
// row, a start holds a JobSlot, claimed in the same transaction as the
// count, so racing starts never pass a cap. A cap on a platform credential
// is shared fairly among the orgs using it (aiproxy.Shares, applied by the
// store in that transaction): an org alone keeps room for the next one,
// and an org under its share is never refused while one over it runs on.

// claimRunSlot takes room under the running-job caps for a job start about
// to reach the provider, and returns the function that gives it back once
// the job is stored or the start failed. A start over a cap is refused.
func (s *Service) claimRunSlot(ctx context.Context, c *proxy.Call) (func(), error) {
	if len(s.cfg.RunningJobCaps) == 0 {
		return func() {}, nil
	}
	now := s.now()
	lease := time.Duration(c.Endpoint.Timeout(c.Service))*time.Second + 30*time.Second
	sl := aiproxy.JobSlot{ID: aiproxy.NewID("jsl_"), OrgKey: c.Org, Service: c.Service.Slug, Source: c.Source, ExpiresAt: now.Add(lease)}
	full, err := s.cfg.Store.ClaimJobSlot(ctx, sl, s.cfg.RunningJobCaps, now)
	if err != nil {
		return nil, err
	}
	if full != nil {
		return nil, s.capReached(*full, c.Service.Slug)
	}
	s.slots.Store(c, sl.ID)
	return func() {
		s.slots.Delete(c)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Store.ReleaseJobSlot(ctx, sl.ID); err != nil {
			// The slot stops counting when it expires.
			s.log.Error("release job slot", "org", sl.OrgKey, "service", sl.Service, "err", err)
		}
	}, nil
}

// capReached is the refusal of a job start over a running-job cap. Waiting
// helps once a job ends, which the tracker learns on its next read.
func (s *Service) capReached(c aiproxy.JobCap, service string) *aiproxy.Error {
	who := "this org"
	if c.Scope == aiproxy.JobCapCredential {
		who = "the shared platform credential"
	}
	e := aiproxy.Errorf(aiproxy.CodeRateLimited,
		"Too many running %s jobs for %s (at most %d); retry when one has finished.", service, who, c.Max)
	e.RetryAfter = max(1, int(math.Ceil(s.cfg.PollInterval.Seconds())))
	return e
}
