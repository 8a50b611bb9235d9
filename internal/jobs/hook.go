package jobs

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Jobs ride the proxy's pipeline as hooks (proxy/pipeline.go), so that
// reading the request, access, limits, credentials, sending and metering
// exist only there. The catalog says which endpoints they claim: a job
// block marks an endpoint that starts a job, a job_status block one that
// reads its status. Wire them as
//
//	invoker := p.WithHooks(jobs.Idempotency(), jobs)
//
// so that an Idempotency-Key is settled around the job start.

var _ proxy.Hooks = (*Service)(nil)

// Hook gives the hook of an endpoint that starts a job or reads its
// status, and nil for any other.
func (s *Service) Hook(ep *aiproxy.Endpoint) proxy.Hook {
	switch {
	case ep.Job != nil:
		return startHook{s}
	case ep.JobStatus != nil:
		return statusHook{s}
	}
	return nil
}

// startHook records the job a start begins.
type startHook struct{ s *Service }

// Before detaches the start from the client (once the provider may have
// started a job, aiproxy must learn its id), claims room under the
// running-job caps, and adds aiproxy's callback URL to a JSON body.
func (h startHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	c.Detach()
	if _, err := c.Resolve(ctx); err != nil {
		return nil, err
	}
	free, err := h.s.claimRunSlot(ctx, c) // runcap.go
	if err != nil {
		return nil, err
	}
	c.Defer(free)
	if jsonEnvelope(c.Endpoint) {
		c.SetBody(h.s.withCallbackURL(c.Service, c.Endpoint, c.Envelope.Body))
	}
	return nil, nil
}

// After reads the provider's answer and records the job it started before
// the client sees the answer; a start the store could not keep is a 503
// instead (start.go).
func (h startHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	if err != nil {
		return nil, err
	}
	rep, err := readReply(a)
	if err != nil {
		return nil, err
	}
	if err := h.s.record(ctx, c, rep); err != nil { // start.go
		return nil, err
	}
	return a, nil
}

// statusHook answers status reads of the jobs aiproxy knows.
type statusHook struct{ s *Service }

// Before answers a status call for a job of the caller's org from the
// store or one shared provider read with the job's own credential; another
// org's job is the contract's 404 without a provider call. An id aiproxy
// never saw goes to the provider with the org's own (tenant) credential
// only, since with the shared platform key it could belong to anyone.
func (h statusHook) Before(ctx context.Context, c *proxy.Call) (*proxy.Answer, error) {
	s, svc, ep := h.s, c.Service, c.Endpoint
	id := providerID(ep.JobStatus.IDParam, c.Envelope)
	if id == "" {
		return nil, nil
	}
	j, err := s.cfg.Store.JobByProviderID(ctx, svc.Slug, id)
	switch {
	case errors.Is(err, aiproxy.ErrNotFound):
		if !svc.CredentialPolicy.AllowTenantKey {
			return nil, errJobNotFound(svc.Slug, id)
		}
		c.Pin(aiproxy.SourceTenant)
		return nil, nil
	case err != nil:
		return nil, err
	case j.OrgKey != c.Org:
		return nil, errJobNotFound(svc.Slug, id)
	case j.StatusAction != ep.Slug:
		// Another status endpoint of the service: answer it from the
		// provider, but still with the job's own credential.
		c.Pin(j.Source)
		c.PinKey(j.CredentialKeyID)
		return nil, nil
	}
	return s.answerStatus(ctx, c, j)
}

// After turns the tenant credential's absence, for an id aiproxy never
// saw, into the job's 404.
func (h statusHook) After(ctx context.Context, c *proxy.Call, a *proxy.Answer, err error) (*proxy.Answer, error) {
	if aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		return a, err
	}
	id := providerID(c.Endpoint.JobStatus.IDParam, c.Envelope)
	if _, lerr := h.s.cfg.Store.JobByProviderID(ctx, c.Service.Slug, id); errors.Is(lerr, aiproxy.ErrNotFound) {
		return nil, errJobNotFound(c.Service.Slug, id)
	}
	return a, err
}

// answerStatus answers a status call for a job of the caller's org,
// waiting first when the client asked to ("Prefer: wait=N").
func (s *Service) answerStatus(ctx context.Context, c *proxy.Call, j aiproxy.Job) (*proxy.Answer, error) {
	applied := ""
	if wait := preferWait(c.Inbound().Get("Prefer")); wait > 0 {
		if waited, err := s.WaitJob(ctx, c.Org, j.ID, "", wait); err == nil {
			j = waited
			// RFC 7240: tells clients (clients/js, client/) that the server
			// long-polls, so they need not sleep between status calls.
			applied = "wait=" + strconv.Itoa(int(wait/time.Second))
		}
	}
	rep, polled, err := s.tr.statusFor(ctx, j, false) // status.go
	c.Source = j.Source
	if err != nil {
		return nil, err
	}
	a := rep.answer()
	if polled {
		a.Upstream = rep.status
	}
	if applied != "" {
		a.Header.Set("Preference-Applied", applied)
	}
	return a, nil
}

// jsonEnvelope reports whether an endpoint's envelope is plain JSON, whose
// body a hook may read and change; multipart and binary uploads stream.
func jsonEnvelope(ep *aiproxy.Endpoint) bool {
	return ep.RequestMode == aiproxy.RequestJSON || ep.RequestMode == aiproxy.RequestRaw
}
