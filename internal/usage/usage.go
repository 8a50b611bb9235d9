// Package usage meters invoke calls off the request path: Record queues a
// record without blocking, and a background loop appends queued records to
// the store in batches.
//
// A batch the store does not take is kept and written again with backoff;
// while the store stays away, records wait in memory up to a bound, then
// in a spool on the local disk, which a later Run (after a restart too)
// writes to the store. A record is dropped only when the queue is full
// (the loop cannot keep up) or when neither memory nor the spool can hold
// it; every drop is counted and logged. Pending, Spooled and Dropped say
// where records stand, for metrics.
package usage

import (
	"context"
	"log/slog"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Appender stores usage records.
type Appender interface {
	AppendUsage(ctx context.Context, recs []aiproxy.UsageRecord) error
}

// Config tunes a Recorder. Zero values mean the stated defaults.
type Config struct {
	// Queue is how many records may wait for the loop; default 8192.
	Queue int
	// Batch is the most records written at once; default 256.
	Batch int
	// Every is the longest a record waits before it is written; default 1s.
	Every time.Duration
	// MaxPending is how many records the store did not take may wait in
	// memory; past it they go to SpoolDir. Default 65536 (about 16 MiB).
	MaxPending int
	// SpoolDir is where records wait on disk while the store is away and
	// memory is full, and where Run finds those an earlier process left.
	// "" means no spool: past MaxPending, records are dropped and counted.
	SpoolDir string
	// RetryMin and RetryMax bound the backoff between failed writes
	// (full jitter, doubling); defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one write; default 10s.
	WriteTimeout time.Duration
	// StopTimeout is how long Run, once its context ends, keeps writing
	// what is in memory before it spools the rest; default 5s.
	StopTimeout time.Duration
	// Logger receives write failures and drops; nil discards.
	Logger *slog.Logger
}

// Recorder batches usage records into a store. Start it with Run.
type Recorder struct {
	store  Appender
	cfg    Config
	disk   spool
	queue  chan aiproxy.UsageRecord
	flushc chan chan struct{}
	// pending counts the records accepted and not yet written (queued, in
	// memory, in the spool); spooled those in the spool; dropped those
	// lost, each logged.
	pending, spooled, dropped atomic.Int64
}

// New returns a Recorder writing to store.
func New(store Appender, cfg Config) *Recorder {
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 65536
	}
	cfg.Every = durationOr(cfg.Every, time.Second)
	cfg.RetryMin = durationOr(cfg.RetryMin, 100*time.Millisecond)
	cfg.RetryMax = max(cfg.RetryMin, durationOr(cfg.RetryMax, 5*time.Second))
	cfg.WriteTimeout = durationOr(cfg.WriteTimeout, 10*time.Second)
	cfg.StopTimeout = durationOr(cfg.StopTimeout, 5*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, cfg: cfg, disk: spool{dir: cfg.SpoolDir},
		queue: make(chan aiproxy.UsageRecord, cfg.Queue), flushc: make(chan chan struct{})}
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Record queues a record; it never blocks. A record that finds the queue
// full is dropped and counted.
func (r *Recorder) Record(rec aiproxy.UsageRecord) {
	r.pending.Add(1) // before the loop can see the record, so that it never goes below zero
	select {
	case r.queue <- rec:
	default:
		r.pending.Add(-1)
		r.drop(1, "the queue is full")
	}
}

// drop counts n dropped records and logs it each time the total passes
// a power of two, so that a long outage does not log every record.
func (r *Recorder) drop(n int64, why string) {
	total := r.dropped.Add(n)
	if bits.Len64(uint64(total-n)) != bits.Len64(uint64(total)) {
		r.cfg.Logger.Error("usage records dropped", "reason", why, "records", n, "dropped_total", total)
	}
}

// Pending returns how many records were accepted and are not written yet:
// queued, waiting in memory, or in the spool.
func (r *Recorder) Pending() int64 { return r.pending.Load() }

// Spooled returns how many of the pending records wait in the spool on
// disk.
func (r *Recorder) Spooled() int64 { return r.spooled.Load() }

// Dropped returns how many records were lost: the queue was full, or the
// store, memory and the spool could not hold them.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Run writes queued records until ctx ends, retrying what the store does
// not take; then it writes what it can within StopTimeout and spools the
// rest. It first counts what an earlier process left in the spool, and
// writes it after the records in memory.
func (r *Recorder) Run(ctx context.Context) {
	l := newLoop(r)
	l.run(ctx)
}

// Flush waits until as many records as were pending when it was called
// have been written (or none is pending), or ctx ends; Run must be
// running.
func (r *Recorder) Flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case r.flushc <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}
