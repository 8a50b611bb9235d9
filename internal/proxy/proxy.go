package proxy

import (
	"context"
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

	// Sockets reads the messages of WebSocket endpoints (socket.go); nil
	// refuses them.
	Sockets SocketProtocols
	// SocketCaps caps the sockets open at once, per org and per platform
	// credential; a socket holds its slot while it is open. nil is no cap.
	SocketCaps ConcurrencyLimiter
	// MaxSocketDuration is the longest a relayed socket stays open before
	// aiproxy closes it with 4408, so that a revoked key's sockets end
	// too; 0 means an hour.
	MaxSocketDuration time.Duration
}

// Proxy runs calls through the pipeline (pipeline.go). It is safe for
// concurrent use. Its work is split by role: a reader finds the endpoint
// and reads the client's input, a keyring resolves and opens credentials,
// and a sender talks to the provider under the guardrails.
type Proxy struct {
	*base
	in   *reader
	keys *keyring
	up   *sender
	// hooks extend the pipeline for the endpoints they claim (pipeline.go).
	hooks []Hooks
}

// base is what every part of the Proxy shares: the configuration and the
// logger.
type base struct {
	cfg Config
	log *slog.Logger
}

func (b *base) now() time.Time {
	if b.cfg.Now != nil {
		return b.cfg.Now()
	}
	return time.Now()
}

// reader finds a call's endpoint and reads the client's input within its
// limits (request.go, native.go, limits.go).
type reader struct{ *base }

// keyring resolves a call's credential by the service's policy and opens
// it, keeping opened credentials briefly (credential.go, credcache.go).
type keyring struct {
	*base
	cache *credCache
}

// sender performs the provider exchange under the guardrails and turns
// the provider's response into an answer (send.go, response.go,
// cached.go).
type sender struct {
	*base
	client *http.Client
	// sockets are the WebSocket calls being relayed (socket_relay.go).
	sockets *openSockets
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
	b := &base{cfg: cfg, log: log}
	return &Proxy{base: b, in: &reader{b}, keys: &keyring{base: b, cache: &credCache{}}, up: &sender{base: b, client: client, sockets: &openSockets{}}}
}

// WithHooks returns a Proxy that runs every call through the hooks, in
// order, after those p already has. It shares p's transport, credential
// cache and guardrails, so that p itself stays the plain pipeline that
// background calls (Fetch) use.
func (p *Proxy) WithHooks(hs ...Hooks) *Proxy {
	q := *p
	q.hooks = append(append([]Hooks(nil), p.hooks...), hs...)
	return &q
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
