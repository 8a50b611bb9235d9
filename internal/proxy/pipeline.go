package proxy

import (
	"context"
	"errors"
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// The pipeline. Every client call, invoke or native, runs these stages in
// this order, each in one place:
//
//  1. route: the endpoint is looked up once (by action, or by method and
//     path for native calls) and travels as a typed value from here on;
//  2. read: the envelope (or native body) is read within the endpoint's
//     body limits (request.go, native.go);
//  3. access: the org's access rules and a test-only key's rules (guard.go);
//  4. build: the upstream URL and the allowed headers (call.go);
//  5. hooks, before: each hook that claims the endpoint may answer the call
//     itself (a job status from the store, an idempotent replay), refuse it
//     (another org's job, a reused Idempotency-Key, a running-job cap), or
//     adjust it (pin the credential source, add a callback URL, detach the
//     call from the client);
//  6. check: the body against the endpoint's request_schema (schema.go);
//  7. limits: the rate limits (guard.go);
//  8. credential: resolved by the service's policy, or the pinned source;
//  9. send: quota, concurrency slot and breaker, then the exchange with
//     retries (send.go), or the response cache for invoke calls
//     (cached.go);
//  10. answer: the provider's response becomes an Answer value, its errors
//     mapped by cause (response.go);
//  11. hooks, after: innermost first, each sees the answer or the error
//     (record the job it started, settle an idempotency key);
//  12. write: the answer is written to the client (answer.go);
//  13. meter: one usage record per call, refused or not (meter.go).
//
// A hook's answer skips stages 6 to 10: it reaches no provider.

// Hook extends the pipeline for one endpoint. Before runs once the call is
// read, admitted and checked, before its credential is resolved: a non-nil
// Answer or error ends the call there, without a provider call. After runs
// when the call has an answer or an error, if Before let the call go on; it
// returns what the client gets. After runs with the call's context, which
// no longer ends with the client's request once a hook has detached it.
type Hook interface {
	Before(ctx context.Context, c *Call) (*Answer, error)
	After(ctx context.Context, c *Call, a *Answer, err error) (*Answer, error)
}

// Hooks gives the hook for an endpoint, or nil when it has none.
type Hooks interface {
	Hook(ep *aiproxy.Endpoint) Hook
}

// route names the endpoint of a client request: a service's action for
// invoke calls, a method and path for native ones.
type route struct {
	service, action string
	native          bool
	path            string
}

// Invoke performs one invoke call for an org through the pipeline. It
// returns an error, for the caller to render, only when nothing has been
// written to w yet.
func (p *Proxy) Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (Outcome, error) {
	return p.serve(w, r, org, route{service: service, action: action})
}

// InvokeNative performs one native passthrough call: a request written in
// the provider's own shape (method, path, query, body), as an official SDK
// sends it. The path is matched against the service's catalog endpoints and
// the call then runs the same pipeline as Invoke.
func (p *Proxy) InvokeNative(w http.ResponseWriter, r *http.Request, org, service, path string) (Outcome, error) {
	return p.serve(w, r, org, route{service: service, native: true, path: path})
}

// serve runs the pipeline for one client request.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, org string, rt route) (Outcome, error) {
	c := &Call{Org: org, p: p, start: p.now(), inbound: r.Header, service: rt.service, action: rt.action, native: rt.native,
		requestID: aiproxy.RequestIDFrom(r.Context())}
	c.principal, c.client = aiproxy.PrincipalFrom(r.Context())
	c.upgrade = IsUpgrade(r)
	defer c.end()
	a, err := p.run(r, c, rt)
	out, err := p.write(w, r, c, a, err)
	c.status, c.bytes = out.Status, out.Bytes
	if err != nil {
		c.errCode, c.err = errorCode(err), err
	}
	return out, err
}

// run performs stages 1 to 11 and returns the answer or the error.
func (p *Proxy) run(r *http.Request, c *Call, rt route) (*Answer, error) {
	ctx := r.Context()
	if err := p.route(r, c, rt); err != nil {
		return nil, err
	}
	if err := p.access(ctx, c); err != nil {
		return nil, err
	}
	if err := p.build(c); err != nil {
		return nil, err
	}
	return p.hooked(ctx, c, 0)
}

// hooked runs the call's hooks from the i-th inward, then checks, limits
// and sends the call.
func (p *Proxy) hooked(ctx context.Context, c *Call, i int) (*Answer, error) {
	if i == len(c.hooks) {
		if err := p.check(c); err != nil {
			return nil, err
		}
		if err := p.limit(ctx, c); err != nil {
			return nil, err
		}
		return p.send(ctx, c)
	}
	h := c.hooks[i]
	a, err := h.Before(ctx, c)
	if a != nil || err != nil {
		return a, err
	}
	a, err = p.hooked(ctx, c, i+1)
	return h.After(c.context(ctx), c, a, err)
}

// send resolves the call's credential and answers it from the response
// cache or the provider.
func (p *Proxy) send(ctx context.Context, c *Call) (*Answer, error) {
	if _, err := c.Resolve(ctx); err != nil {
		return nil, err
	}
	ctx = c.context(ctx)
	if c.IsSocket() {
		return p.up.openSocket(ctx, c) // socket.go
	}
	if c.Endpoint.CacheTTLSeconds > 0 && p.cfg.Cache != nil && !c.native {
		return p.up.cached(ctx, c) // cached.go; keyed on envelopes, so invoke's alone
	}
	resp, err := p.up.exchangeCall(ctx, c) // send.go
	if err != nil {
		return nil, err
	}
	return p.up.answer(ctx, c, resp) // response.go
}

// write sends the answer, or returns the error for the caller to render
// with the rate-limit headers already set.
func (p *Proxy) write(w http.ResponseWriter, r *http.Request, c *Call, a *Answer, err error) (Outcome, error) {
	out := c.outcome()
	if err != nil {
		out.UpstreamStatus = c.upstreamStatus
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			c.rate = rl.Status
		}
		setRateHeaders(w.Header(), c.rate)
		return out, err
	}
	defer a.Close()
	setRateHeaders(w.Header(), c.rate)
	out.Status, out.UpstreamStatus = a.Status, a.Upstream
	var n int64
	var werr error
	if a.socket != nil {
		n, werr = a.socket(w, r) // socket_relay.go
	} else {
		n, werr = a.write(w)
	}
	out.Bytes = n
	if werr != nil {
		out.Err = p.up.cutStream(r, c, werr)
	}
	return out, nil
}
