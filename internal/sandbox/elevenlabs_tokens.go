package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// ElevenLabs' browser-safe credentials (shared/reference/realtime-apis.md §3 and §5):
// single-use tokens for the sockets, and the agents' signed WebSocket URL and WebRTC token.

// Single-use token types.
const (
	tokenScribe      = "realtime_scribe"
	tokenBatchScribe = "batch_scribe"
	tokenTTS         = "tts_websocket"
)

// tokenLifetime is how long a single-use token or an agent's signed URL may be used.
const tokenLifetime = 15 * time.Minute

// singleUseToken is a minted token; it is deleted when used.
type singleUseToken struct {
	key, kind string
	expires   time.Time
}

// signedConversation is what a signed URL's conversation_signature stands for.
type signedConversation struct {
	agentID string
	expires time.Time
}

// PublicAgentID is the ElevenLabs agent every key sees and whose WebRTC token needs no key.
const PublicAgentID = "agent_01sandboxpublic0000000000"

// AgentID returns the private agent the sandbox seeds for key: only that key can get its
// signed URL or token.
func AgentID(key string) string {
	sum := sha256.Sum256([]byte("agent:" + key))
	return "agent_01" + hex.EncodeToString(sum[:])[:24]
}

// agentVisible reports whether key (possibly "") may use agent id.
func agentVisible(key, id string) bool {
	return id == PublicAgentID || (key != "" && id == AgentID(key))
}

// agentNotFound is the 404 for an agent the caller cannot see.
func agentNotFound(id string) *apiError {
	return detailError(http.StatusNotFound, "agent_not_found", "Agent with id "+id+" not found.")
}

// missingQuery is FastAPI's 422 for a required query parameter.
func missingQuery(name string) *apiError {
	return validationError([]validationItem{{Type: "missing", Loc: []any{"query", name}, Msg: "Field required"}})
}

// elSingleUseToken answers POST /v1/single-use-token/{token_type}.
func (s *Server) elSingleUseToken(w http.ResponseWriter, c *call) error {
	kind := c.params["token_type"]
	types := []string{tokenScribe, tokenBatchScribe, tokenTTS}
	known := false
	for _, t := range types {
		known = known || t == kind
	}
	if !known {
		return validationError([]validationItem{enumItem([]any{"path", "token_type"}, kind, types)})
	}
	tok := "sutkn_" + s.newID(alnum, 40)
	s.mu.Lock()
	if s.el.rt.tokens == nil {
		s.el.rt.tokens = map[string]*singleUseToken{}
	}
	s.el.rt.tokens[tok] = &singleUseToken{key: c.key, kind: kind, expires: s.now().Add(tokenLifetime)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	return nil
}

// consumeToken uses up a single-use token of kind and returns the key that minted it, or
// "" when the token is unknown, used, expired, of another kind or its key was revoked.
func (s *Server) consumeToken(tok, kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.el.rt.tokens[tok]
	if !ok {
		return ""
	}
	delete(s.el.rt.tokens, tok)
	if t.kind != kind || !s.now().Before(t.expires) || !s.keys[ElevenLabs][t.key] {
		return ""
	}
	return t.key
}

// elSignedURL answers GET /v1/convai/conversation/get-signed-url?agent_id=.
func (s *Server) elSignedURL(w http.ResponseWriter, c *call) error {
	id := c.r.URL.Query().Get("agent_id")
	if id == "" {
		return missingQuery("agent_id")
	}
	if !agentVisible(c.key, id) {
		return agentNotFound(id)
	}
	sig := s.newID(alnum, 43)
	s.mu.Lock()
	if s.el.rt.signed == nil {
		s.el.rt.signed = map[string]signedConversation{}
	}
	s.el.rt.signed[sig] = signedConversation{agentID: id, expires: s.now().Add(tokenLifetime)}
	s.mu.Unlock()
	base := baseURL(c.r, ElevenLabs)
	base = "ws" + strings.TrimPrefix(base, "http") // http→ws, https→wss
	q := url.Values{"agent_id": {id}, "conversation_signature": {sig}}
	writeJSON(w, http.StatusOK, map[string]string{"signed_url": base + "/v1/convai/conversation?" + q.Encode()})
	return nil
}

// elConversationToken answers GET /v1/convai/conversation/token?agent_id=: the public
// agent needs no key, a private one its owner's key (401 without a key).
func (s *Server) elConversationToken(w http.ResponseWriter, c *call) error {
	id := c.r.URL.Query().Get("agent_id")
	if id == "" {
		return missingQuery("agent_id")
	}
	if id != PublicAgentID || c.r.Header.Get("Xi-Api-Key") != "" {
		if err := s.elevenAuthorize(c); err != nil {
			return err
		}
	}
	if !agentVisible(c.key, id) {
		return agentNotFound(id)
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": s.livekitJWT(id, c.r.URL.Query().Get("participant_name"))})
	return nil
}

// livekitJWT returns a LiveKit-style access token (HS256) for a new conversation with
// agent id, valid for 15 minutes.
func (s *Server) livekitJWT(agentID, participant string) string {
	now := s.now()
	if participant == "" {
		participant = "user_" + s.newID(lowerHex, 12)
	}
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, _ := json.Marshal(map[string]any{
		"iss": "sandbox", "sub": participant, "name": participant, "nbf": now.Unix(),
		"exp": now.Add(tokenLifetime).Unix(), "metadata": `{"agent_id":"` + agentID + `"}`,
		"video": map[string]any{"room": "conv_" + s.newID(alnum, 26), "roomJoin": true, "canPublish": true,
			"canSubscribe": true, "canPublishData": true},
	})
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte("sandbox-livekit-secret"))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// elConversation serves the agent socket GET /v1/convai/conversation?agent_id=&
// conversation_signature= a signed URL points to: a signature unknown or older than 15
// minutes closes 1008 after the upgrade; otherwise the socket answers
// conversation_initiation_client_data with conversation_initiation_metadata and ignores
// everything else until the client leaves.
func (s *Server) elConversation(w http.ResponseWriter, c *call) error {
	sk := s.acceptSocket(w, c, ElevenLabs)
	if sk == nil {
		return nil
	}
	defer sk.finish()
	q := c.r.URL.Query()
	s.mu.Lock()
	sc, ok := s.el.rt.signed[q.Get("conversation_signature")]
	ok = ok && sc.agentID == q.Get("agent_id") && s.now().Before(sc.expires)
	s.mu.Unlock()
	if !ok {
		_ = sk.close(websocket.StatusPolicyViolation, "Invalid or expired conversation signature")
		return nil
	}
	for data := range sk.in {
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &m) != nil || m.Type != "conversation_initiation_client_data" {
			continue
		}
		_ = sk.send(map[string]any{"type": "conversation_initiation_metadata",
			"conversation_initiation_metadata_event": map[string]string{"conversation_id": "conv_" + s.newID(alnum, 26),
				"agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000"}})
	}
	return nil
}
