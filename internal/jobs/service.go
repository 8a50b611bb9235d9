package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
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

// Vault seals and opens webhook signing secrets.
type Vault interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Config configures a Service. Zero values mean the stated defaults.
type Config struct {
	Store   Store
	Catalog Catalog
	// Proxy makes the status reads; it may be nil for a Service used only
	// to manage jobs and webhook endpoints, as the CLI does.
	Proxy Fetcher
	// Vault seals webhook endpoint secrets; required to create endpoints
	// and to deliver events.
	Vault Vault
	// Logger receives tracking and delivery problems; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// PublicBaseURL, when set, is where providers reach aiproxy: job starts
	// whose catalog entry names a callback_url_field get
	// PublicBaseURL + "/api/ai-proxy/webhooks/{service}/" there, when the
	// service has a webhook secret. Empty means no callback URLs.
	PublicBaseURL string
	// ProviderSecrets maps a service slug to the secret its job webhooks are
	// signed with. A service without one has no webhook receiver.
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
	// IdempotencyTTL is how long an Idempotency-Key is remembered; 0 means
	// 24h.
	IdempotencyTTL time.Duration
	// TickEvery is how often Run looks for due jobs and deliveries; 0 means
	// 1s.
	TickEvery time.Duration

	// DeliveryClient sends webhook events; nil means a client with
	// DeliveryTimeout that never follows redirects and, unless
	// AllowPrivateWebhooks, connects to no loopback, private or link-local
	// address (webhook_guard.go).
	DeliveryClient *http.Client
	// AllowPrivateWebhooks lets org admins register webhook URLs on
	// loopback, private and link-local addresses, and lets deliveries
	// connect there: for a demo or a closed network.
	AllowPrivateWebhooks bool
	// DeliveryTimeout bounds one delivery attempt; 0 means 10s.
	DeliveryTimeout time.Duration
	// DeliveryBackoff is the wait after a delivery's first failed attempt,
	// doubling after each further one up to an hour; 0 means 10s.
	DeliveryBackoff time.Duration
	// MaxDeliveryAttempts is when a delivery is given up; 0 means 15.
	MaxDeliveryAttempts int

	// Owner names this replica in the leases it holds on due jobs and
	// deliveries; "" means the host name and a random suffix.
	Owner string
	// Lease is how long this replica holds a due job or delivery it took
	// before another replica may take it over; 0 means 1m. A delivery is
	// held at least one attempt's time (DeliveryTimeout) and 5s.
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

// Service tracks jobs and delivers their events. It is safe for concurrent
// use.
type Service struct {
	cfg    Config
	log    *slog.Logger
	flight singleflight.Group
	hub    *hub
	client *http.Client
	// kick wakes the deliverer when new events are queued.
	kick chan struct{}

	mu sync.Mutex
	// gates hold back status reads on a credential that a provider
	// answered 429, until its Retry-After has passed.
	gates map[string]time.Time
	// idem wakes requests waiting for an Idempotency-Key in progress here.
	idem map[string]chan struct{}
}

// New returns a Service for a configuration.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	cfg.PollInterval = durationOr(cfg.PollInterval, 5*time.Second)
	cfg.MaxBackoff = durationOr(cfg.MaxBackoff, 5*time.Minute)
	cfg.Deadline = durationOr(cfg.Deadline, 2*time.Hour)
	cfg.FreshFor = durationOr(cfg.FreshFor, time.Second)
	cfg.IdempotencyTTL = durationOr(cfg.IdempotencyTTL, 24*time.Hour)
	cfg.TickEvery = durationOr(cfg.TickEvery, time.Second)
	cfg.DeliveryTimeout = durationOr(cfg.DeliveryTimeout, 10*time.Second)
	cfg.DeliveryBackoff = durationOr(cfg.DeliveryBackoff, 10*time.Second)
	if cfg.MaxDeliveryAttempts <= 0 {
		cfg.MaxDeliveryAttempts = 15
	}
	cfg.Lease = durationOr(cfg.Lease, time.Minute)
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.DeliveryClient
	if client == nil {
		client = newDeliveryClient(cfg.DeliveryTimeout, cfg.AllowPrivateWebhooks)
	}
	return &Service{cfg: cfg, log: log, hub: newHub(), client: client, kick: make(chan struct{}, 1),
		gates: map[string]time.Time{}, idem: map[string]chan struct{}{}}
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Run tracks jobs and delivers events until ctx ends: every TickEvery, and at
// once when a new event is queued.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		s.TrackOnce(ctx)
		s.DeliverOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// wake asks Run to deliver queued events now.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// newID returns a prefix and 24 random hex digits.
func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// statusSpec returns the status endpoint of a job, if the catalog still has
// it.
func (s *Service) statusSpec(j aiproxy.Job) (*aiproxy.Service, *aiproxy.JobStatusSpec, bool) {
	svc, ok := s.cfg.Catalog.Service(j.Service)
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
