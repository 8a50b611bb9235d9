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
func (p *Proxy) resolve(ctx context.Context, org string, svc *aiproxy.Service, pinned aiproxy.Source) (string, aiproxy.Source, error) {
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
		c, err := p.cfg.Credentials.Credential(ctx, src, owner, svc.CredentialName)
		if errors.Is(err, aiproxy.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("read %s credential: %w", src, err)
		}
		secret, err := p.open(c, svc)
		return secret, src, err
	}
	return "", "", aiproxy.ErrNoCredentials(svc.Slug)
}

func (p *Proxy) open(c aiproxy.Credential, svc *aiproxy.Service) (string, error) {
	plain, err := p.cfg.Vault.Open(c.Sealed, c.AAD())
	if err != nil {
		return "", fmt.Errorf("open %s credential %q: %w", c.Source, c.Name, err)
	}
	var v aiproxy.CredentialValue
	if err := json.Unmarshal(plain, &v); err != nil {
		return "", fmt.Errorf("decode %s credential %q: %w", c.Source, c.Name, err)
	}
	field := svc.Upstream.CredentialField
	if field == "" {
		field = "key"
	}
	secret := v[field]
	if secret == "" {
		return "", fmt.Errorf("%s credential %q has no field %q", c.Source, c.Name, field)
	}
	return secret, nil
}
