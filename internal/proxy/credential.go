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
		e, found, err := p.credential(ctx, src, owner, svc)
		if err != nil || found {
			return e.secret, src, err
		}
	}
	return "", "", aiproxy.ErrNoCredentials(svc.Slug)
}

// credential returns a source's opened credential for a service, or found
// false when the source holds none, from the cache (credcache.go) while it
// is fresh, else from the store.
func (p *keyring) credential(ctx context.Context, src aiproxy.Source, owner string, svc *aiproxy.Service) (_ credEntry, found bool, err error) {
	ttl := p.cfg.CredentialTTL
	k := credKey{src: src, owner: owner, name: svc.CredentialName}
	field := credentialField(svc)
	var gen uint64
	if ttl > 0 {
		var e credEntry
		var ok bool
		if e, ok, gen = p.cache.get(k, field, ttl); ok {
			return e, e.found, nil
		}
	}
	c, err := p.cfg.Credentials.Credential(ctx, src, owner, svc.CredentialName)
	if errors.Is(err, aiproxy.ErrNotFound) {
		if ttl > 0 {
			p.cache.put(k, credEntry{}, gen, ttl)
		}
		return credEntry{}, false, nil
	}
	if err != nil {
		return credEntry{}, false, fmt.Errorf("read %s credential: %w", src, err)
	}
	e, err := p.open(c, svc)
	if err != nil {
		return credEntry{}, true, err
	}
	if e.pool != nil {
		p.cache.pools.saw(e.pool, svc.Slug)
	}
	if ttl > 0 {
		p.cache.put(k, e, gen, ttl)
	}
	return e, true, nil
}

// credentialField is the field of a credential value that holds the key.
func credentialField(svc *aiproxy.Service) string {
	if f := svc.Upstream.CredentialField; f != "" {
		return f
	}
	return "key"
}

// open opens a credential: the key it holds, or its pool of keys, each
// with the field the service sends.
func (p *keyring) open(c aiproxy.Credential, svc *aiproxy.Service) (credEntry, error) {
	plain, err := p.cfg.Vault.Open(c.Sealed, c.AAD())
	if err != nil {
		return credEntry{}, fmt.Errorf("open %s credential %q: %w", c.Source, c.Name, err)
	}
	var v aiproxy.CredentialValue
	if err := json.Unmarshal(plain, &v); err != nil {
		return credEntry{}, fmt.Errorf("decode %s credential %q: %w", c.Source, c.Name, err)
	}
	field := credentialField(svc)
	e := credEntry{field: field, found: true}
	if !v.IsPool(svc.CredentialSchema) {
		if e.secret = v[field]; e.secret == "" {
			return credEntry{}, fmt.Errorf("%s credential %q has no field %q", c.Source, c.Name, field)
		}
		return e, nil
	}
	keys, err := v.PoolKeys(svc.CredentialSchema)
	if err != nil {
		return credEntry{}, fmt.Errorf("%s credential %q: %w", c.Source, c.Name, err)
	}
	e.pool = &openPool{ref: aiproxy.PoolRef{Source: c.Source, OrgKey: c.OrgKey, Name: c.Name}}
	for _, k := range keys {
		if k.Value[field] == "" {
			return credEntry{}, fmt.Errorf("%s credential %q: key %q has no field %q", c.Source, c.Name, k.ID, field)
		}
		e.pool.keys = append(e.pool.keys, poolKey{id: k.ID, weight: k.Weight, max: k.MaxConcurrency, secret: k.Value[field]})
	}
	e.secret = e.pool.keys[0].secret
	return e, nil
}
