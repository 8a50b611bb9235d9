// Package client is the Go client of aiproxy's External Service Proxy API:
// discovery, invoke by service and action with a JSON envelope, typed
// errors, and helpers for HeyGen and ElevenLabs.
//
//	c, err := client.New(client.Config{URL: "http://127.0.0.1:8080", Org: "demo", APIKey: key})
//	avatars, err := c.HeyGen().ListAvatars(ctx)
//
// Answers whose size is unknown (audio, streams) are returned as an
// io.ReadCloser that the caller closes.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Config configures a Client. URL, Org and one of APIKey and UserToken are
// required.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080 or
	// https://gateway.example.com/dm when a gateway adds a prefix.
	URL string
	// Org is the org (tenant) key.
	Org string
	// APIKey is an aiproxy key, sent as "Authorization: Api-Key <key>".
	APIKey string
	// UserToken is a user token ("aipt_…") that an org's backend minted
	// with MintUserToken, sent as "Authorization: Token <token>" instead of
	// an API key: the client then acts as that one user, with the token's
	// grants, and reaches only that user's objects.
	UserToken string
	// HTTPClient sends requests; nil means a client without a timeout, so
	// that long downloads and streams are bounded only by their context.
	HTTPClient *http.Client
	// UserAgent is sent with every request; "" means "aiproxy-go".
	UserAgent string
}

// Client talks to one aiproxy server as one org. It is safe for concurrent
// use.
type Client struct {
	base *url.URL
	org  string
	// secret is the API key or user token; auth is its Authorization value.
	secret, auth string
	// user, when set, is sent as X-AIProxy-User (see WithUser).
	user  string
	http  *http.Client
	agent string
}

// New returns a Client for a configuration.
func New(cfg Config) (*Client, error) {
	var problems []string
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if cfg.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("URL %q must be an absolute http(s) URL", cfg.URL))
	}
	if cfg.Org == "" {
		problems = append(problems, "Org is required")
	}
	switch {
	case cfg.APIKey == "" && cfg.UserToken == "":
		problems = append(problems, "APIKey (or UserToken) is required")
	case cfg.APIKey != "" && cfg.UserToken != "":
		problems = append(problems, "set APIKey or UserToken, not both")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("client config: %s", strings.Join(problems, "; "))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	agent := cfg.UserAgent
	if agent == "" {
		agent = "aiproxy-go"
	}
	c := &Client{base: u, org: cfg.Org, secret: cfg.APIKey, auth: "Api-Key " + cfg.APIKey, http: hc, agent: agent}
	if cfg.UserToken != "" {
		c.secret, c.auth = cfg.UserToken, "Token "+cfg.UserToken
	}
	return c, nil
}

// FromEnv returns a Client configured by AIPROXY_URL, AIPROXY_ORG and
// AIPROXY_API_KEY, read through getenv (os.Getenv in programs).
func FromEnv(getenv func(string) string) (*Client, error) {
	return New(Config{URL: getenv("AIPROXY_URL"), Org: getenv("AIPROXY_ORG"), APIKey: getenv("AIPROXY_API_KEY")})
}

// Org returns the org the client acts for.
func (c *Client) Org() string { return c.org }

// orgURL returns the URL of a path below /api/ai-proxy/orgs/{org}.
func (c *Client) orgURL(parts ...string) string {
	escaped := []string{c.base.String(), "api/ai-proxy/orgs", url.PathEscape(c.org)}
	for _, p := range parts {
		escaped = append(escaped, url.PathEscape(p))
	}
	return strings.Join(escaped, "/") + "/"
}

// Service is a service in the discovery list.
type Service struct {
	Slug              string `json:"slug"`
	DisplayName       string `json:"display_name"`
	ServiceType       string `json:"service_type"`
	IsEnabled         bool   `json:"is_enabled"`
	SupportsAsyncJobs bool   `json:"supports_async_jobs"`
	SupportsStreaming bool   `json:"supports_streaming"`
	CredentialName    string `json:"credential_name"`
	EndpointCount     int    `json:"endpoint_count"`
}

// ServiceDetail is one service with its endpoints.
type ServiceDetail struct {
	Slug                  string            `json:"slug"`
	DisplayName           string            `json:"display_name"`
	BaseURL               string            `json:"base_url"`
	ServiceType           string            `json:"service_type"`
	AuthMode              string            `json:"auth_mode"`
	IsEnabled             bool              `json:"is_enabled"`
	SupportsAsyncJobs     bool              `json:"supports_async_jobs"`
	SupportsStreaming     bool              `json:"supports_streaming"`
	DefaultTimeoutSeconds int               `json:"default_timeout_seconds"`
	CredentialName        string            `json:"credential_name"`
	CredentialPolicy      CredentialPolicy  `json:"credential_policy"`
	CredentialSchema      map[string]string `json:"credential_schema"`
	Endpoints             []Endpoint        `json:"endpoints"`
}

// Endpoint returns the endpoint with a slug.
func (d *ServiceDetail) Endpoint(slug string) (Endpoint, bool) {
	for _, e := range d.Endpoints {
		if e.Slug == slug {
			return e, true
		}
	}
	return Endpoint{}, false
}

// CredentialPolicy says which credential sources a service may use.
type CredentialPolicy struct {
	AllowTenantKey        bool   `json:"allow_tenant_key"`
	AllowPlatformKey      bool   `json:"allow_platform_key"`
	DefaultSource         string `json:"default_source"`
	FallbackToPlatformKey bool   `json:"fallback_to_platform_key"`
}

// Endpoint is one action of a service.
type Endpoint struct {
	Slug              string `json:"slug"`
	PathTemplate      string `json:"path_template"`
	HTTPMethod        string `json:"http_method"`
	RequestMode       string `json:"request_mode"`
	ResponseMode      string `json:"response_mode"`
	SupportsStreaming bool   `json:"supports_streaming"`
	CallbackMode      string `json:"callback_mode"`
	IsEnabled         bool   `json:"is_enabled"`
}

// Services lists the org's enabled services.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var out []Service
	return out, c.getJSON(ctx, c.orgURL("services"), &out)
}

// Service returns one service and its endpoints.
func (c *Client) Service(ctx context.Context, slug string) (*ServiceDetail, error) {
	var out ServiceDetail
	if err := c.getJSON(ctx, c.orgURL("services", slug), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Envelope is an invoke request: every field is optional. Body is encoded
// as JSON (a json.RawMessage is sent as it is).
type Envelope struct {
	Body       any               `json:"body,omitempty"`
	Query      map[string]any    `json:"query,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	PathParams map[string]string `json:"path_params,omitempty"`
}

// Response is a successful invoke answer whose body is still to be read.
// Close it when done.
type Response struct {
	Status int
	Header http.Header
	// Body is the provider's body, streamed.
	Body io.ReadCloser
}

// ContentType returns the media type of the answer, without parameters.
func (r *Response) ContentType() string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

// IsJSON reports whether the answer is JSON.
func (r *Response) IsJSON() bool {
	mt := r.ContentType()
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// Close closes the body.
func (r *Response) Close() error { return r.Body.Close() }

// Bytes reads the whole body and closes it.
func (r *Response) Bytes() ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

// JSON decodes the body into v and closes it. A body that is not JSON is
// an error, not a garbled value.
func (r *Response) JSON(v any) error {
	defer r.Body.Close()
	if !r.IsJSON() {
		return fmt.Errorf("expected a JSON answer, got %q", r.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// Invoke calls POST …/services/{service}/{action}/ with an envelope and
// returns the provider's answer unread. Any status of 400 or more is
// returned as an *Error instead.
func (c *Client) Invoke(ctx context.Context, service, action string, env Envelope) (*Response, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return c.InvokeRaw(ctx, service, action, bytes.NewReader(data), "application/json")
}

// InvokeRaw is Invoke with a request body already encoded, such as an
// envelope read from a file or a multipart upload.
func (c *Client) InvokeRaw(ctx context.Context, service, action string, body io.Reader, contentType string) (*Response, error) {
	req, err := c.newRequest(ctx, http.MethodPost, c.orgURL("services", service, action), body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.do(req)
}

// InvokeJSON invokes an action and decodes its JSON answer into out.
func (c *Client) InvokeJSON(ctx context.Context, service, action string, env Envelope, out any) error {
	resp, err := c.Invoke(ctx, service, action, env)
	if err != nil {
		return err
	}
	return resp.JSON(out)
}

// InvokeBytes invokes an action and returns its whole body and
// Content-Type, for binary answers of modest size.
func (c *Client) InvokeBytes(ctx context.Context, service, action string, env Envelope) ([]byte, string, error) {
	resp, err := c.Invoke(ctx, service, action, env)
	if err != nil {
		return nil, "", err
	}
	data, err := resp.Bytes()
	return data, resp.Header.Get("Content-Type"), err
}

// Download fetches a URL that a provider handed out, such as a finished
// video's video_url, without sending the aiproxy key. Close the body.
func (c *Client) Download(ctx context.Context, rawURL string) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if resp.StatusCode >= 400 {
		resp.Body.Close()
		return nil, &Error{Status: resp.StatusCode, Code: "download_failed", Detail: "Download failed: " + resp.Status}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}

func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("User-Agent", c.agent)
	if c.user != "" {
		req.Header.Set(headerUser, c.user)
	}
	return req, nil
}

// do sends a request, turning an error status into an *Error.
func (c *Client) do(req *http.Request) (*Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, redact(err, c.secret))
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, errorFrom(resp)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}

func (c *Client) getJSON(ctx context.Context, u string, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	return resp.JSON(out)
}

// redact keeps the key or token out of an error's text.
func redact(err error, key string) error {
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), key, "[REDACTED]"))
}

// NativeURL returns the base URL of a service's native passthrough, for a
// provider's official SDK: …/api/ai-proxy/orgs/{org}/native/{service}. The
// SDK sends the aiproxy key in the provider's own auth header.
func (c *Client) NativeURL(service string) string {
	return strings.Join([]string{c.base.String(), "api/ai-proxy/orgs", url.PathEscape(c.org), "native", url.PathEscape(service)}, "/")
}
