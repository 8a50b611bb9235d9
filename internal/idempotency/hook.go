package idempotency

import (
	"context"
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// The header that carries an idempotency key, to aiproxy and to providers
// that honour one.
const headerIdempotencyKey = "Idempotency-Key"

// maxAnswer bounds a first answer kept for replays: a job start's answer is
// a small JSON document.
const maxAnswer = 4 << 20

var _ proxy.Hooks = (*Keys)(nil)

// Hook claims the endpoints that start jobs: the key is claimed before the
// provider call, the first answer replayed to a repeat, and the key settled
// with the outcome. Put Keys before the job hooks in the pipeline, so that
// the job hook records the job and completes the key (proxy.Call.Idem) in
// one transaction.
func (k *Keys) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	if ep.Job == nil {
		return nil
	}
	return idemHook{k}
}

type idemHook struct{ k *Keys }

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
	if m := c.Endpoint.RequestMode; m != aiproxy.RequestJSON && m != aiproxy.RequestRaw {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Idempotency-Key is supported only on endpoints that take a JSON envelope.")
	}
	rec, replay, err := h.k.claim(ctx, c.Org, key, c.Service, c.Endpoint, c.Envelope)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return replay, nil
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
		h.k.release(rec)
		return nil, err
	case rec.State == aiproxy.IdempotencyDone:
		h.k.done(rec.OrgKey, rec.Key)
		return a, nil
	}
	body, rerr := a.Bytes(maxAnswer)
	switch {
	case rerr != nil:
		h.k.release(rec)
		return nil, &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: rerr}
	case retryable(a.Status):
		h.k.release(rec)
	default:
		rec.State, rec.Status, rec.Body = aiproxy.IdempotencyDone, a.Status, body
		rec.ContentType = a.Header.Get("Content-Type")
		h.k.complete(ctx, rec)
	}
	return a, nil
}

// retryable reports whether a provider status invites the same request
// again, so that the key that got it is released rather than pinned to it:
// 429, a server error, or a 409 (HeyGen v3's request_in_progress, a
// conflict with a request still in flight).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusConflict || status >= 500
}
