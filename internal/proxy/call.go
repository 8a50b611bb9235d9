package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Call is one call on its way through the pipeline: the endpoint, the
// client's input, and what the stages learnt of it. Hooks read its exported
// fields and change it only through its methods.
type Call struct {
	Org      string
	Service  *aiproxy.Service
	Endpoint *aiproxy.Endpoint
	// Envelope is the client's input as checked: path parameters, query,
	// headers and body (with a test-only key's test mode applied).
	Envelope Envelope
	// Source is where the credential came from, once resolved.
	Source aiproxy.Source
	// Idem is the Idempotency-Key record a hook claimed for the call, so
	// that the hook that records the call's outcome can complete it in the
	// same transaction; nil when the call has none.
	Idem *aiproxy.IdempotencyRecord

	p        *Proxy
	hooks    []Hook
	inbound  http.Header
	pinned   aiproxy.Source
	resolved bool
	detached bool
	native   bool
	deferred []func()

	secret string
	url    string
	header http.Header
	in     *input

	// What the stages know of a client's call, for metering.
	principal       aiproxy.Principal
	client          bool
	service, action string
	start           time.Time
	rate            aiproxy.RateStatus
	demand          aiproxy.Demand
	spent           bool
	cost            int64
	cacheStatus     string
	status          int
	upstreamStatus  int
	bytes           int64
	errCode         aiproxy.Code
	err             error  // the error the client was answered with, for its detail (meter.go)
	requestID       string // the client request's X-Request-Id

	// A WebSocket call's (socket.go): whether the client asked to upgrade,
	// who charges what it spends, and the lock over demand while it does.
	upgrade  bool
	spenders []func(ctx context.Context, units int64) error
	unitsMu  sync.Mutex
}

// Principal returns who makes a client call; ok is false for a background
// call.
func (c *Call) Principal() (pr aiproxy.Principal, ok bool) { return c.principal, c.client }

// Inbound returns the headers of the client's request (nil for a
// background call). They are the client's, never sent upstream as they are.
func (c *Call) Inbound() http.Header { return c.inbound }

// Pin makes the call use the credential of one source instead of following
// the service's policy.
func (c *Call) Pin(src aiproxy.Source) {
	if c.pinned != src {
		c.pinned, c.resolved = src, false
	}
}

// Resolve resolves the call's credential, once, and returns its source.
func (c *Call) Resolve(ctx context.Context) (aiproxy.Source, error) {
	if c.resolved {
		return c.Source, nil
	}
	secret, src, err := c.p.keys.resolve(ctx, c.Org, c.Service, c.pinned)
	if err != nil {
		return "", err
	}
	c.secret, c.Source, c.resolved = secret, src, true
	return src, nil
}

// SetBody replaces the JSON body sent upstream; Envelope keeps the
// client's.
func (c *Call) SetBody(body json.RawMessage) { c.in.env.Body = body }

// UpstreamBody is the JSON body sent upstream: the client's, or what a hook
// set in its place (a clamped session length, a forced sandbox).
func (c *Call) UpstreamBody() json.RawMessage {
	if c.in == nil {
		return c.Envelope.Body
	}
	return c.in.env.Body
}

// SetUpstreamHeader sets a header of the upstream request. An
// Idempotency-Key is scoped to the org as the client's own is.
func (c *Call) SetUpstreamHeader(name, value string) {
	c.header.Set(name, value)
	if http.CanonicalHeaderKey(name) == "Idempotency-Key" {
		scopeIdempotencyKey(c.header, c.Org, c.principal.User)
	}
}

// SetCost sets what the call cost in micro-USD, for its usage record; the
// hook that prices calls sets it once it knows, and a later call replaces
// an earlier one. As with the endpoint's units, the record keeps it only
// when the provider did what was asked: a call that failed or was answered
// from the cache costs 0 whatever was set. A negative cost is 0.
func (c *Call) SetCost(micros int64) { c.cost = max(micros, 0) }

// Detach lets the provider exchange and the hooks after it finish even if
// the client goes away: once a provider may have started a job, aiproxy
// must learn its id.
func (c *Call) Detach() { c.detached = true }

// Defer runs f when the call has ended, its answer written.
func (c *Call) Defer(f func()) { c.deferred = append(c.deferred, f) }

// AnsweredFromCache says that a hook answered the call from a cache of its
// own (the speech cache) without the provider: the call spends no units or
// cost, and its usage record counts a cache hit.
func (c *Call) AnsweredFromCache() { c.spent, c.cacheStatus = false, "HIT" }

// CredentialDigest is the SHA-256 of the call's resolved credential, never
// the credential itself, for a hook that keeps what it stores apart per
// provider account.
func (c *Call) CredentialDigest() [sha256.Size]byte { return sha256.Sum256([]byte(c.secret)) }

// NewStreamAnswer returns an answer whose body is read as it is written,
// size bytes long (-1 when unknown), and closed once written or dropped: a
// hook's answer from a file is not read whole first.
func NewStreamAnswer(status int, header http.Header, body io.ReadCloser, size int64) *Answer {
	if header == nil {
		header = http.Header{}
	}
	return &Answer{Status: status, Header: header, body: body, size: size, close: func() { body.Close() }}
}

// WrapBody passes the answer's body, as the client gets it (the credential
// redacted), through wrap while it is written or read by Bytes, so that a
// hook can keep a copy of a streaming answer without delaying it.
func (a *Answer) WrapBody(wrap func(io.Reader) io.Reader) {
	if a.body == nil {
		return
	}
	a.body, a.redact = wrap(newRedactReader(a.body, a.redact)), ""
	a.buffered, a.isBuffer = nil, false
}

// context is the context the call's exchange runs in.
func (c *Call) context(ctx context.Context) context.Context {
	if c.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// end releases the client's upload stream, runs the deferred functions and
// meters a client's call.
func (c *Call) end() {
	if c.in != nil {
		c.in.close()
	}
	for i := len(c.deferred) - 1; i >= 0; i-- {
		c.deferred[i]()
	}
	c.p.record(c) // meter.go
}

func (c *Call) outcome() Outcome {
	out := Outcome{Service: c.service, Action: c.action, Source: c.Source}
	if c.Endpoint != nil {
		out.Service, out.Action = c.Service.Slug, c.Endpoint.Slug
	}
	return out
}

// route finds the call's endpoint and reads its input (stages 1 and 2).
func (p *Proxy) route(r *http.Request, c *Call, rt route) error {
	var err error
	if rt.native {
		err = p.in.routeNative(r, c, rt) // native.go
	} else {
		c.Service, c.Endpoint, err = p.in.lookup(rt.service, rt.action)
		if err == nil {
			c.in, err = p.in.readInput(r, c.Endpoint) // request.go
		}
	}
	if err != nil {
		return err
	}
	if c.IsSocket() && !c.upgrade { // before any hook, limit or quota is touched
		return errNotUpgrade(rt.native)
	}
	for _, hs := range p.hooks {
		if h := hs.Hook(c.Endpoint); h != nil {
			c.hooks = append(c.hooks, h)
		}
	}
	return nil
}

func (p *reader) lookup(service, action string) (*aiproxy.Service, *aiproxy.Endpoint, error) {
	svc, ok := p.cfg.Catalog.Service(service)
	if !ok {
		return nil, nil, aiproxy.ErrServiceNotFound(service)
	}
	ep, ok := svc.Endpoint(action)
	if !ok {
		return nil, nil, aiproxy.ErrServiceNotFound(service + "/" + action)
	}
	return svc, ep, nil
}

// build makes the upstream URL and headers (stage 4) and takes the
// client's envelope as checked.
func (p *Proxy) build(c *Call) error {
	target, err := upstreamURL(c.Service, c.Endpoint, c.in.env)
	if err != nil {
		return err
	}
	header, err := requestHeaders(c.Service, c.in.env.Headers)
	if err != nil {
		return err
	}
	scopeIdempotencyKey(header, c.Org, c.principal.User) // idempotency.go
	c.url, c.header, c.Envelope = target, header, c.in.env
	return nil
}

// check checks the body against the endpoint's request_schema (stage 6),
// before anything is spent on the call, and works out what it spends.
func (p *Proxy) check(c *Call) error {
	if c.in.env.Body != nil && (c.Endpoint.RequestSchema != nil || c.Endpoint.Meter == aiproxy.MetricCharacters) {
		if err := checkDuplicateKeys(c.in.env.Body); err != nil { // dupkeys.go
			return err
		}
	}
	if err := checkBody(c.Endpoint, c.in.env); err != nil {
		return err
	}
	if c.client {
		c.demand = demand(c.Endpoint, c.in.env)
	}
	return nil
}
