package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// resolve picks the credential for an org's call to a service by the
// service's credential policy, or from the pinned source, and opens it.
func (p *keyring) resolve(ctx context.Context, org string, svc *aiproxy.Service, pinned aiproxy.Source) (string, aiproxy.Source, error) {
	sources, err := svc.CredentialPolicy.Sources()
	if err != nil {
		return "", "", err
	}
	if pinned != "" {
		sources = []aiproxy.Source{pinned}
	}
	for _, src := range sources {
		owner := org
		if src == aiproxy.SourcePlatform {
			owner = ""
		}
		secret, found, err := p.credential(ctx, src, owner, svc)
		if err != nil || found {
			return secret, src, err
		}
	}
	return "", "", aiproxy.ErrNoCredentials(svc.Slug)
}

// credential returns a source's opened credential for a service, or found
// false when the source holds none, from the cache (credcache.go) while it
// is fresh, else from the store.
func (p *keyring) credential(ctx context.Context, src aiproxy.Source, owner string, svc *aiproxy.Service) (secret string, found bool, err error) {
	ttl := p.cfg.CredentialTTL
	k := credKey{src: src, owner: owner, name: svc.CredentialName}
	field := credentialField(svc)
	var gen uint64
	if ttl > 0 {
		var e credEntry
		var ok bool
		if e, ok, gen = p.cache.get(k, field, ttl); ok {
			return e.secret, e.found, nil
		}
	}
	c, err := p.cfg.Credentials.Credential(ctx, src, owner, svc.CredentialName)
	if errors.Is(err, aiproxy.ErrNotFound) {
		if ttl > 0 {
			p.cache.put(k, credEntry{}, gen, ttl)
		}
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s credential: %w", src, err)
	}
	secret, err = p.open(c, svc)
	if err != nil {
		return "", true, err
	}
	if ttl > 0 {
		p.cache.put(k, credEntry{field: field, secret: secret, found: true}, gen, ttl)
	}
	return secret, true, nil
}

// credentialField is the field of a credential value that holds the key.
func credentialField(svc *aiproxy.Service) string {
	if f := svc.Upstream.CredentialField; f != "" {
		return f
	}
	return "key"
}

func (p *keyring) open(c aiproxy.Credential, svc *aiproxy.Service) (string, error) {
	plain, err := p.cfg.Vault.Open(c.Sealed, c.AAD())
	if err != nil {
		return "", fmt.Errorf("open %s credential %q: %w", c.Source, c.Name, err)
	}
	var v aiproxy.CredentialValue
	if err := json.Unmarshal(plain, &v); err != nil {
		return "", fmt.Errorf("decode %s credential %q: %w", c.Source, c.Name, err)
	}
	field := credentialField(svc)
	secret := v[field]
	if secret == "" {
		return "", fmt.Errorf("%s credential %q has no field %q", c.Source, c.Name, field)
	}
	return secret, nil
}
