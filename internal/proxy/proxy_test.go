package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The keys the fixtures store; each is long enough to be redacted whole.
const (
	tenantKey   = "tenant-secret-key-0123456789"
	platformKey = "platform-secret-key-9876543210"
	testOrg     = "acme"
)

// received is one request as the fake upstream saw it.
type received struct {
	Method, Path, RawPath, RawQuery string
	Header                          http.Header
	Body                            []byte
}

// upstream is an httptest server that records every request and answers
// with a handler the test sets.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []received
	answer http.HandlerFunc
}

func newUpstream(t *testing.T, answer http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{answer: answer}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, received{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(),
			RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if u.answer != nil {
			u.answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.reqs...)
}

// only returns the one request the upstream received.
func (u *upstream) only(t *testing.T) received {
	t.Helper()
	reqs := u.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// services is a hand-written catalog for services a test shapes itself.
type services map[string]*aiproxy.Service

func (s services) Service(slug string) (*aiproxy.Service, bool) {
	svc, ok := s[slug]
	if !ok || !svc.IsEnabled {
		return nil, false
	}
	return svc, true
}

func (s services) Services() []*aiproxy.Service {
	var out []*aiproxy.Service
	for _, svc := range s {
		out = append(out, svc)
	}
	return out
}

// testService is a service named "svc" at baseURL with one endpoint per
// given endpoint; its credential is "svc" in X-Test-Key.
func testService(baseURL string, policy aiproxy.CredentialPolicy, eps ...aiproxy.Endpoint) *aiproxy.Service {
	svc := &aiproxy.Service{
		Slug: "svc", DisplayName: "Svc", BaseURL: baseURL, IsEnabled: true, DefaultTimeoutSeconds: 5,
		CredentialName: "svc", CredentialPolicy: policy, CredentialSchema: map[string]string{"key": "string"},
		Upstream: aiproxy.Upstream{AuthHeader: "X-Test-Key", CredentialField: "key",
			RequestHeaders: []string{"X-Extra-In"}, ResponseHeaders: []string{"X-Extra-Out"}},
	}
	for _, e := range eps {
		e.IsEnabled = true
		if e.HTTPMethod == "" {
			e.HTTPMethod = http.MethodPost
		}
		if e.PathTemplate == "" {
			e.PathTemplate = "/v1/" + e.Slug
		}
		pt, err := aiproxy.ParsePathTemplate(e.PathTemplate)
		if err != nil {
			panic(err)
		}
		e.Path = pt
		svc.Endpoints = append(svc.Endpoints, e)
	}
	return svc
}

var bothPolicy = aiproxy.CredentialPolicy{AllowTenantKey: true, AllowPlatformKey: true, DefaultSource: aiproxy.SourceTenant, FallbackToPlatformKey: true}

// fixture is a Proxy over a real SQLite store and vault.
type fixture struct {
	db    *sqlite.DB
	vault *vault.Vault
	admin *admin.Service
	cat   Catalog
	proxy *Proxy
}

type catalogBoth interface {
	Catalog
	admin.Catalog
}

func newFixture(t *testing.T, cat catalogBoth, cfg Config) *fixture {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(db, v, cat, nil)
	if _, err := adm.CreateOrg(ctx, testOrg, "Acme"); err != nil {
		t.Fatal(err)
	}
	cfg.Catalog, cfg.Credentials, cfg.Vault = cat, db, v
	return &fixture{db: db, vault: v, admin: adm, cat: cat, proxy: New(cfg)}
}

func (f *fixture) setCredential(t *testing.T, src aiproxy.Source, name, key string) {
	t.Helper()
	org := testOrg
	if src == aiproxy.SourcePlatform {
		org = ""
	}
	if _, err := f.admin.SetCredential(context.Background(), src, org, name, aiproxy.CredentialValue{"key": key}); err != nil {
		t.Fatal(err)
	}
}

// realCatalog loads the built-in catalog with every service sent to u.
func realCatalog(t *testing.T, u *upstream) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{
		"heygen": u.URL + "/heygen", "elevenlabs": u.URL + "/elevenlabs",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// invokeRequest builds an inbound invoke request with a JSON envelope.
func invokeRequest(envelope string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/ai-proxy/orgs/acme/services/x/y/", strings.NewReader(envelope))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Api-Key aip_client_key_must_not_leak")
	r.Header.Set("Cookie", "session=client-cookie")
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	return r
}

// snapshot is what must not change on an inbound request.
type snapshot struct {
	method, url, host string
	header            http.Header
	contentLength     int64
}

func snap(r *http.Request) snapshot {
	return snapshot{r.Method, r.URL.String(), r.Host, r.Header.Clone(), r.ContentLength}
}

func assertUnchanged(t *testing.T, before snapshot, r *http.Request) {
	t.Helper()
	if after := snap(r); !reflect.DeepEqual(before, after) {
		t.Fatalf("inbound request changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// errorOf asserts err is an *aiproxy.Error with a code and message.
func errorOf(t *testing.T, err error, code aiproxy.Code, msg string) *aiproxy.Error {
	t.Helper()
	var e *aiproxy.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *aiproxy.Error %s", err, code)
	}
	if e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("err = %s %q, want %s %q", e.Code, e.Message, code, msg)
	}
	return e
}

// serveProxy runs the proxy behind a real HTTP server, as httpapi would,
// rendering errors by status only.
func serveProxy(t *testing.T, p *Proxy, service, action string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := p.Invoke(w, r, testOrg, service, action); err != nil {
			switch aiproxy.ErrorCode(err) {
			case aiproxy.CodeUpstreamTimeout:
				w.WriteHeader(http.StatusGatewayTimeout)
			default:
				w.WriteHeader(http.StatusBadGateway)
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// waitOrFail waits for a channel for a bounded time.
func waitOrFail(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	t.Parallel()
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	up := newUpstream(t, hang)
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "slow", RequestMode: aiproxy.RequestJSON,
		ResponseMode: aiproxy.ResponseJSON, TimeoutSeconds: 1})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	start := time.Now()
	w := httptest.NewRecorder()
	_, err := f.proxy.Invoke(w, invokeRequest(`{}`), testOrg, "svc", "slow")
	errorOf(t, err, aiproxy.CodeUpstreamTimeout, aiproxy.MsgUpstreamTimeout)
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Fatalf("timed out after %v, want about 1s", d)
	}
	if w.Body.Len() != 0 {
		t.Fatal("wrote a body before returning the timeout")
	}
}

// TestIdleTimeoutMidStream checks that a provider that goes silent after
// the head cuts the response, and that a slow but steady one does not.
func TestIdleTimeoutMidStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		gaps    []time.Duration
		wantCut bool
	}{
		{"steady stream longer than the timeout", []time.Duration{400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}, false},
		{"silence longer than the timeout", []time.Duration{10 * time.Millisecond, 2500 * time.Millisecond}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "audio/mpeg")
				for _, g := range tc.gaps {
					io.WriteString(w, "chunk")
					w.(http.Flusher).Flush()
					select {
					case <-time.After(g):
					case <-r.Context().Done():
						return
					}
				}
			})
			svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "s", RequestMode: aiproxy.RequestJSON,
				ResponseMode: aiproxy.ResponseStream, TimeoutSeconds: 1})
			f := newFixture(t, services{"svc": svc}, Config{})
			f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
			w := httptest.NewRecorder()
			out, err := f.proxy.Invoke(w, invokeRequest(`{}`), testOrg, "svc", "s")
			if err != nil {
				t.Fatal(err)
			}
			if (out.Err != nil) != tc.wantCut {
				t.Fatalf("outcome err = %v, want cut %v", out.Err, tc.wantCut)
			}
			if !tc.wantCut && w.Body.String() != strings.Repeat("chunk", len(tc.gaps)) {
				t.Fatalf("client got %q", w.Body)
			}
			if out.Status != 200 {
				t.Fatalf("status = %d", out.Status)
			}
		})
	}
}

func TestClientGone(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	ctx, cancel := context.WithCancel(context.Background())
	r := invokeRequest(`{}`).WithContext(ctx)
	go func() {
		waitOrFail(t, arrived, "the upstream request")
		cancel()
	}()
	start := time.Now()
	_, err := f.proxy.Invoke(httptest.NewRecorder(), r, testOrg, "svc", "go")
	if !errors.Is(err, ErrClientGone) {
		t.Fatalf("err = %v, want ErrClientGone", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("the proxy kept waiting after the client left")
	}
}

func TestDialFailure(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	svc := testService(deadURL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	_, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "go")
	e := errorOf(t, err, aiproxy.CodeUpstreamFailed, aiproxy.MsgUpstreamFailed)
	if e.Err == nil || strings.Contains(e.Err.Error(), tenantKey) {
		t.Fatalf("cause = %v", e.Err)
	}
}

// TestDisabledEndpointAndService checks that disabled entries are not found.
func TestDisabledEndpointAndService(t *testing.T) {
	up := newUpstream(t, nil)
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "on", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON},
		aiproxy.Endpoint{Slug: "off", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	svc.Endpoints[1].IsEnabled = false
	off := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "on", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
	off.Slug, off.IsEnabled = "offsvc", false
	f := newFixture(t, services{"svc": svc, "offsvc": off}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	_, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "off")
	errorOf(t, err, aiproxy.CodeNotFound, "External proxy service 'svc/off' not found or disabled.")
	_, err = f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "offsvc", "on")
	errorOf(t, err, aiproxy.CodeNotFound, "External proxy service 'offsvc' not found or disabled.")
	if _, err := f.proxy.Invoke(httptest.NewRecorder(), invokeRequest(`{}`), testOrg, "svc", "on"); err != nil {
		t.Fatal(err)
	}
}
