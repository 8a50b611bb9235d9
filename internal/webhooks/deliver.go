package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/egress"
)

// maxClaimRounds bounds one delivery pass.
const maxClaimRounds = 64

// DeliverOnce attempts every due delivery once and returns how many it
// attempted. It claims the deliveries in batches with a lease, so that
// replicas sharing the store never send one delivery at once.
func (o *Outbox) DeliverOnce(ctx context.Context) int {
	total, batch := 0, 4*deliveryConcurrency
	for range maxClaimRounds {
		now := o.now()
		due, err := o.cfg.Store.ClaimDueDeliveries(ctx, o.cfg.Owner, now, now.Add(o.lease()), batch)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("claim due deliveries", "err", err)
			}
			return total
		}
		o.deliverAll(ctx, due)
		total += len(due)
		if len(due) < batch || ctx.Err() != nil {
			break
		}
	}
	return total
}

// deliverAll attempts claimed deliveries, deliveryConcurrency at a time.
func (o *Outbox) deliverAll(ctx context.Context, due []aiproxy.WebhookDelivery) {
	sem := make(chan struct{}, deliveryConcurrency)
	var wg sync.WaitGroup
	for _, d := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o.deliver(ctx, d)
		})
	}
	wg.Wait()
}

// deliver makes one attempt of a delivery and records its outcome.
func (o *Outbox) deliver(ctx context.Context, d aiproxy.WebhookDelivery) {
	status, err := o.post(ctx, d)
	now := o.now()
	d.Attempts++
	d.LastStatus, d.UpdatedAt, d.LastError = status, now, ""
	if err != nil {
		// The org reads the delivery log: it gets the reason, the
		// operator's log the detail (addresses, resolver, certificates).
		d.LastError = deliveryReason(err)
		o.log.Warn("webhook delivery attempt failed", "delivery", d.ID, "org", d.OrgKey,
			"endpoint", d.EndpointID, "attempt", d.Attempts, "err", err)
	}
	switch {
	case err == nil:
		d.State, d.DeliveredAt, d.NextAttemptAt = aiproxy.DeliveryDelivered, now, time.Time{}
	case d.Attempts >= o.cfg.MaxAttempts:
		d.State, d.NextAttemptAt = aiproxy.DeliveryFailed, time.Time{}
	default:
		wait := min(o.cfg.Backoff<<min(d.Attempts-1, 20), maxBackoffDelivery)
		d.NextAttemptAt = now.Add(wait)
	}
	if uerr := o.cfg.Store.UpdateDelivery(ctx, d); uerr != nil {
		o.log.Error("record delivery", "delivery", d.ID, "err", uerr)
	}
}

// post sends a delivery's event to its endpoint, signed. Only a 2xx answer
// counts as delivered.
func (o *Outbox) post(ctx context.Context, d aiproxy.WebhookDelivery) (int, error) {
	e, err := o.cfg.Store.WebhookEndpoint(ctx, d.OrgKey, d.EndpointID)
	if err != nil {
		return 0, fmt.Errorf("%w: endpoint: %w", errDeliverySetup, err)
	}
	ev, err := o.cfg.Store.JobEvent(ctx, d.EventID)
	if err != nil {
		return 0, fmt.Errorf("%w: event: %w", errDeliverySetup, err)
	}
	if o.cfg.Vault == nil {
		return 0, fmt.Errorf("%w: no vault to open the endpoint's secret", errDeliverySetup)
	}
	secret, err := o.cfg.Vault.Open(e.Sealed, e.AAD())
	if err != nil {
		return 0, fmt.Errorf("%w: open endpoint secret: %w", errDeliverySetup, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(ev.Data))
	if err != nil {
		return 0, fmt.Errorf("%w: build request: %w", errDeliverySetup, err)
	}
	now := o.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aiproxy-webhooks")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	standard, err := SignStandard(string(secret), ev.ID, now, ev.Data)
	if err != nil {
		return 0, fmt.Errorf("%w: sign: %w", errDeliverySetup, err)
	}
	req.Header.Set(HeaderWebhookID, ev.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderWebhookSignature, standard)
	// The Aiproxy-* signature stays while receivers move to the standard
	// one (docs/jobs.md).
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(string(secret), now, ev.Data))
	resp, err := o.client.Do(req)
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
	var blocked egress.BlockedError
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
