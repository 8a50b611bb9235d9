package jobs

import (
	"context"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Idempotency returns the hooks that honour an Idempotency-Key on job
// starts: claim the key before the provider call, replay the first answer
// to a repeat, and settle the key with the outcome. Put them before the
// job hooks (hook.go), so that the start hook records the job and
// completes the key in one transaction.
func (s *Service) Idempotency() proxy.Hooks { return idemHooks{s} }

type idemHooks struct{ s *Service }

// Hook claims the endpoints that start jobs.
func (h idemHooks) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	if ep.Job == nil {
		return nil
	}
	return idemHook(h)
}

type idemHook struct{ s *Service }

// Before claims the call's Idempotency-Key, or answers with the first
// request's answer. A provider that honours the key itself (HeyGen v3)
// gets it too, scoped to the org: aiproxy's replay answers repeats before
// they reach the provider, and the provider's covers the window aiproxy
// cannot, a crash after the provider accepted the job and before its
// answer was stored.
func (h idemHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	key := c.Inbound().Get(headerIdempotencyKey)
	if key == "" {
		return nil, nil
	}
	if !jsonEnvelope(c.Endpoint) {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Idempotency-Key is supported only on endpoints that take a JSON envelope.")
	}
	rec, replay, err := h.s.claim(ctx, c.Org, key, c.Service, c.Endpoint, c.Envelope)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return replay.answer(), nil
	}
	c.Idem = &rec
	if c.Endpoint.Job.ForwardIdempotencyKey {
		c.SetUpstreamHeader(headerIdempotencyKey, key)
	}
	return nil, nil
}

// After settles the key: a failed call frees it for a retry, and so does
// an answer that invites one (429, 409, a server error); any other answer
// that the start hook did not already store with its job completes it.
func (h idemHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	rec := c.Idem
	switch {
	case rec == nil:
		return a, err
	case err != nil:
		h.s.release(rec)
		return nil, err
	case rec.State == aiproxy.IdempotencyDone:
		h.s.idemDone(rec.OrgKey, rec.Key)
		return a, nil
	}
	rep, rerr := readReply(a)
	switch {
	case rerr != nil:
		h.s.release(rec)
		return nil, rerr
	case retryable(rep.status):
		h.s.release(rec)
	default:
		rec.State, rec.Status, rec.Body = aiproxy.IdempotencyDone, rep.status, rep.body
		rec.ContentType = rep.header.Get("Content-Type")
		h.s.completeIdem(ctx, rec)
	}
	return a, nil
}
