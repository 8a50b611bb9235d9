// Package realtime reads the messages of the provider WebSockets aiproxy
// relays, one filter per catalog socket protocol: ElevenLabs' text-to-speech
// input streams (one context or several) and Scribe's realtime speech to
// text. A filter strips every credential field from every client message,
// says what each message spends (characters of text, seconds of audio),
// enforces the provider's limits before the provider does (contexts per
// socket, inactivity), and words aiproxy's own refusals in the provider's
// error shape, so that an SDK pointed at aiproxy reads them as it reads the
// provider's. The relay itself is internal/proxy's (socket.go).
package realtime

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// Protocols makes the filter of each socket. Its zero value is ready.
type Protocols struct {
	// IdleGrace is added to a socket's inactivity timeout before aiproxy
	// ends a silent socket itself (the provider usually ends it first);
	// 0 means 5 seconds.
	IdleGrace time.Duration
}

var _ proxy.SocketProtocols = Protocols{}

// credentialFields are the message fields in which a client may put a
// credential; none of them is ever sent upstream.
var credentialFields = []string{"xi_api_key", "xi-api-key", "authorization", "single_use_token", "token", "api_key"}

// Filter returns the filter for a socket of ep opened with query.
func (p Protocols) Filter(ep *aiproxy.Endpoint, query url.Values) (proxy.SocketFilter, error) {
	if ep.Socket == nil {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Action '%s' is not a WebSocket.", ep.Slug)
	}
	grace := p.IdleGrace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	switch ep.Socket.Protocol {
	case aiproxy.ProtocolElevenLabsTTS, aiproxy.ProtocolElevenLabsTTSMulti:
		return newTTS(ep, query, grace)
	case aiproxy.ProtocolElevenLabsScribe:
		return newScribe(query)
	}
	return nil, aiproxy.Errorf(aiproxy.CodeInternal, "socket protocol %q has no filter", ep.Socket.Protocol)
}

// object parses a client message that must be one JSON object.
func object(msg []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// strip removes the credential fields of m and reports whether it held
// any.
func strip(m map[string]json.RawMessage) bool {
	found := false
	for _, k := range credentialFields {
		if _, ok := m[k]; ok {
			delete(m, k)
			found = true
		}
	}
	return found
}

// mentionsCredential is a quick test that a message cannot hold a
// credential field, so that most messages are passed on without being
// encoded again.
func mentionsCredential(msg []byte) bool {
	for _, k := range credentialFields {
		if bytes.Contains(msg, []byte(`"`+k+`"`)) {
			return true
		}
	}
	// A key spelled with escapes ("\u0074oken") would slip past the byte
	// test; any escape in a key position makes the message be parsed.
	return bytes.Contains(msg, []byte(`\u`))
}

// clean returns the message to send upstream: the original bytes when it
// holds no credential, else it encoded again without them.
func clean(msg []byte, m map[string]json.RawMessage) ([]byte, error) {
	if !strip(m) {
		return msg, nil
	}
	return json.Marshal(m)
}

// refusal ends a socket with close code code and a frame.
func refusal(code websocket.StatusCode, reason string, frame []byte) *proxy.SocketRefusal {
	return &proxy.SocketRefusal{Code: code, Reason: reason, Frame: frame}
}

// intParam reads an integer query parameter within [lo, hi], or def when
// absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, aiproxy.Errorf(aiproxy.CodeInvalid, "Query parameter %s must be an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}
