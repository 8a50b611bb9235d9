package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The headers of an outbound webhook.
const (
	HeaderEventID   = "Aiproxy-Event-Id"
	HeaderEventType = "Aiproxy-Event-Type"
	HeaderTimestamp = "Aiproxy-Timestamp"
	HeaderSignature = "Aiproxy-Signature"
)

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
func (s *Service) CreateWebhook(ctx context.Context, org, rawURL string, events []string) (aiproxy.WebhookEndpoint, string, error) {
	if err := checkWebhookURL(rawURL); err != nil {
		return aiproxy.WebhookEndpoint{}, "", err
	}
	if !s.cfg.AllowPrivateWebhooks {
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
	if s.cfg.Vault == nil {
		return aiproxy.WebhookEndpoint{}, "", errors.New("create webhook: no vault to seal its secret")
	}
	secret := newSecret()
	e := aiproxy.WebhookEndpoint{ID: newID("whe_"), OrgKey: org, URL: rawURL, Events: slices.Compact(slices.Sorted(slices.Values(events))),
		CreatedAt: s.now()}
	sealed, err := s.cfg.Vault.Seal([]byte(secret), e.AAD())
	if err != nil {
		return e, "", fmt.Errorf("seal webhook secret: %w", err)
	}
	e.Sealed = sealed
	err = s.cfg.Store.CreateWebhookEndpoint(ctx, e)
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

// newSecret returns a fresh signing secret: "whsec_" and 32 random bytes.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// Webhooks lists an org's webhook endpoints.
func (s *Service) Webhooks(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error) {
	return s.cfg.Store.WebhookEndpoints(ctx, org)
}

// DeleteWebhook removes an org's webhook endpoint and its pending
// deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, org, id string) error {
	err := s.cfg.Store.DeleteWebhookEndpoint(ctx, org, id)
	if errors.Is(err, aiproxy.ErrNotFound) {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "Webhook endpoint %q not found.", id)
	}
	return err
}

// Deliveries lists an org's webhook deliveries, newest first: the delivery
// log.
func (s *Service) Deliveries(ctx context.Context, f aiproxy.DeliveryFilter) ([]aiproxy.WebhookDelivery, error) {
	return s.cfg.Store.Deliveries(ctx, f)
}

// Sign returns the Aiproxy-Signature value of a body sent at a time:
// "v1=" and the hex HMAC-SHA256, keyed by the endpoint's secret, of the
// unix-seconds timestamp, a dot and the raw body.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// DefaultVerifyTolerance is how far Verify lets a webhook's timestamp be
// from the receiver's clock, in either direction, when given no tolerance.
const DefaultVerifyTolerance = 5 * time.Minute

// Verify checks an outbound webhook as a receiver should: the signature
// over the timestamp and body, and a timestamp within tolerance of now, in
// the past or in the future (a timestamp ahead of the clock is no fresher
// than one behind it: accepting it would stretch a captured delivery's
// replay window). A tolerance of zero or less means
// DefaultVerifyTolerance.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultVerifyTolerance
	}
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("missing or malformed " + HeaderTimestamp)
	}
	ts := time.Unix(sec, 0)
	if !withinSkew(now, ts, tolerance) {
		return errors.New("timestamp outside the tolerance")
	}
	want := Sign(secret, ts, body)
	for _, got := range strings.Split(h.Get(HeaderSignature), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

// DeliverOnce attempts every due delivery once and returns how many it
// attempted. It claims the deliveries in batches with a lease, so that
// replicas sharing the store never send one delivery at once.
func (s *Service) DeliverOnce(ctx context.Context) int {
	total, batch := 0, claimBatch(deliveryConcurrency)
	for range maxClaimRounds {
		now := s.now()
		due, err := s.cfg.Store.ClaimDueDeliveries(ctx, s.cfg.Owner, now, now.Add(s.deliveryLease()), batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim due deliveries", "err", err)
			}
			return total
		}
		s.deliverAll(ctx, due)
		total += len(due)
		if len(due) < batch || ctx.Err() != nil {
			break
		}
	}
	return total
}

// deliverAll attempts claimed deliveries, deliveryConcurrency at a time.
func (s *Service) deliverAll(ctx context.Context, due []aiproxy.WebhookDelivery) {
	sem := make(chan struct{}, deliveryConcurrency)
	var wg sync.WaitGroup
	for _, d := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.deliver(ctx, d)
		})
	}
	wg.Wait()
}

// deliver makes one attempt of a delivery and records its outcome.
func (s *Service) deliver(ctx context.Context, d aiproxy.WebhookDelivery) {
	status, err := s.post(ctx, d)
	now := s.now()
	d.Attempts++
	d.LastStatus, d.UpdatedAt, d.LastError = status, now, ""
	if err != nil {
		// The org reads the delivery log: it gets the reason, the
		// operator's log the detail (addresses, resolver, certificates).
		d.LastError = deliveryReason(err)
		s.log.Warn("webhook delivery attempt failed", "delivery", d.ID, "org", d.OrgKey,
			"endpoint", d.EndpointID, "attempt", d.Attempts, "err", err)
	}
	switch {
	case err == nil:
		d.State, d.DeliveredAt, d.NextAttemptAt = aiproxy.DeliveryDelivered, now, time.Time{}
	case d.Attempts >= s.cfg.MaxDeliveryAttempts:
		d.State, d.NextAttemptAt = aiproxy.DeliveryFailed, time.Time{}
	default:
		wait := min(s.cfg.DeliveryBackoff<<min(d.Attempts-1, 20), maxBackoffDelivery)
		d.NextAttemptAt = now.Add(wait)
	}
	if uerr := s.cfg.Store.UpdateDelivery(ctx, d); uerr != nil {
		s.log.Error("record delivery", "delivery", d.ID, "err", uerr)
	}
}

// post sends a delivery's event to its endpoint, signed. Only a 2xx answer
// counts as delivered.
func (s *Service) post(ctx context.Context, d aiproxy.WebhookDelivery) (int, error) {
	e, err := s.cfg.Store.WebhookEndpoint(ctx, d.OrgKey, d.EndpointID)
	if err != nil {
		return 0, fmt.Errorf("%w: endpoint: %w", errDeliverySetup, err)
	}
	ev, err := s.cfg.Store.JobEvent(ctx, d.EventID)
	if err != nil {
		return 0, fmt.Errorf("%w: event: %w", errDeliverySetup, err)
	}
	if s.cfg.Vault == nil {
		return 0, fmt.Errorf("%w: no vault to open the endpoint's secret", errDeliverySetup)
	}
	secret, err := s.cfg.Vault.Open(e.Sealed, e.AAD())
	if err != nil {
		return 0, fmt.Errorf("%w: open endpoint secret: %w", errDeliverySetup, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(ev.Data))
	if err != nil {
		return 0, fmt.Errorf("%w: build request: %w", errDeliverySetup, err)
	}
	now := s.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aiproxy-webhooks")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(string(secret), now, ev.Data))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, redactURLError(err, e.URL)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errEndpointStatus(resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// redactURLError keeps the endpoint's URL, which may hold a token in its
// query, out of a delivery error's text: the log names the endpoint by id.
func redactURLError(err error, u string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("post endpoint: %w", ue.Err)
	}
	return fmt.Errorf("post: %w", err)
}

// errDeliverySetup marks a delivery that failed inside aiproxy, before
// anything was sent.
var errDeliverySetup = errors.New("prepare delivery")

// errEndpointStatus is an endpoint's answer other than 2xx.
type errEndpointStatus int

func (e errEndpointStatus) Error() string { return fmt.Sprintf("endpoint answered %d", int(e)) }

// deliveryReason is what the delivery log shows an org admin of a failed
// attempt: a reason to act on, without the detail the error may carry —
// the address a name resolved to, the resolver's address, a certificate's
// names — which would map aiproxy's network for anyone who can register a
// URL. The detail goes to the operator's log.
func deliveryReason(err error) string {
	var status errEndpointStatus
	var blocked errBlockedAddr
	var dns *net.DNSError
	var netErr net.Error
	var tlsRecord tls.RecordHeaderError
	var certInvalid *tls.CertificateVerificationError
	var alert tls.AlertError
	switch {
	case errors.As(err, &status):
		return status.Error()
	case errors.Is(err, errDeliverySetup):
		return "aiproxy could not prepare the delivery"
	case errors.As(err, &blocked):
		return "the endpoint's address is loopback, private or link-local: webhooks are not posted there"
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the endpoint's host name was not found"
	case errors.As(err, &dns):
		return "the endpoint's host name could not be resolved"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "the endpoint did not answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the endpoint refused the connection"
	case errors.As(err, &certInvalid), errors.As(err, &tlsRecord), errors.As(err, &alert):
		return "the TLS handshake with the endpoint failed"
	case errors.Is(err, context.Canceled):
		return "the attempt was interrupted"
	}
	return "the post to the endpoint failed"
}
