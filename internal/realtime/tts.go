package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ElevenLabs' text-to-speech input stream, one context (stream-input) or
// several (multi-stream-input).
const (
	// defaultInactivity and maxInactivity are the provider's default and
	// highest inactivity_timeout, in seconds.
	defaultInactivity = 20
	maxInactivity     = 180
	// defaultMaxContexts is the provider's limit of contexts per socket.
	defaultMaxContexts = 5
	// defaultContext names the context of a message without context_id.
	defaultContext = ""
)

// msgMaxContexts is the provider's own message for a context over the
// limit, sent by aiproxy before the provider would.
const msgMaxContexts = "Maximum simultaneous contexts per WebSocket connection exceeded (%d). Please close an existing context before opening a new one."

// tts filters one text-to-speech socket.
type tts struct {
	multi       bool
	maxContexts int
	idle        time.Duration

	mu sync.Mutex
	// contexts holds the open contexts of a multi-context socket; a
	// closing one keeps its slot until the provider's isFinal for it.
	contexts map[string]bool
}

func newTTS(ep *aiproxy.Endpoint, q url.Values, grace time.Duration) (*tts, error) {
	inactivity, err := intParam(q, "inactivity_timeout", defaultInactivity, 1, maxInactivity)
	if err != nil {
		return nil, err
	}
	max := ep.Socket.MaxContexts
	if max <= 0 {
		max = defaultMaxContexts
	}
	return &tts{
		multi: ep.Socket.Protocol == aiproxy.ProtocolElevenLabsTTSMulti, maxContexts: max,
		idle: time.Duration(inactivity)*time.Second + grace, contexts: map[string]bool{},
	}, nil
}

// ttsMessage is what aiproxy reads of a client message.
type ttsMessage struct {
	Text         *string `json:"text"`
	ContextID    *string `json:"context_id"`
	CloseContext bool    `json:"close_context"`
	CloseSocket  bool    `json:"close_socket"`
}

// Client strips credentials, counts the characters of text the message
// asks the provider to speak, and on a multi-context socket refuses a
// context past the limit. The single space that opens a stream or keeps it
// alive, and the empty text that ends it, speak nothing and count nothing.
func (t *tts) Client(text bool, msg []byte) ([]byte, int64, error) {
	if !text {
		return nil, 0, refusal(websocket.StatusUnsupportedData, "invalid_message",
			t.ErrorFrame("invalid_message", "This socket takes JSON text messages."))
	}
	var m ttsMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, 0, refusal(aiproxy.ClosePolicy, "invalid_message",
			t.ErrorFrame("invalid_message", "Each message must be one JSON object."))
	}
	out := msg
	if mentionsCredential(msg) {
		obj, ok := object(msg)
		if !ok {
			return nil, 0, refusal(aiproxy.ClosePolicy, "invalid_message",
				t.ErrorFrame("invalid_message", "Each message must be one JSON object."))
		}
		var err error
		if out, err = clean(msg, obj); err != nil {
			return nil, 0, err
		}
	}
	if t.multi && !m.CloseSocket {
		ctx := defaultContext
		if m.ContextID != nil {
			ctx = *m.ContextID
		}
		if err := t.open(ctx, m.CloseContext); err != nil {
			return nil, 0, err
		}
	}
	var units int64
	if m.Text != nil && *m.Text != " " {
		units = int64(utf8.RuneCountInString(*m.Text))
	}
	return out, units, nil
}

// open notes a message for a context: a new context takes a slot if one
// is free; close_context on an open context leaves its slot taken until
// the provider's isFinal.
func (t *tts) open(id string, closing bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.contexts[id]; ok || closing {
		return nil // a close of an unknown context opens nothing
	}
	if len(t.contexts) >= t.maxContexts {
		return refusal(aiproxy.ClosePolicy, "max_active_conversations",
			t.ErrorFrame("max_active_conversations", fmt.Sprintf(msgMaxContexts, t.maxContexts)))
	}
	t.contexts[id] = true
	return nil
}

// Upstream frees a context's slot at the provider's isFinal for it.
// Audio messages, the bulk, are told apart by a byte test and not parsed.
func (t *tts) Upstream(text bool, msg []byte) {
	if !t.multi || !text || !(bytes.Contains(msg, []byte(`"isFinal"`)) || bytes.Contains(msg, []byte(`"is_final"`))) {
		return
	}
	var m struct {
		IsFinal   bool    `json:"isFinal"`
		IsFinal2  bool    `json:"is_final"`
		ContextID *string `json:"contextId"`
		Context2  *string `json:"context_id"`
	}
	if json.Unmarshal(msg, &m) != nil || !(m.IsFinal || m.IsFinal2) {
		return
	}
	id := defaultContext
	switch {
	case m.ContextID != nil:
		id = *m.ContextID
	case m.Context2 != nil:
		id = *m.Context2
	}
	t.mu.Lock()
	delete(t.contexts, id)
	t.mu.Unlock()
}

// ErrorFrame is the provider's in-band error shape: message, error code,
// and the close code that follows.
func (t *tts) ErrorFrame(code, message string) []byte {
	b, _ := json.Marshal(map[string]any{"message": message, "error": code, "code": closeCode(code)})
	return b
}

// closeCode is the close code that follows aiproxy's error frame of a
// code.
func closeCode(code string) int {
	switch code {
	case string(aiproxy.CodeQuotaExceeded):
		return aiproxy.CloseQuotaExceeded
	case string(aiproxy.CodeBudgetExceeded):
		return aiproxy.CloseBudgetExceeded
	case "max_duration":
		return aiproxy.CloseMaxDuration
	case "invalid_message":
		return int(websocket.StatusUnsupportedData)
	case string(aiproxy.CodeInternal), string(aiproxy.CodeUnavailable):
		return aiproxy.CloseUpstreamFailed
	}
	return aiproxy.ClosePolicy
}

// Idle is the socket's inactivity timeout plus the grace.
func (t *tts) Idle() time.Duration { return t.idle }

// Close owes nothing: text is counted as it is sent.
func (t *tts) Close() int64 { return 0 }
