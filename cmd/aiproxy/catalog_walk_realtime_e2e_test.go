package main

import (
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// walkElevenLabsRealtime opens each of ElevenLabs' sockets through aiproxy
// (an invoke call cannot: only an upgrade opens a socket) and mints the
// browser-safe tokens.
func (w *walker) walkElevenLabsRealtime() {
	for _, s := range []struct {
		slug, path string
		query      url.Values
		first      map[string]any
	}{
		{"tts-websocket", "/v1/text-to-speech/" + walkRachel + "/stream-input", nil, map[string]any{"text": " "}},
		{"tts-multi-websocket", "/v1/text-to-speech/" + walkRachel + "/multi-stream-input", nil, map[string]any{"text": " ", "context_id": "walk"}},
		{"speech-to-text-realtime", "/v1/speech-to-text/realtime", url.Values{"audio_format": {"pcm_16000"}}, nil},
	} {
		ep, ok := w.eps["elevenlabs"][s.slug]
		if !ok {
			w.t.Fatalf("elevenlabs/%s: not in the discovered catalog", s.slug)
		}
		c, resp, err := w.d.dialSocket(w.d.socketURL(w.d.org, s.path, s.query), "Api-Key "+w.d.key)
		status := 101
		if err != nil {
			status = 0
			if resp != nil {
				status = resp.StatusCode
			}
			w.t.Errorf("elevenlabs/%s: %v (%d)", s.slug, err, status)
		} else {
			if s.first != nil {
				send(w.t, c, s.first)
			}
			if m, err := next(c); err != nil && s.first == nil || err == nil && m["message"] != nil && m["error"] != nil {
				w.t.Errorf("elevenlabs/%s: first answer %v %v", s.slug, m, err)
			}
			c.Close(websocket.StatusNormalClosure, "")
		}
		w.record("elevenlabs", ep, map[string]any{"path_params": map[string]any{"voice_id": walkRachel}}, status)
	}
	w.call("elevenlabs", "single-use-token", map[string]any{"path_params": pp("token_type", "realtime_scribe")})
	w.call("elevenlabs", "agent-signed-url", map[string]any{"query": pp("agent_id", sandbox.PublicAgentID)})
	_, body := w.call("elevenlabs", "agent-conversation-token", map[string]any{"query": pp("agent_id", sandbox.PublicAgentID)})
	if !strings.Contains(string(body), `"token"`) {
		w.t.Errorf("agent-conversation-token answered %.200s", body)
	}
}
