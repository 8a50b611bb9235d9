package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// TestProviderFaults makes the sandbox fail in every way a provider can
// and checks the status each failure gets, that nothing is left running
// afterwards, and that one org's failing provider does not slow another
// org down.
func TestProviderFaults(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	e := newHardEnv(t, proxy.Config{}, Config{})
	el := func(f sandbox.Fault) sandbox.Fault { f.Provider = sandbox.ElevenLabs; return f }
	call := func(org, key, service, action, env string) (int, []byte, error) {
		req := e.invokeRaw(org, service, action, "application/json", strings.NewReader(env))
		req.Header.Set("Authorization", "Api-Key "+key)
		resp, err := e.client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp.StatusCode, data, err
	}
	ok := func(t *testing.T, wantStatus int, status int, body []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		wantContractError(t, status, body, wantStatus)
	}
	tts := `{"path_params":{"voice_id":"21m00Tcm4TlvDq8ikWAM"},"body":{"text":"A sentence long enough to stream in several chunks."}}`

	t.Run("timeout", func(t *testing.T) {
		e.sandbox.InjectFault(el(sandbox.Fault{Path: "/v1/models", Delay: 3 * time.Second, Count: 1}))
		start := time.Now()
		status, body, err := call("acme", e.invoke, "elevenlabs", "list-models", "{}")
		ok(t, 504, status, body, err)
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Fatalf("504 took %v with a 1s timeout", d)
		}
	})
	t.Run("connection reset", func(t *testing.T) {
		e.sandbox.InjectFault(el(sandbox.Fault{Path: "/v1/voices", Reset: true}))
		defer e.sandbox.ClearFaults()
		status, body, err := call("acme", e.invoke, "elevenlabs", "list-voices", "{}")
		ok(t, 502, status, body, err)
	})
	t.Run("garbage instead of HTTP", func(t *testing.T) {
		e.sandbox.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/voices", Kind: sandbox.BodyGarbage})
		defer e.sandbox.ClearFaults()
		status, body, err := call("acme", e.invoke, "elevenlabs", "list-voices", "{}")
		ok(t, 502, status, body, err)
	})
	t.Run("5xx storm", func(t *testing.T) {
		e.sandbox.InjectFault(el(sandbox.Fault{Path: "/v1/voices", Status: 503}))
		defer e.sandbox.ClearFaults()
		var wg sync.WaitGroup
		errs := make(chan string, 40)
		for range 40 {
			wg.Go(func() {
				status, body, err := call("acme", e.invoke, "elevenlabs", "list-voices", "{}")
				if err != nil || status != 502 || !strings.Contains(string(body), `"upstream_failed"`) {
					errs <- fmt.Sprintf("%d %s %v", status, body, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Error(msg)
		}
	})
	t.Run("stream cut midway", func(t *testing.T) {
		e.sandbox.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech", Kind: sandbox.BodyCut, CutAfter: 100, Count: 1})
		status, body, err := call("acme", e.invoke, "elevenlabs", "tts-stream", tts)
		if status != 200 || err == nil {
			t.Fatalf("cut stream = %d, %d bytes, err %v; want 200 and a read error", status, len(body), err)
		}
	})
	t.Run("slow but moving body", func(t *testing.T) {
		e.sandbox.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/models", Kind: sandbox.BodySlow, Pause: time.Millisecond, Count: 1})
		status, body, err := call("acme", e.invoke, "elevenlabs", "list-models", "{}")
		if status != 200 || err != nil || !json.Valid(body) {
			t.Fatalf("slow body = %d, err %v", status, err)
		}
	})
	t.Run("stalled body", func(t *testing.T) {
		e.sandbox.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/models", Kind: sandbox.BodySlow, Pause: 3 * time.Second, Count: 1})
		start := time.Now()
		// The head may still sit in the server's buffer when the body
		// stalls, so the client sees either a cut body or a dropped
		// connection; never a clean answer, and not after the timeout.
		status, _, err := call("acme", e.invoke, "elevenlabs", "list-models", "{}")
		if err == nil || time.Since(start) > 2500*time.Millisecond {
			t.Fatalf("stalled body = %d, err %v after %v; want a cut after the 1s timeout", status, err, time.Since(start))
		}
	})
	t.Run("other orgs unaffected", func(t *testing.T) {
		e.sandbox.InjectFault(el(sandbox.Fault{Path: "/v1/models", Delay: 800 * time.Millisecond}))
		defer e.sandbox.ClearFaults()
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() { _, _, _ = call("acme", e.invoke, "elevenlabs", "list-models", "{}") })
		}
		time.Sleep(100 * time.Millisecond) // the slow calls are in flight
		var worst time.Duration
		for range 10 {
			start := time.Now()
			status, _, err := call("other", e.other, "heygen", "list-voices", "{}")
			if status != 200 || err != nil {
				t.Fatalf("other org = %d %v", status, err)
			}
			worst = max(worst, time.Since(start))
		}
		wg.Wait()
		if worst > 400*time.Millisecond {
			t.Fatalf("other org's slowest call took %v while acme's provider was slow", worst)
		}
	})

	e.close()
	goleak.VerifyNone(t, leaks)
}

// TestCORS checks preflight without authentication and the headers of
// real answers, for allowed and other origins.
func TestCORS(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{CORSOrigins: []string{"https://app.example"}})
	preflight := func(origin string) (int, http.Header) {
		req, _ := http.NewRequest("OPTIONS", e.url+base+"/orgs/acme/services/elevenlabs/tts/", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	status, h := preflight("https://app.example")
	if status != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("allowed preflight = %d %v", status, h)
	}
	if status, h = preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" || status == 204 {
		t.Fatalf("other origin's preflight = %d %v", status, h)
	}
	req, _ := http.NewRequest("GET", e.url+base+"/orgs/acme/services/", nil)
	req.Header.Set("Origin", "https://app.example")
	_, h, _ = e.send(req)
	exposed := h.Get("Access-Control-Expose-Headers")
	for _, want := range []string{"request-id", "character-cost", "history-item-id", "current-concurrent-requests",
		"maximum-concurrent-requests", "Retry-After", "X-RateLimit-Remaining", "X-Aiproxy-Cache", "X-Request-Id"} {
		if !strings.Contains(exposed, want) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, want)
		}
	}
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Fatalf("real answer headers %v", h)
	}
}

// TestSlowClientBody checks that a client that stops sending its body is
// cut off after the body read timeout, while one that keeps sending is not.
func TestSlowClientBody(t *testing.T) {
	e := newHardEnv(t, proxy.Config{}, Config{BodyReadTimeout: 300 * time.Millisecond})
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"body":`))
		time.Sleep(2 * time.Second)
		pw.Close()
	}()
	start := time.Now()
	req := e.invokeRaw("acme", "elevenlabs", "list-voices", "application/json", pr)
	req.Header.Set("Authorization", "Api-Key "+e.invoke)
	resp, err := e.client.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("stalled upload answered %d", resp.StatusCode)
		}
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("stalled upload held the connection for %v", d)
	}
	pr2, pw2 := io.Pipe()
	go func() {
		for _, part := range []string{`{"query":`, `{"a":"1"}`, `}`} {
			_, _ = pw2.Write([]byte(part))
			time.Sleep(200 * time.Millisecond)
		}
		pw2.Close()
	}()
	req = e.invokeRaw("acme", "elevenlabs", "list-voices", "application/json", pr2)
	if status, _, body := e.send(req); status != 200 {
		t.Fatalf("slow but moving upload = %d %s", status, body)
	}
}
