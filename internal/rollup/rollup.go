// Package rollup keeps the usage rollups current: a Builder folds the raw
// usage records into hour and day buckets in the background, in small
// batches, on one replica at a time.
//
// The store makes the folding itself exactly-once (a watermark moved only
// by the builder that read up to it; see aiproxy.UsageRollupStore), so the
// lease the Builder takes is an economy, not a guard: two builders that
// overlap after a lease lapsed waste a read, never count a record twice.
package rollup

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Store is what the Builder needs of a store.
type Store interface {
	aiproxy.UsageRollupStore
	aiproxy.WorkLeaseStore
}

// LeaseName is the work lease the Builder takes.
const LeaseName = "usage-rollup"

// Config configures a Builder. Zero fields take the defaults named.
type Config struct {
	Store Store
	// Every is how often a build runs; default 1 minute. Reports read the
	// records of at most this long from the raw table.
	Every time.Duration
	// Batch is how many records one step folds (one short write); default
	// 5000.
	Batch int
	// Pause is how long the Builder waits between steps, so that a long
	// backlog leaves the database to the calls; default 10ms.
	Pause time.Duration
	// Lease is how long a replica holds the work; default 5 minutes.
	Lease time.Duration
	// Owner names this replica in the lease; default the host name and a
	// random id.
	Owner  string
	Now    func() time.Time
	Logger *slog.Logger
}

// Builder builds the usage rollups in the background.
type Builder struct{ cfg Config }

// New returns a Builder.
func New(cfg Config) *Builder {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 10 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.Owner == "" {
		cfg.Owner = DefaultOwner()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Builder{cfg: cfg}
}

// DefaultOwner names this process in work leases: the host name and a
// random id.
func DefaultOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "aiproxy"
	}
	return host + "/" + aiproxy.NewID("")
}

// Run builds now and every Every until ctx ends.
func (b *Builder) Run(ctx context.Context) {
	t := time.NewTicker(b.cfg.Every)
	defer t.Stop()
	for {
		if _, err := b.BuildOnce(ctx); err != nil && ctx.Err() == nil {
			b.cfg.Logger.Error("usage rollup", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// BuildOnce folds every record not yet rolled up, in steps of Batch,
// unless another replica holds the work; it returns how many records it
// folded.
func (b *Builder) BuildOnce(ctx context.Context) (int, error) {
	held, err := b.claim(ctx)
	if err != nil || !held {
		return 0, err
	}
	defer b.cfg.Store.ReleaseWork(context.WithoutCancel(ctx), LeaseName, b.cfg.Owner)
	start, total := b.cfg.Now(), 0
	renewed := start
	for {
		n, err := b.cfg.Store.RollUpUsage(ctx, b.cfg.Batch)
		total += n
		if err != nil || n == 0 {
			b.report(start, total)
			return total, err
		}
		if b.cfg.Now().Sub(renewed) > b.cfg.Lease/2 {
			if held, err := b.claim(ctx); err != nil || !held {
				b.report(start, total)
				return total, err
			}
			renewed = b.cfg.Now()
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(b.cfg.Pause):
		}
	}
}

func (b *Builder) claim(ctx context.Context) (bool, error) {
	now := b.cfg.Now()
	return b.cfg.Store.ClaimWork(ctx, LeaseName, b.cfg.Owner, now, now.Add(b.cfg.Lease))
}

// report logs a build that folded anything.
func (b *Builder) report(start time.Time, n int) {
	if n > 0 {
		took := b.cfg.Now().Sub(start)
		b.cfg.Logger.Info("usage rolled up", "records", n, "took", took.Round(time.Millisecond))
	}
}
