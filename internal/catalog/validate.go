package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ValidationError reports every problem found while loading a catalog, so
// that an operator can fix a file in one pass rather than one error at a
// time.
type ValidationError struct {
	// Problems are human sentences, each prefixed by the file and the
	// service (or service/endpoint) slug it concerns.
	Problems []string
}

// Error lists the problems one per line under a summary line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid service catalog (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// report collects problems as they are found.
type report struct{ problems []string }

func (r *report) add(where, format string, args ...any) {
	r.problems = append(r.problems, where+": "+fmt.Sprintf(format, args...))
}

// maxTimeoutSeconds bounds every timeout: an hour is already far beyond any
// provider call the proxy should hold open.
const maxTimeoutSeconds = 3600

const defaultCredentialField = "key"

var (
	slugPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

const maxSlugLen = 64

var (
	httpMethods   = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	requestModes  = []string{"raw", "json", "multipart", "binary"}
	responseModes = []string{"json", "binary", "passthrough", "stream", "websocket"}
	callbackModes = []string{aiproxy.CallbackNone, aiproxy.CallbackPoll, aiproxy.CallbackWebhook}
)

// hopByHop are the connection-level headers a proxy must never forward
// (RFC 9110 §7.6.1 plus the de-facto Proxy-Connection and Keep-Alive).
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// authHeaderForbidden may not carry the credential: the transport owns them.
var authHeaderForbidden = append([]string{"Host", "Content-Length", "Content-Type", "Cookie", "Expect"}, hopByHop...)

// passHeaderForbidden may not be allow-listed in either direction: they
// either carry secrets (ours or the provider's session) or are owned by the
// transport.
var passHeaderForbidden = append([]string{"Authorization", "Host", "Cookie", "Set-Cookie", "Content-Length"}, hopByHop...)

// compileService validates one decoded service and converts it to the
// domain type, adding every problem to r. The result is meaningful only when
// no problem was added.
func compileService(src string, f fileService, r *report) *aiproxy.Service {
	where := src + ": " + orPlaceholder(f.Slug)
	checkSlug(r, where, "slug", f.Slug)
	if strings.TrimSpace(f.DisplayName) == "" {
		r.add(where, "display_name is required")
	}
	baseURL := checkURL(r, where, "base_url", f.BaseURL)
	if strings.TrimSpace(f.ServiceType) == "" {
		r.add(where, "service_type is required")
	}
	if f.AuthMode != "header" {
		r.add(where, "auth_mode %q is not supported; the only auth_mode is \"header\"", f.AuthMode)
	}
	if f.DefaultTimeoutSeconds < 1 || f.DefaultTimeoutSeconds > maxTimeoutSeconds {
		r.add(where, "default_timeout_seconds %d is not between 1 and %d", f.DefaultTimeoutSeconds, maxTimeoutSeconds)
	}
	if f.CredentialName == "" {
		r.add(where, "credential_name is required")
	} else {
		checkSlug(r, where, "credential_name", f.CredentialName)
	}
	checkSchema(r, where, f.CredentialSchema)
	defaultSource := aiproxy.Source(f.CredentialPolicy.DefaultSource)
	if !aiproxy.ValidSource(defaultSource) {
		r.add(where, "credential_policy.default_source %q is not \"tenant\" or \"platform\"", f.CredentialPolicy.DefaultSource)
	}
	up := compileUpstream(r, where, f)
	s := &aiproxy.Service{
		Slug:                  f.Slug,
		DisplayName:           f.DisplayName,
		BaseURL:               baseURL,
		ServiceType:           f.ServiceType,
		AuthMode:              f.AuthMode,
		IsEnabled:             boolOr(f.IsEnabled, true),
		SupportsAsyncJobs:     f.SupportsAsyncJobs,
		SupportsStreaming:     f.SupportsStreaming,
		DefaultTimeoutSeconds: f.DefaultTimeoutSeconds,
		CredentialName:        f.CredentialName,
		CredentialPolicy: aiproxy.CredentialPolicy{
			AllowTenantKey:        f.CredentialPolicy.AllowTenantKey,
			AllowPlatformKey:      f.CredentialPolicy.AllowPlatformKey,
			DefaultSource:         defaultSource,
			FallbackToPlatformKey: f.CredentialPolicy.FallbackToPlatformKey,
		},
		CredentialSchema: f.CredentialSchema,
		Upstream:         up,
	}
	seen := map[string]bool{}
	for i, fe := range f.Endpoints {
		ewhere := fmt.Sprintf("%s/%s", where, orPlaceholder(fe.Slug))
		if fe.Slug == "" {
			ewhere = fmt.Sprintf("%s/endpoints[%d]", where, i)
		}
		if seen[fe.Slug] && fe.Slug != "" {
			r.add(ewhere, "duplicate endpoint slug %q", fe.Slug)
		}
		seen[fe.Slug] = true
		ep := compileEndpoint(r, ewhere, fe, up.Hosts)
		compileOwnership(r, ewhere, fe, &ep, passedHeader(up)) // ownership.go
		compileSpeechCache(r, ewhere, fe, &ep)                 // speechcache.go
		s.Endpoints = append(s.Endpoints, ep)
	}
	s.JobWebhook = compileJobWebhook(r, where, f.JobWebhook)
	checkJobLinks(r, where, s)
	s.CredentialCheckAction = f.CredentialCheckAction
	checkCredentialCheck(r, where, s) // credcheck.go
	return s
}

func compileUpstream(r *report, where string, f fileService) aiproxy.Upstream {
	u := f.Upstream
	up := aiproxy.Upstream{
		AuthHeader:      u.AuthHeader,
		AuthPrefix:      u.AuthPrefix,
		CredentialField: u.CredentialField,
		RequestHeaders:  u.RequestHeaders,
		ResponseHeaders: u.ResponseHeaders,
		ErrorEnvelope:   u.ErrorEnvelope,
	}
	if u.ErrorEnvelope != "" && u.ErrorEnvelope != "heygen" && u.ErrorEnvelope != "liveavatar" {
		r.add(where, "upstream.error_envelope %q is not \"heygen\" or \"liveavatar\" (or absent)", u.ErrorEnvelope)
	}
	if up.CredentialField == "" {
		up.CredentialField = defaultCredentialField
	}
	switch {
	case u.AuthHeader == "":
		r.add(where, "upstream.auth_header is required")
	case !validToken(u.AuthHeader):
		r.add(where, "upstream.auth_header %q is not a valid header name", u.AuthHeader)
	case containsFold(authHeaderForbidden, u.AuthHeader):
		r.add(where, "upstream.auth_header %q may not carry the credential", u.AuthHeader)
	}
	if !validHeaderValue(u.AuthPrefix) {
		r.add(where, "upstream.auth_prefix %q holds a control character", u.AuthPrefix)
	}
	if _, ok := f.CredentialSchema[up.CredentialField]; !ok && len(f.CredentialSchema) > 0 {
		r.add(where, "upstream.credential_field %q is not in credential_schema", up.CredentialField)
	}
	for _, name := range sortedKeys(u.Hosts) {
		if !slugPattern.MatchString(name) || len(name) > maxSlugLen {
			r.add(where, "upstream.hosts name %q must match %s", name, slugPattern)
		}
		if up.Hosts == nil {
			up.Hosts = map[string]string{}
		}
		up.Hosts[name] = checkURL(r, where, "upstream.hosts."+name, u.Hosts[name])
	}
	checkPassHeaders(r, where, "upstream.request_headers", u.RequestHeaders, u.AuthHeader)
	checkPassHeaders(r, where, "upstream.response_headers", u.ResponseHeaders, u.AuthHeader)
	return up
}

func compileEndpoint(r *report, where string, f fileEndpoint, hosts map[string]string) aiproxy.Endpoint {
	checkSlug(r, where, "slug", f.Slug)
	e := aiproxy.Endpoint{
		Slug:              f.Slug,
		PathTemplate:      f.PathTemplate,
		HTTPMethod:        f.HTTPMethod,
		RequestMode:       aiproxy.RequestMode(f.RequestMode),
		ResponseMode:      aiproxy.ResponseMode(f.ResponseMode),
		SupportsStreaming: f.SupportsStreaming,
		CallbackMode:      f.CallbackMode,
		IsEnabled:         boolOr(f.IsEnabled, true),
		Description:       f.Description,
		TimeoutSeconds:    f.TimeoutSeconds,
		Host:              f.Host,
	}
	if e.CallbackMode == "" {
		e.CallbackMode = aiproxy.CallbackNone
	}
	if f.PathTemplate == "" {
		r.add(where, "path_template is required")
	} else if p, err := aiproxy.ParsePathTemplate(f.PathTemplate); err != nil {
		r.add(where, "path_template: %v", err)
	} else {
		e.Path = p
	}
	checkOneOf(r, where, "http_method", f.HTTPMethod, httpMethods)
	checkOneOf(r, where, "request_mode", f.RequestMode, requestModes)
	checkOneOf(r, where, "response_mode", f.ResponseMode, responseModes)
	checkOneOf(r, where, "callback_mode", e.CallbackMode, callbackModes)
	if f.HTTPMethod == "GET" && (f.RequestMode == "multipart" || f.RequestMode == "binary") {
		r.add(where, "request_mode %q sends a body, which a GET request does not carry", f.RequestMode)
	}
	if _, ok := hosts[f.Host]; f.Host != "" && !ok {
		r.add(where, "host %q is not one of upstream.hosts", f.Host)
	}
	if f.TimeoutSeconds < 0 || f.TimeoutSeconds > maxTimeoutSeconds {
		r.add(where, "timeout_seconds %d is not between 0 and %d", f.TimeoutSeconds, maxTimeoutSeconds)
	}
	compileGuardrails(r, where, f, &e)
	compileJob(r, where, f, &e)
	compileSocket(r, where, f, &e) // socket.go
	compileUpstreamAuth(r, where, f, &e)
	return e
}

// compileUpstreamAuth checks an endpoint's upstream_auth: a client-bearer
// mode forwards a provider session token, so it never goes with a job
// start or a response cache, which would outlive the one caller.
func compileUpstreamAuth(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint) {
	e.UpstreamAuth = aiproxy.UpstreamAuth(f.UpstreamAuth)
	if !slices.Contains(aiproxy.UpstreamAuths, e.UpstreamAuth) {
		r.add(where, "upstream_auth %q is not \"client_bearer\" or \"client_bearer_or_key\" (or absent)", f.UpstreamAuth)
		return
	}
	if e.UpstreamAuth != aiproxy.UpstreamAuthKey && (e.StartsJob() || e.CacheTTLSeconds > 0) {
		r.add(where, "upstream_auth %q may not go with a job start or cache_ttl_seconds", f.UpstreamAuth)
	}
}

// maxBodyBytes bounds an endpoint's request body limit (16 GiB): beyond
// that a typo is likelier than a real upload.
const maxBodyBytes = 16 << 30

// maxCacheTTLSeconds bounds a response cache entry's life to a day.
const maxCacheTTLSeconds = 86400

// meters are the units an endpoint may meter beside requests.
var meters = []string{string(aiproxy.MetricCharacters), string(aiproxy.MetricRenders), string(aiproxy.MetricAudioSeconds), string(aiproxy.MetricLiveMinutes)}

// compileGuardrails checks and fills the guardrail fields of an endpoint:
// retry_safe (default: true for GET), cache_ttl_seconds, meter and
// test_mode_field.
func compileGuardrails(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint) {
	streams := f.RequestMode == "multipart" || f.RequestMode == "binary"
	e.RetrySafe = boolOr(f.RetrySafe, f.HTTPMethod == "GET" && !e.StartsJob() && !streams)
	e.CacheTTLSeconds = f.CacheTTLSeconds
	e.Meter = aiproxy.Metric(f.Meter)
	e.TestModeField = f.TestModeField
	e.MaxBodyBytes = f.MaxBodyBytes
	if f.MaxBodyBytes < 0 || f.MaxBodyBytes > maxBodyBytes {
		r.add(where, "max_body_bytes %d is not between 0 and %d", f.MaxBodyBytes, int64(maxBodyBytes))
	}
	if e.RetrySafe && e.StartsJob() {
		r.add(where, "retry_safe may not be true on a job-starting endpoint (callback_mode poll)")
	}
	if e.RetrySafe && streams {
		r.add(where, "retry_safe may not be true for request_mode %q, whose upload streams once", f.RequestMode)
	}
	switch {
	case f.CacheTTLSeconds < 0 || f.CacheTTLSeconds > maxCacheTTLSeconds:
		r.add(where, "cache_ttl_seconds %d is not between 0 and %d", f.CacheTTLSeconds, maxCacheTTLSeconds)
	case f.CacheTTLSeconds > 0 && (f.HTTPMethod != "GET" || f.ResponseMode != "json"):
		r.add(where, "cache_ttl_seconds needs a GET endpoint with response_mode json")
	}
	if f.Meter != "" {
		checkOneOf(r, where, "meter", f.Meter, meters)
	}
	if f.TestModeField != "" && (!fieldPattern.MatchString(f.TestModeField) || f.RequestMode != "json") {
		r.add(where, "test_mode_field %q must be a field name of a request_mode json body", f.TestModeField)
	}
}

func checkSlug(r *report, where, field, v string) {
	switch {
	case v == "":
		r.add(where, "%s is required", field)
	case !slugPattern.MatchString(v):
		r.add(where, "%s %q must match %s", field, v, slugPattern)
	case len(v) > maxSlugLen:
		r.add(where, "%s %q is longer than %d characters", field, v, maxSlugLen)
	}
}

func checkOneOf(r *report, where, field, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	if v == "" {
		r.add(where, "%s is required (one of %s)", field, strings.Join(allowed, ", "))
		return
	}
	r.add(where, "%s %q is not one of %s", field, v, strings.Join(allowed, ", "))
}

func checkSchema(r *report, where string, schema map[string]string) {
	if len(schema) == 0 {
		r.add(where, "credential_schema is required and may not be empty")
	}
	for _, k := range sortedKeys(schema) {
		if !fieldPattern.MatchString(k) {
			r.add(where, "credential_schema field %q must match %s", k, fieldPattern)
		}
		if schema[k] != "string" {
			r.add(where, "credential_schema field %q has type %q; the only type is \"string\"", k, schema[k])
		}
	}
}

// checkURL checks that raw is an absolute http(s) URL that can serve as a
// prefix for endpoint paths, and returns it without trailing slashes.
func checkURL(r *report, where, field, raw string) string {
	if raw == "" {
		r.add(where, "%s is required", field)
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		r.add(where, "%s %q is not a URL", field, raw)
	case u.Scheme != "http" && u.Scheme != "https":
		r.add(where, "%s %q must be an absolute http or https URL", field, raw)
	case u.Host == "" || u.Opaque != "":
		r.add(where, "%s %q has no host", field, raw)
	case u.User != nil:
		r.add(where, "%s %q may not hold user information", field, raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		r.add(where, "%s %q may not hold a query or fragment", field, raw)
	}
	return strings.TrimRight(raw, "/")
}

func checkPassHeaders(r *report, where, field string, names []string, authHeader string) {
	seen := map[string]bool{}
	for _, h := range names {
		switch {
		case !validToken(h):
			r.add(where, "%s: %q is not a valid header name", field, h)
		case containsFold(passHeaderForbidden, h) || strings.EqualFold(h, authHeader):
			r.add(where, "%s: %q may not be passed through", field, h)
		case seen[strings.ToLower(h)]:
			r.add(where, "%s: %q is listed twice", field, h)
		}
		seen[strings.ToLower(h)] = true
	}
}

// validToken reports whether s is an RFC 9110 token, the syntax of a header
// name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func orPlaceholder(slug string) string {
	if slug == "" {
		return "(no slug)"
	}
	return slug
}
