package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// hgsEnvelope is the legacy streaming API's v1 envelope.
type hgsEnvelope struct {
	Code    int             `json:"code"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
}

// hgsBearer sends a legacy streaming call with a streaming token.
func (f *fixture) hgsBearer(token, method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do(request{method: method, path: "/heygen" + path, body: body,
		header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}})
}

// hgsEnv decodes a v1 envelope, failing unless the status and code are as wanted.
func hgsEnv(t *testing.T, resp *http.Response, body []byte, status, code int) hgsEnvelope {
	t.Helper()
	var env hgsEnvelope
	decode(t, body, &env)
	if resp.StatusCode != status || env.Code != code {
		t.Fatalf("got %d code %d, want %d code %d: %s", resp.StatusCode, env.Code, status, code, truncate(body))
	}
	return env
}

// hgsToken mints a streaming token with key.
func (f *fixture) hgsToken(key string) string {
	f.t.Helper()
	resp, b := f.as(key, "heygen", http.MethodPost, "/v1/streaming.create_token", "")
	env := hgsEnv(f.t, resp, b, http.StatusOK, 100)
	token, _ := jsonField(f.t, env.Data, "token").(string)
	if token == "" {
		f.t.Fatalf("create_token without a token: %s", b)
	}
	return token
}

// hgsNew opens a session with token and returns its id.
func (f *fixture) hgsNew(token, body string) string {
	f.t.Helper()
	resp, b := f.hgsBearer(token, http.MethodPost, "/v1/streaming.new", body)
	env := hgsEnv(f.t, resp, b, http.StatusOK, 100)
	var data struct {
		SessionID            string `json:"session_id"`
		AccessToken          string `json:"access_token"`
		URL                  string `json:"url"`
		IsPaid               bool   `json:"is_paid"`
		SessionDurationLimit int    `json:"session_duration_limit"`
	}
	decode(f.t, env.Data, &data)
	if data.SessionID == "" || data.AccessToken == "" || data.URL == "" || data.SessionDurationLimit != 600 {
		f.t.Fatalf("streaming.new data = %s", env.Data)
	}
	return data.SessionID
}

// hgsListed returns the ids streaming.list shows to key.
func (f *fixture) hgsListed(key string) []string {
	f.t.Helper()
	resp, b := f.as(key, "heygen", http.MethodGet, "/v1/streaming.list", "")
	env := hgsEnv(f.t, resp, b, http.StatusOK, 100)
	var data struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
			Status    string `json:"status"`
		} `json:"sessions"`
	}
	decode(f.t, env.Data, &data)
	var ids []string
	for _, s := range data.Sessions {
		ids = append(ids, s.SessionID+" "+s.Status)
	}
	return ids
}

func TestHeyGenStreamingFlow(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	token := f.hgsToken(hgKey)
	id := f.hgsNew(token, `{"avatar_name":"Wayne_20240711","quality":"low","version":"v2"}`)
	ref := `{"session_id":"` + id + `"}`

	resp, b := f.hgsBearer(token, http.MethodPost, "/v1/streaming.task", `{"session_id":"`+id+`","text":"hi"}`)
	hgsEnv(t, resp, b, http.StatusBadRequest, 10006) // not started
	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.start", ref)
	hgsEnv(t, resp, b, http.StatusOK, 100)
	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.start", ref)
	hgsEnv(t, resp, b, http.StatusBadRequest, 10004)

	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.task",
		`{"session_id":"`+id+`","text":"Hello there","task_type":"repeat","task_mode":"sync"}`)
	env := hgsEnv(t, resp, b, http.StatusOK, 100)
	if d := jsonField(t, env.Data, "duration_ms"); d != float64(11*60) || jsonField(t, env.Data, "task_id") == "" {
		t.Errorf("task data = %s, want duration_ms 660 and a task_id", env.Data)
	}
	for _, call := range []string{"interrupt", "keep_alive", "start_listening", "stop_listening"} {
		resp, b = f.as(hgKey, "heygen", http.MethodPost, "/v1/streaming."+call, ref) // the key works too
		hgsEnv(t, resp, b, http.StatusOK, 100)
	}
	if got := f.hgsListed(hgKey); len(got) != 1 || got[0] != id+" connected" {
		t.Errorf("streaming.list = %v, want [%s connected]", got, id)
	}
	if got := f.hgsListed(hgOther); len(got) != 0 {
		t.Errorf("other key's streaming.list = %v, want none", got)
	}
	resp, b = f.as(hgOther, "heygen", http.MethodPost, "/v1/streaming.stop", ref)
	hgsEnv(t, resp, b, http.StatusBadRequest, 10005)

	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.stop", ref)
	hgsEnv(t, resp, b, http.StatusOK, 100)
	if got := f.hgsListed(hgKey); len(got) != 0 {
		t.Errorf("streaming.list after stop = %v", got)
	}
	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.keep_alive", ref)
	hgsEnv(t, resp, b, http.StatusBadRequest, 10005)
}

func TestHeyGenStreamingIdleTimeout(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	token := f.hgsToken(hgKey)
	short := f.hgsNew(token, `{"activity_idle_timeout":30}`)
	long := f.hgsNew(token, ``)
	f.clock.Advance(29 * time.Second)
	resp, b := f.hgsBearer(token, http.MethodPost, "/v1/streaming.keep_alive", `{"session_id":"`+short+`"}`)
	hgsEnv(t, resp, b, http.StatusOK, 100)
	f.clock.Advance(30 * time.Second)
	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.start", `{"session_id":"`+short+`"}`)
	hgsEnv(t, resp, b, http.StatusBadRequest, 10005)
	resp, b = f.hgsBearer(token, http.MethodPost, "/v1/streaming.start", `{"session_id":"`+long+`"}`)
	hgsEnv(t, resp, b, http.StatusOK, 100) // 59 s idle is within the default 120 s
	f.clock.Advance(121 * time.Second)
	if got := f.hgsListed(hgKey); len(got) != 0 {
		t.Errorf("streaming.list after the idle timeout = %v", got)
	}
}

func TestHeyGenStreamingErrors(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	token := f.hgsToken(hgKey)
	for _, tc := range []struct {
		name   string
		resp   func() (*http.Response, []byte)
		status int
		code   int
	}{
		{"idle timeout too short", func() (*http.Response, []byte) {
			return f.hgsBearer(token, http.MethodPost, "/v1/streaming.new", `{"activity_idle_timeout":10}`)
		}, 400, 40001},
		{"idle timeout too long", func() (*http.Response, []byte) {
			return f.hgsBearer(token, http.MethodPost, "/v1/streaming.new", `{"activity_idle_timeout":3601}`)
		}, 400, 40001},
		{"no session_id", func() (*http.Response, []byte) {
			return f.hgsBearer(token, http.MethodPost, "/v1/streaming.start", `{}`)
		}, 400, 40001},
		{"unknown token", func() (*http.Response, []byte) {
			return f.hgsBearer("nope", http.MethodPost, "/v1/streaming.new", `{}`)
		}, 401, 400112},
		{"create_token needs the key", func() (*http.Response, []byte) {
			return f.hgsBearer(token, http.MethodPost, "/v1/streaming.create_token", ``)
		}, 401, 400112},
		{"expired token", func() (*http.Response, []byte) {
			f.clock.Advance(time.Hour)
			return f.hgsBearer(token, http.MethodGet, "/v1/streaming.list", ``)
		}, 401, 400112},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := tc.resp()
			hgsEnv(t, resp, b, tc.status, tc.code)
		})
	}
}
