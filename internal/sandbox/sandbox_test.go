package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestFaultResponses(t *testing.T) {
	tests := []struct {
		name       string
		fault      sandbox.Fault
		path       string
		status     int
		body       string
		wantHeader map[string]string
	}{
		{"heygen 429 realistic body", sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/video/generate", Status: 429},
			"/heygen/v2/video/generate", 429,
			`{"data":null,"error":{"code":"trial_video_limit_exceeded","message":"It seems you've reached your daily api trial limit 5."}}`, nil},
		{"elevenlabs 429 realistic body", sandbox.Fault{Provider: sandbox.ElevenLabs, Status: 429},
			"/elevenlabs/v1/models", 429,
			`{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests. Your current subscription is associated with a maximum of 5 concurrent requests (running in parallel). Please upgrade your subscription or contact sales if you want to increase this limit."}}`, nil},
		{"elevenlabs 500 bare body", sandbox.Fault{Provider: sandbox.ElevenLabs, Method: "GET", Status: 500},
			"/elevenlabs/v1/voices", 500,
			`{"status":"internal_server_error","message":"Internal Server error. All such crashes are reported to us automatically."}`, nil},
		{"custom body and header", sandbox.Fault{Provider: sandbox.HeyGen, Status: 503, Body: `{"oops":true}`, Header: http.Header{"Retry-After": {"3"}}},
			"/heygen/v2/avatars", 503, `{"oops":true}`, map[string]string{"Retry-After": "3"}},
		{"200 with an error body", sandbox.Fault{Provider: sandbox.HeyGen, OK200Error: true},
			"/heygen/v2/voices", 200, `{"data":null,"error":{"code":"internal_error","message":"Internal server error, please retry"}}`, nil},
		{"other provider untouched", sandbox.Fault{Provider: sandbox.ElevenLabs, Status: 500},
			"/heygen/v2/templates", 200, "", nil},
		{"other method untouched", sandbox.Fault{Provider: sandbox.HeyGen, Method: "POST", Status: 500},
			"/heygen/v2/templates", 200, "", nil},
		{"other path untouched", sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/avatars", Status: 500},
			"/heygen/v2/templates", 200, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			f.sb.InjectFault(tt.fault)
			method := "GET"
			if strings.HasSuffix(tt.path, "generate") {
				method = "POST"
			}
			resp, body := f.do(request{method: method, path: tt.path, header: map[string]string{"X-Api-Key": hgKey, "xi-api-key": elKey}})
			wantResponse(t, resp, body, tt.status, tt.body)
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestFaultCountAndClear(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Status: 500, Count: 2})
	var got []int
	for range 3 {
		resp, _ := f.hg("GET", "/v2/templates", "")
		got = append(got, resp.StatusCode)
	}
	if got[0] != 500 || got[1] != 500 || got[2] != 200 {
		t.Errorf("statuses %v, want [500 500 200]", got)
	}
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Status: 502})
	if resp, _ := f.hg("GET", "/v2/templates", ""); resp.StatusCode != 502 {
		t.Errorf("unlimited fault: status %d", resp.StatusCode)
	}
	f.sb.ClearFaults()
	if resp, _ := f.hg("GET", "/v2/templates", ""); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: status %d", resp.StatusCode)
	}
}

func TestFaultDelay(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Delay: 150 * time.Millisecond})
	start := time.Now()
	resp, _ := f.hg("GET", "/v2/templates", "")
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond || resp.StatusCode != 200 {
		t.Errorf("delay-only fault: %d after %v", resp.StatusCode, elapsed)
	}
	t.Run("client cancels", func(t *testing.T) {
		f.sb.ClearFaults()
		f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/heygen/v2/templates", nil)
		req.Header.Set("X-Api-Key", hgKey)
		_, err := f.srv.Client().Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		// httptest.Server.Close (at cleanup) blocks until handlers return, so a handler that
		// ignored the cancellation would hang the test here.
	})
}

func TestFaultReset(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Reset: true, Count: 1})
	req, _ := http.NewRequest("GET", f.srv.URL+"/elevenlabs/v1/models", nil)
	req.Header.Set("xi-api-key", elKey)
	if resp, err := f.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a connection error", resp.StatusCode)
	}
	if resp, _ := f.el("GET", "/v1/models", ""); resp.StatusCode != 200 {
		t.Fatalf("after the one reset: status %d", resp.StatusCode)
	}
}

func TestControlAPI(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, fault string
		minDelay    time.Duration
		status      int
	}{
		{"delay as duration string", `{"provider":"heygen","path":"/v2/avatars","status":503,"delay":"60ms","count":1}`, 60 * time.Millisecond, 503},
		{"delay as milliseconds", `{"provider":"heygen","path":"/v2/avatars","status":429,"delay":40,"count":1,"header":{"Retry-After":"2"}}`, 40 * time.Millisecond, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(request{method: "POST", path: "/_sandbox/faults", body: tt.fault})
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST fault: %d %s", resp.StatusCode, body)
			}
			start := time.Now()
			resp, _ = f.hg("GET", "/v2/avatars", "")
			if resp.StatusCode != tt.status || time.Since(start) < tt.minDelay {
				t.Errorf("status %d after %v; want %d after ≥ %v", resp.StatusCode, time.Since(start), tt.status, tt.minDelay)
			}
		})
	}
	t.Run("bad fault", func(t *testing.T) {
		resp, _ := f.do(request{method: "POST", path: "/_sandbox/faults", body: `{"provider":"openai"}`})
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("delete faults", func(t *testing.T) {
		f.do(request{method: "POST", path: "/_sandbox/faults", body: `{"provider":"heygen","status":500}`})
		if resp, _ := f.do(request{method: "DELETE", path: "/_sandbox/faults"}); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE faults: %d", resp.StatusCode)
		}
		if resp, _ := f.hg("GET", "/v2/templates", ""); resp.StatusCode != 200 {
			t.Errorf("after DELETE: status %d", resp.StatusCode)
		}
	})
	t.Run("add key", func(t *testing.T) {
		f.do(request{method: "POST", path: "/_sandbox/keys", body: `{"provider":"elevenlabs","key":"k2"}`})
		resp, _ := f.do(request{path: "/elevenlabs/v1/models", header: map[string]string{"xi-api-key": "k2"}})
		if resp.StatusCode != 200 {
			t.Errorf("new key: status %d", resp.StatusCode)
		}
	})
}

func TestRequestLog(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.hg("POST", "/v2/video/generate?x=1", `{"video_inputs":[]}`)
	f.el("GET", "/v1/voices?show_legacy=true", "")
	f.do(request{path: "/_sandbox/requests"})
	reqs := f.sb.Requests()
	if len(reqs) != 2 {
		t.Fatalf("logged %d requests, want 2 (control calls are not logged)", len(reqs))
	}
	want := []struct {
		provider         sandbox.Provider
		method, path, rq string
		body, header     string
	}{
		{sandbox.HeyGen, "POST", "/v2/video/generate", "x=1", `{"video_inputs":[]}`, hgKey},
		{sandbox.ElevenLabs, "GET", "/v1/voices", "show_legacy=true", "", ""},
	}
	for i, w := range want {
		r := reqs[i]
		if r.Provider != w.provider || r.Method != w.method || r.Path != w.path || r.RawQuery != w.rq || string(r.Body) != w.body {
			t.Errorf("request %d = %+v, want %+v", i, r, w)
		}
		if w.header != "" && r.Header.Get("X-Api-Key") != w.header {
			t.Errorf("request %d header X-Api-Key = %q", i, r.Header.Get("X-Api-Key"))
		}
	}
	reqs[0].Body[0] = 'X'
	if f.sb.Requests()[0].Body[0] != '{' {
		t.Error("Requests returned the log's own memory, not a copy")
	}
	_, body := f.do(request{path: "/_sandbox/requests"})
	var logged []struct {
		Provider string `json:"provider"`
		Path     string `json:"path"`
		Body     string `json:"body"`
	}
	decode(t, body, &logged)
	if len(logged) != 2 || logged[0].Body != `{"video_inputs":[]}` || logged[1].Provider != "elevenlabs" {
		t.Errorf("GET /_sandbox/requests = %s", body)
	}
}

func TestUnknownPrefix(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.do(request{path: "/openai/v1/models"})
	if resp.StatusCode != 404 || !json.Valid(body) {
		t.Errorf("unknown prefix: %d %s", resp.StatusCode, body)
	}
}
