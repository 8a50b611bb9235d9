package livesession

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// ReaperStore is what the reaper needs of storage.
type ReaperStore interface {
	ClaimDueLiveSessions(ctx context.Context, due aiproxy.LiveSessionDue, now, until time.Time, limit int) ([]aiproxy.LiveSession, error)
	StopLiveSession(ctx context.Context, id string, at time.Time, reason, by string) (bool, error)
	ReconcileLiveSession(ctx context.Context, id string, durationSeconds int64, credits float64, at time.Time) error
	MarkLiveSessionStarted(ctx context.Context, id string, at time.Time) error
	MarkLiveSessionAlive(ctx context.Context, id string, at time.Time) error
}

// Fetcher makes the reaper's background provider calls; *proxy.Proxy is
// one.
type Fetcher interface {
	Fetch(ctx context.Context, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint, env proxy.Envelope, source aiproxy.Source) (*proxy.Answer, error)
}

// Catalog gives the service whose sessions are reaped.
type Catalog interface {
	Service(slug string) (*aiproxy.Service, bool)
}

// Meter receives one usage record per reconciled session.
type Meter interface {
	Record(aiproxy.UsageRecord)
}

// The reaper's defaults.
const (
	DefaultReapEvery   = 15 * time.Second
	DefaultStartGrace  = 2 * time.Minute
	DefaultIdle        = 5 * time.Minute
	DefaultSettleAfter = 5 * time.Second
	// giveUpAfter is how long after its stop a session whose provider
	// record cannot be read is reconciled with aiproxy's own times.
	giveUpAfter = time.Hour
)

// UsageAction is the action of the usage record a reconciled session
// writes, in live minutes.
const UsageAction = "session"

// ReaperConfig configures a Reaper. Store, Fetcher and Catalog are
// required.
type ReaperConfig struct {
	Store   ReaperStore
	Fetcher Fetcher
	Catalog Catalog
	// Quotas settles the live minutes a session held; nil settles none.
	Quotas Quotas
	// Meter records each reconciled session's minutes; nil records none.
	Meter Meter
	// OnReconciled, when set, is told each session once it is reconciled,
	// with its length in seconds and the credits the provider says it used
	// (both 0 for a sandbox session, which spends nothing), so that the
	// budget hold its mint kept can be settled.
	OnReconciled func(ctx context.Context, s aiproxy.LiveSession, seconds int64, credits float64)
	// Service is the LiveAvatar service's slug; "" means DefaultService.
	Service string
	// LegacyService is the slug of the service with HeyGen's legacy
	// streaming endpoints; "" means DefaultLegacyService.
	LegacyService string
	// Every is the time between passes; 0 means DefaultReapEvery.
	Every time.Duration
	// Due says which sessions are reaped; zero fields take the defaults.
	Due aiproxy.LiveSessionDue
	// Batch caps the sessions of one pass; 0 means 50.
	Batch int
	Log   *slog.Logger
	Now   func() time.Time
}

// Reaper stops the sessions that ran past their length or were orphaned
// (created and never started, or not kept alive), rather than letting them
// bill until the provider's idle timeout, and reconciles every stopped
// session with the provider's record. Every replica runs one: the store
// hands each due session to one replica at a time.
type Reaper struct {
	cfg      ReaperConfig
	log      *slog.Logger
	flavours map[string]flavour
}

// NewReaper returns a reaper.
func NewReaper(cfg ReaperConfig) *Reaper {
	if cfg.Service == "" {
		cfg.Service = DefaultService
	}
	if cfg.LegacyService == "" {
		cfg.LegacyService = DefaultLegacyService
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultReapEvery
	}
	if cfg.Due.StartGrace <= 0 {
		cfg.Due.StartGrace = DefaultStartGrace
	}
	if cfg.Due.Idle <= 0 {
		cfg.Due.Idle = DefaultIdle
	}
	if cfg.Due.SettleAfter <= 0 {
		cfg.Due.SettleAfter = DefaultSettleAfter
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reaper{cfg: cfg, log: log, flavours: flavours(cfg.Service, cfg.LegacyService)}
}

// Run reaps every Every until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		if _, err := r.Reap(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("reap live sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reap makes one pass: it stops the due live sessions it holds and
// reconciles the stopped ones, and returns how many sessions it stopped.
func (r *Reaper) Reap(ctx context.Context) (int, error) {
	now := r.cfg.Now()
	hold := max(2*r.cfg.Every, time.Minute)
	due, err := r.cfg.Store.ClaimDueLiveSessions(ctx, r.cfg.Due, now, now.Add(hold), r.cfg.Batch)
	if err != nil {
		return 0, err
	}
	stopped := 0
	for _, s := range due {
		fl, tracked := r.flavours[s.Service]
		svc, ok := r.cfg.Catalog.Service(s.Service)
		if !tracked || !ok {
			continue
		}
		if s.State != aiproxy.LiveSessionStopped {
			if !r.stop(ctx, svc, fl, s, now) {
				continue
			}
			stopped++
			s.State, s.StoppedAt = aiproxy.LiveSessionStopped, now
		}
		r.reconcile(ctx, svc, fl, s)
	}
	return stopped, nil
}

// reason is why the reaper stops a live session.
func (r *Reaper) reason(s aiproxy.LiveSession, now time.Time) string {
	if s.State == aiproxy.LiveSessionStarted && !now.Before(s.StartedAt.Add(s.MaxDuration)) {
		return aiproxy.EndMaxDuration
	}
	return aiproxy.EndZombie
}

// stop asks the provider to stop a due session and records it; it reports
// whether the session is now stopped.
func (r *Reaper) stop(ctx context.Context, svc *aiproxy.Service, fl flavour, s aiproxy.LiveSession, now time.Time) bool {
	reason := r.reason(s, now)
	if reason == aiproxy.EndZombie && fl.get != "" && r.inUse(ctx, svc, fl, s, now) {
		return false
	}
	if err := r.stopAt(ctx, svc, fl, s, reason, "reaper", now); err != nil {
		r.log.Warn("reaper could not stop live session", "session_id", s.ID, "org", s.OrgKey, "err", err)
		return false
	}
	r.log.Info("live session reaped", "session_id", s.ID, "org", s.OrgKey, "reason", reason)
	return true
}

// inUse asks the provider, before aiproxy calls a session orphaned (never
// started through aiproxy, or not kept alive through it), whether it is in
// fact running: an SDK pointed at the provider itself starts and keeps
// alive sessions aiproxy never sees, and LITE sessions keep alive over
// their own socket. A running session is noted as started and alive (so
// that its maximum length still ends it) and left alone; only a session
// the provider shows unstarted, or ended, is stopped.
func (r *Reaper) inUse(ctx context.Context, svc *aiproxy.Service, fl flavour, s aiproxy.LiveSession, now time.Time) bool {
	rec, err := r.read(ctx, svc, fl, s)
	if err != nil || !rec.inUse() {
		return false
	}
	if s.State != aiproxy.LiveSessionStarted {
		at := now
		if rec.StartedAt != nil && rec.StartedAt.Before(now) {
			at = *rec.StartedAt
		}
		if err := r.cfg.Store.MarkLiveSessionStarted(ctx, s.ID, at); err != nil {
			r.log.Warn("note a live session started elsewhere", "session_id", s.ID, "err", err)
		}
	}
	if err := r.cfg.Store.MarkLiveSessionAlive(ctx, s.ID, now); err != nil {
		r.log.Warn("note a live session alive", "session_id", s.ID, "err", err)
	}
	r.log.Debug("live session in use at the provider: not reaped", "session_id", s.ID, "org", s.OrgKey)
	return true
}

// Stop stops a live session now, for an admin: at the provider with the
// credential it was minted on, then in the store, stopped by by.
func (r *Reaper) Stop(ctx context.Context, s aiproxy.LiveSession, reason, by string) error {
	svc, ok := r.cfg.Catalog.Service(s.Service)
	fl, tracked := r.flavours[s.Service]
	if !ok || !tracked {
		return aiproxy.ErrServiceNotFound(s.Service)
	}
	return r.stopAt(ctx, svc, fl, s, reason, by, r.cfg.Now())
}

// stopAt asks the provider to stop a session, with the credential it was
// minted on, and records the stop. A session the provider no longer has
// (a 4xx) is over too; a 429 or 5xx is tried again later. A legacy token
// that never created its session has nothing to stop at the provider.
func (r *Reaper) stopAt(ctx context.Context, svc *aiproxy.Service, fl flavour, s aiproxy.LiveSession, reason, by string, now time.Time) error {
	if fl.legacy && Unbound(s.ID) {
		_, err := r.cfg.Store.StopLiveSession(ctx, s.ID, now, reason, by)
		return err
	}
	ep, ok := svc.Endpoint(fl.stop)
	if !ok {
		return aiproxy.ErrServiceNotFound(svc.Slug + "/" + fl.stop)
	}
	stop := map[string]string{"session_id": s.ID, "reason": reason}
	if fl.legacy {
		stop = map[string]string{"session_id": s.ID} // HeyGen's stop takes no reason
	}
	body, _ := json.Marshal(stop)
	a, err := r.cfg.Fetcher.Fetch(ctx, s.OrgKey, svc, ep, proxy.Envelope{Body: body}, s.Source)
	if err != nil {
		return err
	}
	a.Close()
	if a.Status >= 500 || a.Status == http.StatusTooManyRequests {
		return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed}
	}
	if _, err := r.cfg.Store.StopLiveSession(ctx, s.ID, now, reason, by); err != nil {
		return err
	}
	return nil
}

// record is the provider's account of a session.
type record struct {
	Duration        *float64   `json:"duration"`
	CreditsConsumed float64    `json:"credits_consumed"`
	EndReason       string     `json:"end_reason"`
	Status          string     `json:"status"`
	StartedAt       *time.Time `json:"started_at"`
}

// inUse reports whether the provider's record shows a session running:
// started and not ended.
func (rec record) inUse() bool {
	if rec.EndReason != "" {
		return false
	}
	switch strings.ToUpper(rec.Status) {
	case "ACTIVE", "CONNECTED", "RUNNING":
		return true
	case "":
		return rec.StartedAt != nil
	}
	return false
}

// reconcile reads the provider's record of a stopped session and keeps its
// duration and credits, settles the minutes the session held to those it
// ran, and writes its usage record. A record that cannot be read is tried
// again on a later pass, and after giveUpAfter aiproxy's own times stand.
// A provider with no per-session record (legacy streaming) has aiproxy's
// own times at once.
func (r *Reaper) reconcile(ctx context.Context, svc *aiproxy.Service, fl flavour, s aiproxy.LiveSession) {
	rec, err := record{}, error(nil)
	if fl.get != "" {
		rec, err = r.read(ctx, svc, fl, s)
	}
	now := r.cfg.Now()
	if err != nil {
		if now.Sub(s.StoppedAt) < giveUpAfter {
			r.log.Warn("live session record not read", "session_id", s.ID, "err", err)
			return
		}
		rec = record{}
	}
	secs := int64(0)
	switch {
	case rec.Duration != nil:
		secs = int64(math.Ceil(*rec.Duration))
	case !s.StartedAt.IsZero():
		secs = int64(math.Ceil(s.StoppedAt.Sub(s.StartedAt).Seconds()))
	}
	if err := r.cfg.Store.ReconcileLiveSession(ctx, s.ID, secs, rec.CreditsConsumed, now); err != nil {
		r.log.Error("reconcile live session", "session_id", s.ID, "err", err)
		return
	}
	used := int64(math.Ceil(float64(secs) / 60))
	if s.Sandbox {
		used = 0
	}
	if r.cfg.OnReconciled != nil {
		billed, credits := secs, rec.CreditsConsumed
		if s.Sandbox {
			billed, credits = 0, 0
		}
		r.cfg.OnReconciled(ctx, s, billed, credits)
	}
	if back := s.ReservedMinutes - used; back > 0 && r.cfg.Quotas != nil {
		err := r.cfg.Quotas.ReleaseQuota(ctx, s.OrgKey, s.Service, aiproxy.Demand{aiproxy.MetricLiveMinutes: back}, s.CreatedAt)
		if err != nil {
			r.log.Error("settle live minutes", "session_id", s.ID, "err", err)
		}
	}
	if r.cfg.Meter != nil {
		r.cfg.Meter.Record(aiproxy.UsageRecord{At: now.UTC(), OrgKey: s.OrgKey, KeyID: s.KeyID, UserID: s.User,
			Service: s.Service, Action: UsageAction, Status: 200, UpstreamStatus: 200,
			Unit: aiproxy.MetricLiveMinutes, Units: used, Source: s.Source})
	}
}

// read fetches the provider's record of a session.
func (r *Reaper) read(ctx context.Context, svc *aiproxy.Service, fl flavour, s aiproxy.LiveSession) (record, error) {
	var rec record
	ep, ok := svc.Endpoint(fl.get)
	if !ok {
		return rec, errors.New("no " + fl.get + " endpoint")
	}
	a, err := r.cfg.Fetcher.Fetch(ctx, s.OrgKey, svc, ep, proxy.Envelope{PathParams: map[string]string{"session_id": s.ID}}, s.Source)
	if err != nil {
		return rec, err
	}
	defer a.Close()
	return rec, readData(a, &rec, fl.okCode)
}
