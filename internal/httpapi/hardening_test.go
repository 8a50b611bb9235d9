package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/aiproxy/aiproxy/internal/sqlite"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// hardEnv is the API over the sandbox, like env, with knobs the hardening
// tests turn: the proxy's limits, short endpoint timeouts, CORS origins,
// and everything closable so that goleak can check what is left running.
type hardEnv struct {
	t         *testing.T
	url       string
	sandbox   *sandbox.Server
	sbSrv     *httptest.Server
	srv       *httptest.Server
	db        *sqlite.DB
	transport *http.Transport
	client    *http.Client
	logs      *lockedBuffer
	// invoke is an invoke key of org acme; other one of org other.
	invoke, other string
}

// shortTimeouts gives the endpoints the fault tests use a one-second
// timeout.
const shortTimeouts = `{"slug": "elevenlabs", "endpoints": [
  {"slug": "list-models", "timeout_seconds": 1},
  {"slug": "tts-stream", "timeout_seconds": 1}]}`

func newHardEnv(t *testing.T, pc proxy.Config, api Config) *hardEnv {
	t.Helper()
	ctx := context.Background()
	e := &hardEnv{t: t, logs: &lockedBuffer{}}
	e.sandbox = sandbox.New(sandbox.Config{HeyGenKeys: []string{heygenKey}, ElevenLabsKeys: []string{elevenLabsKey},
		StreamChunkDelay: -1})
	e.sbSrv = httptest.NewServer(e.sandbox)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "elevenlabs.json"), []byte(shortTimeouts), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalog.Options{Dir: dir, BaseURLs: map[string]string{
		"heygen": e.sbSrv.URL + "/heygen", "elevenlabs": e.sbSrv.URL + "/elevenlabs"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.db, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "aiproxy.db")); err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	adm := admin.New(e.db, v, cat, nil)
	e.transport = proxy.NewTransport()
	pc.Catalog, pc.Credentials, pc.Vault, pc.Logger, pc.Transport = cat, e.db, v, log, e.transport
	api.Catalog, api.Invoker, api.Keys, api.Orgs, api.Admin, api.Logger = cat, proxy.New(pc), e.db, e.db, adm, log
	e.srv = httptest.NewServer(New(api))
	e.url = e.srv.URL
	e.client = &http.Client{Transport: &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, org := range []string{"acme", "other"} {
		if _, err := adm.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
		for name, key := range map[string]string{"heygen": heygenKey, "elevenlabs": elevenLabsKey} {
			if _, err := adm.SetCredential(ctx, aiproxy.SourceTenant, org, name, aiproxy.CredentialValue{"key": key}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for org, dst := range map[string]*string{"acme": &e.invoke, "other": &e.other} {
		if *dst, _, err = adm.CreateKey(ctx, org, "test", aiproxy.RoleInvoke); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.close)
	return e
}

// close stops everything the env started; it may be called twice.
func (e *hardEnv) close() {
	e.client.CloseIdleConnections()
	e.srv.Close()
	e.transport.CloseIdleConnections()
	e.sbSrv.Close()
	e.db.Close()
}

// send sends a request with the acme invoke key and returns the status,
// headers and body.
func (e *hardEnv) send(req *http.Request) (int, http.Header, []byte) {
	e.t.Helper()
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Api-Key "+e.invoke)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (e *hardEnv) invokeRaw(org, service, action, contentType string, body io.Reader) *http.Request {
	req, err := http.NewRequest("POST", fmt.Sprintf("%s%s/orgs/%s/services/%s/%s/", e.url, base, org, service, action), body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// wantContractError checks that an answer is a 4xx in the contract's
// shape: a flat JSON object with a code and a detail or error message.
func wantContractError(t *testing.T, status int, body []byte, wantStatus int) {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("status %d, body %.200q is not a flat JSON object", status, body)
	}
	msg := m["detail"] + m["error"]
	if status != wantStatus || m["code"] == "" || msg == "" || len(m) != 2 {
		t.Fatalf("got %d %s, want %d in the contract's shape", status, body, wantStatus)
	}
}

// multipartBody builds an upload: envelope fields, then one file.
func multipartBody(t *testing.T, fields map[string]string, file []byte) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if file != nil {
		w, _ := mw.CreateFormFile("files", "voice.mp3")
		_, _ = w.Write(file)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), &b
}

// TestHostileInput sends a table of attacks; each must be refused with a
// 4xx in the contract's shape before anything reaches the provider.
func TestHostileInput(t *testing.T) {
	e := newHardEnv(t, proxy.Config{MaxBodyBytes: 1 << 20}, Config{})
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	deepArray := strings.Repeat("[", 100000)
	huge := `{"body":{"text":"` + strings.Repeat("x", 11<<20) + `"}}`
	ttsWith := func(voice string) string {
		b, _ := json.Marshal(map[string]any{"path_params": map[string]string{"voice_id": voice}, "body": map[string]string{"text": "hi"}})
		return string(b)
	}
	withHeader := func(name, value string) string {
		b, _ := json.Marshal(map[string]any{"headers": map[string]string{name: value}})
		return string(b)
	}
	type attack struct {
		name, service, action, body string
		status                      int
	}
	attacks := []attack{
		{"path traversal", "elevenlabs", "tts", ttsWith("../../v1/user"), 400},
		{"dot dot", "elevenlabs", "tts", ttsWith(".."), 400},
		{"encoded slash", "elevenlabs", "tts", ttsWith("a%2Fb"), 400},
		{"encoded dot dot", "elevenlabs", "tts", ttsWith("%2e%2e"), 400},
		{"double-encoded slash", "elevenlabs", "tts", ttsWith("a%252Fb"), 400},
		{"backslash", "elevenlabs", "tts", ttsWith(`..\user`), 400},
		{"query in path param", "elevenlabs", "tts", ttsWith("x?admin=1"), 400},
		{"fragment in path param", "elevenlabs", "tts", ttsWith("x#y"), 400},
		{"CRLF in path param", "elevenlabs", "tts", ttsWith("x\r\nHost: evil"), 400},
		{"NUL in path param", "elevenlabs", "tts", ttsWith("x\x00y"), 400},
		{"unknown path param", "elevenlabs", "list-voices", `{"path_params":{"host":"evil.example"}}`, 400},
		{"CRLF in header value", "elevenlabs", "list-voices", withHeader("Accept", "a\r\nX-Evil: 1"), 400},
		{"LF in header value", "elevenlabs", "list-voices", withHeader("Accept", "a\nb"), 400},
		{"NUL in header value", "elevenlabs", "list-voices", withHeader("Accept", "a\x00b"), 400},
		{"CRLF in header name", "elevenlabs", "list-voices", withHeader("Accept\r\nHost", "evil"), 400},
		{"override provider key", "elevenlabs", "list-voices", withHeader("xi-api-key", "attacker"), 400},
		{"override provider key, case", "heygen", "list-voices", withHeader("X-API-KEY", "attacker"), 400},
		{"override Authorization", "elevenlabs", "list-voices", withHeader("Authorization", "Bearer x"), 400},
		{"override Host", "elevenlabs", "list-voices", withHeader("Host", "evil.example"), 400},
		{"X-Forwarded-Host", "elevenlabs", "list-voices", withHeader("X-Forwarded-Host", "evil.example"), 400},
		{"smuggle Transfer-Encoding", "elevenlabs", "list-voices", withHeader("Transfer-Encoding", "chunked"), 400},
		{"smuggle Content-Length", "elevenlabs", "list-voices", withHeader("Content-Length", "0"), 400},
		{"hop-by-hop Connection", "elevenlabs", "list-voices", withHeader("Connection", "close"), 400},
		{"deep JSON", "elevenlabs", "list-voices", `{"body":` + deep + `}`, 400},
		{"deep array", "elevenlabs", "list-voices", `{"body":` + deepArray, 400},
		{"huge JSON", "elevenlabs", "list-voices", huge, 413},
		{"not an object", "elevenlabs", "list-voices", `[1,2]`, 400},
		{"string envelope", "elevenlabs", "list-voices", `"x"`, 400},
		{"path params an array", "elevenlabs", "tts", `{"path_params":["x"]}`, 400},
		{"path param an object", "elevenlabs", "tts", `{"path_params":{"voice_id":{"a":1}}}`, 400},
		{"query an object value", "elevenlabs", "list-voices", `{"query":{"a":{"b":1}}}`, 400},
		{"query a string", "elevenlabs", "list-voices", `{"query":"a=1"}`, 400},
		{"header a number", "elevenlabs", "list-voices", `{"headers":{"Accept":1}}`, 400},
		{"headers an array", "elevenlabs", "list-voices", `{"headers":["Accept"]}`, 400},
		{"files in JSON", "elevenlabs", "list-voices", `{"files":{"f":"AAAA"}}`, 400},
		{"unknown field", "elevenlabs", "list-voices", `{"bodyy":{}}`, 400},
		{"invalid UTF-8", "elevenlabs", "list-voices", "{\"body\":{\"text\":\"\xff\xfe\"}}", 400},
		{"NUL in JSON", "elevenlabs", "list-voices", "{\"body\":{}}\x00", 400},
		{"trailing garbage", "elevenlabs", "list-voices", `{"body":{}} {"x":1}`, 400},
		{"unknown service", "evil.example", "x", `{}`, 404},
		{"unknown action", "elevenlabs", "..%2F..%2Fv1%2Fuser", `{}`, 404},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e.sandbox.ClearRequests()
			status, _, body := e.send(e.invokeRaw("acme", a.service, a.action, "application/json", strings.NewReader(a.body)))
			wantContractError(t, status, body, a.status)
			if n := len(e.sandbox.Requests()); n != 0 {
				t.Fatalf("the provider was called %d times", n)
			}
		})
	}
	t.Run("oversized multipart upload", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			e.sandbox.ClearRequests()
			ct, b := multipartBody(t, map[string]string{"body": `{"name":"v"}`}, bytes.Repeat([]byte("a"), 2<<20))
			var rd io.Reader = b
			if chunked {
				rd = io.MultiReader(b) // hides the length: sent chunked
			}
			status, _, body := e.send(e.invokeRaw("acme", "elevenlabs", "add-voice", ct, rd))
			wantContractError(t, status, body, 413)
			if n := len(e.sandbox.Requests()); n != 0 {
				t.Fatalf("chunked=%v: the provider got %d requests", chunked, n)
			}
		}
	})
	t.Run("multipart envelope attacks", func(t *testing.T) {
		for name, fields := range map[string]map[string]string{
			"header override": {"headers": `{"xi-api-key":"attacker"}`},
			"deep body":       {"body": deep},
			"not JSON":        {"body": "{"},
			"invalid UTF-8":   {"body": "{\"name\":\"\xff\"}"},
		} {
			e.sandbox.ClearRequests()
			ct, b := multipartBody(t, fields, []byte("audio"))
			status, _, body := e.send(e.invokeRaw("acme", "elevenlabs", "add-voice", ct, b))
			if status != 400 {
				t.Errorf("%s: %d %s", name, status, body)
			}
			wantContractError(t, status, body, 400)
			if n := len(e.sandbox.Requests()); n != 0 {
				t.Fatalf("%s: the provider got %d requests", name, n)
			}
		}
	})
	t.Run("multipart without boundary", func(t *testing.T) {
		status, _, body := e.send(e.invokeRaw("acme", "elevenlabs", "add-voice", "multipart/form-data", strings.NewReader("x")))
		wantContractError(t, status, body, 400)
	})
	t.Run("too many headers", func(t *testing.T) {
		req := e.invokeRaw("acme", "elevenlabs", "list-voices", "application/json", strings.NewReader("{}"))
		for i := range DefaultMaxHeaderCount + 1 {
			req.Header.Set(fmt.Sprintf("X-Pad-%d", i), "x")
		}
		e.sandbox.ClearRequests()
		status, _, body := e.send(req)
		wantContractError(t, status, body, 413)
		if len(e.sandbox.Requests()) != 0 {
			t.Fatal("the provider was called")
		}
	})
	t.Run("headers too large", func(t *testing.T) {
		// Go's server answers 431 itself, before any handler, past
		// MaxHeaderBytes (1 MiB in httptest; serve sets 64 KiB).
		req := e.invokeRaw("acme", "elevenlabs", "list-voices", "application/json", strings.NewReader("{}"))
		req.Header.Set("X-Big", strings.Repeat("a", 2<<20))
		resp, err := e.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// TestNoSSRF checks that nothing a client sends moves a call off the
// catalog's host: calls that reach the provider reach only the sandbox,
// and a provider's redirect is passed back, never followed.
func TestNoSSRF(t *testing.T) {
	var evilHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHits.Add(1) }))
	defer evil.Close()
	e := newHardEnv(t, proxy.Config{}, Config{})
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	e.sandbox.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/voices/redirect", Status: 302,
		Header: http.Header{"Location": {evil.URL + "/steal"}}})
	for _, env := range []string{
		`{"path_params":{"voice_id":"@` + evilHost + `"}}`,
		`{"path_params":{"voice_id":"redirect"}}`,
		`{"query":{"url":"` + evil.URL + `","host":"` + evilHost + `"}}`,
	} {
		action := "get-voice"
		if strings.Contains(env, "query") {
			action = "list-voices"
		}
		req := e.invokeRaw("acme", "elevenlabs", action, "application/json", strings.NewReader(env))
		req.Host = evilHost // the inbound Host header plays no part either
		status, h, _ := e.send(req)
		if strings.Contains(env, "redirect") && (status != 302 || h.Get("Location") != evil.URL+"/steal") {
			t.Errorf("redirect = %d %q, want the provider's 302 passed back", status, h.Get("Location"))
		}
	}
	if n := evilHits.Load(); n != 0 {
		t.Fatalf("the evil host got %d requests", n)
	}
	if len(e.sandbox.Requests()) != 3 {
		t.Fatalf("the sandbox got %d requests, want 3", len(e.sandbox.Requests()))
	}
}

// TestExpiredKey checks that a key past its expiry is refused like a
// revoked one.
func TestExpiredKey(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{})
	full, id, hash, err := aiproxy.NewKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	k := aiproxy.APIKey{ID: id, OrgKey: "acme", Role: aiproxy.RoleInvoke, SecretHash: hash,
		CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Minute)}
	if err := e.db.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.url+base+"/orgs/acme/services/", nil)
	req.Header.Set("Authorization", "Api-Key "+full)
	status, _, body := e.send(req)
	wantContractError(t, status, body, 401)
}
