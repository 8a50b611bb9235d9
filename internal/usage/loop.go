package usage

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// loop is Run's state, owned by its goroutine. Records taken from the
// queue wait in mem, oldest first, until written; past MaxPending they go
// to the spool. One write runs at a time, in its own goroutine, so that
// the queue keeps draining while the store is slow: from memory first
// (what a crash would lose), then from the spool.
type loop struct {
	r     *Recorder
	mem   []aiproxy.UsageRecord
	files []spoolFile

	// busy says a write is under way: of mem[:inflight], or of files[0]
	// when fromFile.
	busy     bool
	inflight int
	fromFile bool
	results  chan error
	// writes is the context of every write; stopping cancels it when a
	// write outlasts StopTimeout.
	writes       context.Context
	cancelWrites context.CancelFunc

	// ripe says Every has passed (or a Flush came) since memory was last
	// written out, so that a partial batch is written too.
	ripe bool
	// next is when a write may start after a failure; delay is the
	// backoff after the next failure; failures counts them in a row.
	next     time.Time
	delay    time.Duration
	failures int
	wake     *time.Timer

	// spillAt is when the spool may be tried again after it failed.
	spillAt time.Time

	written int64
	waiters []waiter
}

// spillPause is how long a spool that failed is left alone.
const spillPause = time.Second

// waiter is a Flush waiting until need records were written after from.
type waiter struct {
	need, from int64
	done       chan struct{}
}

func newLoop(r *Recorder) *loop {
	l := &loop{r: r, results: make(chan error, 1), delay: r.cfg.RetryMin, wake: time.NewTimer(time.Hour)}
	l.wake.Stop()
	l.writes, l.cancelWrites = context.WithCancel(context.Background())
	files, errs := r.disk.list()
	for _, err := range errs {
		r.cfg.Logger.Error("read spooled usage: left in place", "err", err)
	}
	n := 0
	for _, f := range files {
		n += f.n
	}
	if n > 0 {
		r.pending.Add(int64(n))
		r.spooled.Add(int64(n))
		r.cfg.Logger.Warn("usage records wait in the spool for the database", "records", n, "files", len(files))
	}
	l.files = files
	return l
}

func (l *loop) run(ctx context.Context) {
	defer l.cancelWrites()
	tick := time.NewTicker(l.r.cfg.Every)
	defer tick.Stop()
	defer l.wake.Stop()
	for {
		l.startWrite()
		select {
		case rec := <-l.r.queue:
			l.mem = append(l.mem, rec)
			l.spillOver()
		case <-tick.C:
			l.ripe = true
		case err := <-l.results:
			l.finish(err)
		case <-l.wake.C:
		case done := <-l.r.flushc:
			l.drain()
			l.waiters = append(l.waiters, waiter{need: l.r.pending.Load(), from: l.written, done: done})
			l.ripe = true
			l.notify()
		case <-ctx.Done():
			l.drain()
			l.stop()
			return
		}
	}
}

// drain moves every queued record to memory.
func (l *loop) drain() {
	for {
		select {
		case rec := <-l.r.queue:
			l.mem = append(l.mem, rec)
		default:
			l.spillOver()
			return
		}
	}
}

// startWrite starts the next write, when none is under way and no
// backoff holds writes back: a full batch from memory, a partial one once
// Every has passed, or else the oldest spool file.
func (l *loop) startWrite() {
	if l.busy || time.Now().Before(l.next) {
		return
	}
	batch := l.r.cfg.Batch
	switch {
	case len(l.mem) >= batch || (len(l.mem) > 0 && l.ripe):
		n := min(len(l.mem), batch)
		l.ripe = l.ripe && n < len(l.mem) // ripe until memory is written
		l.launch(slices.Clone(l.mem[:n]), n, false)
	case len(l.mem) == 0 && len(l.files) > 0:
		f := l.files[0]
		recs, err := l.r.disk.read(f.name)
		if err != nil {
			// It was readable when counted: someone took it away or broke it.
			l.r.cfg.Logger.Error("read spooled usage: left in place", "file", f.name, "err", err)
			l.files = l.files[1:]
			l.r.spooled.Add(-int64(f.n))
			l.lose(f.n, "spool file unreadable")
			return
		}
		l.launch(recs, f.n, true)
	}
}

func (l *loop) launch(recs []aiproxy.UsageRecord, n int, fromFile bool) {
	l.busy, l.inflight, l.fromFile = true, n, fromFile
	go func() {
		ctx, cancel := context.WithTimeout(l.writes, l.r.cfg.WriteTimeout)
		defer cancel()
		l.results <- l.r.store.AppendUsage(ctx, recs)
	}()
}

// finish takes a write's outcome: written records are forgotten, failed
// ones stay where they were and the next write waits out a backoff.
func (l *loop) finish(err error) {
	l.busy = false
	n := l.inflight
	if err != nil {
		l.failures++
		wait := l.delay/2 + rand.N(l.delay/2+1)
		l.next = time.Now().Add(wait)
		l.wake.Reset(wait)
		l.delay = min(2*l.delay, l.r.cfg.RetryMax)
		l.r.cfg.Logger.Warn("write usage: kept for a retry", "records", n, "failures", l.failures,
			"retry_in", wait.Round(time.Millisecond), "pending", l.r.pending.Load(), "err", err)
		return
	}
	if l.failures > 0 {
		l.r.cfg.Logger.Info("write usage: the store takes records again", "after_failures", l.failures)
	}
	l.failures, l.delay, l.next = 0, l.r.cfg.RetryMin, time.Time{}
	if l.fromFile {
		f := l.files[0]
		l.files = l.files[1:]
		if err := l.r.disk.remove(f.name); err != nil {
			// The file will be written again by the next process.
			l.r.cfg.Logger.Error("remove spooled usage after writing it", "file", f.name, "err", err)
		}
		l.r.spooled.Add(-int64(n))
	} else {
		l.mem = l.mem[n:]
	}
	l.r.pending.Add(-int64(n))
	l.written += int64(n)
	l.notify()
}

// spillOver moves the records in memory to the spool once more than
// MaxPending are there (those a write has under way stay). What the
// spool does not take beyond MaxPending is dropped, oldest first, and
// counted.
func (l *loop) spillOver() {
	if len(l.mem) <= l.r.cfg.MaxPending {
		return
	}
	keep := 0
	if l.busy && !l.fromFile {
		keep = l.inflight
	}
	rest := l.mem[keep:]
	if !time.Now().Before(l.spillAt) {
		rest = l.spill(rest)
	}
	if over := min(keep+len(rest)-l.r.cfg.MaxPending, len(rest)); over > 0 {
		rest = rest[over:]
		l.lose(over, "the store and the spool are both unavailable, and memory is full")
	}
	l.mem = append(l.mem[:keep], rest...)
}

// spill writes records to the spool in files of spillChunk, and returns
// those it could not write.
func (l *loop) spill(recs []aiproxy.UsageRecord) []aiproxy.UsageRecord {
	for len(recs) > 0 {
		n := min(len(recs), spillChunk)
		f, err := l.r.disk.put(recs[:n])
		if err != nil {
			// Not tried again for a while, so that a broken disk is not
			// hammered for every record.
			l.spillAt = time.Now().Add(spillPause)
			l.r.cfg.Logger.Error("spool usage", "records", len(recs), "err", err)
			return recs
		}
		l.files = append(l.files, f)
		l.r.spooled.Add(int64(n))
		recs = recs[n:]
	}
	return nil
}

// lose counts records that are dropped, and logs it.
func (l *loop) lose(n int, why string) {
	l.r.pending.Add(-int64(n))
	l.r.drop(int64(n), why)
}

// notify wakes the Flush calls whose records are written.
func (l *loop) notify() {
	keep := l.waiters[:0]
	for _, w := range l.waiters {
		if l.written-w.from >= w.need || l.r.pending.Load() == 0 {
			close(w.done)
			continue
		}
		keep = append(keep, w)
	}
	l.waiters = keep
}

// stop writes what memory holds for at most StopTimeout, then spools the
// rest; the spool's files stay for the next process.
func (l *loop) stop() {
	stopAt := time.Now().Add(l.r.cfg.StopTimeout)
	for l.busy || len(l.mem) > 0 {
		left := time.Until(stopAt)
		if l.busy {
			select {
			case err := <-l.results:
				l.finish(err)
				continue
			case <-time.After(left):
			}
			l.abandon()
			break
		}
		if wait := time.Until(l.next); wait > 0 {
			if wait >= left {
				break
			}
			time.Sleep(wait)
		}
		n := min(len(l.mem), l.r.cfg.Batch)
		l.launch(slices.Clone(l.mem[:n]), n, false)
	}
	if len(l.mem) > 0 {
		if rest := l.spill(l.mem); len(rest) > 0 {
			l.lose(len(rest), "stopping: the store and the spool are both unavailable")
		}
		l.mem = nil
	}
	for _, w := range l.waiters {
		close(w.done)
	}
	l.waiters = nil
}

// abandon cancels a write that outlasted StopTimeout and waits briefly
// for its answer. The records of a write the store refused stay where
// they were (memory, to be spooled, or their spool file); so do those of
// a write that does not answer at all, whose outcome cannot be known.
func (l *loop) abandon() {
	l.cancelWrites()
	select {
	case err := <-l.results:
		l.finish(err)
	case <-time.After(time.Second):
		l.busy = false
		l.r.cfg.Logger.Error("write usage did not stop when cancelled: its records stay pending, and may be counted twice",
			"records", l.inflight)
	}
}
