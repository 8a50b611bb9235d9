package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/sqlite"
)

// TestGracefulShutdown stops a server in the middle of a streamed TTS call
// and an org event stream: /readyz turns 503 at once, the event stream ends
// (clients resume it), the audio stream finishes byte for byte, and the
// process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	const chunks, chunk = 10, 1024
	firstChunk := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.WriteHeader(http.StatusOK)
		for i := range chunks {
			w.Write([]byte(strings.Repeat("a", chunk)))
			w.(http.Flusher).Flush()
			if i == 0 {
				close(firstChunk)
			}
			time.Sleep(150 * time.Millisecond)
		}
	}))
	defer upstream.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	args := []string{"demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--upstream", "elevenlabs=" + upstream.URL, "--shutdown-delay", "400ms", "--shutdown-timeout", "10s"}
	go func() { done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), out, errOut) }()
	vars := waitVars(t, out, errOut, done)
	base, key, org := vars["AIPROXY_URL"], vars["AIPROXY_API_KEY"], vars["AIPROXY_ORG"]

	if code, body := httpGet(t, base+"/readyz", ""); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("readyz before shutdown = %d %s", code, body)
	}

	// An org event stream, read until it ends.
	streamEnded := make(chan time.Time, 1)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/ai-proxy/orgs/"+org+"/jobs/events", nil)
	req.Header.Set("Authorization", "Api-Key "+key)
	sse, err := http.DefaultClient.Do(req)
	if err != nil || sse.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", sse, err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(sse.Body))
		streamEnded <- time.Now()
	}()

	// A streamed TTS call, in flight when the shutdown begins.
	audio := make(chan []byte, 1)
	go func() {
		body := `{"path_params":{"voice_id":"v1"},"body":{"text":"Hello"}}`
		req, _ := http.NewRequest(http.MethodPost, base+"/api/ai-proxy/orgs/"+org+"/services/elevenlabs/tts-stream/", strings.NewReader(body))
		req.Header.Set("Authorization", "Api-Key "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("tts-stream: %v", err)
			audio <- nil
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("tts-stream: %d, read %d bytes, %v", resp.StatusCode, len(b), err)
		}
		audio <- b
	}()
	select {
	case <-firstChunk:
	case <-time.After(10 * time.Second):
		t.Fatal("the TTS call never reached the upstream")
	}

	stopAt := time.Now()
	cancel()
	time.Sleep(100 * time.Millisecond)
	code, body := httpGet(t, base+"/readyz", "")
	var rz struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	_ = json.Unmarshal([]byte(body), &rz)
	if code != 503 || rz.Checks["server"] != "draining" {
		t.Errorf("readyz while draining = %d %s, want 503 with server draining", code, body)
	}
	select {
	case at := <-streamEnded:
		if d := at.Sub(stopAt); d > time.Second {
			t.Errorf("event stream ended %v after the stop, want at once", d)
		}
	case <-time.After(5 * time.Second):
		t.Error("the event stream did not end at shutdown")
	}
	if b := <-audio; len(b) != chunks*chunk {
		t.Errorf("streamed audio = %d bytes, want all %d", len(b), chunks*chunk)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

// TestRedisFlagsValidate checks the scale-out flags' validation.
func TestRedisFlagsValidate(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{args: nil, ok: true},
		{args: []string{"--redis-url", "redis://127.0.0.1:6379/0", "--redis-failure", "open"}, ok: true},
		{args: []string{"--redis-failure", "maybe"}},
		{args: []string{"--redis-url", "http://x"}},
		{args: []string{"--job-lease", "10ms"}},
		{args: []string{"--shutdown-timeout", "0s"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f scaleFlags
			fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
			f.register(fs, func(string) string { return "" })
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := f.validate(); (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// waitVars waits for a demo's AIPROXY_* lines.
func waitVars(t *testing.T, out, errOut *syncBuffer, done chan error) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if vars := parseVars(out.String()); vars["AIPROXY_API_KEY"] != "" {
			return vars
		}
		select {
		case err := <-done:
			t.Fatalf("stopped early: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no AIPROXY_API_KEY; stderr:\n%s", errOut.String())
	return nil
}

func httpGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Api-Key "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pingErr is a database whose Ping fails with err.
type pingErr struct{ err error }

func (p pingErr) Ping(context.Context) error { return p.err }

// TestReadinessNamesTheDatabaseState checks /readyz's word for each
// database state: a corrupted SQLite file is not ready, and says so.
func TestReadinessNamesTheDatabaseState(t *testing.T) {
	for _, tc := range []struct {
		err   error
		state string
		ready bool
	}{
		{nil, "ok", true},
		{fmt.Errorf("ping: %w", sqlite.ErrIntegrity), "corrupt", false},
		{errors.New("connection refused"), "unreachable", false},
	} {
		checks, ready := readiness{db: pingErr{tc.err}, life: newLifecycle()}.check(context.Background())
		if checks["database"] != tc.state || ready != tc.ready {
			t.Errorf("Ping error %v: readiness %v %v, want %s %v", tc.err, checks, ready, tc.state, tc.ready)
		}
	}
}

// TestCacheAndShareFlagsValidate checks the list cache's and the fair
// shares' flags: every problem is reported, a Redis password never.
func TestCacheAndShareFlagsValidate(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{args: nil, ok: true},
		{args: []string{"--cache-redis-url", "redis://127.0.0.1:6380/0", "--cache-org-mb", "8", "--cache-entries", "100", "--cache-org-entries", "10"}, ok: true},
		{args: []string{"--cache-redis-url", "http://x"}},
		{args: []string{"--cache-redis-url", "redis://:s3cret@host:notaport/0"}},
		{args: []string{"--cache-org-mb", "-1"}},
		{args: []string{"--cache-entries", "0"}},
		{args: []string{"--concurrency-weights", "acme=2", "--concurrency-weights", "beta=3"}, ok: true},
		{args: []string{"--concurrency-weights", "acme"}},
		{args: []string{"--concurrency-weights", "acme=0"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f guardFlags
			fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
			f.register(fs, func(string) string { return "" })
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := f.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("validate() shows the password: %v", err)
			}
		})
	}
	var f guardFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(k string) string { return map[string]string{"AIPROXY_CONCURRENCY_WEIGHTS": "acme=2, beta=5"}[k] })
	if err := fs.Parse(nil); err != nil || f.validate() != nil || f.shares["acme"] != 2 || f.shares["beta"] != 5 {
		t.Fatalf("AIPROXY_CONCURRENCY_WEIGHTS = %v", f.shares)
	}
}

// TestCacheOwnerIsTheKeysOrg: a cached list is charged to the org of the
// key that asked; a platform administrator's key charges no org.
func TestCacheOwnerIsTheKeysOrg(t *testing.T) {
	ctx := aiproxy.WithPrincipal(context.Background(), aiproxy.Principal{OrgKey: "acme"})
	if got := cacheOwner(ctx); got != "acme" {
		t.Fatalf("cacheOwner = %q, want acme", got)
	}
	if got := cacheOwner(context.Background()); got != "" {
		t.Fatalf("cacheOwner without a key = %q", got)
	}
}
