package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The backoff of a provider's discovery while it fails: the first retry
// after discoveryBackoffMin, doubling up to discoveryBackoffMax.
const (
	discoveryBackoffMin = time.Second
	discoveryBackoffMax = 5 * time.Minute
)

// errUnavailable is a provider whose discovery failed, within its backoff.
var errUnavailable = errors.New("the issuer's discovery failed; retrying later")

// provider is one Issuer at run time: its go-oidc verifier, built on the
// first token that names it (discovering the key set's URL unless the
// issuer gives it), and the discovery's backoff while that fails.
type provider struct {
	cfg           Issuer
	client        *http.Client
	now           func() time.Time
	cooldown      time.Duration
	log           *slog.Logger
	allowInsecure bool

	// discovering holds the one discovery in flight.
	discovering chan struct{}

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	retryAt  time.Time
	backoff  time.Duration
}

func newProvider(cfg Issuer, client *http.Client, opts Options) *provider {
	p := &provider{cfg: cfg, client: client, now: opts.Now, cooldown: opts.RefetchCooldown, log: opts.Logger,
		allowInsecure: opts.AllowInsecure, discovering: make(chan struct{}, 1)}
	if cfg.JWKSURL != "" {
		p.verifier = p.newVerifier(cfg.JWKSURL)
	}
	return p
}

// newVerifier is go-oidc's verifier over this issuer's key set. It checks
// the signature, the algorithm and the issuer; the audience and the times
// are Verifier's, which has more than one audience and a leeway.
func (p *provider) newVerifier(jwksURL string) *oidc.IDTokenVerifier {
	keys := newKeySet(p.cfg.URL, jwksURL, p.cfg.Algorithms, p.client, p.now, p.cooldown, p.log)
	return oidc.NewVerifier(p.cfg.URL, keys, &oidc.Config{
		SupportedSigningAlgs: p.cfg.Algorithms,
		SkipClientIDCheck:    true,
		SkipExpiryCheck:      true,
		Now:                  p.now,
	})
}

// idTokenVerifier returns the verifier, discovering the provider first
// when it has not been, unless the last discovery failed within the
// backoff.
func (p *provider) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if v := p.current(); v != nil {
		return v, nil
	}
	select {
	case p.discovering <- struct{}{}:
		defer func() { <-p.discovering }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	v, retryAt := p.verifier, p.retryAt
	p.mu.Unlock()
	if v != nil {
		return v, nil
	}
	if p.now().Before(retryAt) {
		return nil, errUnavailable
	}
	jwksURL, err := p.discover(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.backoff = min(max(2*p.backoff, discoveryBackoffMin), discoveryBackoffMax)
		p.retryAt = p.now().Add(p.backoff)
		p.log.Warn("oidc: discovery failed", "issuer", p.cfg.URL, "retry_in", p.backoff, "err", err)
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	p.verifier, p.backoff = p.newVerifier(jwksURL), 0
	return p.verifier, nil
}

func (p *provider) current() *oidc.IDTokenVerifier {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.verifier
}

// discover reads the provider's discovery document (go-oidc checks that
// it names this issuer) and returns its key set's URL, which must pass
// the same checks as the issuer's. It is detached from the request's
// cancellation, like a key set fetch.
func (p *provider) discover(ctx context.Context) (string, error) {
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), p.client)
	prov, err := oidc.NewProvider(ctx, p.cfg.URL)
	if err != nil {
		return "", err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := prov.Claims(&meta); err != nil {
		return "", err
	}
	if err := checkEndpoint(meta.JWKSURI, p.allowInsecure); err != nil {
		return "", fmt.Errorf("jwks_uri: %w", err)
	}
	return meta.JWKSURI, nil
}
