package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/egress"
)

// Store is the storage of org webhooks: endpoints, the delivery outbox
// that job changes fill in the same transaction, and the delivery log.
type Store interface {
	aiproxy.WebhookStore
}

// Vault seals and opens webhook signing secrets.
type Vault interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// OutboxConfig configures an Outbox. Zero values mean the stated defaults.
type OutboxConfig struct {
	Store Store
	// Vault seals endpoint secrets; required to create endpoints and to
	// deliver.
	Vault Vault
	// Logger receives delivery problems; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Client sends the events; nil means a client with Timeout that never
	// follows redirects and, unless AllowPrivate, connects to no loopback,
	// private or link-local address (egress.NewClient).
	Client *http.Client
	// AllowPrivate lets org admins register URLs on loopback, private and
	// link-local addresses, and lets deliveries connect there: for a demo
	// or a closed network.
	AllowPrivate bool
	// Timeout bounds one delivery attempt; 0 means 10s.
	Timeout time.Duration
	// Backoff is the wait after a delivery's first failed attempt, doubling
	// after each further one up to an hour; 0 means 10s.
	Backoff time.Duration
	// MaxAttempts is when a delivery is given up; 0 means 15.
	MaxAttempts int
	// TickEvery is how often Run looks for due deliveries; 0 means 1s.
	TickEvery time.Duration
	// Owner names this replica in the leases it holds on due deliveries;
	// "" means the host name and a random suffix.
	Owner string
	// Lease is how long this replica holds a delivery it took before
	// another replica may take it over; 0 means 1m. A delivery is held at
	// least one attempt's time and 5s.
	Lease time.Duration
}

// Outbox delivers job events to the webhook endpoints orgs register,
// signed, from the durable outbox, and manages those endpoints. It is safe
// for concurrent use.
type Outbox struct {
	cfg    OutboxConfig
	log    *slog.Logger
	client *http.Client
	// kick wakes Run when new events are queued.
	kick chan struct{}
}

// NewOutbox returns an Outbox for a configuration.
func NewOutbox(cfg OutboxConfig) *Outbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Timeout = durationOr(cfg.Timeout, 10*time.Second)
	cfg.Backoff = durationOr(cfg.Backoff, 10*time.Second)
	cfg.TickEvery = durationOr(cfg.TickEvery, time.Second)
	cfg.Lease = durationOr(cfg.Lease, time.Minute)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 15
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = host + "/" + aiproxy.NewID("")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		client = egress.NewClient(cfg.Timeout, cfg.AllowPrivate)
	}
	return &Outbox{cfg: cfg, log: log, client: client, kick: make(chan struct{}, 1)}
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (o *Outbox) now() time.Time { return o.cfg.Now().UTC() }

// Run delivers due events until ctx ends: every TickEvery, and at once
// when Wake says new events were queued.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.cfg.TickEvery)
	defer t.Stop()
	for {
		o.DeliverOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
		}
	}
}

// Wake asks Run to deliver now: new events were queued.
func (o *Outbox) Wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// lease is how long a delivery is held: the lease, and at least one
// attempt's time and a margin, so that a slow endpoint does not lose it
// mid-send.
func (o *Outbox) lease() time.Duration {
	return max(o.cfg.Lease, o.cfg.Timeout+5*time.Second)
}

// EventTypes are the job events an endpoint may subscribe to.
var EventTypes = []string{aiproxy.EventJobCreated, aiproxy.EventJobUpdated, aiproxy.EventJobCompleted, aiproxy.EventJobFailed}

// defaultEvents are what an endpoint gets when it names none.
var defaultEvents = []string{aiproxy.EventJobCompleted, aiproxy.EventJobFailed}

// maxBackoffDelivery caps the wait between delivery attempts.
const maxBackoffDelivery = time.Hour

// deliveryConcurrency caps the deliveries in flight at once.
const deliveryConcurrency = 8

// CreateWebhook registers an org's webhook endpoint for some event types
// (job.completed and job.failed when none are given). It returns the
// endpoint and its signing secret, which is shown only this once.
func (o *Outbox) CreateWebhook(ctx context.Context, org, rawURL string, events []string) (aiproxy.WebhookEndpoint, string, error) {
	if err := checkWebhookURL(rawURL); err != nil {
		return aiproxy.WebhookEndpoint{}, "", err
	}
	if !o.cfg.AllowPrivate {
		u, _ := url.Parse(rawURL) // checkWebhookURL parsed it
		if err := checkWebhookHost(u); err != nil {
			return aiproxy.WebhookEndpoint{}, "", err
		}
	}
	if len(events) == 0 {
		events = defaultEvents
	}
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return aiproxy.WebhookEndpoint{}, "", aiproxy.Errorf(aiproxy.CodeInvalid,
				"Unknown event type %q; use %s.", e, strings.Join(EventTypes, ", "))
		}
	}
	if o.cfg.Vault == nil {
		return aiproxy.WebhookEndpoint{}, "", errors.New("create webhook: no vault to seal its secret")
	}
	secret := newSecret()
	e := aiproxy.WebhookEndpoint{ID: aiproxy.NewID("whe_"), OrgKey: org, URL: rawURL, Events: slices.Compact(slices.Sorted(slices.Values(events))),
		CreatedAt: o.now()}
	sealed, err := o.cfg.Vault.Seal([]byte(secret), e.AAD())
	if err != nil {
		return e, "", fmt.Errorf("seal webhook secret: %w", err)
	}
	e.Sealed = sealed
	err = o.cfg.Store.CreateWebhookEndpoint(ctx, e)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return e, "", aiproxy.Errorf(aiproxy.CodeNotFound, "Org %q not found.", org)
	}
	if err != nil {
		return e, "", fmt.Errorf("create webhook: %w", err)
	}
	return e, secret, nil
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid webhook URL %q: use an absolute http or https URL without user information or fragment.", raw)
	}
	return nil
}

// newSecret returns a fresh signing secret: "whsec_" and 32 random bytes
// in standard base64, the form Standard Webhooks libraries read.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Webhooks lists an org's webhook endpoints.
func (o *Outbox) Webhooks(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error) {
	return o.cfg.Store.WebhookEndpoints(ctx, org)
}

// DeleteWebhook removes an org's webhook endpoint and its pending
// deliveries.
func (o *Outbox) DeleteWebhook(ctx context.Context, org, id string) error {
	err := o.cfg.Store.DeleteWebhookEndpoint(ctx, org, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Webhook endpoint %q not found.", id)
	}
	return err
}

// Deliveries lists an org's webhook deliveries, newest first: the delivery
// log.
func (o *Outbox) Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error) {
	return o.cfg.Store.Deliveries(ctx, f)
}
