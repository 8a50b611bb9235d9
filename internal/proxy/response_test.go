package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

func TestResponseHandling(t *testing.T) {
	binaryWithSecret := "\xff\xfb\x90" + tenantKey + "\x00\x01"
	tests := []struct {
		name       string
		mode       aiproxy.ResponseMode
		status     int
		header     map[string]string
		body       string
		wantErr    aiproxy.Code
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{"json ok verbatim", aiproxy.ResponseJSON, 200, map[string]string{"Content-Type": "application/json"},
			`{"error":null,"data":{"video_id":"v1"}}`, "", 200, `{"error":null,"data":{"video_id":"v1"}}`,
			map[string]string{"Content-Type": "application/json"}},
		{"json echoing the key is redacted", aiproxy.ResponseJSON, 200, map[string]string{"Content-Type": "application/json"},
			`{"you_sent":"` + tenantKey + `","again":"` + tenantKey + `"}`, "", 200, `{"you_sent":"[REDACTED]","again":"[REDACTED]"}`,
			map[string]string{"Content-Length": ""}},
		{"json mode redacts whatever the type", aiproxy.ResponseJSON, 200, map[string]string{"Content-Type": "application/octet-stream"},
			"k=" + tenantKey, "", 200, "k=[REDACTED]", nil},
		{"binary mode error redacted whatever the type", aiproxy.ResponseBinary, 404, map[string]string{"Content-Type": "application/octet-stream"},
			"k=" + tenantKey, "", 404, "k=[REDACTED]", nil},
		{"stream mode error redacted", aiproxy.ResponseStream, 400, map[string]string{"Content-Type": "audio/mpeg"},
			"k=" + tenantKey, "", 400, "k=[REDACTED]", nil},
		{"provider 401 is 502", aiproxy.ResponseJSON, 401, nil, `{"detail":"bad key ` + tenantKey + `"}`, aiproxy.CodeUpstreamFailed, 0, "", nil},
		{"provider 403 is 502", aiproxy.ResponseBinary, 403, nil, `forbidden`, aiproxy.CodeUpstreamFailed, 0, "", nil},
		{"provider 500 is 502", aiproxy.ResponseJSON, 500, nil, `boom`, aiproxy.CodeUpstreamFailed, 0, "", nil},
		{"provider 503 is 502", aiproxy.ResponseStream, 503, map[string]string{"Retry-After": "9"}, `busy`, aiproxy.CodeUpstreamFailed, 0, "", nil},
		{"provider 429 verbatim with Retry-After", aiproxy.ResponseJSON, 429, map[string]string{"Retry-After": "7", "Content-Type": "application/json"},
			`{"detail":{"status":"too_many_concurrent_requests"}}`, "", 429, `{"detail":{"status":"too_many_concurrent_requests"}}`,
			map[string]string{"Retry-After": "7", "Content-Type": "application/json"}},
		{"provider 422 verbatim", aiproxy.ResponseBinary, 422, map[string]string{"Content-Type": "application/json"},
			`{"detail":[{"loc":["body","text"]}]}`, "", 422, `{"detail":[{"loc":["body","text"]}]}`, nil},
		{"provider 404 verbatim", aiproxy.ResponseJSON, 404, map[string]string{"Content-Type": "application/json"},
			`{"code":40031,"message":"Invalid video id"}`, "", 404, `{"code":40031,"message":"Invalid video id"}`, nil},
		{"binary error body redacted", aiproxy.ResponseBinary, 400, map[string]string{"Content-Type": "text/plain"},
			"key " + tenantKey + " rejected", "", 400, "key [REDACTED] rejected", nil},
		{"binary byte for byte", aiproxy.ResponseBinary, 200, map[string]string{"Content-Type": "audio/mpeg"},
			binaryWithSecret, "", 200, binaryWithSecret,
			map[string]string{"Content-Type": "audio/mpeg", "Content-Length": strconv.Itoa(len(binaryWithSecret))}},
		{"passthrough text redacted", aiproxy.ResponsePassthrough, 200, map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			tenantKey, "", 200, "[REDACTED]", nil},
		{"passthrough problem+json redacted", aiproxy.ResponsePassthrough, 200, map[string]string{"Content-Type": "application/problem+json"},
			`"` + tenantKey + `"`, "", 200, `"[REDACTED]"`, nil},
		{"passthrough image verbatim", aiproxy.ResponsePassthrough, 200, map[string]string{"Content-Type": "image/png"},
			binaryWithSecret, "", 200, binaryWithSecret, nil},
		{"headers allow-listed", aiproxy.ResponseJSON, 201, map[string]string{"Content-Type": "application/json",
			"X-Extra-Out": "yes", "Set-Cookie": "a=b", "Server": "nginx", "X-Internal": "1", "Location": "/v1/x", "ETag": `"e"`},
			`{}`, "", 201, `{}`, map[string]string{"X-Extra-Out": "yes", "Set-Cookie": "", "Server": "", "X-Internal": "",
				"Location": "/v1/x", "Etag": `"e"`}},
		{"stream sets no-buffering headers", aiproxy.ResponseStream, 200, map[string]string{"Content-Type": "audio/mpeg"},
			"chunk", "", 200, "chunk", map[string]string{"X-Accel-Buffering": "no", "Cache-Control": "no-store"}},
		{"redirect not followed", aiproxy.ResponseJSON, 302, map[string]string{"Location": "REDIRECT"},
			``, "", 302, ``, map[string]string{"Location": "REDIRECT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			elsewhere := newUpstream(t, nil)
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, strings.ReplaceAll(v, "REDIRECT", elsewhere.URL+"/steal"))
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: tc.mode})
			f := newFixture(t, services{"svc": svc}, Config{})
			f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
			w := httptest.NewRecorder()
			out, err := f.proxy.Invoke(w, invokeRequest(`{"body":{}}`), testOrg, "svc", "go")
			if n := len(elsewhere.requests()); n != 0 {
				t.Fatalf("a redirect was followed: %d requests elsewhere", n)
			}
			if tc.wantErr != "" {
				e := errorOf(t, err, tc.wantErr, aiproxy.MsgUpstreamFailed)
				if e.Err != nil && strings.Contains(e.Err.Error(), tenantKey) {
					t.Fatal("error cause holds the key")
				}
				if w.Body.Len() != 0 || len(w.Header()) != 0 {
					t.Fatalf("wrote %v %q before returning an error", w.Header(), w.Body)
				}
				if out.UpstreamStatus != tc.status {
					t.Fatalf("outcome upstream status = %d", out.UpstreamStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.wantStatus || w.Body.String() != tc.wantBody {
				t.Fatalf("client got %d %q, want %d %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				want := strings.ReplaceAll(v, "REDIRECT", elsewhere.URL+"/steal")
				if got := w.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if strings.Contains(w.Body.String(), tenantKey) && tc.mode != aiproxy.ResponseBinary && tc.mode != aiproxy.ResponsePassthrough {
				t.Error("body leaks the key")
			}
			if out.Status != tc.wantStatus || out.Bytes != int64(len(tc.wantBody)) && !strings.Contains(tc.body, tenantKey) {
				t.Errorf("outcome = %+v", out)
			}
		})
	}
}

// TestRedactSplitAcrossChunks has the provider send its echo of the key in
// pieces that straddle write boundaries.
func TestRedactSplitAcrossChunks(t *testing.T) {
	for _, cut := range []int{1, 5, len(tenantKey) - 1} {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			body := `{"a":"` + tenantKey + `","b":"xx` + tenantKey + tenantKey + `"}`
			pieces := []string{body[:6+cut], body[6+cut : 30+cut], body[30+cut:]}
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				for _, p := range pieces {
					io.WriteString(w, p)
					w.(http.Flusher).Flush()
					time.Sleep(5 * time.Millisecond)
				}
			})
			svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "go", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseJSON})
			f := newFixture(t, services{"svc": svc}, Config{})
			f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
			srv := serveProxy(t, f.proxy, "svc", "go")
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			want := strings.ReplaceAll(body, tenantKey, "[REDACTED]")
			if string(got) != want {
				t.Fatalf("client got %s, want %s", got, want)
			}
		})
	}
}

// TestStreamFlushesEachChunk proves a streamed chunk reaches the client
// before the provider sends the next one: the provider holds the second
// chunk until the client has read the first.
func TestStreamFlushesEachChunk(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: second\n\n")
	})
	svc := testService(up.URL, bothPolicy, aiproxy.Endpoint{Slug: "live", RequestMode: aiproxy.RequestJSON, ResponseMode: aiproxy.ResponseStream})
	f := newFixture(t, services{"svc": svc}, Config{})
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	srv := serveProxy(t, f.proxy, "svc", "live")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	firstSeen := make(chan struct{})
	done := make(chan string, 1)
	go func() {
		var all strings.Builder
		defer func() { done <- all.String() }()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		all.WriteString(resp.Header.Get("Content-Type") + "|")
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			all.WriteString(line)
			if strings.Contains(line, "first") {
				close(firstSeen)
			}
			if err != nil {
				return
			}
		}
	}()
	// The deadline covers the response head too: a proxy that buffers
	// sends neither head nor chunk until the stream ends.
	select {
	case <-firstSeen:
	case <-time.After(3 * time.Second):
		cancel()
		t.Fatal("the first chunk did not reach the client before the provider sent the second")
	}
	close(release)
	select {
	case got := <-done:
		if want := "text/event-stream|data: first\n\ndata: second\n\n"; got != want {
			t.Fatalf("client got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// redactCases seed FuzzRedactor.
var redactCases = []struct {
	name, secret, body string
	chunks             []int
}{
	{"none", "sk-123456", "hello", []int{2}},
	{"whole", "sk-123456", "a sk-123456 b", []int{100}},
	{"split", "sk-123456", "a sk-123456 b", []int{4, 3}},
	{"bytewise", "sk-123456", "sk-123456sk-123456", []int{1}},
	{"overlap", "aa", "aaaaa", []int{1, 2}},
	{"prefix tail", "sk-123456", "ends with sk-123", []int{3}},
	{"mark lookalike", "D]x", "D]xx", []int{3, 1}},
	{"secret inside mark", "REDACT", "REDACTEDREDACT", []int{4}},
}

func TestRedactor(t *testing.T) {
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			got := redactChunked(t, tc.secret, tc.body, tc.chunks)
			if want := strings.ReplaceAll(tc.body, tc.secret, redactedMark); got != want {
				t.Fatalf("redacted %q = %q, want %q", tc.body, got, want)
			}
		})
	}
}

// redactChunked writes body to a redactor in chunks of the given sizes,
// cycling, and returns the output.
func redactChunked(t *testing.T, secret, body string, sizes []int) string {
	t.Helper()
	var out bytes.Buffer
	r := &redactor{w: &out, secret: []byte(secret)}
	rest := []byte(body)
	for i := 0; len(rest) > 0; i++ {
		n := 1
		if len(sizes) > 0 {
			n = max(1, sizes[i%len(sizes)])
		}
		n = min(n, len(rest))
		// The caller's buffer is reused, as copyBuffered reuses its buffer.
		chunk := append([]byte(nil), rest[:n]...)
		if m, err := r.Write(chunk); m != n || err != nil {
			t.Fatalf("Write = %d, %v", m, err)
		}
		for j := range chunk {
			chunk[j] = '#'
		}
		rest = rest[n:]
	}
	if err := r.flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestRedactErr(t *testing.T) {
	if redactErr(nil, "x") != nil {
		t.Fatal("nil error became non-nil")
	}
	err := redactErr(io.ErrUnexpectedEOF, tenantKey)
	if err != io.ErrUnexpectedEOF {
		t.Fatal("an error without the key was replaced")
	}
	got := redactErr(&testErr{"dial " + tenantKey}, tenantKey)
	if strings.Contains(got.Error(), tenantKey) || !strings.Contains(got.Error(), "[REDACTED]") {
		t.Fatalf("redactErr = %q", got)
	}
}

type testErr struct{ s string }

func (e *testErr) Error() string { return e.s }
