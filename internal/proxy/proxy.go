package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// Catalog finds an enabled service by slug.
type Catalog interface {
	Service(slug string) (*aiproxy.Service, bool)
}

// CredentialReader reads one sealed credential.
type CredentialReader interface {
	Credential(ctx context.Context, src aiproxy.Source, orgKey, name string) (aiproxy.Credential, error)
}

// Opener opens sealed credentials.
type Opener interface {
	Open(sealed, aad []byte) ([]byte, error)
}

// Config configures a Proxy. Zero values mean the stated defaults.
type Config struct {
	Catalog     Catalog
	Credentials CredentialReader
	Vault       Opener
	// Transport sends upstream requests; nil means a tuned http.Transport
	// that never uses an environment proxy and never compresses.
	Transport http.RoundTripper
	// Logger receives one line per failed upstream exchange; nil discards.
	Logger *slog.Logger
	// MaxEnvelopeBytes caps a JSON envelope and each multipart envelope
	// field; 0 means 10 MiB.
	MaxEnvelopeBytes int64
	// MaxBodyBytes caps a multipart upload; 0 means DefaultMaxBodyBytes.
	// An endpoint's max_body_bytes overrides both limits.
	MaxBodyBytes int64
	// UserAgent is sent upstream; "" means "aiproxy".
	UserAgent string
	// CredentialTTL is how long an opened credential is reused before it
	// is read from the store again (credcache.go); 0 turns the cache off,
	// so that every call reads the store. Whoever changes credentials in
	// this process must call ForgetCredential.
	CredentialTTL time.Duration

	// The guardrails (guard.go); a nil one is off.
	Access      AccessChecker
	RateLimit   RateLimiter
	Concurrency ConcurrencyLimiter
	Quotas      QuotaReserver
	Breaker     Breaker
	Cache       ResponseCache
	Meter       Meter
	// Retry repeats retry-safe calls; the zero value never retries.
	Retry RetryPolicy
	// CacheStale is how long past its TTL a cached answer may still be
	// served while it is refreshed; 0 means never.
	CacheStale time.Duration
	// Now is the clock of the guardrails; nil means time.Now.
	Now func() time.Time
}

// Proxy performs invoke calls. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	creds  credCache
}

// New returns a Proxy for a configuration.
func New(cfg Config) *Proxy {
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	if cfg.MaxEnvelopeBytes <= 0 {
		cfg.MaxEnvelopeBytes = 10 << 20
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "aiproxy"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{
		Transport: cfg.Transport,
		// Redirects are never followed: the catalog fixes the hosts aiproxy
		// talks to, and a redirect could lead the credential elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Proxy{cfg: cfg, client: client, log: log}
}

// NewTransport returns the default upstream transport. It keeps up to 512
// idle connections per provider host (as the benchmark's nginx does), so
// that a burst of calls above the steady level does not dial and close a
// connection per call once the burst passes the pool.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Outcome describes a finished invoke call, for logs and metrics.
type Outcome struct {
	Service, Action string
	Source          aiproxy.Source
	UpstreamStatus  int
	// Status is what the client was sent.
	Status int
	// Bytes counts the response body bytes written to the client.
	Bytes int64
	// Err is a failure after the response had started (a cut stream).
	Err error
}

// ErrClientGone reports that the client went away before the answer.
var ErrClientGone = errors.New("client closed request")

var errUpstreamTimeout = errors.New("upstream timeout")

// Invoke performs one invoke call for an org: Prepare, Send, Respond. It
// returns an error, for the caller to render, only when nothing has been
// written to w yet.
func (p *Proxy) Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (Outcome, error) {
	start := p.now()
	c, err := p.Prepare(r, org, service, action)
	if err != nil {
		return p.Refuse(w, r, org, service, action, start, err) // meter.go
	}
	defer c.Close()
	setRateHeaders(w.Header(), c.rate)
	if c.Endpoint.CacheTTLSeconds > 0 && p.cfg.Cache != nil {
		return c.finish(p.respondCached(w, r, c))
	}
	return p.forward(w, r, c)
}

// Call is one prepared upstream call: the endpoint, the client's input and
// the resolved credential. Close it when done.
type Call struct {
	Org      string
	Service  *aiproxy.Service
	Endpoint *aiproxy.Endpoint
	Envelope Envelope
	// Source is where the credential came from.
	Source aiproxy.Source

	secret string
	url    string
	header http.Header
	in     *input

	// What the guardrails know of a client's call, for metering.
	p              *Proxy
	metered        bool
	keyID          string
	start          time.Time
	rate           aiproxy.RateStatus
	demand         aiproxy.Demand
	spent          bool
	cacheStatus    string
	status         int
	upstreamStatus int
	bytes          int64
	errCode        aiproxy.Code
}

// Close releases the client's upload stream, if any, and meters a client's
// call.
func (c *Call) Close() {
	c.in.close()
	c.p.record(c)
}

// finish notes how a call ended, for metering.
func (c *Call) finish(out Outcome, err error) (Outcome, error) {
	c.status, c.bytes = out.Status, out.Bytes
	if err != nil {
		c.errCode = errorCode(err)
	}
	return out, err
}

func (c *Call) outcome() Outcome {
	return Outcome{Service: c.Service.Slug, Action: c.Endpoint.Slug, Source: c.Source}
}

// Prepare reads and checks an invoke request and resolves its credential by
// the service's policy. Cheap checks come first: the endpoint, the envelope,
// the path and headers, and only then the credential store.
func (p *Proxy) Prepare(r *http.Request, org, service, action string) (*Call, error) {
	svc, ep, err := p.lookup(service, action)
	if err != nil {
		return nil, err
	}
	in, err := p.readInput(r, ep)
	if err != nil {
		return nil, err
	}
	c, err := p.prepare(r.Context(), org, svc, ep, in, "")
	if err != nil {
		in.close()
	}
	return c, err
}

// NewCall prepares a call that no client request carries, such as a
// background status poll. A non-empty source pins the credential to the one
// that source holds, instead of following the policy.
func (p *Proxy) NewCall(ctx context.Context, org, service, action string, env Envelope, source aiproxy.Source) (*Call, error) {
	svc, ep, err := p.lookup(service, action)
	if err != nil {
		return nil, err
	}
	return p.prepare(ctx, org, svc, ep, &input{env: env}, source)
}

func (p *Proxy) prepare(ctx context.Context, org string, svc *aiproxy.Service, ep *aiproxy.Endpoint, in *input, source aiproxy.Source) (*Call, error) {
	pr, client := aiproxy.PrincipalFrom(ctx)
	var rate aiproxy.RateStatus
	if client {
		var err error
		if rate, err = p.admit(ctx, org, pr, svc, ep); err != nil {
			return nil, err
		}
		if err := applyTestMode(pr, ep, &in.env); err != nil {
			return nil, err
		}
	}
	target, err := upstreamURL(svc, ep, in.env)
	if err != nil {
		return nil, err
	}
	header, err := requestHeaders(svc, in.env.Headers)
	if err != nil {
		return nil, err
	}
	scopeIdempotencyKey(header, org) // idempotency.go
	// The body's request_schema, last of the cheap checks (schema.go).
	if err := checkBody(ep, in.env); err != nil {
		return nil, err
	}
	secret, src, err := p.resolve(ctx, org, svc, source)
	if err != nil {
		return nil, err
	}
	c := &Call{Org: org, Service: svc, Endpoint: ep, Envelope: in.env, Source: src,
		secret: secret, url: target, header: header, in: in, p: p, start: p.now()}
	if client {
		c.metered, c.keyID, c.rate, c.demand = true, pr.KeyID, rate, demand(ep, in.env)
	}
	return c, nil
}

func (p *Proxy) lookup(service, action string) (*aiproxy.Service, *aiproxy.Endpoint, error) {
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

// Response is a provider's answer whose body is still to be read. Reading
// it is bounded by the endpoint's timeout between bytes. Close it when done.
type Response struct {
	*http.Response
	stop func()
	// BodyError is set when a 200 answer carries the provider's error
	// envelope (HeyGen's "200 with an error body").
	BodyError bool
}

// Close closes the body and ends the exchange.
func (r *Response) Close() {
	r.Body.Close()
	r.stop()
}

// ok reports whether the provider did what was asked.
func (r *Response) ok() bool { return r.StatusCode < 400 && !r.BodyError }

// Send performs the upstream exchange of a call. The endpoint's timeout
// bounds the wait for the response head and each silence after it, never a
// long but healthy stream. Failures come back mapped by cause.
//
// The guardrails apply here, so that background calls get them too: the
// call's quota is held, then a concurrency slot and the breaker's
// permission; a retry-safe call is repeated after a transient failure. The
// slot is held until the Response is closed.
func (p *Proxy) Send(ctx context.Context, c *Call) (*Response, error) {
	release, err := p.hold(ctx, c)
	if err != nil {
		c.errCode = errorCode(err)
		return nil, err
	}
	timeout := time.Duration(c.Endpoint.Timeout(c.Service)) * time.Second
	xctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(timeout, func() { cancel(errUpstreamTimeout) })
	stop := func() { timer.Stop(); cancel(nil) }

	resp, bodyErr, err := p.exchange(xctx, c, time.Now().Add(timeout))
	if err != nil {
		err = p.upstreamError(ctx, xctx, c, err)
		stop()
		release(false, errors.Is(err, ErrClientGone))
		c.errCode = errorCode(err)
		return nil, err
	}
	c.upstreamStatus = resp.StatusCode
	resp.Body = &idleReader{r: resp.Body, timer: timer, timeout: timeout}
	r := &Response{Response: resp, BodyError: bodyErr}
	c.spent = r.ok()
	r.stop = func() { stop(); release(r.ok(), resp.StatusCode < 500 && !bodyErr) }
	return r, nil
}

// exchange sends the call upstream, repeating a retry-safe call after a
// connection error, a 429, 502, 503 or 504, or an error in a 200 body,
// while the deadline allows the backoff.
func (p *Proxy) exchange(ctx context.Context, c *Call, deadline time.Time) (*http.Response, bool, error) {
	for attempt := 1; ; attempt++ {
		resp, err := p.attempt(ctx, c)
		bodyErr := err == nil && inspectBody(c.Service.Upstream.ErrorEnvelope, resp)
		wait, again := p.retryAfter(c, attempt, resp, bodyErr, err)
		if !again || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return resp, bodyErr, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}

// attempt performs one upstream exchange.
func (p *Proxy) attempt(ctx context.Context, c *Call) (*http.Response, error) {
	body, contentType := c.in.upstreamBody(c.Endpoint)
	req, err := http.NewRequestWithContext(withUpstreamCall(ctx, c), c.Endpoint.HTTPMethod, c.url, body)
	if err != nil {
		return nil, internal("build upstream request", err)
	}
	req.Header = c.header.Clone()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	req.Header.Set(c.Service.Upstream.AuthHeader, c.Service.Upstream.AuthPrefix+c.secret)
	return p.client.Do(req)
}

// retryAfter says whether and after how long a failed attempt is repeated.
func (p *Proxy) retryAfter(c *Call, attempt int, resp *http.Response, bodyErr bool, err error) (time.Duration, bool) {
	rp := p.cfg.Retry
	if !c.Endpoint.RetrySafe || c.Endpoint.StartsJob() || attempt >= rp.Attempts {
		return 0, false
	}
	wait := rp.backoff(attempt)
	switch {
	case err != nil:
		var ae *aiproxy.Error
		return wait, !errors.As(err, &ae) // a connection error, not our own
	case bodyErr:
		return wait, true
	case resp.StatusCode == http.StatusTooManyRequests:
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			return max(ra, wait), ra <= rp.maxRetryAfter()
		}
		return wait, true
	}
	code := resp.StatusCode
	return wait, code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// parseRetryAfter reads a Retry-After header given in seconds.
func parseRetryAfter(v string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// upstreamError maps a failed exchange to an error by its cause.
func (p *Proxy) upstreamError(ctx, xctx context.Context, c *Call, err error) error {
	switch {
	case ctx.Err() != nil:
		return ErrClientGone
	case errors.Is(context.Cause(xctx), errUpstreamTimeout):
		p.log.WarnContext(ctx, "upstream timeout", "service", c.Service.Slug, "action", c.Endpoint.Slug)
		return &aiproxy.Error{Code: aiproxy.CodeUpstreamTimeout, Message: aiproxy.MsgUpstreamTimeout, Err: err}
	case c.in.err() != nil:
		return c.in.err()
	}
	err = redactErr(err, c.secret)
	p.log.WarnContext(ctx, "upstream request failed", "service", c.Service.Slug, "action", c.Endpoint.Slug, "err", err)
	return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: err}
}

// idleReader cancels the exchange when no body byte arrives for timeout.
type idleReader struct {
	r       io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.timeout)
	}
	return n, err
}

func (i *idleReader) Close() error { return i.r.Close() }

func internal(what string, err error) error {
	return &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "Internal server error.", Err: errors.New(what + ": " + err.Error())}
}
