package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lockedService is an extra catalog service whose policy allows no source,
// for the contract's 400. Its base URL is never reached.
const lockedService = `{
  "slug": "locked", "display_name": "Locked", "base_url": "http://127.0.0.1:9", "service_type": "tts",
  "auth_mode": "header", "is_enabled": true, "supports_async_jobs": false, "supports_streaming": false,
  "default_timeout_seconds": 5, "credential_name": "locked", "credential_schema": {"key": "string"},
  "credential_policy": {"allow_tenant_key": false, "allow_platform_key": false, "default_source": "tenant", "fallback_to_platform_key": false},
  "upstream": {"auth_header": "X-Api-Key"},
  "endpoints": [{"slug": "ping", "path_template": "/ping", "http_method": "GET", "request_mode": "raw", "response_mode": "json", "is_enabled": true,
    "ownership": {"op": "public"}}]
}`

// slowModels shortens one endpoint's timeout, for the 504 case.
const slowModels = `{"slug": "elevenlabs", "endpoints": [{"slug": "list-models", "timeout_seconds": 1}]}`

func catalogDir(t *testing.T) string {
	dir := t.TempDir()
	for name, text := range map[string]string{"locked.json": lockedService, "elevenlabs.json": slowModels} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// wantError checks an error response's status and exact body.
func wantError(t *testing.T, what string, status int, body []byte, wantStatus int, want map[string]string) {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s = %d, body is not a JSON object of strings: %.300s", what, status, body)
	}
	if status != wantStatus || len(got) != len(want) {
		t.Fatalf("%s = %d %v, want %d %v", what, status, got, wantStatus, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s = %q, want %q (body %s)", what, k, got[k], v, body)
		}
	}
}

func (d *demo) fault(f map[string]any) {
	d.t.Helper()
	data, _ := json.Marshal(f)
	resp, err := http.Post(d.sandbox+"/_sandbox/faults", "application/json", bytes.NewReader(data))
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		d.t.Fatalf("inject fault: %d", resp.StatusCode)
	}
}

func (d *demo) clearFaults() {
	d.t.Helper()
	req, _ := http.NewRequest("DELETE", d.sandbox+"/_sandbox/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
}

// providerKeys returns the keys aiproxy sent to the sandbox, read from the
// sandbox's own request log.
func (d *demo) providerKeys() []string {
	d.t.Helper()
	resp, err := http.Get(d.sandbox + "/_sandbox/requests")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Header http.Header `json:"header"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		d.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		for _, h := range []string{"X-Api-Key", "Xi-Api-Key"} {
			if v := r.Header.Get(h); v != "" {
				seen[v] = true
			}
		}
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	return keys
}

func TestDemoErrors(t *testing.T) {
	d := startDemo(t, "--catalog-dir", catalogDir(t))
	svc := "/api/ai-proxy/orgs/" + d.org + "/services/"
	detail := func(code, msg string) map[string]string { return map[string]string{"code": code, "detail": msg} }
	errorBody := func(code, msg string) map[string]string { return map[string]string{"code": code, "error": msg} }

	d.cli("", "org", "create", "other")
	otherKey := d.cli("", "key", "create", "--org", "other", "--name", "ci")
	revoked := d.cli("", "key", "create", "--org", d.org)
	var keys []map[string]any
	if err := json.Unmarshal([]byte(d.cli("", "key", "list", "--org", d.org, "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	revokedID := strings.Split(strings.TrimPrefix(revoked, "aip_"), "_")[0]
	d.cli("", "key", "revoke", "--org", d.org, revokedID)

	t.Run("401 without credentials", func(t *testing.T) {
		s, h, b := d.do("GET", svc, "", nil, nil)
		wantError(t, "no header", s, b, 401, detail("unauthenticated", "Authentication credentials were not provided."))
		if h.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		s, _, b = d.do("GET", svc, "", nil, http.Header{"Authorization": {"Basic Zm9vOmJhcg=="}})
		wantError(t, "other scheme", s, b, 401, detail("unauthenticated", "Authentication credentials were not provided."))
	})
	t.Run("401 invalid token", func(t *testing.T) {
		for _, k := range []string{"garbage", "aip_0000000000000000_" + strings.Repeat("a", 52), revoked, d.key[:len(d.key)-1] + "b"} {
			for _, scheme := range []string{"Api-Key", "Token", "Api-Token", "Bearer"} {
				s, _, b := d.do("GET", svc, "", nil, http.Header{"Authorization": {scheme + " " + k}})
				wantError(t, scheme+" "+k[:min(8, len(k))], s, b, 401, detail("unauthenticated", "Invalid token."))
			}
		}
	})
	t.Run("every scheme accepted", func(t *testing.T) {
		for _, scheme := range []string{"Api-Key", "Token", "Api-Token", "Bearer", "api-key"} {
			s, _, b := d.do("GET", svc, "", nil, http.Header{"Authorization": {scheme + " " + d.key}})
			if s != 200 {
				t.Errorf("%s: %d %s", scheme, s, b)
			}
		}
	})
	t.Run("403 cross-org", func(t *testing.T) {
		forbidden := detail("forbidden", "You do not have permission to perform this action.")
		s, _, b := d.do("GET", svc, otherKey, nil, nil)
		wantError(t, "list", s, b, 403, forbidden)
		s, _, b = d.invoke(d.org, otherKey, "heygen", "list-avatars", map[string]any{})
		wantError(t, "invoke", s, b, 403, forbidden)
		s, _, b = d.do("GET", "/api/ai-proxy/orgs/other/services/", d.key, nil, nil)
		wantError(t, "demo key on other org", s, b, 403, forbidden)
		s, _, b = d.do("GET", "/api/ai-proxy/orgs/other/keys/", otherKey, nil, nil)
		wantError(t, "invoke key on admin route", s, b, 403, forbidden)
		s, _, b = d.do("GET", "/api/ai-proxy/admin/orgs/", d.key, nil, nil)
		wantError(t, "org admin on platform route", s, b, 403, forbidden)
	})
	t.Run("404 service and action", func(t *testing.T) {
		s, _, b := d.invoke(d.org, d.key, "unknown", "tts", map[string]any{})
		wantError(t, "service", s, b, 404, detail("not_found", "External proxy service 'unknown' not found or disabled."))
		s, _, b = d.do("GET", svc+"unknown/", d.key, nil, nil)
		wantError(t, "detail", s, b, 404, detail("not_found", "External proxy service 'unknown' not found or disabled."))
		s, _, b = d.invoke(d.org, d.key, "heygen", "nope", map[string]any{})
		wantError(t, "action", s, b, 404, detail("not_found", "External proxy service 'heygen/nope' not found or disabled."))
	})
	t.Run("404 no credentials", func(t *testing.T) {
		// The demo's platform pool would serve the other org: remove it.
		d.cli("", "credential", "delete", "--platform", "heygen")
		s, _, b := d.invoke("other", otherKey, "heygen", "list-avatars", map[string]any{})
		wantError(t, "other org", s, b, 404, detail("not_found", "No allowed credentials found for external proxy service 'heygen'."))
	})
	t.Run("400 policy allows no source", func(t *testing.T) {
		s, _, b := d.invoke(d.org, d.key, "locked", "ping", map[string]any{})
		wantError(t, "locked", s, b, 400, errorBody("invalid", "Credential policy does not allow any credential source."))
	})
	t.Run("400 path parameters", func(t *testing.T) {
		s, _, b := d.invoke(d.org, d.key, "elevenlabs", "tts", map[string]any{"body": map[string]any{"text": "hi"}})
		wantError(t, "missing", s, b, 400, errorBody("invalid", "Missing required path parameter: voice_id"))
		for _, bad := range []string{"", ".", "..", "a/b", "a?b", "a#b", "a\x01b"} {
			s, _, b = d.invoke(d.org, d.key, "elevenlabs", "tts", map[string]any{"path_params": map[string]any{"voice_id": bad}})
			wantError(t, "bad value "+bad, s, b, 400, errorBody("invalid", "Invalid path parameter: voice_id"))
		}
	})
	t.Run("400 envelope", func(t *testing.T) {
		path := svc + "heygen/list-avatars/"
		for _, body := range []string{`[1]`, `{"body":1,"bogus":2}`, `{"query":[1]}`, `{"headers":{"Authorization":"x"}}`,
			`{"headers":{"X-Api-Key":"x"}}`, `{"headers":{"Host":"evil"}}`, `{"files":{"a":"b"}}`, `not json`} {
			s, _, b := d.do("POST", path, d.key, strings.NewReader(body), nil)
			var got map[string]string
			if json.Unmarshal(b, &got); s != 400 || got["code"] != "invalid" || got["detail"] == "" {
				t.Errorf("%s = %d %s", body, s, b)
			}
		}
	})
	t.Run("405 wrong method", func(t *testing.T) {
		s, h, b := d.do("GET", svc+"heygen/list-avatars/", d.key, nil, nil)
		if s != 405 || h.Get("Allow") != "POST" || !strings.Contains(string(b), `"method_not_allowed"`) {
			t.Fatalf("GET invoke = %d %v %s", s, h.Get("Allow"), b)
		}
	})
	t.Run("trailing slash optional", func(t *testing.T) {
		s, _, _ := d.do("GET", strings.TrimSuffix(svc, "/"), d.key, nil, nil)
		s2, _, _ := d.do("POST", svc+"heygen/list-voices", d.key, strings.NewReader(`{}`), nil)
		if s != 200 || s2 != 200 {
			t.Fatalf("without slash: list %d, invoke %d", s, s2)
		}
	})
	t.Run("429 passes through with Retry-After", func(t *testing.T) {
		d.fault(map[string]any{"provider": "heygen", "path": "/v2/voices", "status": 429, "header": map[string]any{"Retry-After": "7"}, "count": 1})
		s, h, b := d.invoke(d.org, d.key, "heygen", "list-voices", map[string]any{})
		if s != 429 || h.Get("Retry-After") != "7" || !strings.Contains(string(b), "error") {
			t.Fatalf("429 case = %d retry %q %s", s, h.Get("Retry-After"), b)
		}
	})
	t.Run("502 on provider failure", func(t *testing.T) {
		d.fault(map[string]any{"provider": "elevenlabs", "path": "/v1/voices", "status": 500, "count": 1})
		s, _, b := d.invoke(d.org, d.key, "elevenlabs", "list-voices", map[string]any{})
		wantError(t, "provider 500", s, b, 502, detail("upstream_failed", "The upstream external service request failed."))
		// Go's transport retries an idempotent request once on a reused
		// connection that closed, so the fault stays until cleared.
		d.fault(map[string]any{"provider": "elevenlabs", "path": "/v1/voices", "reset": true})
		s, _, b = d.invoke(d.org, d.key, "elevenlabs", "list-voices", map[string]any{})
		d.clearFaults()
		wantError(t, "connection reset", s, b, 502, detail("upstream_failed", "The upstream external service request failed."))
	})
	t.Run("502 on a bad provider key", func(t *testing.T) {
		d.cli("wrong-key-for-the-sandbox", "credential", "set", "--org", "other", "elevenlabs")
		s, _, b := d.invoke("other", otherKey, "elevenlabs", "list-voices", map[string]any{})
		wantError(t, "bad key", s, b, 502, detail("upstream_failed", "The upstream external service request failed."))
	})
	t.Run("504 on timeout", func(t *testing.T) {
		d.fault(map[string]any{"provider": "elevenlabs", "path": "/v1/models", "delay": "3s", "count": 1})
		s, _, b := d.invoke(d.org, d.key, "elevenlabs", "list-models", map[string]any{})
		wantError(t, "timeout", s, b, 504, detail("upstream_timeout", "The upstream external service request timed out."))
	})
	t.Run("provider 4xx verbatim", func(t *testing.T) {
		// The body passes aiproxy's request_schema (an odd width is HeyGen's
		// own rule), so the refusal is the provider's, passed on verbatim.
		body := map[string]any{"test": true, "dimension": map[string]any{"width": 1281, "height": 720},
			"video_inputs": []any{map[string]any{"voice": map[string]any{"type": "silence"}}}}
		s, h, b := d.invoke(d.org, d.key, "heygen", "generate-video", map[string]any{"body": body})
		if s != 400 || h.Get("Content-Type") != "application/json" || !strings.Contains(string(b), "invalid_parameter") {
			t.Fatalf("heygen validation = %d %s", s, b)
		}
	})
	t.Run("platform fallback", func(t *testing.T) {
		hg := ""
		for _, k := range d.providerKeys() {
			if strings.Contains(k, "_hg_") {
				hg = k
			}
		}
		d.cli(hg, "credential", "set", "--platform", "heygen")
		s, _, b := d.invoke("other", otherKey, "heygen", "list-voices", map[string]any{})
		if s != 200 {
			t.Fatalf("other org through platform key = %d %s", s, b)
		}
	})
}

// TestNoSecretsLeak runs calls that touch every secret, then looks for the
// secrets in every response, the logs and the database files: whole, and
// as any eight characters in a row (leakscan_test.go), so that a mask that
// shows too much or a log line that cuts a key short is caught too.
func TestNoSecretsLeak(t *testing.T) {
	d := startDemo(t)
	hg, el := d.useLeakTestKeys()
	var user map[string]any
	d.invokeJSON("elevenlabs", "get-user", map[string]any{}, &user)
	if user["xi_api_key"] != "[REDACTED]" {
		t.Fatalf("get-user xi_api_key = %v, want it redacted", user["xi_api_key"])
	}
	d.invoke(d.org, d.key, "heygen", "list-voices", map[string]any{})
	d.invoke(d.org, d.key, "elevenlabs", "tts", map[string]any{"path_params": map[string]any{"voice_id": "21m00Tcm4TlvDq8ikWAM"}, "body": map[string]any{"text": "x"}})
	d.fault(map[string]any{"provider": "heygen", "path": "/v2/avatars", "status": 401, "count": 1})
	d.invoke(d.org, d.key, "heygen", "list-avatars", map[string]any{})
	d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/credentials/", d.key, nil, nil)
	d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/keys/", d.key, nil, nil)
	d.fullerRun()                  // security_e2e_test.go: key lifecycle, audit log, and /metrics, whose body is scanned below
	userToken := d.socketTraffic() // realtime_e2e_test.go: what sockets send back is scanned too

	provider := d.providerKeys()
	if len(provider) != 2 || !slices.Contains(provider, hg) || !slices.Contains(provider, el) {
		t.Fatalf("the sandbox saw %d provider keys, want exactly the test's 2", len(provider))
	}
	_, secret, _ := strings.Cut(strings.TrimPrefix(d.key, "aip_"), "_")
	master, err := os.ReadFile(filepath.Join(d.dir, "master.key"))
	if err != nil || len(bytes.TrimSpace(master)) == 0 {
		t.Fatalf("read the demo's master key: %v", err)
	}
	scan := newLeakScanner(
		secretText{name: "the heygen key", whole: hg, random: strings.TrimPrefix(hg, "leak_hg_")},
		secretText{name: "the elevenlabs key", whole: el, random: strings.TrimPrefix(el, "leak_el_")},
		secretText{name: "the aiproxy key", whole: d.key, random: secret},
		secretText{name: "the user token", whole: userToken, random: userToken[len(userToken)-32:]},
		// Hex: eight of its characters would show among a run's ids by
		// chance, so only the whole key is looked for.
		secretText{name: "the master key", whole: string(bytes.TrimSpace(master))},
	)

	var files []string
	matches, _ := filepath.Glob(filepath.Join(d.dir, "aiproxy.db*"))
	files = append(files, matches...)
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for i, b := range d.bodies {
		for _, leak := range scan.find(b) {
			t.Errorf("response %d shows %s", i, leak)
		}
	}
	for _, leak := range scan.find([]byte(d.stderr.String())) {
		t.Errorf("the logs show %s", leak)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range scan.find(data) {
			t.Errorf("%s holds %s in plaintext", filepath.Base(f), leak)
		}
	}
	if !strings.Contains(d.stderr.String(), `"upstream_status":401`) {
		t.Error("the provider's 401 was not logged")
	}
}

// useLeakTestKeys gives the demo org provider keys chosen by the test, with
// random parts of letters and digits (randomText), and makes the sandbox
// accept them. It returns the HeyGen and the ElevenLabs key.
func (d *demo) useLeakTestKeys() (hg, el string) {
	d.t.Helper()
	keys := map[string]string{"heygen": "leak_hg_" + randomText(40), "elevenlabs": "leak_el_" + randomText(40)}
	for provider, key := range keys {
		body, _ := json.Marshal(map[string]string{"provider": provider, "key": key})
		resp, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json", bytes.NewReader(body))
		if err != nil {
			d.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			d.t.Fatalf("sandbox: add a %s key = %d", provider, resp.StatusCode)
		}
		body, _ = json.Marshal(map[string]any{"value": map[string]string{"key": key}})
		path := "/api/ai-proxy/orgs/" + d.org + "/credentials/" + provider + "/"
		if s, _, b := d.do("PUT", path, d.key, bytes.NewReader(body), nil); s != http.StatusOK {
			d.t.Fatalf("set the %s credential = %d %s", provider, s, b)
		}
	}
	return keys["heygen"], keys["elevenlabs"]
}
