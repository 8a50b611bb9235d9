package httpapi

import (
	"net/http"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// serviceSummary is the contract's service entry in the list.
type serviceSummary struct {
	Slug              string `json:"slug"`
	DisplayName       string `json:"display_name"`
	ServiceType       string `json:"service_type"`
	IsEnabled         bool   `json:"is_enabled"`
	SupportsAsyncJobs bool   `json:"supports_async_jobs"`
	SupportsStreaming bool   `json:"supports_streaming"`
	CredentialName    string `json:"credential_name"`
	EndpointCount     int    `json:"endpoint_count"`
}

// serviceDetail is the contract's service descriptor with its endpoints.
type serviceDetail struct {
	Slug                  string               `json:"slug"`
	DisplayName           string               `json:"display_name"`
	BaseURL               string               `json:"base_url"`
	ServiceType           string               `json:"service_type"`
	AuthMode              string               `json:"auth_mode"`
	IsEnabled             bool                 `json:"is_enabled"`
	SupportsAsyncJobs     bool                 `json:"supports_async_jobs"`
	SupportsStreaming     bool                 `json:"supports_streaming"`
	DefaultTimeoutSeconds int                  `json:"default_timeout_seconds"`
	CredentialName        string               `json:"credential_name"`
	CredentialPolicy      credentialPolicy     `json:"credential_policy"`
	CredentialSchema      map[string]string    `json:"credential_schema"`
	Endpoints             []endpointDescriptor `json:"endpoints"`
}

type credentialPolicy struct {
	AllowTenantKey        bool   `json:"allow_tenant_key"`
	AllowPlatformKey      bool   `json:"allow_platform_key"`
	DefaultSource         string `json:"default_source"`
	FallbackToPlatformKey bool   `json:"fallback_to_platform_key"`
}

// endpointDescriptor is the contract's endpoint descriptor.
type endpointDescriptor struct {
	Slug              string `json:"slug"`
	PathTemplate      string `json:"path_template"`
	HTTPMethod        string `json:"http_method"`
	RequestMode       string `json:"request_mode"`
	ResponseMode      string `json:"response_mode"`
	SupportsStreaming bool   `json:"supports_streaming"`
	CallbackMode      string `json:"callback_mode"`
	IsEnabled         bool   `json:"is_enabled"`
}

func toSummary(s *aiproxy.Service) serviceSummary {
	return serviceSummary{
		Slug: s.Slug, DisplayName: s.DisplayName, ServiceType: s.ServiceType, IsEnabled: s.IsEnabled,
		SupportsAsyncJobs: s.SupportsAsyncJobs, SupportsStreaming: s.SupportsStreaming,
		CredentialName: s.CredentialName, EndpointCount: len(s.EnabledEndpoints()),
	}
}

func toDetail(s *aiproxy.Service) serviceDetail {
	d := serviceDetail{
		Slug: s.Slug, DisplayName: s.DisplayName, BaseURL: s.BaseURL, ServiceType: s.ServiceType,
		AuthMode: s.AuthMode, IsEnabled: s.IsEnabled, SupportsAsyncJobs: s.SupportsAsyncJobs,
		SupportsStreaming: s.SupportsStreaming, DefaultTimeoutSeconds: s.DefaultTimeoutSeconds,
		CredentialName: s.CredentialName,
		CredentialPolicy: credentialPolicy{
			AllowTenantKey: s.CredentialPolicy.AllowTenantKey, AllowPlatformKey: s.CredentialPolicy.AllowPlatformKey,
			DefaultSource: string(s.CredentialPolicy.DefaultSource), FallbackToPlatformKey: s.CredentialPolicy.FallbackToPlatformKey,
		},
		CredentialSchema: s.CredentialSchema,
		Endpoints:        []endpointDescriptor{},
	}
	for _, e := range s.EnabledEndpoints() {
		d.Endpoints = append(d.Endpoints, endpointDescriptor{
			Slug: e.Slug, PathTemplate: e.PathTemplate, HTTPMethod: e.HTTPMethod,
			RequestMode: string(e.RequestMode), ResponseMode: string(e.ResponseMode),
			SupportsStreaming: e.SupportsStreaming, CallbackMode: e.CallbackMode, IsEnabled: e.IsEnabled,
		})
	}
	return d
}

// listServices answers the contract's list: enabled services only.
func (s *server) listServices(w http.ResponseWriter, r *http.Request) error {
	out := []serviceSummary{}
	rules, err := s.accessRules(r)
	if err != nil {
		return err
	}
	p, _ := aiproxy.PrincipalFrom(r.Context())
	for _, svc := range s.cfg.Catalog.Services() {
		if !svc.IsEnabled || aiproxy.Disables(rules, svc.Slug, "") || !p.CanUseService(svc.Slug) {
			continue
		}
		if v := visible(svc, rules, p); len(v.Endpoints) > 0 || len(p.Actions) == 0 {
			out = append(out, toSummary(v))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) serviceDetail(w http.ResponseWriter, r *http.Request) error {
	svc, ok := s.cfg.Catalog.Service(r.PathValue("service"))
	rules, err := s.accessRules(r)
	if err != nil {
		return err
	}
	if !ok || aiproxy.Disables(rules, svc.Slug, "") {
		return aiproxy.ErrServiceNotFound(r.PathValue("service"))
	}
	p, _ := aiproxy.PrincipalFrom(r.Context())
	v := visible(svc, rules, p)
	if len(v.Endpoints) == 0 && len(p.Actions) > 0 {
		return aiproxy.ErrServiceNotFound(r.PathValue("service"))
	}
	writeJSON(w, http.StatusOK, toDetail(v))
	return nil
}

func (s *server) invoke(w http.ResponseWriter, r *http.Request) error {
	out, err := s.cfg.Invoker.Invoke(w, r, r.PathValue("org"), r.PathValue("service"), r.PathValue("action"))
	if err == nil && out.Err != nil {
		s.log.Warn("invoke response cut", "request_id", requestID(r), "service", out.Service, "action", out.Action, "err", out.Err)
		abortCut(out.Err) // limits.go
	}
	if err == nil {
		s.log.Debug("invoke", "request_id", requestID(r), "org", r.PathValue("org"), "service", out.Service,
			"action", out.Action, "source", out.Source, "upstream_status", out.UpstreamStatus, "bytes", out.Bytes)
	}
	return err
}
