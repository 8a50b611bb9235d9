package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// watchReadTimeout bounds one shared re-read of a watched job.
const watchReadTimeout = 10 * time.Second

// watchSet shares the re-reads of long polls: all the waiters on one job
// of one org share one watch, whose goroutine re-reads the job when the
// org's jobs change in this process and every recheckEvery otherwise. A
// waiter then holds no timer of its own besides its deadline, no hub
// subscription and no store read while it waits, so that ten thousand
// waiters on one job cost one store read per change instead of ten
// thousand. Its zero value is ready to use.
type watchSet struct {
	mu sync.Mutex
	m  map[watchKey]*watch
}

type watchKey struct{ org, id string }

// watch is the shared state of the waiters on one job.
type watch struct {
	waiters int // guarded by watchSet.mu
	stop    chan struct{}

	mu sync.Mutex
	// changed is closed when a re-read has finished, then replaced.
	changed chan struct{}
	job     aiproxy.Job
	err     error
}

// join registers a waiter on an org's job, starting its watch if it is
// the first, and returns the watch and a func that leaves it. Join before
// the waiter's first read, so that a change after that read is not missed.
func (s *Service) join(org, id string) (*watch, func()) {
	ws := &s.hub.watches
	k := watchKey{org, id}
	ws.mu.Lock()
	w := ws.m[k]
	if w == nil {
		if ws.m == nil {
			ws.m = make(map[watchKey]*watch)
		}
		w = &watch{stop: make(chan struct{}), changed: make(chan struct{})}
		ws.m[k] = w
		sub, cancel := s.hub.subscribe(org)
		go s.watchJob(w, k, sub, cancel)
	}
	w.waiters++
	ws.mu.Unlock()
	return w, func() {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		if w.waiters--; w.waiters == 0 {
			delete(ws.m, k)
			close(w.stop)
		}
	}
}

// watchJob re-reads a job for its waiters until the last one leaves.
func (s *Service) watchJob(w *watch, k watchKey, sub *subscription, cancel func()) {
	defer cancel()
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-sub.C:
		case <-tick.C:
		}
		ctx, done := context.WithTimeout(context.Background(), watchReadTimeout)
		j, err := s.Job(ctx, k.org, k.id)
		done()
		w.mu.Lock()
		w.job, w.err = j, err
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// next returns the channel closed by the next re-read.
func (w *watch) next() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// latest returns the result of the last re-read.
func (w *watch) latest() (aiproxy.Job, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.job, w.err
}
