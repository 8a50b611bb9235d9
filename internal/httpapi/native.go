package httpapi

import (
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// NativeInvoker performs native passthrough calls: requests in a provider's
// own shape, as its official SDK sends them. *proxy.Proxy implements it.
// Without Config.Native, and with an Invoker that does not implement it,
// the native routes answer 404.
type NativeInvoker interface {
	InvokeNative(w http.ResponseWriter, r *http.Request, org, service, path string) (proxy.Outcome, error)
}

var _ NativeInvoker = (*proxy.Proxy)(nil)

// nativeRoutes registers ANY /orgs/{org}/native/{service}/{path...}.
func (s *server) nativeRoutes() {
	s.mux.Handle(base+"/orgs/{org}/native/{service}/{path...}", s.handle(s.native))
}

// native authenticates a native request, which may carry the aiproxy key
// in the provider's own auth header (only here), and forwards it.
func (s *server) native(w http.ResponseWriter, r *http.Request) error {
	ni := s.cfg.Native
	ok := ni != nil
	if !ok {
		ni, ok = s.cfg.Invoker.(NativeInvoker)
	}
	svc, found := s.cfg.Catalog.Service(r.PathValue("service"))
	if !ok || !found {
		return aiproxy.ErrServiceNotFound(r.PathValue("service"))
	}
	forward := func(w http.ResponseWriter, r *http.Request) error {
		out, err := ni.InvokeNative(w, r, r.PathValue("org"), svc.Slug, "/"+r.PathValue("path"))
		if err == nil && out.Err != nil {
			s.log.Warn("native response cut", "request_id", requestID(r), "service", out.Service, "action", out.Action, "err", out.Err)
			abortCut(out.Err) // limits.go
		}
		if err == nil {
			s.log.Debug("native", "request_id", requestID(r), "org", r.PathValue("org"), "service", out.Service,
				"action", out.Action, "source", out.Source, "upstream_status", out.UpstreamStatus, "bytes", out.Bytes)
		}
		return err
	}
	return s.orgMedia(forward)(w, withNativeKey(r, svc))
}

// withNativeKey returns r, or a copy of it whose Authorization header holds
// the aiproxy key that the client put in the provider's auth header. An
// Authorization header with one of aiproxy's schemes wins.
func withNativeKey(r *http.Request, svc *aiproxy.Service) *http.Request {
	if bearerKey(r.Header.Get("Authorization")) != "" {
		return r
	}
	key := strings.TrimSpace(r.Header.Get(svc.Upstream.AuthHeader))
	if p := strings.TrimSpace(svc.Upstream.AuthPrefix); p != "" && len(key) > len(p) && strings.EqualFold(key[:len(p)], p) {
		key = strings.TrimSpace(key[len(p):])
	}
	if key == "" {
		return r
	}
	c := r.Clone(r.Context())
	c.Header.Del(svc.Upstream.AuthHeader)
	c.Header.Set("Authorization", "Api-Key "+key)
	return c
}
