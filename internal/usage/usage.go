// Package usage meters invoke calls off the request path: Record queues a
// record without blocking, and a background loop appends queued records to
// the store in batches. When the queue is full, records are dropped and
// counted rather than slowing calls down.
package usage

import (
	"context"
	"log/slog"
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
	// Queue is how many records may wait for the store; default 8192.
	Queue int
	// Batch is the most records written at once; default 256.
	Batch int
	// Every is the longest a record waits before it is written; default 1s.
	Every time.Duration
	// Logger receives write failures; nil discards.
	Logger *slog.Logger
}

// Recorder batches usage records into a store. Start it with Run.
type Recorder struct {
	store   Appender
	cfg     Config
	queue   chan aiproxy.UsageRecord
	dropped atomic.Int64
	flushc  chan chan struct{}
}

// New returns a Recorder writing to store.
func New(store Appender, cfg Config) *Recorder {
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, cfg: cfg, queue: make(chan aiproxy.UsageRecord, cfg.Queue), flushc: make(chan chan struct{})}
}

// Record queues a record; it never blocks.
func (r *Recorder) Record(rec aiproxy.UsageRecord) {
	select {
	case r.queue <- rec:
	default:
		r.dropped.Add(1)
	}
}

// Dropped returns how many records were dropped because the queue was full.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Run writes queued records until ctx ends, then writes what is left.
func (r *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Every)
	defer tick.Stop()
	batch := make([]aiproxy.UsageRecord, 0, r.cfg.Batch)
	for {
		select {
		case rec := <-r.queue:
			batch = append(batch, rec)
			if len(batch) >= r.cfg.Batch {
				batch = r.write(batch)
			}
		case <-tick.C:
			batch = r.write(batch)
		case done := <-r.flushc:
			batch = r.write(r.drain(batch))
			close(done)
		case <-ctx.Done():
			r.write(r.drain(batch))
			return
		}
	}
}

// Flush waits until every record queued before the call is written; Run
// must be running.
func (r *Recorder) Flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case r.flushc <- done:
		<-done
	case <-ctx.Done():
	}
}

func (r *Recorder) drain(batch []aiproxy.UsageRecord) []aiproxy.UsageRecord {
	for {
		select {
		case rec := <-r.queue:
			batch = append(batch, rec)
		default:
			return batch
		}
	}
}

func (r *Recorder) write(batch []aiproxy.UsageRecord) []aiproxy.UsageRecord {
	for len(batch) > 0 {
		n := min(len(batch), r.cfg.Batch)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.store.AppendUsage(ctx, batch[:n]); err != nil {
			r.cfg.Logger.Error("write usage", "records", n, "err", err)
		}
		cancel()
		batch = batch[n:]
	}
	return batch[:0]
}
