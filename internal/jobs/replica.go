package jobs

import (
	"context"
	"os"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Several replicas of aiproxy may share one store. Three things keep their
// work exactly once:
//
//   - the tracker and the deliverer claim due jobs and deliveries with a
//     lease (Store.ClaimDueJobs, ClaimDueDeliveries), so that one replica
//     at a time reads a job or sends a delivery, and a dead replica's work
//     is taken over when its lease expires;
//   - a status read of one job is made under a PollLock shared by the
//     replicas, so that while one replica asks the provider the others wait
//     and then answer from the store: singleflight across processes;
//   - job changes are optimistic (a version check) and each creates its
//     event in the same transaction, so two writers never emit one event
//     twice, and provider webhook ids are recorded once.

// PollLock keeps the replicas of one installation from reading the same
// job's status from the provider at once. Lock waits until it holds key,
// for at most ttl (after which the lock lapses by itself, should its holder
// die), or until ctx ends; the returned function releases it.
type PollLock interface {
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// pollLockTTL bounds a status read under the shared lock; a holder that
// dies blocks the others' reads of that job for at most this long.
const pollLockTTL = 30 * time.Second

// lockPoll takes the shared poll lock of a job before a provider read, and
// re-reads the job once it holds it. done reports that another replica
// read the job while this one waited, so the stored body answers.
func (t *tracker) lockPoll(ctx context.Context, j aiproxy.Job, force bool) (unlock func(), cur aiproxy.Job, done bool) {
	if t.cfg.PollLock == nil {
		return func() {}, j, false
	}
	wctx, cancel := context.WithTimeout(ctx, pollLockTTL+time.Second)
	defer cancel()
	unlock, err := t.cfg.PollLock.Lock(wctx, "job:"+j.ID, pollLockTTL)
	if err != nil {
		t.log.Warn("job poll lock", "job", j.ID, "err", err)
		return func() {}, j, false
	}
	cur, err = t.cfg.Store.Job(ctx, j.ID)
	if err != nil {
		return unlock, j, false
	}
	readMeanwhile := cur.CheckedAt.After(j.CheckedAt) && cur.StatusBody != nil
	if readMeanwhile || (!force && t.servable(cur, t.now())) {
		return unlock, cur, true
	}
	return unlock, cur, false
}

// claimBatch is how many due jobs one claim takes: a few
// rounds of the work done at once, so that a lease is not spent waiting in
// this replica's queue while other replicas idle.
func claimBatch(concurrency int) int { return max(8, 4*concurrency) }

// defaultOwner names this replica in the leases it holds: the host name
// and a random suffix, unique per process.
func defaultOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "aiproxy"
	}
	return host + "/" + aiproxy.NewID("")
}
