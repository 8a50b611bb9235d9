package catalog

import (
	"net/http"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// checkCredentialCheck checks a service's credential_check_action: it must
// name an enabled endpoint of the service that a console can call with an
// empty envelope and that changes nothing, so a GET with no path
// placeholders and no body.
func checkCredentialCheck(r *report, where string, s *aiproxy.Service) {
	slug := s.CredentialCheckAction
	if slug == "" {
		return
	}
	e := findEndpoint(s, slug)
	switch {
	case e == nil:
		r.add(where, "credential_check_action %q names no endpoint of the service", slug)
	case !e.IsEnabled:
		r.add(where, "credential_check_action %q is disabled", slug)
	case e.HTTPMethod != http.MethodGet || e.RequestMode != aiproxy.RequestRaw || strings.Contains(e.PathTemplate, "{"):
		r.add(where, "credential_check_action %q must be a GET with request_mode raw and no path parameters", slug)
	}
}
