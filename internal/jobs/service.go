package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Store is the storage the jobs need.
type Store interface {
	aiproxy.JobStore
	aiproxy.WebhookStore
	aiproxy.IdempotencyStore
	aiproxy.JobSlotStore
}

// Fetcher makes the background calls of jobs, status reads that no client
// request carries, through the proxy's pipeline (proxy.Fetch).
type Fetcher interface {
	Fetch(ctx context.Context, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint, env proxy.Envelope, source aiproxy.Source) (*proxy.Answer, error)
}

// Catalog finds an enabled service by slug.
type Catalog interface {
	Service(slug string) (*aiproxy.Service, bool)
}

// Config configures a Service. Zero values mean the stated defaults.
type Config struct {
	Store   Store
	Catalog Catalog
	// Proxy makes the status reads; it may be nil for a Service used only
	// to read jobs, as the CLI does.
	Proxy Fetcher
	// OnEvent, when set, is called after job events were queued, so that
	// the webhook outbox delivers them at once (webhooks.Outbox.Wake).
	OnEvent func()
	// OnEnd, when set, is called once a job's move to completed or failed
	// is stored, so that what the job held (a budget's estimate) is
	// settled or released. It must not block for long.
	OnEnd func(ctx context.Context, j aiproxy.Job)
	// Logger receives tracking problems; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// PublicBaseURL, when set, is where providers reach aiproxy: job starts
	// whose catalog entry names a callback_url_field get
	// PublicBaseURL + "/api/ai-proxy/webhooks/{service}/" there, when the
	// service has a webhook secret. Empty means no callback URLs.
	PublicBaseURL string
	// ProviderSecrets maps a service slug to the secret its job webhooks are
	// signed with; a job start gets aiproxy's callback URL only for a
	// service that has one.
	ProviderSecrets map[string]string

	// Concurrency caps the status reads the tracker makes at once; 0 means 4.
	Concurrency int
	// PollInterval is how often the tracker reads an unfinished job; 0
	// means 5s. Failed reads back off from it exponentially.
	PollInterval time.Duration
	// MaxBackoff caps the backoff of failed reads; 0 means 5m.
	MaxBackoff time.Duration
	// Deadline is how long a job may stay unfinished before aiproxy fails
	// it; 0 means 2h.
	Deadline time.Duration
	// FreshFor is how long a status read answers every status call without
	// another provider call; 0 means 1s.
	FreshFor time.Duration
	// TickEvery is how often Run looks for due jobs; 0 means 1s.
	TickEvery time.Duration

	// Owner names this replica in the leases it holds on due jobs; "" means
	// the host name and a random suffix.
	Owner string
	// Lease is how long this replica holds a due job it took before another
	// replica may take it over; 0 means 1m.
	Lease time.Duration
	// RunningJobCaps caps the provider jobs running at once (started, and
	// not yet completed or failed) per org and per platform credential; a
	// job start over a cap is refused with 429 before the provider call
	// (runcap.go). nil means no caps.
	RunningJobCaps []aiproxy.JobCap

	// PollLock, when set, is shared by every replica of the installation, so
	// that one at a time reads a job's status from the provider; nil keeps
	// status reads collapsed within this process only.
	PollLock PollLock
}

// Service is aiproxy's jobs: the hooks that record the jobs clients start
// and answer their status calls (hook.go), the records and their events,
// waiting for a job to change, and the running-job caps. A tracker keeps
// the records fresh from the providers. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	hub *hub
	tr  *tracker
	// slots holds, per start call, the running-job slot it claimed, for
	// the job record to free it (runcap.go).
	slots sync.Map
}

// tracker reads job statuses from providers, shared by every caller and
// every replica, and records what they say (status.go, tracker.go).
type tracker struct {
	cfg    *Config
	log    *slog.Logger
	hub    *hub
	flight singleflight.Group

	mu sync.Mutex
	// gates hold back status reads on a credential that a provider
	// answered 429, until its Retry-After has passed.
	gates map[string]time.Time
}

// New returns a Service for a configuration.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func() {}
	}
	cfg.PollInterval = durationOr(cfg.PollInterval, 5*time.Second)
	cfg.MaxBackoff = durationOr(cfg.MaxBackoff, 5*time.Minute)
	cfg.Deadline = durationOr(cfg.Deadline, 2*time.Hour)
	cfg.FreshFor = durationOr(cfg.FreshFor, time.Second)
	cfg.TickEvery = durationOr(cfg.TickEvery, time.Second)
	cfg.Lease = durationOr(cfg.Lease, time.Minute)
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: log, hub: newHub()}
	s.tr = &tracker{cfg: &s.cfg, log: log, hub: s.hub, gates: map[string]time.Time{}}
	return s
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (t *tracker) now() time.Time { return t.cfg.Now().UTC() }

// Run tracks jobs until ctx ends, every TickEvery.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		s.TrackOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TrackOnce reads the status of every unfinished job that is due, at most
// Concurrency at a time, and fails those past their deadline. It claims the
// jobs in batches with a lease, so that replicas sharing the store never
// track one job at once. It returns the number of jobs it looked at.
func (s *Service) TrackOnce(ctx context.Context) int { return s.tr.trackOnce(ctx) }

// ProviderEvent reads at once the status of the job a service's provider
// id names, because the provider said it changed (a webhook). A job
// aiproxy did not start, or one already final, is left alone.
func (s *Service) ProviderEvent(ctx context.Context, service, providerID string) error {
	j, err := s.cfg.Store.JobByProviderID(ctx, service, providerID)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil // Not a job aiproxy started: nothing to update.
	}
	if err != nil || s.tr.terminal(j) {
		return err
	}
	if _, err := s.tr.refresh(ctx, j.ID, true); err != nil {
		s.log.Warn("read status after webhook", "job", j.ID, "err", err)
	}
	return nil
}

// statusSpec returns the status endpoint of a job, if the catalog still has
// it.
func (t *tracker) statusSpec(j aiproxy.Job) (*aiproxy.Service, *aiproxy.JobStatusSpec, bool) {
	svc, ok := t.cfg.Catalog.Service(j.Service)
	if !ok {
		return nil, nil, false
	}
	ep, ok := svc.Endpoint(j.StatusAction)
	if !ok || ep.JobStatus == nil {
		return nil, nil, false
	}
	return svc, ep.JobStatus, true
}

// errJobNotFound is the contract-shaped 404 for a job the caller may not
// see, whether it belongs to another org or to none.
func errJobNotFound(service, id string) error {
	return aiproxy.Errorf(aiproxy.CodeNotFound, "Job '%s' of external proxy service '%s' not found.", id, service)
}
