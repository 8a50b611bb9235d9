package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// The provider keys the sandbox accepts.
const (
	heygenKey     = "hg-sandbox-key-0123456789"
	elevenLabsKey = "el-sandbox-key-0123456789"
)

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is the whole API wired as cmd wires it, over a temp SQLite file, a
// real vault and catalog, and the sandbox as both providers.
type env struct {
	t       *testing.T
	url     string
	sandbox *sandbox.Server
	db      *sqlite.DB
	admin   *admin.Service
	logs    *lockedBuffer
	// Keys by who holds them.
	platform, acmeAdmin, acmeInvoke, otherInvoke, revoked string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	sb := sandbox.New(sandbox.Config{HeyGenKeys: []string{heygenKey}, ElevenLabsKeys: []string{elevenLabsKey}})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	cat, err := catalog.Load(catalog.Options{BaseURLs: map[string]string{
		"heygen": sbSrv.URL + "/heygen", "elevenlabs": sbSrv.URL + "/elevenlabs"}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	adm := admin.New(db, v, cat, nil)
	h := New(Config{
		Catalog: cat,
		Invoker: proxy.New(proxy.Config{Catalog: cat, Credentials: db, Vault: v, Logger: log}),
		Keys:    db, Orgs: db, Admin: adm, Logger: log,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL, sandbox: sb, db: db, admin: adm, logs: logs}
	for _, org := range []string{"acme", "other"} {
		if _, err := adm.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.platform = e.newKey("", aiproxy.RoleAdmin)
	e.acmeAdmin = e.newKey("acme", aiproxy.RoleAdmin)
	e.acmeInvoke = e.newKey("acme", aiproxy.RoleInvoke)
	e.otherInvoke = e.newKey("other", aiproxy.RoleInvoke)
	e.revoked = e.newKey("acme", aiproxy.RoleInvoke)
	id, _, _ := aiproxy.ParseKey(e.revoked)
	if _, err := adm.RevokeKey(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) newKey(org string, role aiproxy.Role) string {
	e.t.Helper()
	full, _, err := e.admin.CreateKey(context.Background(), org, "test", role)
	if err != nil {
		e.t.Fatal(err)
	}
	return full
}

// do sends a request with an Authorization header value (none when "")
// and returns the status, headers and body.
func (e *env) do(method, path, auth, body string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// expectBody asserts a JSON body equals want exactly.
func expectBody(t *testing.T, got []byte, want map[string]string) {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("body %s is not a flat JSON object: %v", got, err)
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("body = %s, want %v", got, want)
	}
}

func TestRoutesTrailingSlash(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		"/orgs/acme/services", "/orgs/acme/services/",
		"/orgs/acme/services/heygen", "/orgs/acme/services/heygen/",
	} {
		t.Run(path, func(t *testing.T) {
			status, _, body := e.do("GET", base+path, "Api-Key "+e.acmeInvoke, "")
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	status, _, body := e.do("GET", base+"/orgs/acme/services/", "Api-Key "+e.acmeInvoke, "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"credential_name", "display_name", "endpoint_count", "is_enabled", "service_type", "slug", "supports_async_jobs", "supports_streaming"}
	for _, s := range list {
		var keys []string
		for k := range s {
			keys = append(keys, k)
		}
		if len(keys) != len(wantKeys) {
			t.Errorf("summary %v has fields %v, want exactly %v", s["slug"], keys, wantKeys)
		}
		if strings.Contains(string(body), "upstream") || strings.Contains(string(body), "auth_header") {
			t.Error("discovery shows upstream settings")
		}
	}
	status, _, body = e.do("GET", base+"/orgs/acme/services/nope/", "Api-Key "+e.acmeInvoke, "")
	if status != 404 {
		t.Fatalf("unknown service status %d", status)
	}
	expectBody(t, body, map[string]string{"detail": "External proxy service 'nope' not found or disabled.", "code": "not_found"})
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path, allow string
	}{
		{"DELETE", "/orgs/acme/services/", "GET"},
		{"POST", "/orgs/acme/services", "GET"},
		{"GET", "/orgs/acme/services/heygen/list-avatars/", "POST"},
		{"PUT", "/orgs/acme/keys", "GET, POST"},
		{"GET", "/orgs/acme/credentials/heygen/", "PUT, DELETE"},
		{"PATCH", "/admin/orgs/", "GET, POST"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, h, body := e.do(tc.method, base+tc.path, "Api-Key "+e.platform, "")
			if status != 405 || h.Get("Allow") != tc.allow {
				t.Fatalf("got %d Allow %q, want 405 %q", status, h.Get("Allow"), tc.allow)
			}
			expectBody(t, body, map[string]string{"detail": `Method "` + tc.method + `" not allowed.`, "code": "method_not_allowed"})
		})
	}
	status, _, _ := e.do("HEAD", base+"/orgs/acme/services/", "Api-Key "+e.acmeInvoke, "")
	if status != 200 {
		t.Fatalf("HEAD on a GET route = %d", status)
	}
}

func TestUnknownPath(t *testing.T) {
	e := newEnv(t)
	status, _, body := e.do("GET", base+"/nothing/here", "", "")
	if status != 404 {
		t.Fatalf("status %d", status)
	}
	expectBody(t, body, map[string]string{"detail": "Not found.", "code": "not_found"})
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"kept", "req-123_abc.def", true},
		{"absent", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"unsafe characters", "abc def<script>", false},
		{"header injection", "abc\u00e9", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+base+"/orgs/acme/services/", nil)
			req.Header.Set("Authorization", "Api-Key "+e.acmeInvoke)
			if tc.in != "" {
				req.Header.Set("X-Request-Id", tc.in)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if tc.keep && got != tc.in {
				t.Fatalf("X-Request-Id = %q, want %q", got, tc.in)
			}
			if !tc.keep && (got == tc.in || len(got) != 24 || strings.Trim(got, "0123456789abcdef") != "") {
				t.Fatalf("X-Request-Id = %q, want a fresh id", got)
			}
			if !strings.Contains(e.logs.String(), "request_id="+got) {
				t.Fatalf("the access log lacks request_id=%s", got)
			}
		})
	}
}

// TestInvokeThroughSandbox runs documented calls end to end and checks the
// contract's bodies.
func TestInvokeThroughSandbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", "elevenlabs", aiproxy.CredentialValue{"key": elevenLabsKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.SetCredential(ctx, aiproxy.SourceTenant, "acme", "heygen", aiproxy.CredentialValue{"key": "hg-wrong-key-000000000"}); err != nil {
		t.Fatal(err)
	}
	invoke := base + "/orgs/acme/services/"
	tests := []struct {
		name, path, body string
		status           int
		want             map[string]string
	}{
		{"list voices", "elevenlabs/list-voices/", `{}`, 200, nil},
		{"wrong provider key is 502", "heygen/list-avatars/", `{}`, 502,
			map[string]string{"detail": "The upstream external service request failed.", "code": "upstream_failed"}},
		{"missing path param", "elevenlabs/tts/", `{"body":{"text":"x","model_id":"eleven_multilingual_v2"}}`, 400,
			map[string]string{"error": "Missing required path parameter: voice_id", "code": "invalid"}},
		{"unknown service", "unknown/x/", `{}`, 404,
			map[string]string{"detail": "External proxy service 'unknown' not found or disabled.", "code": "not_found"}},
		{"bad envelope", "elevenlabs/list-voices/", `{"bogus":1}`, 400,
			map[string]string{"detail": `Invalid request envelope: unknown field "bogus".`, "code": "invalid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.do("POST", invoke+tc.path, "Token "+e.acmeInvoke, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.want != nil {
				expectBody(t, body, tc.want)
			}
			if bytes.Contains(body, []byte(elevenLabsKey)) || bytes.Contains(body, []byte("hg-wrong-key")) {
				t.Fatal("a provider key reached the client")
			}
		})
	}

	t.Run("other org has no credential", func(t *testing.T) {
		status, _, body := e.do("POST", base+"/orgs/other/services/elevenlabs/list-voices/", "Api-Key "+e.otherInvoke, `{}`)
		if status != 404 {
			t.Fatalf("status %d", status)
		}
		expectBody(t, body, map[string]string{"detail": "No allowed credentials found for external proxy service 'elevenlabs'.", "code": "not_found"})
	})

	t.Run("provider 429 keeps Retry-After", func(t *testing.T) {
		e.sandbox.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/models", Status: 429,
			Header: http.Header{"Retry-After": {"11"}}, Count: 1})
		status, h, _ := e.do("POST", invoke+"elevenlabs/list-models/", "Api-Key "+e.acmeInvoke, `{}`)
		if status != 429 || h.Get("Retry-After") != "11" {
			t.Fatalf("got %d Retry-After %q", status, h.Get("Retry-After"))
		}
	})
}
