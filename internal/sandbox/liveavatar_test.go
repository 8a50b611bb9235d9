package sandbox_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
	"github.com/coder/websocket"
)

// LiveAvatar keys the fixtures accept.
const (
	laKey   = "la-test-key"
	laOther = "la-other-key"
)

// Seeded LiveAvatar catalog entries.
const (
	laSandboxAvatar = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
	laAvatar        = "5d6fb07c-9ea8-41c2-9f65-40bc8e9dab05"
)

// laEnvelope is LiveAvatar's answer envelope.
type laEnvelope struct {
	Code    int             `json:"code"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
}

// laSessionItem is what the tests read of a session item.
type laSessionItem struct {
	ID              string  `json:"id"`
	Duration        int     `json:"duration"`
	Mode            string  `json:"mode"`
	IsSandbox       bool    `json:"is_sandbox"`
	CreditsConsumed int     `json:"credits_consumed"`
	Status          string  `json:"status"`
	EndReason       *string `json:"end_reason"`
}

// newLAFixture starts a sandbox that accepts laKey and laOther.
func newLAFixture(t *testing.T, cfg sandbox.Config) *fixture {
	t.Helper()
	cfg.LiveAvatarKeys = []string{laKey, laOther}
	return newFixture(t, cfg)
}

// la sends a LiveAvatar request with an API key ("" for none).
func (f *fixture) la(key, method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		h["X-API-KEY"] = key
	}
	return f.do(request{method: method, path: "/liveavatar" + path, body: body, header: h})
}

// laBearer sends a LiveAvatar request with a session token.
func (f *fixture) laBearer(token, method, path, body string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do(request{method: method, path: "/liveavatar" + path, body: body,
		header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}})
}

// laEnv decodes an envelope, failing unless the status and code are as wanted.
func laEnv(t *testing.T, resp *http.Response, body []byte, status, code int) laEnvelope {
	t.Helper()
	var env laEnvelope
	decode(t, body, &env)
	if resp.StatusCode != status || env.Code != code {
		t.Fatalf("got %d code %d, want %d code %d: %s", resp.StatusCode, env.Code, status, code, truncate(body))
	}
	return env
}

// laFullBody is a FULL token body for avatar.
func laFullBody(avatar string, extra string) string {
	return `{"mode":"FULL","avatar_id":"` + avatar + `","avatar_persona":{"language":"en"}` + extra + `}`
}

// laMint mints a session for key and returns its id and token.
func (f *fixture) laMint(key, body string) (string, string) {
	f.t.Helper()
	resp, b := f.la(key, http.MethodPost, "/v1/sessions/token", body)
	env := laEnv(f.t, resp, b, http.StatusOK, 1000)
	var data struct {
		SessionID    string `json:"session_id"`
		SessionToken string `json:"session_token"`
	}
	decode(f.t, env.Data, &data)
	return data.SessionID, data.SessionToken
}

// laStartData is what the tests read of a start's data.
type laStartData struct {
	SessionID          string  `json:"session_id"`
	LiveKitURL         string  `json:"livekit_url"`
	LiveKitClientToken string  `json:"livekit_client_token"`
	MaxSessionDuration int     `json:"max_session_duration"`
	WSURL              *string `json:"ws_url"`
}

// laStart starts a session and returns the start's data.
func (f *fixture) laStart(token string) laStartData {
	f.t.Helper()
	resp, b := f.laBearer(token, http.MethodPost, "/v1/sessions/start", "")
	env := laEnv(f.t, resp, b, http.StatusCreated, 1000)
	var data laStartData
	decode(f.t, env.Data, &data)
	return data
}

// laSession reads a session's item with key.
func (f *fixture) laSession(key, id string) laSessionItem {
	f.t.Helper()
	resp, b := f.la(key, http.MethodGet, "/v1/sessions/"+id, "")
	env := laEnv(f.t, resp, b, http.StatusOK, 1000)
	var item laSessionItem
	decode(f.t, env.Data, &item)
	return item
}

// wantEnded fails unless item ended for reason after duration seconds, with credits used.
func wantEnded(t *testing.T, item laSessionItem, reason string, duration, credits int) {
	t.Helper()
	if item.Status != "ENDED" || item.EndReason == nil || *item.EndReason != reason ||
		item.Duration != duration || item.CreditsConsumed != credits {
		got := "<nil>"
		if item.EndReason != nil {
			got = *item.EndReason
		}
		t.Fatalf("session %s %s after %ds with %d credits, want ENDED %s after %ds with %d credits",
			item.Status, got, item.Duration, item.CreditsConsumed, reason, duration, credits)
	}
}

func TestLiveAvatarSessionFlow(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	id, token := f.laMint(laKey, laFullBody(laAvatar, ""))

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("session_token %q is not header.payload.signature", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	if got := jsonField(t, payload, "session_id"); got != id {
		t.Errorf("token session_id = %v, want %s", got, id)
	}
	if exp, ok := jsonField(t, payload, "exp").(float64); !ok || int64(exp) <= f.clock.Now().Unix() {
		t.Errorf("token exp = %v, want a future unix time", exp)
	}

	start := f.laStart(token)
	if start.SessionID != id || !strings.HasPrefix(start.LiveKitURL, "wss://") || start.LiveKitClientToken == "" {
		t.Errorf("start data = %+v", start)
	}
	if start.WSURL != nil || start.MaxSessionDuration != 1200 {
		t.Errorf("FULL start: ws_url %v, max_session_duration %d; want null and 1200", start.WSURL, start.MaxSessionDuration)
	}
	if item := f.laSession(laKey, id); item.Status != "ACTIVE" || item.CreditsConsumed != 2 || item.Mode != "FULL" {
		t.Errorf("after start: %+v, want ACTIVE FULL with the first minute (2 credits) charged", item)
	}

	f.clock.Advance(90 * time.Second)
	resp, b := f.laBearer(token, http.MethodPost, "/v1/sessions/keep-alive", "")
	laEnv(t, resp, b, http.StatusOK, 1000)
	if item := f.laSession(laKey, id); item.Duration != 90 || item.CreditsConsumed != 4 {
		t.Errorf("at 90s: duration %d credits %d, want 90 and 4", item.Duration, item.CreditsConsumed)
	}

	resp, b = f.la(laKey, http.MethodPost, "/v1/sessions/stop", `{"session_id":"`+id+`"}`)
	laEnv(t, resp, b, http.StatusOK, 1000)
	wantEnded(t, f.laSession(laKey, id), "USER_CLOSED", 90, 4)

	f.clock.Advance(time.Minute)
	resp, b = f.la(laKey, http.MethodPost, "/v1/sessions/stop", `{"session_id":"`+id+`","reason":"ZOMBIE_SESSION_REAP"}`)
	laEnv(t, resp, b, http.StatusOK, 1000)
	wantEnded(t, f.laSession(laKey, id), "USER_CLOSED", 90, 4) // a second stop changes nothing

	resp, b = f.laBearer(token, http.MethodPost, "/v1/sessions/start", "")
	if env := laEnv(t, resp, b, http.StatusOK, 4000); env.Message != "Session already ended" {
		t.Errorf("start after stop: message %q", env.Message)
	}
	resp, b = f.la(laKey, http.MethodGet, "/v1/sessions/"+id+"/transcript", "")
	env := laEnv(t, resp, b, http.StatusOK, 1000)
	wantResponse(t, resp, env.Data, http.StatusOK, `{"session_active":false,"transcript_data":[]}`)
}

func TestLiveAvatarStartFailures(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarCredits: 5})
	_, token := f.laMint(laKey, laFullBody(laAvatar, ""))
	f.laStart(token)
	resp, b := f.laBearer(token, http.MethodPost, "/v1/sessions/start", "")
	if env := laEnv(t, resp, b, http.StatusOK, 4000); env.Message != "Session already started" {
		t.Errorf("second start: message %q", env.Message)
	}

	// Wallet 5, FULL costs 2 a started minute: 2 at start, 2 at 1:00, and at 2:00 only 1 is left.
	f.clock.Advance(3 * time.Minute)
	if got := f.sb.LiveAvatarCredits(laKey); got != 1 {
		t.Errorf("credits left = %d, want 1", got)
	}
	_, token2 := f.laMint(laKey, laFullBody(laAvatar, ""))
	resp, b = f.laBearer(token2, http.MethodPost, "/v1/sessions/start", "")
	if env := laEnv(t, resp, b, http.StatusOK, 4000); env.Message != "Insufficient credits" {
		t.Errorf("start without credits: message %q", env.Message)
	}

	// The control API refills the wallet; then the same session starts.
	resp, b = f.do(request{method: http.MethodPost, path: "/_sandbox/keys/limits",
		body: `{"provider":"liveavatar","key":"` + laKey + `","credits":10}`})
	wantStatus(t, resp, b, http.StatusNoContent)
	f.laStart(token2)
	if got := f.sb.LiveAvatarCredits(laKey); got != 8 {
		t.Errorf("credits left after refill and start = %d, want 8", got)
	}
}

func TestLiveAvatarNoCredits(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarCredits: 5})
	id, token := f.laMint(laKey, laFullBody(laAvatar, ""))
	f.laStart(token)
	f.clock.Advance(10 * time.Minute)
	wantEnded(t, f.laSession(laKey, id), "NO_CREDITS", 120, 4)
}

func TestLiveAvatarIdleTimeout(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarIdleTimeout: 2 * time.Minute})
	id, token := f.laMint(laKey, `{"mode":"CUSTOM","avatar_id":"`+laAvatar+`"}`)
	if start := f.laStart(token); start.WSURL == nil {
		t.Fatal("LITE start without ws_url")
	}
	f.clock.Advance(90 * time.Second)
	resp, b := f.la(laKey, http.MethodPost, "/v1/sessions/keep-alive", `{"session_id":"`+id+`"}`)
	laEnv(t, resp, b, http.StatusOK, 1000)
	f.clock.Advance(2*time.Minute + time.Second)
	// Idle from 1:30 to 3:30; LITE costs 1 a started minute: 0:00, 1:00, 2:00, 3:00.
	item := f.laSession(laKey, id)
	wantEnded(t, item, "IDLE_TIMEOUT", 210, 4)
	if item.Mode != "LITE" {
		t.Errorf("mode = %q, want LITE for CUSTOM", item.Mode)
	}
	resp, b = f.laBearer(token, http.MethodPost, "/v1/sessions/keep-alive", "")
	laEnv(t, resp, b, http.StatusOK, 4000)
}

func TestLiveAvatarMaxDuration(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	id, token := f.laMint(laKey, laFullBody(laAvatar, `,"max_session_duration":120`))
	if start := f.laStart(token); start.MaxSessionDuration != 120 {
		t.Errorf("max_session_duration = %d, want 120", start.MaxSessionDuration)
	}
	for range 4 {
		f.clock.Advance(time.Minute)
		resp, b := f.laBearer(token, http.MethodPost, "/v1/sessions/keep-alive", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("keep-alive: %d %s", resp.StatusCode, b)
		}
	}
	wantEnded(t, f.laSession(laKey, id), "MAX_DURATION_REACHED", 120, 4)
}

func TestLiveAvatarSandboxSession(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarCredits: 1})
	resp, b := f.la(laKey, http.MethodPost, "/v1/sessions/token", laFullBody(laAvatar, `,"is_sandbox":true`))
	laEnv(t, resp, b, http.StatusBadRequest, 4000)

	id, token := f.laMint(laKey, laFullBody(laSandboxAvatar, `,"is_sandbox":true`))
	f.laStart(token) // a wallet of 1 is below FULL's escrow, but sandbox sessions are free
	f.clock.Advance(61 * time.Second)
	item := f.laSession(laKey, id)
	wantEnded(t, item, "MAX_DURATION_REACHED", 60, 0)
	if !item.IsSandbox {
		t.Error("is_sandbox = false")
	}
}

func TestLiveAvatarAccounts(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	id, token := f.laMint(laKey, laFullBody(laAvatar, ""))
	f.laStart(token)
	otherID, otherToken := f.laMint(laOther, laFullBody(laAvatar, ""))

	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"get", http.MethodGet, "/v1/sessions/" + id, ""},
		{"transcript", http.MethodGet, "/v1/sessions/" + id + "/transcript", ""},
		{"stop", http.MethodPost, "/v1/sessions/stop", `{"session_id":"` + id + `"}`},
		{"keep-alive", http.MethodPost, "/v1/sessions/keep-alive", `{"session_id":"` + id + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := f.la(laOther, tc.method, tc.path, tc.body)
			laEnv(t, resp, b, http.StatusNotFound, 4040)
		})
	}
	t.Run("token of another session", func(t *testing.T) {
		resp, b := f.laBearer(otherToken, http.MethodPost, "/v1/sessions/stop", `{"session_id":"`+id+`"}`)
		laEnv(t, resp, b, http.StatusNotFound, 4040)
	})
	t.Run("lists", func(t *testing.T) {
		resp, b := f.la(laOther, http.MethodGet, "/v1/sessions?type=active", "")
		env := laEnv(t, resp, b, http.StatusOK, 1000)
		if got := jsonField(t, env.Data, "count"); got != float64(0) {
			t.Errorf("other key's active count = %v, want 0", got)
		}
	})
	if item := f.laSession(laKey, id); item.Status != "ACTIVE" {
		t.Errorf("after the other key's attempts: %s, want ACTIVE", item.Status)
	}
	// The other key's own session stops with its token through DELETE /v1/sessions.
	resp, b := f.laBearer(otherToken, http.MethodDelete, "/v1/sessions", "")
	laEnv(t, resp, b, http.StatusOK, 1000)
	wantEnded(t, f.laSession(laOther, otherID), "USER_CLOSED", 0, 0)
}

func TestLiveAvatarHistoricList(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	var ids []string
	for range 3 {
		id, token := f.laMint(laKey, laFullBody(laAvatar, ""))
		f.laStart(token)
		ids = append(ids, id)
		f.clock.Advance(time.Second)
	}
	for _, id := range ids[:2] {
		resp, b := f.la(laKey, http.MethodPost, "/v1/sessions/stop", `{"session_id":"`+id+`","reason":"USER_DISCONNECTED"}`)
		laEnv(t, resp, b, http.StatusOK, 1000)
	}
	var page struct {
		Count    int             `json:"count"`
		Next     *string         `json:"next"`
		Previous *string         `json:"previous"`
		Results  []laSessionItem `json:"results"`
	}
	resp, b := f.la(laKey, http.MethodGet, "/v1/sessions?type=historic&page_size=1", "")
	decode(t, laEnv(t, resp, b, http.StatusOK, 1000).Data, &page)
	if page.Count != 2 || page.Next == nil || page.Previous != nil || len(page.Results) != 1 || page.Results[0].ID != ids[1] {
		t.Fatalf("historic page 1 = %+v, want 2 in all, newest (%s) first, a next link", page, ids[1])
	}
	if r := page.Results[0]; r.EndReason == nil || *r.EndReason != "USER_DISCONNECTED" {
		t.Errorf("end_reason = %v, want USER_DISCONNECTED", r.EndReason)
	}
	resp, b = f.la(laKey, http.MethodGet, "/v1/sessions?type=historic&page_size=1&page=2", "")
	decode(t, laEnv(t, resp, b, http.StatusOK, 1000).Data, &page)
	if page.Next != nil || page.Previous == nil || len(page.Results) != 1 || page.Results[0].ID != ids[0] {
		t.Errorf("historic page 2 = %+v", page)
	}
	resp, b = f.la(laKey, http.MethodGet, "/v1/sessions?type=active", "")
	decode(t, laEnv(t, resp, b, http.StatusOK, 1000).Data, &page)
	if page.Count != 1 || page.Results[0].ID != ids[2] || page.Results[0].EndReason != nil {
		t.Errorf("active = %+v, want only %s", page, ids[2])
	}
	resp, b = f.la(laKey, http.MethodGet, "/v1/sessions?page_size=101", "")
	wantStatus(t, resp, b, http.StatusUnprocessableEntity)
}

func TestLiveAvatarErrors(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	for _, tc := range []struct {
		name, key, method, path, body string
		status                        int
		want                          string // JSON body, or a fragment for 422s
	}{
		{"no key", "", http.MethodPost, "/v1/sessions/token", laFullBody(laAvatar, ""), 401,
			`{"code":4010,"data":null,"message":"Missing API key"}`},
		{"bad key", "nope", http.MethodGet, "/v1/sessions", "", 401,
			`{"code":4010,"data":null,"message":"Invalid API key"}`},
		{"unknown avatar", laKey, http.MethodPost, "/v1/sessions/token",
			laFullBody("00000000-0000-4000-8000-000000000000", ""), 404,
			`{"code":4040,"data":null,"message":"Avatar not found"}`},
		{"unknown voice", laKey, http.MethodPost, "/v1/sessions/token",
			`{"mode":"FULL","avatar_id":"` + laAvatar + `","avatar_persona":{"language":"en","voice_id":"00000000-0000-4000-8000-000000000000"}}`, 404,
			`{"code":4040,"data":null,"message":"Voice not found"}`},
		{"stop by key without id", laKey, http.MethodPost, "/v1/sessions/stop", `{}`, 400,
			`{"code":4000,"data":null,"message":"session_id is required with an API key"}`},
		{"unknown route", laKey, http.MethodGet, "/v1/nothing", "", 404,
			`{"detail":"Not Found","sandbox_unknown_route":"GET /v1/nothing"}`},
		{"wrong method", laKey, http.MethodPut, "/v1/sessions/token", "", 405,
			`{"detail":"Method Not Allowed","sandbox_unknown_route":"PUT /v1/sessions/token"}`},
		{"missing avatar_id", laKey, http.MethodPost, "/v1/sessions/token", `{"mode":"LITE"}`, 422,
			`{"loc":["body","LITE","avatar_id"],"msg":"Field required","type":"missing","input":null}`},
		{"bad uuid", laKey, http.MethodPost, "/v1/sessions/token", laFullBody("abc", ""), 422,
			`"type":"uuid_parsing"`},
		{"unknown mode", laKey, http.MethodPost, "/v1/sessions/token", `{"mode":"HALF","avatar_id":"` + laAvatar + `"}`, 422,
			`"type":"union_tag_invalid"`},
		{"FULL without persona", laKey, http.MethodPost, "/v1/sessions/token", `{"mode":"FULL","avatar_id":"` + laAvatar + `"}`, 422,
			`"loc":["body","FULL","avatar_persona"]`},
		{"wrong type", laKey, http.MethodPost, "/v1/sessions/token", laFullBody(laAvatar, `,"max_session_duration":"long"`), 422,
			`"loc":["body","max_session_duration"]`},
		{"bad reason", laKey, http.MethodPost, "/v1/sessions/stop", `{"session_id":"x","reason":"BORED"}`, 422,
			`"loc":["body","reason"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := f.la(tc.key, tc.method, tc.path, tc.body)
			if tc.status != http.StatusUnprocessableEntity {
				wantResponse(t, resp, b, tc.status, tc.want)
				return
			}
			wantStatus(t, resp, b, tc.status)
			if !strings.HasPrefix(string(b), `{"detail":[`) || !strings.Contains(string(b), tc.want) {
				t.Errorf("422 body %s, want a detail list containing %s", b, tc.want)
			}
		})
	}
	t.Run("forged token", func(t *testing.T) {
		_, token := f.laMint(laKey, laFullBody(laAvatar, ""))
		forged := token[:len(token)-2] + "xx"
		resp, b := f.laBearer(forged, http.MethodPost, "/v1/sessions/start", "")
		laEnv(t, resp, b, http.StatusUnauthorized, 4010)
		resp, b = f.la(laKey, http.MethodPost, "/v1/sessions/start", "") // the key is not enough
		laEnv(t, resp, b, http.StatusUnauthorized, 4010)
	})
}

func TestLiveAvatarFaults(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	_, token := f.laMint(laKey, laFullBody(laAvatar, ""))
	resp, b := f.do(request{method: http.MethodPost, path: "/_sandbox/faults",
		body: `{"provider":"liveavatar","path":"/v1/sessions/start","status":429,"count":1}`})
	wantStatus(t, resp, b, http.StatusNoContent)
	resp, b = f.laBearer(token, http.MethodPost, "/v1/sessions/start", "")
	wantResponse(t, resp, b, http.StatusTooManyRequests, `{"code":4290,"data":null,"message":"Too Many Requests"}`)
	f.laStart(token) // the fault is used up

	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.LiveAvatar, Path: "/v1/sessions/", Status: 500, Count: 1})
	resp, b = f.la(laKey, http.MethodGet, "/v1/sessions/x", "")
	wantResponse(t, resp, b, http.StatusInternalServerError, `{"code":5000,"data":null,"message":"Internal Server Error"}`)
	if reqs := f.sb.Requests(); len(reqs) == 0 || reqs[len(reqs)-1].Provider != sandbox.LiveAvatar || reqs[len(reqs)-1].Path != "/v1/sessions/x" {
		t.Errorf("request log does not end with the LiveAvatar call: %+v", reqs[len(reqs)-1])
	}
}

func TestLiveAvatarCatalogs(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	resp, b := f.la("", http.MethodGet, "/v1/avatars/public", "")
	env := laEnv(t, resp, b, http.StatusOK, 1000)
	if !strings.Contains(string(env.Data), laSandboxAvatar) || !strings.Contains(string(env.Data), `"default_voice":{`) {
		t.Errorf("public avatars lack the sandbox avatar or default voices: %s", env.Data)
	}
	resp, b = f.la("", http.MethodGet, "/v1/avatars", "")
	laEnv(t, resp, b, http.StatusUnauthorized, 4010)
	resp, b = f.la(laKey, http.MethodGet, "/v1/voices?page_size=2", "")
	env = laEnv(t, resp, b, http.StatusOK, 1000)
	if got := jsonField(t, env.Data, "count"); got != float64(4) {
		t.Errorf("voices count = %v, want 4", got)
	}

	resp, b = f.la(laKey, http.MethodPost, "/v1/contexts", `{"name":"Support","prompt":"Help with billing."}`)
	env = laEnv(t, resp, b, http.StatusOK, 1000)
	ctxID, _ := jsonField(t, env.Data, "id").(string)
	resp, b = f.la(laKey, http.MethodPatch, "/v1/contexts/"+ctxID, `{"opening_text":"Hi there"}`)
	env = laEnv(t, resp, b, http.StatusOK, 1000)
	if got := jsonField(t, env.Data, "opening_text"); got != "Hi there" {
		t.Errorf("patched opening_text = %v", got)
	}
	resp, b = f.la(laOther, http.MethodGet, "/v1/contexts/"+ctxID, "")
	laEnv(t, resp, b, http.StatusNotFound, 4040)
	f.laMint(laKey, `{"mode":"FULL","avatar_id":"`+laAvatar+`","avatar_persona":{"language":"en","context_id":"`+ctxID+`"}}`)
	resp, b = f.la(laOther, http.MethodPost, "/v1/sessions/token",
		`{"mode":"FULL","avatar_id":"`+laAvatar+`","avatar_persona":{"language":"en","context_id":"`+ctxID+`"}}`)
	laEnv(t, resp, b, http.StatusNotFound, 4040)
	resp, b = f.la(laKey, http.MethodDelete, "/v1/contexts/"+ctxID, "")
	laEnv(t, resp, b, http.StatusOK, 1000)
	resp, b = f.la(laKey, http.MethodGet, "/v1/contexts/"+ctxID, "")
	laEnv(t, resp, b, http.StatusNotFound, 4040)
}

// laSock is a test's end of a LITE socket.
type laSock struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

// dialLite starts a LITE session and opens its ws_url.
func (f *fixture) dialLite() (*laSock, string, string) {
	f.t.Helper()
	id, token := f.laMint(laKey, `{"mode":"LITE","avatar_id":"`+laAvatar+`"}`)
	start := f.laStart(token)
	if start.WSURL == nil || !strings.HasPrefix(*start.WSURL, "ws://"+strings.TrimPrefix(f.srv.URL, "http://")+"/liveavatar/v1/ws/lite/"+id) {
		f.t.Fatalf("ws_url = %v", start.WSURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, *start.WSURL, nil)
	if err != nil {
		f.t.Fatalf("dial %s: %v", *start.WSURL, err)
	}
	f.t.Cleanup(func() { _ = conn.CloseNow() })
	return &laSock{t: f.t, ctx: ctx, conn: conn}, id, token
}

// send writes one JSON command.
func (s *laSock) send(v string) {
	s.t.Helper()
	if err := s.conn.Write(s.ctx, websocket.MessageText, []byte(v)); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// next reads one event.
func (s *laSock) next() map[string]any {
	s.t.Helper()
	_, b, err := s.conn.Read(s.ctx)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	decode(s.t, b, &m)
	return m
}

// wantEvent reads one event and checks its type and one field.
func (s *laSock) wantEvent(typ, field, value string) map[string]any {
	s.t.Helper()
	m := s.next()
	if m["type"] != typ || m[field] != value {
		s.t.Fatalf("event %v, want type %s with %s=%s", m, typ, field, value)
	}
	return m
}

// wantClose reads until the socket closes and checks the close status.
func (s *laSock) wantClose(status websocket.StatusCode) {
	s.t.Helper()
	for {
		_, _, err := s.conn.Read(s.ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != status {
			s.t.Fatalf("socket ended with %v (status %d), want %d", err, got, status)
		}
		return
	}
}

func TestLiveAvatarLiteSocket(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarConnectDelay: 500 * time.Millisecond})
	sock, id, token := f.dialLite()
	sock.wantEvent("session.state_updated", "state", "connecting")
	// Sent while connecting: dropped, so it never gets an answer.
	sock.send(`{"type":"agent.speak","event_id":"early","audio":"AAAA"}`)
	sock.send(`{"type":"agent.speak_end","event_id":"early"}`)
	sock.wantEvent("session.state_updated", "state", "connected")

	sock.send(`{"type":"agent.speak","event_id":"e1","audio":"AAAA"}`)
	sock.send(`{"type":"agent.speak","event_id":"e1","audio":"BBBB"}`)
	sock.send(`{"type":"agent.speak_end","event_id":"e1"}`)
	started := sock.wantEvent("agent.speak_started", "event_id", "e1")
	if task, _ := started["task"].(map[string]any); task == nil || task["id"] == "" {
		t.Errorf("speak_started without task.id: %v", started)
	}
	sock.wantEvent("agent.speak_ended", "event_id", "e1")

	sock.send(`{"type":"session.keep_alive","event_id":"k1"}`)
	resp, b := f.laBearer(token, http.MethodPost, "/v1/sessions/stop", "")
	laEnv(t, resp, b, http.StatusOK, 1000)
	sock.wantEvent("session.state_updated", "state", "closing")
	sock.wantEvent("session.state_updated", "state", "closed")
	sock.wantClose(websocket.StatusNormalClosure)
	wantEnded(t, f.laSession(laKey, id), "USER_CLOSED", 0, 1)
}

func TestLiveAvatarLiteSocketLimits(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarConnectDelay: -1, LiveAvatarIdleTimeout: time.Minute})
	sock, id, _ := f.dialLite()
	sock.wantEvent("session.state_updated", "state", "connecting")
	sock.wantEvent("session.state_updated", "state", "connected")

	// A keep-alive over the socket resets the idle timer as the REST one does.
	f.clock.Advance(50 * time.Second)
	sock.send(`{"type":"session.keep_alive","event_id":"k1"}`)
	sock.send(`{"type":"agent.speak","event_id":"e1","audio":"AAAA"}`)
	sock.send(`{"type":"agent.speak_end","event_id":"e1"}`)
	sock.wantEvent("agent.speak_started", "event_id", "e1") // the keep-alive was handled before
	sock.wantEvent("agent.speak_ended", "event_id", "e1")
	f.clock.Advance(50 * time.Second)
	if item := f.laSession(laKey, id); item.Status != "ACTIVE" {
		t.Fatalf("100 s after start with a keep-alive at 50 s: %s, want ACTIVE", item.Status)
	}

	big := `{"type":"agent.speak","event_id":"e2","audio":"` + strings.Repeat("A", 1<<20) + `"}`
	err := sock.conn.Write(sock.ctx, websocket.MessageText, []byte(big))
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("write of the big packet: %v", err) // the server may close first
	}
	sock.wantClose(websocket.StatusMessageTooBig)
}

func TestLiveAvatarLiteSocketRefused(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	id, token := f.laMint(laKey, `{"mode":"LITE","avatar_id":"`+laAvatar+`"}`)
	base := "/liveavatar/v1/ws/lite/" + id + "?session_token="
	resp, b := f.do(request{path: base + token})
	laEnv(t, resp, b, http.StatusBadRequest, 4000) // not started yet
	resp, b = f.do(request{path: base + "garbage"})
	laEnv(t, resp, b, http.StatusUnauthorized, 4010)
}

func TestLiveAvatarLiteSocketIdleClose(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{LiveAvatarConnectDelay: -1, LiveAvatarIdleTimeout: time.Minute})
	sock, id, _ := f.dialLite()
	sock.wantEvent("session.state_updated", "state", "connecting")
	sock.wantEvent("session.state_updated", "state", "connected")
	f.clock.Advance(time.Minute) // no request follows: the socket notices by itself
	sock.wantEvent("session.state_updated", "state", "closing")
	sock.wantEvent("session.state_updated", "state", "closed")
	sock.wantClose(websocket.StatusNormalClosure)
	wantEnded(t, f.laSession(laKey, id), "IDLE_TIMEOUT", 60, 1)
}

func TestLiveAvatarControl(t *testing.T) {
	f := newLAFixture(t, sandbox.Config{})
	id, token := f.laMint(laKey, laFullBody(laAvatar, ""))
	f.laStart(token)
	if got := f.sb.KeyStats(sandbox.LiveAvatar, laKey).JobStarts; got != 1 {
		t.Errorf("JobStarts = %d, want 1", got)
	}
	f.clock.Advance(30 * time.Second)
	body := `{"session_id":"` + id + `","reason":"AVATAR_DELETED"}`
	resp, b := f.do(request{method: http.MethodPost, path: "/_sandbox/liveavatar/end", body: body})
	wantStatus(t, resp, b, http.StatusNoContent)
	wantEnded(t, f.laSession(laKey, id), "AVATAR_DELETED", 30, 2)
	resp, b = f.do(request{method: http.MethodPost, path: "/_sandbox/liveavatar/end", body: body})
	wantStatus(t, resp, b, http.StatusNotFound) // ended already
	resp, b = f.do(request{method: http.MethodPost, path: "/_sandbox/liveavatar/end", body: `{"session_id":"` + id + `","reason":"BORED"}`})
	wantStatus(t, resp, b, http.StatusBadRequest)

	resp, b = f.do(request{method: http.MethodPost, path: "/_sandbox/keys/limits",
		body: `{"provider":"liveavatar","key":"` + laOther + `","latency":"1s","max_concurrent":1}`})
	wantStatus(t, resp, b, http.StatusNoContent)
	slow := make(chan struct{})
	go func() {
		defer close(slow)
		f.la(laOther, http.MethodGet, "/v1/voices", "") // holds the key's only slot for 1s
	}()
	deadline := time.Now().Add(5 * time.Second)
	for f.sb.KeyStats(sandbox.LiveAvatar, laOther).InFlight == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, b = f.la(laOther, http.MethodGet, "/v1/voices", "")
	<-slow
	wantResponse(t, resp, b, http.StatusTooManyRequests, `{"code":4290,"data":null,"message":"Too many concurrent requests"}`)
}

// FuzzLiveAvatarBodies feeds arbitrary bodies to the LiveAvatar and legacy streaming
// endpoints that parse JSON: never a 5xx, never a panic.
func FuzzLiveAvatarBodies(f *testing.F) {
	seeds := []string{
		laFullBody(laAvatar, `,"video_settings":{"quality":"high","encoding":"VP8"},"max_session_duration":60`),
		laFullBody(laSandboxAvatar, `,"is_sandbox":true`),
		`{"mode":"LITE","avatar_id":"` + laAvatar + `"}`,
		`{"mode":"FULL","avatar_id":"abc","avatar_persona":{"voice_id":7}}`,
		`{"session_id":"x","reason":"USER_CLOSED"}`,
		`{"name":"n","prompt":"p","links":["a"]}`,
		`{"activity_idle_timeout":30}`, `{"session_id":"x","text":"hi"}`,
		`{"mode":`, `[]`, `null`, ``,
	}
	paths := []string{
		"/liveavatar/v1/sessions/token", "/liveavatar/v1/sessions/stop", "/liveavatar/v1/sessions/keep-alive",
		"/liveavatar/v1/contexts", "/heygen/v1/streaming.new", "/heygen/v1/streaming.task",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	sb := sandbox.New(sandbox.Config{HeyGenKeys: []string{hgKey}, LiveAvatarKeys: []string{laKey}})
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("X-Api-Key", laKey)
		if strings.HasPrefix(path, "/heygen") {
			req.Header.Set("X-Api-Key", hgKey)
		}
		rec := httptest.NewRecorder()
		sb.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body.String())
		}
		sb.ClearRequests()
	})
}
