package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// webhookSkew is how far a provider webhook's timestamp may be from
// aiproxy's clock.
const webhookSkew = 5 * time.Minute

// ReceiveWebhook handles a provider's job webhook: it checks the signature
// (and timestamp, when sent), ignores duplicates and events about jobs
// aiproxy does not know, and otherwise reads the job's status at once, so
// that the stored status body stays the provider's own. A webhook only
// hastens what polling would find; polling remains the fallback when
// webhooks are lost.
func (s *Service) ReceiveWebhook(ctx context.Context, service string, h http.Header, body []byte) error {
	svc, ok := s.cfg.Catalog.Service(service)
	secret := s.cfg.ProviderSecrets[service]
	if !ok || svc.JobWebhook == nil || secret == "" {
		return aiproxy.Errorf(aiproxy.CodeNotFound, "No webhook receiver for external proxy service '%s'.", service)
	}
	spec := svc.JobWebhook
	now := s.now()
	if err := verifyProvider(spec, secret, h, body, now); err != nil {
		return &aiproxy.Error{Code: aiproxy.CodeUnauthenticated, Message: "Invalid webhook signature.", Err: err}
	}
	doc, ok := decodeDoc(body)
	if !ok {
		return aiproxy.Errorf(aiproxy.CodeInvalid, "The webhook body is not JSON.")
	}
	eventType := lookupString(doc, spec.EventTypePath)
	if _, concerns := spec.Events[eventType]; !concerns {
		return nil
	}
	eventID := h.Get(spec.EventIDHeader)
	if spec.EventIDHeader == "" || eventID == "" {
		sum := sha256.Sum256(body)
		eventID = "sha256:" + hex.EncodeToString(sum[:])
	}
	first, err := s.cfg.Store.RecordProviderWebhook(ctx, service, eventID, now)
	if err != nil || !first {
		return err
	}
	j, err := s.cfg.Store.JobByProviderID(ctx, service, lookupString(doc, spec.IDPath))
	if errors.Is(err, aiproxy.ErrNotFound) {
		return nil // Not a job aiproxy started: nothing to update.
	}
	if err != nil {
		return err
	}
	if _, st, ok := s.statusSpec(j); ok && st.States[j.ProviderStatus].Terminal() {
		return nil
	}
	s.log.Info("provider webhook", "service", service, "event", eventType, "job", j.ID)
	if _, err := s.refresh(ctx, j.ID, true); err != nil {
		s.log.Warn("read status after webhook", "job", j.ID, "err", err)
	}
	return nil
}

// verifyProvider checks a provider webhook's HMAC-SHA256 signature over the
// raw body in the first signature header present, and its timestamp header
// when the provider sends one.
func verifyProvider(spec *aiproxy.JobWebhookSpec, secret string, h http.Header, body []byte, now time.Time) error {
	if spec.TimestampHeader != "" && h.Get(spec.TimestampHeader) != "" {
		sec, err := strconv.ParseInt(h.Get(spec.TimestampHeader), 10, 64)
		if err != nil {
			return errors.New("malformed timestamp")
		}
		if d := now.Sub(time.Unix(sec, 0)); d > webhookSkew || d < -webhookSkew {
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
