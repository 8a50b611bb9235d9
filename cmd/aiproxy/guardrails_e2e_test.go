package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoGuardrails drives quotas, per-org access, test-only keys, the
// response cache and usage reports through the real program: the admin API,
// the CLI and invoke calls.
func TestDemoGuardrails(t *testing.T) {
	d := startDemo(t, "--policy-refresh", "50ms")
	svc := "/api/ai-proxy/orgs/" + d.org + "/services/"
	tts := map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "Hello"}}

	t.Run("quota set by the CLI refuses the next call", func(t *testing.T) {
		d.cli("", "quota", "set", "--org", d.org, "--service", "elevenlabs", "--metric", "characters", "--period", "day", "--limit", "7")
		time.Sleep(100 * time.Millisecond) // the server trusts its list of quotas for --policy-refresh
		if s, _, b := d.invoke(d.org, d.key, "elevenlabs", "tts", tts); s != 200 {
			t.Fatalf("first TTS = %d %.200s", s, b)
		}
		s, h, b := d.invoke(d.org, d.key, "elevenlabs", "tts", tts)
		if s != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(b), `"quota_exceeded"`) ||
			!strings.Contains(string(b), "characters per day for elevenlabs") {
			t.Fatalf("over quota = %d %v %s", s, h.Get("Retry-After"), b)
		}
		var quotas []map[string]any
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/quotas/", d.key, 200, &quotas)
		if len(quotas) != 1 || quotas[0]["used"] != float64(5) || quotas[0]["limit"] != float64(7) {
			t.Fatalf("quotas = %v", quotas)
		}
		// An org admin may read quotas but not raise them.
		s, _, _ = d.do("PUT", "/api/ai-proxy/orgs/"+d.org+"/quotas/", d.key,
			strings.NewReader(`{"metric":"characters","period":"day","limit":1000}`), nil)
		if s != 403 {
			t.Fatalf("org admin PUT quota = %d, want 403", s)
		}
	})

	t.Run("disabled endpoint disappears and is not found", func(t *testing.T) {
		d.cli("", "access", "disable", "--org", d.org, "heygen/generate-video")
		time.Sleep(100 * time.Millisecond)
		var detail struct {
			Endpoints []struct{ Slug string }
		}
		d.getJSON(svc+"heygen/", d.key, 200, &detail)
		for _, e := range detail.Endpoints {
			if e.Slug == "generate-video" {
				t.Fatal("a disabled endpoint is still listed")
			}
		}
		s, _, b := d.invoke(d.org, d.key, "heygen", "generate-video", map[string]any{"body": map[string]any{"test": true}})
		if s != 404 || !strings.Contains(string(b), "not found or disabled") {
			t.Fatalf("disabled invoke = %d %s", s, b)
		}
		if out := d.cli("", "access", "list", "--org", d.org); !strings.Contains(out, "heygen/generate-video") {
			t.Fatalf("access list = %q", out)
		}
	})

	t.Run("test-only key refuses test false", func(t *testing.T) {
		var k struct{ Key string }
		d.cli("", "access", "enable", "--org", d.org, "heygen/generate-video")
		s, _, b := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/keys/", d.key,
			strings.NewReader(`{"name":"dev","role":"invoke","test_only":true}`), nil)
		if s != 201 || json.Unmarshal(b, &k) != nil || !strings.Contains(string(b), `"test_only":true`) {
			t.Fatalf("create test key = %d %s", s, b)
		}
		time.Sleep(100 * time.Millisecond)
		s, _, b = d.invoke(d.org, k.Key, "heygen", "generate-video", map[string]any{"body": map[string]any{"test": false}})
		if s != 400 || !strings.Contains(string(b), "test-only") {
			t.Fatalf("test:false with a test key = %d %s", s, b)
		}
	})

	t.Run("cache header", func(t *testing.T) {
		_, h1, _ := d.invoke(d.org, d.key, "heygen", "list-avatars", map[string]any{})
		_, h2, _ := d.invoke(d.org, d.key, "heygen", "list-avatars", map[string]any{})
		if h1.Get("X-Aiproxy-Cache") != "MISS" || h2.Get("X-Aiproxy-Cache") != "HIT" {
			t.Fatalf("cache = %q then %q", h1.Get("X-Aiproxy-Cache"), h2.Get("X-Aiproxy-Cache"))
		}
	})

	t.Run("usage report", func(t *testing.T) {
		time.Sleep(1500 * time.Millisecond) // usage is written in batches every second
		s, h, b := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/usage/?format=csv", d.key, nil, nil)
		if s != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(string(b), "day,org,service,requests,errors,cache_hits,bytes_out,avg_latency_ms,characters") {
			t.Fatalf("CSV usage = %d %s", s, b)
		}
		var rows []struct {
			Service  string
			Requests int64
			Units    map[string]int64
		}
		if err := json.Unmarshal([]byte(d.cli("", "usage", "report", "--org", d.org, "--format", "json")), &rows); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows {
			if r.Service == "elevenlabs" && r.Units["characters"] == 5 && r.Requests >= 2 {
				found = true
			}
		}
		if !found {
			t.Fatalf("CLI usage report = %+v", rows)
		}
		s, _, _ = d.do("GET", "/api/ai-proxy/admin/usage/", d.key, nil, http.Header{})
		if s != 403 {
			t.Fatalf("org admin reading platform usage = %d, want 403", s)
		}
	})
}
