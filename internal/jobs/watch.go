package jobs

import (
	"bytes"
	"context"
	"encoding/json"
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
	// poke asks for a read now, for a waiter that has just arrived.
	poke chan struct{}

	mu sync.Mutex
	// changed is closed when a read has finished, then replaced.
	changed chan struct{}
	// started counts the reads begun; finished is the number of the last
	// one to finish, whose result last holds.
	started, finished uint64
	last              *watchResult
}

// watchResult is one read of a watched job. It is shared by the waiters
// and never changed, and it is passed by pointer so that a waiting
// request's stack stays small: a Job is several hundred bytes.
type watchResult struct {
	job aiproxy.Job
	err error

	once sync.Once
	body []byte // the job's JSON, once a waiter asked for it
}

// join registers a waiter on an org's job, starting its watch if it is
// the first, and returns the watch and a func that leaves it.
func (s *Service) join(org, id string) (*watch, func()) {
	ws := &s.hub.watches
	k := watchKey{org, id}
	ws.mu.Lock()
	w := ws.m[k]
	if w == nil {
		if ws.m == nil {
			ws.m = make(map[watchKey]*watch)
		}
		w = &watch{stop: make(chan struct{}), poke: make(chan struct{}, 1), changed: make(chan struct{})}
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

// watchJob reads a job for its waiters until the last one leaves: when a
// waiter arrives, when the org's jobs change in this process, and every
// recheckEvery in case another process changed it. The reads run on this
// goroutine, never on a waiter's, so that a waiting request's stack stays
// as small as the request needs.
func (s *Service) watchJob(w *watch, k watchKey, sub *subscription, cancel func()) {
	defer cancel()
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.poke:
		case <-sub.C:
		case <-tick.C:
		}
		w.mu.Lock()
		w.started++
		n := w.started
		w.mu.Unlock()
		ctx, done := context.WithTimeout(context.Background(), watchReadTimeout)
		j, err := s.Job(ctx, k.org, k.id)
		done()
		w.mu.Lock()
		w.last, w.finished = &watchResult{job: j, err: err}, n
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// fresh returns the result of a read that began after the call, and the
// channel that the read after it closes.
func (w *watch) fresh(ctx context.Context) (*watchResult, <-chan struct{}) {
	w.mu.Lock()
	after, ch := w.started, w.changed
	w.mu.Unlock()
	select {
	case w.poke <- struct{}{}:
	default: // a read is already asked for, and has not begun
	}
	for {
		select {
		case <-ctx.Done():
			return &watchResult{err: ctx.Err()}, nil
		case <-ch:
		}
		w.mu.Lock()
		if w.finished > after {
			last, next := w.last, w.changed
			w.mu.Unlock()
			return last, next
		}
		ch = w.changed
		w.mu.Unlock()
	}
}

// latest returns the result of the last read and the channel that the
// next one closes.
func (w *watch) latest() (*watchResult, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.changed
}

// WaitJobJSON is WaitJob answering with the job as JSON: a JobJSON on one
// line, HTML characters unescaped, as the HTTP API writes it. The encoding
// is done once per read and shared by every waiter on the job, so that ten
// thousand long polls answered together encode the job once, and their
// stacks do not grow to run the encoder.
func (s *Service) WaitJobJSON(ctx context.Context, org, id string, since aiproxy.JobState, wait time.Duration) ([]byte, error) {
	res := s.wait(ctx, org, id, since, wait)
	if res.err != nil {
		return nil, res.err
	}
	return res.encoded(), nil
}

// encoded returns the result's job as JSON, encoding it on first use.
func (r *watchResult) encoded() []byte {
	r.once.Do(func() {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(ToJobJSON(r.job))
		r.body = b.Bytes()
	})
	return r.body
}
