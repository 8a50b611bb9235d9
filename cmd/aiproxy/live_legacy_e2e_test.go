package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HeyGen's legacy streaming end to end, through the real program on the
// sandbox's HeyGen: aiproxy mints the token on the org's credential, the
// browser creates its one session with it on the native route (as the
// legacy SDK does with basePath at aiproxy), starts it, gives it a task and
// stops it, and the reaper stops a session that ran past its length.

// mintLegacyToken mints a legacy streaming token for org with key and returns the
// status and the token.
func (d *demo) mintLegacyToken(org, key string) (int, string, []byte) {
	d.t.Helper()
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+org+"/services/heygen/streaming-create-token/", "",
		strings.NewReader(`{"body":{}}`), withAuth(http.Header{"Content-Type": {"application/json"}}, key))
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &out)
	return status, out.Data.Token, body
}

// nativeHeyGen calls org's native HeyGen route as the legacy SDK does.
func (d *demo) nativeHeyGen(org, method, path, token, body string) (int, []byte) {
	d.t.Helper()
	status, _, out := d.do(method, "/api/ai-proxy/orgs/"+org+"/native/heygen"+path, "", strings.NewReader(body),
		withAuth(http.Header{"Content-Type": {"application/json"}}, token))
	return status, out
}

// newLegacySession creates the session of token and returns its id.
func (d *demo) newLegacySession(token string) string {
	d.t.Helper()
	status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.new", token, `{"avatar_name":"Wayne_20240711"}`)
	var made struct {
		Data struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(out, &made) != nil || made.Data.SessionID == "" {
		d.t.Fatalf("streaming.new = %d %s", status, out)
	}
	return made.Data.SessionID
}

// providerCalls counts the requests the sandbox's provider got with a
// method and path.
func (d *demo) providerCalls(provider, method, path string) int {
	d.t.Helper()
	n := 0
	for _, r := range d.sandboxLog() {
		if r.Provider == provider && r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func TestLiveLegacyStreamingEndToEnd(t *testing.T) {
	d := startDemo(t, "--live-sessions-per-org", "2", "--live-reap-every", "200ms")

	status, token, body := d.mintLegacyToken(d.org, d.key)
	if status != 200 || token == "" {
		t.Fatalf("create_token = %d %s", status, body)
	}
	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.start", token, `{"session_id":"x"}`); status != 409 {
		t.Fatalf("start before streaming.new = %d %s", status, out)
	}
	id := d.newLegacySession(token)
	rec := d.liveSession(id)
	if rec["state"] != "created" || rec["service"] != "heygen" || rec["max_duration_seconds"] != 1800.0 {
		t.Fatalf("record after streaming.new = %v", rec)
	}

	t.Run("a token creates one session through aiproxy", func(t *testing.T) {
		before := d.providerCalls("heygen", "POST", "/v1/streaming.new")
		if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.new", token, `{}`); status != 409 {
			t.Fatalf("second streaming.new = %d %s", status, out)
		}
		if n := d.providerCalls("heygen", "POST", "/v1/streaming.new"); n != before {
			t.Fatal("the refused streaming.new reached the provider")
		}
	})

	// Start and give it a task with the token alone; the body's session_id
	// is aiproxy's to set.
	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.start", token, `{"session_id":"00000000-0000-0000-0000-000000000000"}`); status != 200 {
		t.Fatalf("start = %d %s", status, out)
	}
	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.task", token, `{"text":"Hello there.","task_type":"repeat"}`); status != 200 ||
		!strings.Contains(string(out), "duration_ms") {
		t.Fatalf("task = %d %s", status, out)
	}
	rec = d.liveSession(id)
	if rec["state"] != "started" || rec["started_at"] == nil || rec["last_keep_alive_at"] == nil {
		t.Fatalf("record after start and task = %v", rec)
	}

	t.Run("a token reaches nothing else", func(t *testing.T) {
		before := d.providerCalls("heygen", "POST", "/v1/streaming.task")
		if status, out := d.nativeHeyGen("other-org", "POST", "/v1/streaming.task", token, `{"text":"hi"}`); status != 403 {
			t.Errorf("another org's path = %d %s", status, out)
		}
		if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.create_token", token, `{}`); status != 403 {
			t.Errorf("create_token with a token = %d %s", status, out)
		}
		if status, out := d.nativeHeyGen(d.org, "GET", "/v1/streaming.list", token, ""); status != 403 {
			t.Errorf("streaming.list with a token = %d %s", status, out)
		}
		if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.task", token+"x", `{"text":"hi"}`); status != 401 {
			t.Errorf("a forged token = %d %s", status, out)
		}
		if n := d.providerCalls("heygen", "POST", "/v1/streaming.task"); n != before {
			t.Errorf("%d refused tasks reached the provider", n-before)
		}
	})

	t.Run("a second org's token reaches only its own session", func(t *testing.T) {
		d.cli("", "org", "create", "other")
		other := d.cli("", "key", "create", "--org", "other", "--role", "invoke")
		status, tok2, body := d.mintLegacyToken("other", other)
		if status != 200 || tok2 == "" {
			t.Fatalf("second org's create_token = %d %s", status, body)
		}
		before := d.providerCalls("heygen", "POST", "/v1/streaming.stop")
		if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.stop", tok2, `{"session_id":"`+id+`"}`); status != 403 {
			t.Errorf("another org's token on this org = %d %s", status, out)
		}
		if n := d.providerCalls("heygen", "POST", "/v1/streaming.stop"); n != before {
			t.Error("another org's token reached the provider")
		}
	})

	t.Run("the org's key lists and acts by session_id", func(t *testing.T) {
		status, _, out := d.invoke(d.org, d.key, "heygen", "streaming-list", map[string]any{})
		if status != 200 || !strings.Contains(string(out), id) {
			t.Fatalf("streaming-list = %d %s", status, out)
		}
		status, _, out = d.invoke(d.org, d.key, "heygen", "streaming-keep-alive", map[string]any{"body": map[string]any{"session_id": id}})
		if status != 200 {
			t.Fatalf("keep-alive by key = %d %s", status, out)
		}
		bob := d.userToken("bob")
		before := d.providerCalls("heygen", "POST", "/v1/streaming.stop")
		status, _, out = d.invoke(d.org, bob, "heygen", "streaming-stop", map[string]any{"body": map[string]any{"session_id": id}})
		if status != 404 {
			t.Fatalf("bob stops the org's session = %d %s", status, out)
		}
		if n := d.providerCalls("heygen", "POST", "/v1/streaming.stop"); n != before {
			t.Fatal("a refused stop reached the provider")
		}
		status, _, out = d.invoke(d.org, d.key, "heygen", "streaming-new", map[string]any{"body": map[string]any{}})
		if status != 403 {
			t.Fatalf("streaming-new with the org's key = %d %s", status, out)
		}
	})

	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.stop", token, `{}`); status != 200 {
		t.Fatalf("stop = %d %s", status, out)
	}
	rec = d.liveSession(id)
	if rec["state"] != "stopped" || rec["stopped_by"] != "client" {
		t.Fatalf("record after stop = %v", rec)
	}
	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.task", token, `{"text":"hi"}`); status != 401 {
		t.Fatalf("task after stop = %d %s", status, out)
	}
	// HeyGen keeps no per-session record: aiproxy's own times stand.
	liveWaitFor(t, "reconciled", func() bool { return d.liveSession(id)["reconciled_at"] != nil })

	t.Run("the token is never logged nor stored", func(t *testing.T) {
		if strings.Contains(d.stderr.String(), token) || strings.Contains(d.stdout.String(), token) {
			t.Error("a streaming token is in the log")
		}
		files, _ := filepath.Glob(filepath.Join(d.dir, "*.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(token)) {
				t.Errorf("%s holds a streaming token", filepath.Base(f))
			}
		}
	})
}

func TestLiveLegacyStreamingReaped(t *testing.T) {
	d := startDemo(t, "--live-max-session", "2s", "--live-reap-every", "200ms")
	status, token, body := d.mintLegacyToken(d.org, d.key)
	if status != 200 {
		t.Fatalf("create_token = %d %s", status, body)
	}
	id := d.newLegacySession(token)
	if status, out := d.nativeHeyGen(d.org, "POST", "/v1/streaming.start", token, `{}`); status != 200 {
		t.Fatalf("start = %d %s", status, out)
	}
	liveWaitFor(t, "the reaper's stop", func() bool { return d.liveSession(id)["state"] == "stopped" })
	rec := d.liveSession(id)
	if rec["stopped_by"] != "reaper" || rec["end_reason"] != "MAX_DURATION_REACHED" {
		t.Fatalf("record = %v", rec)
	}
	if n := d.providerCalls("heygen", "POST", "/v1/streaming.stop"); n != 1 {
		t.Fatalf("%d stop calls reached the provider, want 1", n)
	}
	liveWaitFor(t, "reconciled", func() bool { return d.liveSession(id)["reconciled_at"] != nil })
}
