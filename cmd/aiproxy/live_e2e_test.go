package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The live avatar sessions end to end, through the real program on the
// sandbox's LiveAvatar: aiproxy mints the session on the org's credential,
// the browser starts, keeps alive and stops it with the session token alone
// (as LiveAvatar's web SDK does with apiUrl pointed at aiproxy's native
// route), the caps refuse before the provider, and the reaper stops a
// session that ran past its length.

// laAvatar is a public avatar the sandbox seeds.
const laAvatar = "5d6fb07c-9ea8-41c2-9f65-40bc8e9dab05"

// mintBody is a FULL-mode token body asking for an hour.
var mintBody = map[string]any{"mode": "FULL", "avatar_id": laAvatar, "avatar_persona": map[string]any{"language": "en"},
	"max_session_duration": 3600}

// mintSession mints a session as key (with an optional user header) and
// returns the status, session id and token.
func (d *demo) mintSession(key string, header http.Header) (int, string, string, []byte) {
	d.t.Helper()
	data, _ := json.Marshal(map[string]any{"body": mintBody})
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/services/liveavatar/create-session-token/", "",
		bytes.NewReader(data), withAuth(h, key))
	var out struct {
		Code int `json:"code"`
		Data struct {
			SessionID    string `json:"session_id"`
			SessionToken string `json:"session_token"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &out)
	return status, out.Data.SessionID, out.Data.SessionToken, body
}

// withAuth sets an Authorization header: an aiproxy key or user token as
// Api-Key, anything else (a session token) as Bearer.
func withAuth(h http.Header, cred string) http.Header {
	if h == nil {
		h = http.Header{}
	}
	if strings.HasPrefix(cred, "aip_") || strings.HasPrefix(cred, "aiput_") {
		h.Set("Authorization", "Api-Key "+cred)
	} else if cred != "" {
		h.Set("Authorization", "Bearer "+cred)
	}
	return h
}

// native calls org's native LiveAvatar route as the web SDK does.
func (d *demo) native(org, method, path, token, body string) (int, []byte) {
	d.t.Helper()
	status, _, out := d.do(method, "/api/ai-proxy/orgs/"+org+"/native/liveavatar"+path, "", strings.NewReader(body),
		withAuth(http.Header{"Content-Type": {"application/json"}, "Origin": {"https://app.example"}}, token))
	return status, out
}

// liveSession reads aiproxy's record of a session through the API.
func (d *demo) liveSession(id string) map[string]any {
	d.t.Helper()
	var out map[string]any
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/live-sessions/"+id+"/", d.key, 200, &out)
	return out
}

func TestLiveSessionsEndToEnd(t *testing.T) {
	d := startDemo(t, "--live-sessions-per-org", "2", "--live-reap-every", "200ms")

	status, id, token, body := d.mintSession(d.key, nil)
	if status != 200 || id == "" || token == "" {
		t.Fatalf("mint = %d %s", status, body)
	}
	if strings.Contains(string(body), "sandbox_la") {
		t.Fatal("the mint's answer holds a provider key")
	}
	// The provider was asked for at most the configured maximum (30 min).
	// Start, keep alive and stop with the session token alone.
	if status, out := d.native(d.org, "POST", "/v1/sessions/start", token, ""); status != 201 || !strings.Contains(string(out), "livekit_client_token") {
		t.Fatalf("start = %d %s", status, out)
	}
	if status, out := d.native(d.org, "POST", "/v1/sessions/keep-alive", token, "{}"); status != 200 {
		t.Fatalf("keep-alive = %d %s", status, out)
	}
	rec := d.liveSession(id)
	if rec["state"] != "started" || rec["started_at"] == nil || rec["last_keep_alive_at"] == nil || rec["max_duration_seconds"] != 1800.0 {
		t.Fatalf("record after start = %v", rec)
	}

	t.Run("a session token reaches nothing else", func(t *testing.T) {
		before := d.laCalls("POST", "/v1/sessions/start")
		if before != 1 {
			t.Fatalf("%d starts reached the provider, want 1", before)
		}
		if status, out := d.native("other-org", "POST", "/v1/sessions/start", token, ""); status != 403 {
			t.Errorf("another org's path = %d %s", status, out)
		}
		if status, out := d.native(d.org, "GET", "/v1/sessions", token, ""); status != 403 {
			t.Errorf("list-sessions with a session token = %d %s", status, out)
		}
		if status, _, out := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/services/", "", nil, withAuth(nil, token)); status != 401 ||
			!strings.Contains(string(out), "Invalid token.") {
			t.Errorf("discovery with a session token = %d %s", status, out)
		}
		if status, out := d.native(d.org, "POST", "/v1/sessions/start", token+"x", ""); status != 401 {
			t.Errorf("a forged token = %d %s", status, out)
		}
		if n := d.laCalls("POST", "/v1/sessions/start"); n != before {
			t.Errorf("%d refused starts reached the provider", n-before)
		}
	})

	t.Run("caps refuse before the provider", func(t *testing.T) {
		if status, _, _, body := d.mintSession(d.key, nil); status != 200 {
			t.Fatalf("second mint = %d %s", status, body)
		}
		before := d.laCalls("POST", "/v1/sessions/token")
		if before != 2 {
			t.Fatalf("%d mints reached the provider, want 2", before)
		}
		status, _, _, body := d.mintSession(d.key, nil)
		if status != 429 || !strings.Contains(string(body), "Too many live liveavatar sessions") {
			t.Fatalf("third mint = %d %s", status, body)
		}
		if n := d.laCalls("POST", "/v1/sessions/token"); n != before {
			t.Fatalf("the refused mint reached the provider")
		}
	})

	t.Run("a member reaches only its own sessions", func(t *testing.T) {
		if status, out := d.native(d.org, "POST", "/v1/sessions/stop", "", "{}"); status != 401 {
			t.Fatalf("stop without credentials = %d %s", status, out)
		}
		bob := d.userToken("bob")
		before := d.laCalls("POST", "/v1/sessions/stop")
		status, _, out := d.invoke(d.org, bob, "liveavatar", "stop-session", map[string]any{"body": map[string]any{"session_id": id}})
		if status != 404 {
			t.Fatalf("bob stops the org's session = %d %s", status, out)
		}
		status, out2 := d.native(d.org, "POST", "/v1/sessions/stop", bob, `{"session_id":"`+id+`"}`)
		if status != 404 {
			t.Fatalf("bob stops it natively = %d %s", status, out2)
		}
		if n := d.laCalls("POST", "/v1/sessions/stop"); n != before {
			t.Fatal("a refused stop reached the provider")
		}
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		d.getJSON("/api/ai-proxy/orgs/"+d.org+"/live-sessions/", bob, 200, &list)
		if len(list.Sessions) != 0 {
			t.Fatalf("bob lists %d sessions of others", len(list.Sessions))
		}
	})

	// The session token stops its own session even with another id in the
	// body: aiproxy sets its own.
	if status, out := d.native(d.org, "POST", "/v1/sessions/stop", token, `{"session_id":"00000000-0000-0000-0000-000000000000"}`); status != 200 {
		t.Fatalf("stop = %d %s", status, out)
	}
	rec = d.liveSession(id)
	if rec["state"] != "stopped" || rec["stopped_by"] != "client" || rec["end_reason"] != "USER_CLOSED" {
		t.Fatalf("record after stop = %v", rec)
	}
	if status, out := d.native(d.org, "POST", "/v1/sessions/start", token, ""); status != 401 {
		t.Fatalf("start after stop = %d %s", status, out)
	}
	// The reaper reconciles the stopped session with the provider's record.
	liveWaitFor(t, "reconciled", func() bool { return d.liveSession(id)["reconciled_at"] != nil })

	t.Run("the token is never logged nor stored", func(t *testing.T) {
		if strings.Contains(d.stderr.String(), token) || strings.Contains(d.stdout.String(), token) {
			t.Error("a session token is in the log")
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
				t.Errorf("%s holds a session token", filepath.Base(f))
			}
		}
	})
}

func TestLiveSessionReaped(t *testing.T) {
	d := startDemo(t, "--live-max-session", "2s", "--live-reap-every", "200ms")
	status, id, token, body := d.mintSession(d.key, nil)
	if status != 200 {
		t.Fatalf("mint = %d %s", status, body)
	}
	if status, out := d.native(d.org, "POST", "/v1/sessions/start", token, ""); status != 201 {
		t.Fatalf("start = %d %s", status, out)
	}
	liveWaitFor(t, "the reaper's stop", func() bool { return d.liveSession(id)["state"] == "stopped" })
	rec := d.liveSession(id)
	if rec["stopped_by"] != "reaper" || rec["end_reason"] != "MAX_DURATION_REACHED" {
		t.Fatalf("record = %v", rec)
	}
	if n := d.laCalls("POST", "/v1/sessions/stop"); n != 1 {
		t.Fatalf("%d stop calls reached the provider, want 1", n)
	}
	liveWaitFor(t, "reconciled", func() bool { return d.liveSession(id)["reconciled_at"] != nil })
}

// laCalls counts the requests the sandbox's LiveAvatar got with a method
// and path.
func (d *demo) laCalls(method, path string) int {
	d.t.Helper()
	return d.providerCalls("liveavatar", method, path)
}

// userToken mints a user token for user with the demo's key.
func (d *demo) userToken(user string) string {
	d.t.Helper()
	data, _ := json.Marshal(map[string]any{"user": user})
	status, _, body := d.do("POST", "/api/ai-proxy/orgs/"+d.org+"/user-tokens/", d.key, bytes.NewReader(data),
		http.Header{"Content-Type": {"application/json"}})
	var out struct {
		Token string `json:"token"`
	}
	if status != 201 && status != 200 || json.Unmarshal(body, &out) != nil || out.Token == "" {
		d.t.Fatalf("mint user token = %d %s", status, body)
	}
	return out.Token
}

// liveWaitFor polls cond for up to 20 seconds.
func liveWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
