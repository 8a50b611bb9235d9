package sandbox_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// mintToken mints a single-use token of kind with elKey.
func (f *fixture) mintToken(kind string) string {
	f.t.Helper()
	resp, body := f.do(request{method: http.MethodPost, path: "/elevenlabs/v1/single-use-token/" + kind,
		header: map[string]string{"xi-api-key": elKey}})
	wantStatus(f.t, resp, body, http.StatusOK)
	var out struct{ Token string }
	decode(f.t, body, &out)
	if out.Token == "" {
		f.t.Fatalf("no token in %s", body)
	}
	return out.Token
}

func TestSingleUseTokenTTSWorksOnce(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tok := f.mintToken("tts_websocket")
	path := "/elevenlabs/v1/text-to-speech/" + rachel + "/stream-input?single_use_token=" + tok
	c := f.dialWS(path, nil)
	c.send(map[string]any{"text": " "})
	c.send(map[string]any{"text": "Token speech. ", "flush": true})
	c.wantAudio("Token speech. ", "mp3_44100_128")
	again := f.dialWS(path, nil)
	again.send(map[string]any{"text": " "})
	again.wantError("invalid_api_key")
}

func TestSingleUseTokenRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, kind string
		age        time.Duration
		scribe     bool
	}{
		{"expired", "tts_websocket", 16 * time.Minute, false},
		{"scribe token on tts", "realtime_scribe", 0, false},
		{"tts token on scribe", "tts_websocket", 0, true},
		{"expired scribe", "realtime_scribe", 15 * time.Minute, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			tok := f.mintToken(tt.kind)
			f.clock.Advance(tt.age)
			if tt.scribe {
				c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?token="+tok, nil)
				c.wantType("auth_error")
				c.wantClose(websocket.StatusPolicyViolation)
				return
			}
			c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input?single_use_token="+tok, nil)
			c.send(map[string]any{"text": " "})
			c.wantError("invalid_api_key")
		})
	}
}

func TestSingleUseTokenScribeWorksOnce(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	tok := f.mintToken("realtime_scribe")
	f.clock.Advance(14 * time.Minute)
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?token="+tok, nil)
	c.wantType("session_started")
	again := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?token="+tok, nil)
	again.wantType("auth_error")
}

func TestSingleUseTokenValidation(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.el(http.MethodPost, "/v1/single-use-token/forever", "")
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(string(body), `"loc":["path","token_type"]`) || !strings.Contains(string(body), "'tts_websocket'") {
		t.Fatalf("422 body %s", body)
	}
	resp, body = f.do(request{method: http.MethodPost, path: "/elevenlabs/v1/single-use-token/tts_websocket"})
	wantStatus(t, resp, body, http.StatusUnauthorized)
	f.mintToken("batch_scribe")
}

func TestSignedURLAndConversationSocket(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	agent := sandbox.AgentID(elKey)
	resp, body := f.el(http.MethodGet, "/v1/convai/conversation/get-signed-url?agent_id="+agent, "")
	wantStatus(t, resp, body, http.StatusOK)
	var out struct {
		SignedURL string `json:"signed_url"`
	}
	decode(t, body, &out)
	u, err := url.Parse(out.SignedURL)
	if err != nil || u.Scheme != "ws" || u.Host != strings.TrimPrefix(f.srv.URL, "http://") ||
		u.Path != "/elevenlabs/v1/convai/conversation" || u.Query().Get("agent_id") != agent || u.Query().Get("conversation_signature") == "" {
		t.Fatalf("signed_url %q", out.SignedURL)
	}
	c := f.dialWS(u.RequestURI(), nil)
	c.send(map[string]any{"type": "conversation_initiation_client_data"})
	m := c.read()
	ev, _ := m["conversation_initiation_metadata_event"].(map[string]any)
	if m["type"] != "conversation_initiation_metadata" || !strings.HasPrefix(str(ev["conversation_id"]), "conv_") {
		t.Fatalf("metadata %v", m)
	}
	f.clock.Advance(16 * time.Minute)
	c.send(map[string]any{"type": "conversation_initiation_client_data"}) // an open conversation survives expiry
	c.read()
	late := f.dialWS(u.RequestURI(), nil)
	late.wantClose(websocket.StatusPolicyViolation)
}

func TestAgentEndpointsRefuse(t *testing.T) {
	f := newTwoKeyFixture(t, sandbox.Config{})
	for _, tt := range []struct {
		name, path string
		key        string
		status     int
	}{
		{"missing agent_id", "/v1/convai/conversation/get-signed-url", elKey, http.StatusUnprocessableEntity},
		{"unknown agent", "/v1/convai/conversation/get-signed-url?agent_id=agent_nope", elKey, http.StatusNotFound},
		{"another key's agent", "/v1/convai/conversation/get-signed-url?agent_id=" + sandbox.AgentID(elOther), elKey, http.StatusNotFound},
		{"signed url without key", "/v1/convai/conversation/get-signed-url?agent_id=" + sandbox.PublicAgentID, "", http.StatusUnauthorized},
		{"private token without key", "/v1/convai/conversation/token?agent_id=" + sandbox.AgentID(elKey), "", http.StatusUnauthorized},
		{"token for another key's agent", "/v1/convai/conversation/token?agent_id=" + sandbox.AgentID(elOther), elKey, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.key != "" {
				h["xi-api-key"] = tt.key
			}
			resp, body := f.do(request{path: "/elevenlabs" + tt.path, header: h})
			wantStatus(t, resp, body, tt.status)
			if tt.status == http.StatusNotFound && jsonField(t, body, "detail.status") != "agent_not_found" {
				t.Errorf("404 body %s", body)
			}
		})
	}
}

func TestConversationToken(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	for _, tt := range []struct {
		name, agent, key string
	}{
		{"public agent without key", sandbox.PublicAgentID, ""},
		{"private agent with its key", sandbox.AgentID(elKey), elKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.key != "" {
				h["xi-api-key"] = tt.key
			}
			resp, body := f.do(request{path: "/elevenlabs/v1/convai/conversation/token?agent_id=" + tt.agent + "&participant_name=ann", header: h})
			wantStatus(t, resp, body, http.StatusOK)
			var out struct{ Token string }
			decode(t, body, &out)
			parts := strings.Split(out.Token, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q is not a JWT", out.Token)
			}
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Sub   string
				Exp   int64
				Video struct{ Room string }
			}
			if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub != "ann" || !strings.HasPrefix(claims.Video.Room, "conv_") ||
				claims.Exp != f.clock.Now().Add(15*time.Minute).Unix() {
				t.Fatalf("claims %s", raw)
			}
		})
	}
}
