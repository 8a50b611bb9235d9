package catalog

import (
	"slices"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fileSocket is an endpoint's "socket" block: how aiproxy reads the
// messages of a WebSocket endpoint.
type fileSocket struct {
	Protocol        string `json:"protocol"`
	MaxContexts     int    `json:"max_contexts,omitempty"`
	MaxMessageBytes int64  `json:"max_message_bytes,omitempty"`
}

// maxSocketMessageBytes bounds one relayed message (16 MiB).
const maxSocketMessageBytes = 16 << 20

// compileSocket checks a WebSocket endpoint: the mode and the block come
// together, the client opens it with a GET and sends no body, and nothing
// that reads or caches a whole HTTP answer applies to it.
func compileSocket(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint) {
	ws := f.ResponseMode == string(aiproxy.ResponseWebSocket)
	switch {
	case ws && f.Socket == nil:
		r.add(where, "response_mode \"websocket\" needs a socket block naming its protocol")
		return
	case !ws && f.Socket != nil:
		r.add(where, "a socket block needs response_mode \"websocket\"")
		return
	case !ws:
		return
	}
	if f.HTTPMethod != "GET" {
		r.add(where, "a WebSocket endpoint is opened with GET, not %s", f.HTTPMethod)
	}
	if f.RequestMode != "json" {
		r.add(where, "a WebSocket endpoint takes no body: request_mode must be json")
	}
	if f.CacheTTLSeconds > 0 || f.SpeechCache != nil || f.Job != nil || f.JobStatus != nil {
		r.add(where, "a WebSocket endpoint cannot be cached or start or read jobs")
	}
	if !slices.Contains(aiproxy.SocketProtocols, f.Socket.Protocol) {
		r.add(where, "socket.protocol %q is not one of %v", f.Socket.Protocol, aiproxy.SocketProtocols)
	}
	if f.Socket.MaxContexts < 0 || f.Socket.MaxContexts > 100 {
		r.add(where, "socket.max_contexts %d is not between 0 and 100", f.Socket.MaxContexts)
	}
	if f.Socket.MaxMessageBytes < 0 || f.Socket.MaxMessageBytes > maxSocketMessageBytes {
		r.add(where, "socket.max_message_bytes %d is not between 0 and %d", f.Socket.MaxMessageBytes, int64(maxSocketMessageBytes))
	}
	e.Socket = &aiproxy.SocketSpec{Protocol: f.Socket.Protocol, MaxContexts: f.Socket.MaxContexts, MaxMessageBytes: f.Socket.MaxMessageBytes}
}

// encodeSocket writes a socket block back in the file format.
func encodeSocket(s *aiproxy.SocketSpec) *fileSocket {
	if s == nil {
		return nil
	}
	return &fileSocket{Protocol: s.Protocol, MaxContexts: s.MaxContexts, MaxMessageBytes: s.MaxMessageBytes}
}
