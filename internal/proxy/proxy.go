package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	// UserAgent is sent upstream; "" means "aiproxy".
	UserAgent string
}

// Proxy performs invoke calls. It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
}

// New returns a Proxy for a configuration.
func New(cfg Config) *Proxy {
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	if cfg.MaxEnvelopeBytes <= 0 {
		cfg.MaxEnvelopeBytes = 10 << 20
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

// NewTransport returns the default upstream transport.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
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

// Invoke performs one invoke call for an org. It returns an error, for the
// caller to render, only when nothing has been written to w yet.
func (p *Proxy) Invoke(w http.ResponseWriter, r *http.Request, org, service, action string) (Outcome, error) {
	out := Outcome{Service: service, Action: action}
	svc, ep, err := p.lookup(service, action)
	if err != nil {
		return out, err
	}
	in, err := p.readInput(r, ep)
	if err != nil {
		return out, err
	}
	defer in.close()
	target, err := upstreamURL(svc, ep, in.env)
	if err != nil {
		return out, err
	}
	header, err := requestHeaders(svc, in.env.Headers)
	if err != nil {
		return out, err
	}
	secret, src, err := p.resolve(r.Context(), org, svc)
	if err != nil {
		return out, err
	}
	out.Source = src
	return p.exchange(w, r, exchange{svc: svc, ep: ep, url: target, header: header, in: in, secret: secret}, out)
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

type exchange struct {
	svc    *aiproxy.Service
	ep     *aiproxy.Endpoint
	url    string
	header http.Header
	in     *input
	secret string
}

func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, x exchange, out Outcome) (Outcome, error) {
	timeout := time.Duration(x.ep.Timeout(x.svc)) * time.Second
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	timer := time.AfterFunc(timeout, func() { cancel(errUpstreamTimeout) })
	defer timer.Stop()

	body, contentType := x.in.upstreamBody(x.ep)
	req, err := http.NewRequestWithContext(ctx, x.ep.HTTPMethod, x.url, body)
	if err != nil {
		return out, internal("build upstream request", err)
	}
	req.Header = x.header
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	req.Header.Set(x.svc.Upstream.AuthHeader, x.svc.Upstream.AuthPrefix+x.secret)

	resp, err := p.client.Do(req)
	if err != nil {
		return out, p.upstreamError(ctx, r, x, err)
	}
	defer resp.Body.Close()
	out.UpstreamStatus = resp.StatusCode
	body2 := &idleReader{r: resp.Body, timer: timer, timeout: timeout}
	return p.respond(w, r, x, resp, body2, out)
}

// upstreamError maps a failed exchange to an error by its cause.
func (p *Proxy) upstreamError(ctx context.Context, r *http.Request, x exchange, err error) error {
	switch {
	case r.Context().Err() != nil:
		return ErrClientGone
	case errors.Is(context.Cause(ctx), errUpstreamTimeout):
		p.log.Warn("upstream timeout", "service", x.svc.Slug, "action", x.ep.Slug)
		return &aiproxy.Error{Code: aiproxy.CodeUpstreamTimeout, Message: aiproxy.MsgUpstreamTimeout, Err: err}
	case x.in.err() != nil:
		return x.in.err()
	}
	p.log.Warn("upstream request failed", "service", x.svc.Slug, "action", x.ep.Slug, "err", redactErr(err, x.secret))
	return &aiproxy.Error{Code: aiproxy.CodeUpstreamFailed, Message: aiproxy.MsgUpstreamFailed, Err: redactErr(err, x.secret)}
}

// idleReader cancels the exchange when no body byte arrives for timeout:
// the endpoint's timeout bounds the wait for the response head and every
// silence after it, never a long but healthy stream.
type idleReader struct {
	r       io.Reader
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

func internal(what string, err error) error {
	return &aiproxy.Error{Code: aiproxy.CodeInternal, Message: "Internal server error.", Err: errors.New(what + ": " + err.Error())}
}
