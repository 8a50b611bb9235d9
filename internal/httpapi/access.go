package httpapi

import (
	"context"
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// AccessRules reads an org's access rules.
type AccessRules interface {
	Rules(ctx context.Context, org string) ([]aiproxy.AccessRule, error)
}

// AccessRuleJSON is a per-org access rule: the service, or one endpoint of
// it, that the org may not use.
type AccessRuleJSON struct {
	Org      string `json:"org"`
	Service  string `json:"service"`
	Endpoint string `json:"endpoint"`
	Enabled  bool   `json:"enabled"`
}

// ToAccessRuleJSON converts a rule for output.
func ToAccessRuleJSON(r aiproxy.AccessRule) AccessRuleJSON {
	return AccessRuleJSON{Org: r.OrgKey, Service: r.Service, Endpoint: r.Endpoint}
}

// accessRules returns the rules of the request's org, or none without an
// access store.
func (s *server) accessRules(r *http.Request) ([]aiproxy.AccessRule, error) {
	if s.cfg.Access == nil {
		return nil, nil
	}
	return s.cfg.Access.Rules(r.Context(), r.PathValue("org"))
}

// visible returns the service as an org with rules sees it: without the
// endpoints it turned off. It copies only when a rule applies.
func visible(svc *aiproxy.Service, rules []aiproxy.AccessRule, p aiproxy.Principal) *aiproxy.Service {
	cp := *svc
	cp.Endpoints = nil
	for _, e := range svc.Endpoints {
		if !aiproxy.Disables(rules, svc.Slug, e.Slug) && p.CanUseAction(svc.Slug, e.Slug) {
			cp.Endpoints = append(cp.Endpoints, e)
		}
	}
	if len(cp.Endpoints) == len(svc.Endpoints) {
		return svc
	}
	return &cp
}

// orgAccessRules lists (GET) or changes (PUT, platform admins only) what an
// org may use: PUT {"service": "heygen", "endpoint": "generate-video",
// "enabled": false}; endpoint "" means the whole service.
func (s *server) orgAccessRules(w http.ResponseWriter, r *http.Request) error {
	org := r.PathValue("org")
	if r.Method == http.MethodPut {
		if err := requirePlatformAdmin(r); err != nil {
			return err
		}
		var in struct {
			Service  *string `json:"service"`
			Endpoint string  `json:"endpoint"`
			Enabled  *bool   `json:"enabled"`
		}
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if err := requireFields([]string{"service", "enabled"}, in.Service != nil, in.Enabled != nil); err != nil {
			return err
		}
		if err := s.cfg.Guardrails.SetAccess(r.Context(), org, *in.Service, in.Endpoint, *in.Enabled); err != nil {
			return err
		}
	}
	rules, err := s.cfg.Guardrails.Access(r.Context(), org)
	if err != nil {
		return err
	}
	p := principal(r)
	out := make([]AccessRuleJSON, 0, len(rules))
	for _, rule := range rules {
		if p.CanUseService(rule.Service) {
			out = append(out, ToAccessRuleJSON(rule))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// requirePlatformAdmin refuses a caller who is not a platform admin: an
// org's own admin may read its guardrails but not loosen them.
func requirePlatformAdmin(r *http.Request) error {
	if p, ok := aiproxy.PrincipalFrom(r.Context()); !ok || !p.PlatformAdmin() {
		return errForbidden()
	}
	return nil
}
