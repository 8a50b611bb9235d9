package proxy

import (
	"context"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// MaxFetched bounds an answer that Fetch reads whole: a status document or
// a list, never media.
const MaxFetched = 32 << 20

// Fetch makes a background call that no client request carries, such as a
// job's status read or a cache refresh, and returns its answer read whole.
// It runs the pipeline's build, credential, send and answer stages, with
// the guardrails that protect providers (concurrency, breaker, retries)
// but no client's access rules, rate limits, quota, hooks or metering. A
// non-empty source pins the credential to the one that source holds,
// instead of following the service's policy; a context from
// WithCredentialKey pins the key of that credential's pool too, such as
// the key that started the job whose status it reads.
func (p *Proxy) Fetch(ctx context.Context, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint, env Envelope, source aiproxy.Source) (*Answer, error) {
	c := &Call{Org: org, Service: svc, Endpoint: ep, Envelope: env, in: &input{env: env}, p: p,
		pinned: source, start: p.now()}
	if err := p.build(c); err != nil {
		return nil, err
	}
	if err := p.check(c); err != nil {
		return nil, err
	}
	if _, err := c.Resolve(ctx); err != nil {
		return nil, err
	}
	resp, err := p.up.exchangeCall(ctx, c)
	if err != nil {
		return nil, err
	}
	a, err := p.up.answer(ctx, c, resp)
	if err != nil {
		return nil, err
	}
	if _, err := a.Bytes(MaxFetched); err != nil {
		return nil, internal("read "+ep.Slug+" answer", redactErr(err, c.secret))
	}
	return a, nil
}
