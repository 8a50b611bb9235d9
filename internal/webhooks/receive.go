package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// webhookSkew is how far a provider webhook's timestamp may be from
// aiproxy's clock.
const webhookSkew = 5 * time.Minute

// Jobs is what the receiver asks of the jobs service: read a job's status
// now, because its provider said it changed.
type Jobs interface {
	// ProviderEvent reads at once the status of the job a service's
	// provider id names, if aiproxy started it and it is not final.
	ProviderEvent(ctx context.Context, service, providerID string) error
}

// Catalog finds an enabled service by slug.
type Catalog interface {
	Service(slug string) (*aiproxy.Service, bool)
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	Catalog Catalog
	// Store remembers the webhooks already seen.
	Store interface {
		RecordProviderWebhook(ctx context.Context, service, key string, at time.Time) (bool, error)
	}
	Jobs Jobs
	// Secrets maps a service slug to the secret its job webhooks are
	// signed with. A service without one has no receiver.
	Secrets map[string]string
	// Logger receives the webhooks handled; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Receiver accepts providers' signed job webhooks.
type Receiver struct {
	cfg ReceiverConfig
	log *slog.Logger
}

// NewReceiver returns a Receiver for a configuration.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{cfg: cfg, log: log}
}

// ReceiveWebhook handles a provider's job webhook: it checks the signature
// (and timestamp, when sent), ignores duplicates and events about jobs
// aiproxy does not know, and otherwise has the job's status read at once,
// so that the stored status body stays the provider's own. A webhook only
// hastens what polling would find; polling remains the fallback when
// webhooks are lost.
func (rc *Receiver) ReceiveWebhook(ctx context.Context, service string, h http.Header, body []byte) error {
	svc, ok := rc.cfg.Catalog.Service(service)
	secret := rc.cfg.Secrets[service]
	if !ok || svc.JobWebhook == nil || secret == "" {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "No webhook receiver for external proxy service '%s'.", service)
	}
	spec := svc.JobWebhook
	now := rc.cfg.Now().UTC()
	if err := verifyProvider(spec, secret, h, body, now); err != nil {
		return &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: "Invalid webhook signature.", Err: err}
	}
	doc, ok := aiproxy.DecodeJSON(body)
	if !ok {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "The webhook body is not JSON.")
	}
	eventType := aiproxy.LookupJSONString(doc, spec.EventTypePath)
	if _, concerns := spec.Events[eventType]; !concerns {
		return nil
	}
	providerID := aiproxy.LookupJSONString(doc, spec.IDPath)
	first, err := rc.firstDelivery(ctx, service, webhookSeenKeys(spec, h, body, providerID, eventType), now)
	if err != nil || !first {
		return err
	}
	rc.log.Info("provider webhook", "service", service, "event", eventType, "provider_job_id", providerID)
	return rc.cfg.Jobs.ProviderEvent(ctx, service, providerID)
}

// webhookSeenKeys are the keys under which a provider webhook is remembered,
// so that a copy of it is ignored. The event id header is not signed: a
// captured webhook replayed with a fresh id (or none) would pass as new, so
// the webhook is also remembered by its content — the signed body, which
// only the provider can produce, with the job and event it is about. A
// webhook is handled only when every key is new.
func webhookSeenKeys(spec *aiproxy.JobWebhookSpec, h http.Header, body []byte, providerID, eventType string) []string {
	sum := sha256.New()
	for _, part := range []string{providerID, eventType} {
		sum.Write([]byte(strconv.Itoa(len(part)) + ":" + part))
	}
	sum.Write(body)
	keys := []string{"content:" + hex.EncodeToString(sum.Sum(nil))}
	if id := h.Get(spec.EventIDHeader); spec.EventIDHeader != "" && id != "" {
		if len(id) > maxEventIDKey {
			idSum := sha256.Sum256([]byte(id))
			id = "sha256:" + hex.EncodeToString(idSum[:])
		}
		keys = append(keys, "id:"+id)
	}
	return keys
}

// maxEventIDKey is the longest event id remembered as sent; a longer one is
// remembered by its hash.
const maxEventIDKey = 200

// firstDelivery remembers a provider webhook under each of its keys and
// reports whether none had been seen. Every key is recorded even after a
// seen one, so that a copy under any of them is recognised later.
func (rc *Receiver) firstDelivery(ctx context.Context, service string, keys []string, now time.Time) (bool, error) {
	first := true
	for _, k := range keys {
		isNew, err := rc.cfg.Store.RecordProviderWebhook(ctx, service, k, now)
		if err != nil {
			return false, err
		}
		first = first && isNew
	}
	return first, nil
}

// withinSkew reports whether a timestamp is within skew of now, on either
// side: a timestamp from the future is refused like a stale one, or a
// captured message dated ahead would stay acceptable for longer.
func withinSkew(now, ts time.Time, skew time.Duration) bool {
	d := now.Sub(ts)
	return d <= skew && d >= -skew
}

// verifyProvider checks a provider webhook's HMAC-SHA256 signature over the
// raw body in the first signature header present, and its timestamp header
// when the provider sends one (within webhookSkew of now, before or after).
// The timestamp is not signed, so it only turns away careless replays;
// copies are caught by content (webhookSeenKeys).
func verifyProvider(spec *aiproxy.JobWebhookSpec, secret string, h http.Header, body []byte, now time.Time) error {
	if spec.TimestampHeader != "" && h.Get(spec.TimestampHeader) != "" {
		sec, err := strconv.ParseInt(h.Get(spec.TimestampHeader), 10, 64)
		if err != nil {
			return errors.New("malformed timestamp")
		}
		if !withinSkew(now, time.Unix(sec, 0), webhookSkew) {
			return errors.New("timestamp outside the replay window")
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, name := range spec.SignatureHeaders {
		got := strings.ToLower(strings.TrimSpace(h.Get(name)))
		if got == "" {
			continue
		}
		got = strings.TrimPrefix(got, "sha256=")
		if hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
		return errors.New("signature mismatch in " + name)
	}
	return errors.New("no signature header")
}
