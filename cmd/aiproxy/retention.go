package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/budget"
	"github.com/aiproxy/aiproxy/internal/retention"
	"github.com/aiproxy/aiproxy/internal/rollup"
)

// dataFlags configure the data that grows with every call: how often the
// usage rollups are built, how long each kind of data is kept, and how
// often old data is pruned (serve and demo).
type dataFlags struct {
	rollupEvery time.Duration
	pruneEvery  time.Duration
	// retentionEnv is AIPROXY_RETENTION; retentionFlags are the
	// --retention flags, which win.
	retentionEnv   string
	retentionFlags []string
	// policy is the parsed retention, set by validate.
	policy retention.Policy
	envErr error
}

func (f *dataFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.DurationVar(&f.rollupEvery, "rollup-every", v.duration("AIPROXY_ROLLUP_EVERY", time.Minute),
		"how often usage is summed into the hourly and daily rollups that reports read; 0 turns rollups off (and raw usage is then never pruned) [AIPROXY_ROLLUP_EVERY]")
	fs.DurationVar(&f.pruneEvery, "prune-every", v.duration("AIPROXY_PRUNE_EVERY", 10*time.Minute),
		"how often data older than its retention is removed, in small batches; 0 turns pruning off [AIPROXY_PRUNE_EVERY]")
	f.retentionEnv = e("AIPROXY_RETENTION")
	fs.Func("retention", "KIND=PERIOD: how long a kind of data is kept, e.g. usage=14d, audit=365d, jobs=keep; kinds: "+
		kindList()+"; repeatable (defaults: "+retention.DefaultPolicy().String()+") [AIPROXY_RETENTION, comma-separated]",
		func(s string) error {
			f.retentionFlags = append(f.retentionFlags, s)
			return nil
		})
	f.envErr = v.err()
}

func kindList() string {
	names := make([]string, len(aiproxy.RetentionKinds))
	for i, k := range aiproxy.RetentionKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// validate parses the retention policy, the defaults under
// AIPROXY_RETENTION under the flags, and reports every problem at once.
func (f *dataFlags) validate() error {
	errs := []error{f.envErr}
	p, err := retention.ParsePolicy(retention.DefaultPolicy(), f.retentionEnv)
	if err != nil {
		errs = append(errs, errors.New("AIPROXY_RETENTION: "+err.Error()))
	}
	for _, s := range f.retentionFlags {
		if err := p.Set(s); err != nil {
			errs = append(errs, errors.New("--retention: "+err.Error()))
		}
	}
	if f.rollupEvery < 0 || f.pruneEvery < 0 {
		errs = append(errs, errors.New("--rollup-every and --prune-every must not be negative"))
	}
	f.policy = p
	return errors.Join(errs...)
}

// upkeep is the background work on the data: the rollup builder and the
// pruner, either of which may be off.
type upkeep struct {
	builder *rollup.Builder
	pruner  *retention.Pruner
	// budgets, when set, releases the budget holds nobody settled.
	budgets *budget.Enforcer
}

// build returns the background work the flags ask for, on store.
func (f *dataFlags) build(store aiproxy.Store, log *slog.Logger) *upkeep {
	u := &upkeep{}
	owner := rollup.DefaultOwner()
	if f.rollupEvery > 0 {
		u.builder = rollup.New(rollup.Config{Store: store, Every: f.rollupEvery, Owner: owner, Logger: log})
	}
	if f.pruneEvery > 0 {
		u.pruner = retention.New(retention.Config{Store: store, Policy: f.policy, Every: f.pruneEvery, Owner: owner, Logger: log})
	}
	return u
}

// run starts the background work; the func it returns stops it and waits,
// before the database closes.
func (u *upkeep) run(ctx context.Context) func() {
	if u == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if u.builder != nil {
		wg.Go(func() { u.builder.Run(ctx) })
	}
	if u.pruner != nil {
		wg.Go(func() { u.pruner.Run(ctx) })
	}
	if u.budgets != nil {
		wg.Go(func() { u.budgets.RunSweeper(ctx, time.Minute) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
