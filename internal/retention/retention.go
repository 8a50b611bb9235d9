// Package retention removes stored data once it is old enough: a Pruner
// visits each kind of data (aiproxy.RetentionKind) in the background, in
// small batches that never hold the database for long, on one replica at
// a time. A Policy says how long each kind is kept.
//
// What must not go never goes, whatever the policy: the store keeps raw
// usage that no rollup holds yet, running jobs, pending deliveries and
// their events, unexpired idempotency records and unexpired user tokens
// (aiproxy.RetentionStore).
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Day is 24 hours, the unit retention periods are usually given in.
const Day = 24 * time.Hour

// Policy says how long each kind of data is kept; a kind missing from it,
// or kept for 0, is kept forever.
type Policy map[aiproxy.RetentionKind]time.Duration

// DefaultPolicy is what an operator gets without saying anything: every
// kind that grows with each call is bounded, the daily rollups and the
// audit log are kept. docs/operations.md gives the growth these bound.
func DefaultPolicy() Policy {
	return Policy{
		aiproxy.RetainUsage:            14 * Day,
		aiproxy.RetainUsageHourly:      90 * Day,
		aiproxy.RetainJobEvents:        30 * Day,
		aiproxy.RetainDeliveries:       30 * Day,
		aiproxy.RetainJobs:             90 * Day,
		aiproxy.RetainIdempotency:      1 * Day,
		aiproxy.RetainUserTokens:       1 * Day,
		aiproxy.RetainProviderWebhooks: 7 * Day,
	}
}

// ParsePolicy reads KIND=PERIOD pairs, separated by commas, over base:
// PERIOD is a number of days ("30d"), a Go duration ("36h") or "keep"
// (kept forever). Every problem is reported at once.
func ParsePolicy(base Policy, text string) (Policy, error) {
	p := Policy{}
	for k, v := range base {
		p[k] = v
	}
	var errs []error
	for _, pair := range strings.Split(text, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		if err := p.Set(pair); err != nil {
			errs = append(errs, err)
		}
	}
	return p, errors.Join(errs...)
}

// Set reads one KIND=PERIOD pair into p.
func (p Policy) Set(pair string) error {
	kind, period, ok := strings.Cut(pair, "=")
	k := aiproxy.RetentionKind(strings.TrimSpace(kind))
	if !ok || !aiproxy.ValidRetentionKind(k) {
		return fmt.Errorf("retention %q: want KIND=PERIOD with KIND one of %s", pair, kindNames())
	}
	d, err := parsePeriod(strings.TrimSpace(period))
	if err != nil {
		return fmt.Errorf("retention %q: %w", pair, err)
	}
	p[k] = d
	return nil
}

// parsePeriod reads "30d", "36h" or "keep" (0).
func parsePeriod(s string) (time.Duration, error) {
	switch {
	case s == "keep" || s == "0":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("want a number of days such as 30d, got %q", s)
		}
		return time.Duration(n) * Day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a period such as 30d, 36h or keep, got %q", s)
	}
	return d, nil
}

func kindNames() string {
	names := make([]string, len(aiproxy.RetentionKinds))
	for i, k := range aiproxy.RetentionKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// String lists the policy's periods in the pruner's order.
func (p Policy) String() string {
	var parts []string
	for _, k := range aiproxy.RetentionKinds {
		if d := p[k]; d > 0 {
			parts = append(parts, string(k)+"="+formatPeriod(d))
		}
	}
	return strings.Join(parts, ",")
}

func formatPeriod(d time.Duration) string {
	if d%Day == 0 {
		return strconv.Itoa(int(d/Day)) + "d"
	}
	return d.String()
}

// Store is what the Pruner needs of a store.
type Store interface {
	aiproxy.RetentionStore
	aiproxy.WorkLeaseStore
}

// LeaseName is the work lease the Pruner takes.
const LeaseName = "prune"

// Config configures a Pruner. Zero fields take the defaults named.
type Config struct {
	Store  Store
	Policy Policy
	// Every is how often a pass runs; default 10 minutes.
	Every time.Duration
	// Batch is how many rows one step removes (one short transaction);
	// default 1000.
	Batch int
	// Pause is how long the Pruner waits between steps, so that a long
	// backlog leaves the database to the calls; default 20ms.
	Pause time.Duration
	// Lease is how long a replica holds the work; default 5 minutes.
	Lease time.Duration
	// Owner names this replica in the lease.
	Owner  string
	Now    func() time.Time
	Logger *slog.Logger
}

// Pruner removes old data in the background.
type Pruner struct{ cfg Config }

// New returns a Pruner.
func New(cfg Config) *Pruner {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.Owner == "" {
		cfg.Owner = "aiproxy/" + aiproxy.NewID("")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pruner{cfg: cfg}
}

// Run prunes now and every Every until ctx ends.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		if _, err := p.PruneOnce(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Counts is how many rows a pass removed, per kind.
type Counts map[aiproxy.RetentionKind]int

// PruneOnce removes what the policy says is old, kind by kind in
// aiproxy.RetentionKinds' order, unless another replica holds the work.
func (p *Pruner) PruneOnce(ctx context.Context) (Counts, error) {
	held, err := p.claim(ctx)
	if err != nil || !held {
		return nil, err
	}
	defer p.cfg.Store.ReleaseWork(context.WithoutCancel(ctx), LeaseName, p.cfg.Owner)
	start, counts := p.cfg.Now(), Counts{}
	var errs []error
	for _, k := range aiproxy.RetentionKinds {
		keep := p.cfg.Policy[k]
		if keep <= 0 {
			continue
		}
		n, err := p.pruneKind(ctx, k, keep)
		if n > 0 {
			counts[k] = n
		}
		if err != nil {
			if ctx.Err() != nil {
				return counts, ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	if len(counts) > 0 {
		p.cfg.Logger.Info("pruned", "rows", p.describe(counts), "took", p.cfg.Now().Sub(start).Round(time.Millisecond))
	}
	return counts, errors.Join(errs...)
}

// pruneKind removes one kind's old rows in batches, renewing the lease as
// it goes; it stops when a batch comes back short or the lease is lost.
func (p *Pruner) pruneKind(ctx context.Context, k aiproxy.RetentionKind, keep time.Duration) (int, error) {
	total, renewed := 0, p.cfg.Now()
	for {
		now := p.cfg.Now()
		n, err := p.cfg.Store.Prune(ctx, k, now.Add(-keep), now, p.cfg.Batch)
		total += n
		if err != nil || n < p.cfg.Batch {
			return total, err
		}
		if now.Sub(renewed) > p.cfg.Lease/2 {
			if held, err := p.claim(ctx); err != nil || !held {
				return total, err
			}
			renewed = now
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.cfg.Pause):
		}
	}
}

func (p *Pruner) claim(ctx context.Context) (bool, error) {
	now := p.cfg.Now()
	return p.cfg.Store.ClaimWork(ctx, LeaseName, p.cfg.Owner, now, now.Add(p.cfg.Lease))
}

// describe lists counts as "kind=n" in the pruner's order.
func (p *Pruner) describe(c Counts) string {
	var parts []string
	for _, k := range aiproxy.RetentionKinds {
		if n, ok := c[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	return strings.Join(parts, ",")
}
