package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// Keys the fixtures accept.
const (
	hgKey = "hg-test-key"
	elKey = "el-test-key"
)

// fakeClock is a settable clock for render lifecycles.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a sandbox behind a real HTTP server.
type fixture struct {
	t     *testing.T
	sb    *sandbox.Server
	srv   *httptest.Server
	clock *fakeClock
}

// newFixture starts a sandbox with cfg (keys and clock filled in when empty).
func newFixture(t *testing.T, cfg sandbox.Config) *fixture {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	if cfg.HeyGenKeys == nil {
		cfg.HeyGenKeys = []string{hgKey}
	}
	if cfg.ElevenLabsKeys == nil {
		cfg.ElevenLabsKeys = []string{elKey}
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.StreamChunkDelay == 0 {
		cfg.StreamChunkDelay = 5 * time.Millisecond
	}
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sb: sb, srv: srv, clock: clock}
}

// request is one call a test makes.
type request struct {
	method, path, body string
	header             map[string]string
}

// do sends req and returns the response with its body read.
func (f *fixture) do(req request) (*http.Response, []byte) {
	f.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	method := req.method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequest(method, f.srv.URL+req.path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(r)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("read %s %s: %v", method, req.path, err)
	}
	return resp, b
}

// hg sends an authorized HeyGen request.
func (f *fixture) hg(method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do(request{method: method, path: "/heygen" + path, body: body, header: map[string]string{"X-Api-Key": hgKey}})
}

// el sends an authorized ElevenLabs request.
func (f *fixture) el(method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do(request{method: method, path: "/elevenlabs" + path, body: body,
		header: map[string]string{"xi-api-key": elKey, "Content-Type": "application/json"}})
}

// decode unmarshals b into v or fails the test.
func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", truncate(b), err)
	}
}

// truncate shortens b for failure messages.
func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// wantResponse checks a status and an exact JSON body (compared semantically).
func wantResponse(t *testing.T, resp *http.Response, body []byte, status int, want string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d; body %s", resp.StatusCode, status, truncate(body))
	}
	if want == "" {
		return
	}
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", truncate(body), err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	g, _ := json.Marshal(got)
	e, _ := json.Marshal(exp)
	if string(g) != string(e) {
		t.Errorf("body =\n%s\nwant\n%s", g, e)
	}
}

// Second keys, for tests of per-account state.
const (
	hgOther = "hg-other-key"
	elOther = "el-other-key"
)

// newTwoKeyFixture starts a sandbox that accepts hgKey and hgOther, elKey and elOther.
func newTwoKeyFixture(t *testing.T, cfg sandbox.Config) *fixture {
	t.Helper()
	cfg.HeyGenKeys = []string{hgKey, hgOther}
	cfg.ElevenLabsKeys = []string{elKey, elOther}
	return newFixture(t, cfg)
}

// keyHeader is the header a provider reads its key from.
func keyHeader(provider string) string {
	if provider == "heygen" {
		return "X-Api-Key"
	}
	return "xi-api-key"
}

// as sends a request to provider ("heygen" or "elevenlabs") with key; a body that looks like
// JSON is sent as JSON.
func (f *fixture) as(key, provider, method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	h := map[string]string{keyHeader(provider): key}
	if strings.HasPrefix(body, "{") {
		h["Content-Type"] = "application/json"
	}
	return f.do(request{method: method, path: "/" + provider + path, body: body, header: h})
}

// formPart is one field or file of a multipart request.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

// field is a text form field.
func field(name, value string) formPart { return formPart{name: name, data: []byte(value)} }

// file is a file form part.
func file(name, filename, contentType string, data []byte) formPart {
	return formPart{name: name, filename: filename, contentType: contentType, data: data}
}

// multipartAs sends parts as multipart/form-data to provider with key.
func (f *fixture) multipartAs(key, provider, method, path string, parts ...formPart) (*http.Response, []byte) {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
			h.Set("Content-Type", p.contentType)
		}
		h.Set("Content-Disposition", disp)
		w, err := mw.CreatePart(h)
		if err != nil {
			f.t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		f.t.Fatal(err)
	}
	return f.do(request{method: method, path: "/" + provider + path, body: buf.String(),
		header: map[string]string{keyHeader(provider): key, "Content-Type": mw.FormDataContentType()}})
}

// jsonField decodes b and returns the value at a dotted path of object keys.
func jsonField(t *testing.T, b []byte, path string) any {
	t.Helper()
	var v any
	decode(t, b, &v)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not inside an object in %s", path, k, truncate(b))
		}
		v = m[k]
	}
	return v
}

// wantStatus fails the test unless resp has status.
func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, truncate(body))
	}
}
