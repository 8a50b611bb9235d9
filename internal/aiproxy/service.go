package aiproxy

// Service is one external provider as the catalog describes it. All fields
// but Upstream make up the contract's service descriptor; Upstream tells the
// proxy how to reach and authenticate to the provider and is never shown in
// discovery. Services handed out by the catalog are shared: treat them as
// read-only.
type Service struct {
	Slug                  string
	DisplayName           string
	BaseURL               string
	ServiceType           string
	AuthMode              string
	IsEnabled             bool
	SupportsAsyncJobs     bool
	SupportsStreaming     bool
	DefaultTimeoutSeconds int
	CredentialName        string
	CredentialPolicy      CredentialPolicy
	CredentialSchema      map[string]string
	Endpoints             []Endpoint

	// Upstream says how aiproxy talks to the provider.
	Upstream Upstream

	// JobWebhook, when set, says how the provider's job webhooks are
	// verified and read; see JobWebhookSpec.
	JobWebhook *JobWebhookSpec

	// CredentialCheckAction, when set, is the slug of the service's cheapest
	// call that proves a credential works (HeyGen's GET /v3/users/me). It is
	// not a contract descriptor field, so discovery never shows it; the
	// OpenAPI document does.
	CredentialCheckAction string
}

// Upstream is the proxy-only part of a service.
type Upstream struct {
	// AuthHeader is the request header that carries the credential, for
	// example "X-Api-Key" or "xi-api-key".
	AuthHeader string
	// AuthPrefix is put before the credential value, for example "Bearer ".
	AuthPrefix string
	// CredentialField is the credential_schema field injected; default "key".
	CredentialField string
	// Hosts are extra named base URLs that endpoints may select, for example
	// HeyGen's upload host.
	Hosts map[string]string
	// RequestHeaders are client headers, beyond the built-in allow-list, that
	// may be passed to the provider.
	RequestHeaders []string
	// ResponseHeaders are provider headers, beyond the built-in allow-list,
	// that are passed back to the client.
	ResponseHeaders []string
	// ErrorEnvelope names how the provider reports errors inside an HTTP
	// 200 body: "heygen" (a non-null "error", or a v1 "code" other than
	// 100), "liveavatar" (a "code" other than 1000, also in a 201), or ""
	// when it never does.
	ErrorEnvelope string
}

// Endpoint is one action of a service. The fields mirror the contract's
// endpoint descriptor, plus proxy-only settings.
type Endpoint struct {
	Slug              string
	PathTemplate      string
	HTTPMethod        string
	RequestMode       RequestMode
	ResponseMode      ResponseMode
	SupportsStreaming bool
	CallbackMode      string
	IsEnabled         bool

	// Description is a human sentence for documentation; not in discovery.
	Description string
	// TimeoutSeconds overrides the service's default timeout when positive.
	TimeoutSeconds int
	// Host selects one of Upstream.Hosts; empty means the service BaseURL.
	Host string
	// Path is PathTemplate parsed; the catalog fills it.
	Path PathTemplate

	// Job, when set, says that a successful call starts a provider job that
	// aiproxy records and tracks (see JobSpec).
	Job *JobSpec
	// JobStatus, when set, says that the endpoint reads the status of such
	// jobs (see JobStatusSpec).
	JobStatus *JobStatusSpec

	// RetrySafe marks a call that may be repeated after a transient
	// failure; the catalog defaults it to true for GET and false otherwise,
	// and never allows it on a job-starting endpoint.
	RetrySafe bool
	// CacheTTLSeconds, when positive, caches successful responses for that
	// long, per credential.
	CacheTTLSeconds int
	// Meter names the unit a call of this endpoint spends beside one
	// request: MetricCharacters (the body's "text") or MetricRenders (one
	// per call). "" means requests only.
	Meter Metric
	// TestModeField names the boolean body field that puts the call in the
	// provider's test mode, for example HeyGen's "test".
	TestModeField string
	// MaxBodyBytes, when positive, caps the client's request body for this
	// endpoint instead of the proxy's global limit (uploads may need more,
	// small JSON calls less).
	MaxBodyBytes int64
	// RequestSchema, when set, is the JSON Schema the envelope's body must
	// satisfy; a body that fails it is refused before any provider call.
	RequestSchema *BodySchema
	// Ownership says how the endpoint's calls touch the provider account's
	// objects (object.go); the catalog requires it on every endpoint.
	Ownership *OwnershipRule
	// SpeechCache, when set, says when a call may be answered from the
	// speech cache and what makes two calls the same (speechcache.go).
	SpeechCache *SpeechCacheRule
	// UpstreamAuth says what authenticates the call to the provider:
	// UpstreamAuthKey ("", the credential) or one of the client-bearer
	// modes, for calls a browser makes with a provider session token.
	UpstreamAuth UpstreamAuth
	// Socket, set exactly when ResponseMode is ResponseWebSocket, says how
	// the socket's messages are read (socket.go).
	Socket *SocketSpec
}

// UpstreamAuth says what an endpoint's calls authenticate to the provider
// with.
type UpstreamAuth string

// The upstream auth modes. UpstreamAuthKey sends the credential in the
// service's auth header. UpstreamAuthClientBearer sends only the provider
// session token the client authenticated with (a live-session principal),
// as "Authorization: Bearer"; a call without one is refused before the
// provider, and the credential is never sent. UpstreamAuthClientBearerOrKey
// does the same for a live-session principal and sends the credential for
// every other caller (a backend's key, a background call).
const (
	UpstreamAuthKey               UpstreamAuth = ""
	UpstreamAuthClientBearer      UpstreamAuth = "client_bearer"
	UpstreamAuthClientBearerOrKey UpstreamAuth = "client_bearer_or_key"
)

// UpstreamAuths lists the modes, for validation and documentation.
var UpstreamAuths = []UpstreamAuth{UpstreamAuthKey, UpstreamAuthClientBearer, UpstreamAuthClientBearerOrKey}

// StartsJob reports whether a call of the endpoint starts a provider job
// that is then polled: such calls are never retried blindly.
func (e Endpoint) StartsJob() bool { return e.CallbackMode == CallbackPoll }

// Timeout returns the endpoint's timeout in seconds within its service.
func (e Endpoint) Timeout(s *Service) int {
	if e.TimeoutSeconds > 0 {
		return e.TimeoutSeconds
	}
	return s.DefaultTimeoutSeconds
}

// EnabledEndpoints returns the service's enabled endpoints in catalog order.
func (s *Service) EnabledEndpoints() []Endpoint {
	out := make([]Endpoint, 0, len(s.Endpoints))
	for _, e := range s.Endpoints {
		if e.IsEnabled {
			out = append(out, e)
		}
	}
	return out
}

// Endpoint returns the enabled endpoint with a slug.
func (s *Service) Endpoint(slug string) (*Endpoint, bool) {
	for i := range s.Endpoints {
		if s.Endpoints[i].Slug == slug && s.Endpoints[i].IsEnabled {
			return &s.Endpoints[i], true
		}
	}
	return nil, false
}

// BaseURLFor returns the base URL an endpoint is sent to.
func (s *Service) BaseURLFor(e *Endpoint) string {
	if e.Host != "" {
		return s.Upstream.Hosts[e.Host]
	}
	return s.BaseURL
}

// RequestMode says how the invoke request's payload becomes the upstream body.
type RequestMode string

// The request modes.
const (
	RequestRaw       RequestMode = "raw"
	RequestJSON      RequestMode = "json"
	RequestMultipart RequestMode = "multipart"
	RequestBinary    RequestMode = "binary"
)

// ResponseMode says how the provider's response is returned.
type ResponseMode string

// The response modes.
const (
	ResponseJSON        ResponseMode = "json"
	ResponseBinary      ResponseMode = "binary"
	ResponsePassthrough ResponseMode = "passthrough"
	ResponseStream      ResponseMode = "stream"
)

// Callback modes of an endpoint.
const (
	CallbackNone    = "none"
	CallbackPoll    = "poll"
	CallbackWebhook = "webhook"
)
