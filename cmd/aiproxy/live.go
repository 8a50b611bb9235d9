package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/livesession"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// liveFlags configure live avatar sessions (docs/realtime.md): the longest
// a session may run, the caps on concurrent sessions, and the reaper.
type liveFlags struct {
	maxSession    time.Duration
	perOrg        int
	perCredential int
	reapEvery     time.Duration
	startGrace    time.Duration
	idle          time.Duration
	envErr        error
}

func (f *liveFlags) register(fs *flag.FlagSet, e env) {
	v := newEnvValues(e)
	fs.DurationVar(&f.maxSession, "live-max-session", v.duration("AIPROXY_LIVE_MAX_SESSION", livesession.DefaultMaxSession),
		"longest a live avatar session may run; a mint asking for more, or nothing, is clamped to it and the reaper stops it then [AIPROXY_LIVE_MAX_SESSION]")
	fs.IntVar(&f.perOrg, "live-sessions-per-org", v.int("AIPROXY_LIVE_SESSIONS_PER_ORG", 0),
		"most live avatar sessions (minted, not stopped) an org may hold at once; 0 for no cap [AIPROXY_LIVE_SESSIONS_PER_ORG]")
	fs.IntVar(&f.perCredential, "live-sessions-per-credential", v.int("AIPROXY_LIVE_SESSIONS_PER_CREDENTIAL", 0),
		"most live avatar sessions one provider credential (an org's own, or the platform's shared one) may hold at once; 0 for no cap [AIPROXY_LIVE_SESSIONS_PER_CREDENTIAL]")
	fs.DurationVar(&f.reapEvery, "live-reap-every", v.duration("AIPROXY_LIVE_REAP_EVERY", livesession.DefaultReapEvery),
		"how often each replica's reaper looks for live sessions past their length or orphaned [AIPROXY_LIVE_REAP_EVERY]")
	fs.DurationVar(&f.startGrace, "live-start-grace", v.duration("AIPROXY_LIVE_START_GRACE", livesession.DefaultStartGrace),
		"how long a minted live session may wait to be started before the reaper stops it [AIPROXY_LIVE_START_GRACE]")
	fs.DurationVar(&f.idle, "live-idle", v.duration("AIPROXY_LIVE_IDLE", livesession.DefaultIdle),
		"how long a started live session may go without a start or keep-alive through aiproxy before the reaper stops it [AIPROXY_LIVE_IDLE]")
	f.envErr = v.err()
}

func (f *liveFlags) validate() error {
	errs := []error{f.envErr}
	if f.maxSession < time.Second {
		errs = append(errs, errors.New("--live-max-session must be at least 1s"))
	}
	if f.perOrg < 0 || f.perCredential < 0 {
		errs = append(errs, errors.New("--live-sessions-per-org and --live-sessions-per-credential must be 0 or more"))
	}
	if f.reapEvery < 100*time.Millisecond || f.startGrace <= 0 || f.idle <= 0 {
		errs = append(errs, errors.New("--live-reap-every must be at least 100ms, --live-start-grace and --live-idle more than 0"))
	}
	return errors.Join(errs...)
}

// liveParts are the live sessions' hook (and token verifier) and reaper.
type liveParts struct {
	sessions *livesession.Sessions
	reaper   *livesession.Reaper
	admin    liveAdmin
}

// liveStore is what live sessions need of the store.
type liveStore interface {
	livesession.Store
	livesession.ReaperStore
	livesession.Quotas
	liveAdminStore
}

// build wires the live sessions on the store, reaping through p's
// background calls and metering each reconciled session with meter (nil
// for none).
func (f *liveFlags) build(db liveStore, cat *catalog.Catalog, p *proxy.Proxy, meter proxy.Meter, log *slog.Logger, b *budgets) *liveParts {
	sessions := livesession.New(livesession.Config{Store: db, Quotas: db, MaxSession: f.maxSession, Log: log,
		Caps: aiproxy.LiveSessionCaps{PerOrg: f.perOrg, PerCredential: f.perCredential}})
	rc := livesession.ReaperConfig{Store: db, Fetcher: p, Catalog: cat, Quotas: db, Every: f.reapEvery, Log: log,
		Due: aiproxy.LiveSessionDue{StartGrace: f.startGrace, Idle: f.idle}}
	if meter != nil {
		rc.Meter = meter
	}
	if b != nil && b.enforcer != nil {
		// The budget hold a mint kept is settled from the session's length.
		rc.OnReconciled = func(ctx context.Context, s aiproxy.LiveSession, seconds int64, credits float64) {
			if err := b.enforcer.SettleSession(ctx, s.Service, s.ID, seconds, credits); err != nil {
				log.Error("budget: settle a live session", "session_id", s.ID, "err", err)
			}
		}
	}
	reaper := livesession.NewReaper(rc)
	return &liveParts{sessions: sessions, reaper: reaper, admin: liveAdmin{liveAdminStore: db, reaper: reaper}}
}

// liveAdminStore is what the live-session routes read.
type liveAdminStore interface {
	LiveSessions(ctx context.Context, f aiproxy.LiveSessionFilter) ([]aiproxy.LiveSession, error)
	LiveSession(ctx context.Context, id string) (aiproxy.LiveSession, error)
}

// liveAdmin serves the live-session routes: reads from the store, stops
// through the reaper (at the provider, with the session's credential).
type liveAdmin struct {
	liveAdminStore
	reaper *livesession.Reaper
}

var _ httpapi.LiveSessionAdmin = liveAdmin{}

// StopLiveSession stops a session for an admin or its user.
func (l liveAdmin) StopLiveSession(ctx context.Context, s aiproxy.LiveSession) (aiproxy.LiveSession, error) {
	if err := l.reaper.Stop(ctx, s, aiproxy.EndUserClosed, "admin"); err != nil {
		return s, err
	}
	return l.LiveSession(ctx, s.ID)
}
