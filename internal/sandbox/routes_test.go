package sandbox_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// TestEveryCatalogRouteIsServed sends each endpoint of the built-in catalog, with made-up
// path parameters and no body, straight to the sandbox: whatever the answer (a validation
// error, a 404 for the made-up id), it must not be the sandbox's "no such route".
func TestEveryCatalogRouteIsServed(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, sandbox.Config{})
	headers := map[string]map[string]string{"heygen": {"X-Api-Key": hgKey}, "elevenlabs": {"xi-api-key": elKey}}
	n := 0
	for _, svc := range cat.Services() {
		for _, ep := range svc.Endpoints {
			path := ep.PathTemplate
			for strings.Contains(path, "{") {
				i, j := strings.Index(path, "{"), strings.Index(path, "}")
				path = path[:i] + "made-up" + path[j+1:]
			}
			resp, body := f.do(request{method: ep.HTTPMethod, path: "/" + svc.Slug + path, header: headers[svc.Slug]})
			if resp.Header.Get(sandbox.UnknownRouteHeader) != "" || strings.Contains(string(body), sandbox.UnknownRouteField) {
				t.Errorf("%s/%s: %s %s is not a sandbox route: %d %s", svc.Slug, ep.Slug, ep.HTTPMethod, path, resp.StatusCode, truncate(body))
			}
			if resp.StatusCode >= 500 {
				t.Errorf("%s/%s: %d %s", svc.Slug, ep.Slug, resp.StatusCode, truncate(body))
			}
			n++
		}
	}
	if n < 65 {
		t.Errorf("walked %d endpoints, want the whole catalog (65 or more)", n)
	}
}

func TestUnknownRouteIsMarked(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tests := []struct {
		name, path, method string
		status             int
	}{
		{"heygen path", "/heygen/v2/nothing", http.MethodGet, 404},
		{"heygen method", "/heygen/v2/avatars", http.MethodDelete, 405},
		{"elevenlabs path", "/elevenlabs/v1/nothing", http.MethodGet, 404},
		{"elevenlabs method", "/elevenlabs/v1/history", http.MethodPut, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(request{method: tt.method, path: tt.path, header: map[string]string{"X-Api-Key": hgKey}})
			route := tt.method + " " + strings.TrimPrefix(strings.TrimPrefix(tt.path, "/heygen"), "/elevenlabs")
			if resp.StatusCode != tt.status || resp.Header.Get(sandbox.UnknownRouteHeader) != route ||
				!strings.Contains(string(body), `"`+sandbox.UnknownRouteField+`":"`+route+`"`) {
				t.Errorf("got %d %q %s, want %d marked %q", resp.StatusCode, resp.Header.Get(sandbox.UnknownRouteHeader), body, tt.status, route)
			}
		})
	}
	t.Run("an unknown object is not an unknown route", func(t *testing.T) {
		resp, body := f.el("GET", "/v1/history/nope", "")
		if resp.StatusCode != 404 || resp.Header.Get(sandbox.UnknownRouteHeader) != "" || strings.Contains(string(body), sandbox.UnknownRouteField) {
			t.Errorf("got %d %q %s", resp.StatusCode, resp.Header.Get(sandbox.UnknownRouteHeader), body)
		}
	})
	t.Run("an injected 404 is not an unknown route", func(t *testing.T) {
		f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v2/photo_avatar", Status: 404, Count: 1})
		resp, body := f.hg("GET", "/v2/photo_avatar/x", "")
		if resp.StatusCode != 404 || strings.Contains(string(body), sandbox.UnknownRouteField) {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
	})
}

// TestFaultsOnNewRoutes checks that injected faults reach the routes added for the whole
// catalog, with each provider's realistic bodies.
func TestFaultsOnNewRoutes(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/history", Status: 429, Count: 1})
	resp, body := f.el("GET", "/v1/history", "")
	wantStatus(t, resp, body, 429)
	if jsonField(t, body, "detail.status") != "too_many_concurrent_requests" {
		t.Errorf("429 body %s", body)
	}
	if resp, _ := f.el("GET", "/v1/history", ""); resp.StatusCode != 200 {
		t.Errorf("fault outlived its count: %d", resp.StatusCode)
	}

	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Method: "POST", Path: "/v2/video_translate", Status: 503, Count: 1})
	resp, body = f.hg("POST", "/v2/video_translate", `{}`)
	if resp.StatusCode != 503 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("503: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.HeyGen, Path: "/v1/asset/list", OK200Error: true, Count: 1})
	resp, body = f.hg("GET", "/v1/asset/list", "")
	wantResponse(t, resp, body, 200, `{"code":400175,"data":null,"message":"Internal server error, please retry"}`)

	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/dubbing", Status: 500, Count: 1})
	resp, body = f.el("GET", "/v1/dubbing/x", "")
	wantResponse(t, resp, body, 500, `{"status":"internal_server_error","message":"Internal Server error. All such crashes are reported to us automatically."}`)

	f.sb.InjectBodyFault(sandbox.BodyFault{Provider: sandbox.ElevenLabs, Path: "/v1/sound-generation", Kind: sandbox.BodyCut, CutAfter: 10, Count: 1})
	r, err := http.NewRequest("POST", f.srv.URL+"/elevenlabs/v1/sound-generation", strings.NewReader(`{"text":"boom"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("xi-api-key", elKey)
	if resp, err := f.srv.Client().Do(r); err == nil {
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("a cut body read to the end without an error")
		}
		resp.Body.Close()
	}
}
