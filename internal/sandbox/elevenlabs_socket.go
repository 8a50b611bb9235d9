package sandbox

// The plumbing of the sandbox's WebSockets: accepting them, the socket log and counts,
// and the socket faults that tests inject with a Fault whose Socket is set.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// SocketFault is a failure a WebSocket suffers after it is accepted, injected with a Fault
// whose Socket is set.
type SocketFault string

// The socket faults. On a text-to-speech socket each is the frame
// {"message":…,"error":<fault>,"code":1008} and close 1008, except SocketMessageTooBig,
// which is a bare close 1009; on a Scribe socket each is {"message_type":<fault>,"error":…}
// and close 1008 (SocketMessageTooBig there is a close 1009 too).
const (
	SocketQuotaExceeded    SocketFault = "quota_exceeded"
	SocketUnusualActivity  SocketFault = "detected_unusual_activity"
	SocketRateLimited      SocketFault = "rate_limited"
	SocketSessionTimeLimit SocketFault = "session_time_limit_exceeded"
	SocketMessageTooBig    SocketFault = "message_too_big"
)

// socketFaultMessages are the human texts of the socket faults.
var socketFaultMessages = map[SocketFault]string{
	SocketQuotaExceeded:    "This request exceeds your quota. You have 0 credits remaining.",
	SocketUnusualActivity:  "Unusual activity detected. Free Tier usage disabled. If you are using a proxy/VPN you might need to purchase a Paid Plan to not trigger our abuse detectors. Free Tier only works if users do not abuse it, for example by creating multiple free accounts. If we notice that many people try to abuse it, we will need to reconsider Free Tier altogether. \nPlease play fair and purchase any Paid Subscription to continue.",
	SocketRateLimited:      "Rate limit exceeded. Please slow down your requests.",
	SocketSessionTimeLimit: "Maximum session duration exceeded.",
}

// socketFaultMessage is the text sent with fault f.
func socketFaultMessage(f SocketFault) string {
	if m, ok := socketFaultMessages[f]; ok {
		return m
	}
	return strings.ReplaceAll(string(f), "_", " ")
}

// SocketMessage is one frame a client sent on one of the sandbox's WebSockets, as recorded
// in the socket log.
type SocketMessage struct {
	// Provider is the simulated provider the socket belongs to.
	Provider Provider
	// Path is the socket's provider path, e.g. "/v1/text-to-speech/{voice}/stream-input".
	Path string
	// Socket numbers the socket: 1 for the first the sandbox accepted, and so on.
	Socket int
	// Binary reports a binary frame; text frames have it false.
	Binary bool
	// Data holds the frame, up to 1 MiB.
	Data []byte
}

// realtimeState is the sockets' and tokens' shared state; Server.mu guards it.
type realtimeState struct {
	open     int             // sockets open now
	openBy   map[string]int  // sockets open now per authenticated key
	accepted int             // sockets accepted so far
	messages []SocketMessage // the socket log
	tokens   map[string]*singleUseToken
	signed   map[string]signedConversation
}

// SocketMessages returns a copy of the socket log: every frame clients sent on the
// sandbox's WebSockets, oldest first. ClearSocketMessages empties it.
func (s *Server) SocketMessages() []SocketMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SocketMessage, len(s.el.rt.messages))
	for i, m := range s.el.rt.messages {
		m.Data = append([]byte(nil), m.Data...)
		out[i] = m
	}
	return out
}

// ClearSocketMessages empties the socket log.
func (s *Server) ClearSocketMessages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.el.rt.messages = nil
}

// OpenSockets reports how many of the sandbox's WebSockets are open now.
func (s *Server) OpenSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.open
}

// OpenSocketsOf reports how many of the sandbox's WebSockets are open now and
// authenticated with ElevenLabs key key (a single-use token counts as the key that minted
// it), as a provider counts a key's concurrent sockets.
func (s *Server) OpenSocketsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.openBy[key]
}

// SocketsAccepted reports how many WebSockets the sandbox has accepted so far.
func (s *Server) SocketsAccepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.el.rt.accepted
}

// socketMessageJSON is one entry of GET /_sandbox/sockets' messages; Data is the frame as
// text, DataBase64 a binary frame.
type socketMessageJSON struct {
	Provider   Provider `json:"provider"`
	Path       string   `json:"path"`
	Socket     int      `json:"socket"`
	Binary     bool     `json:"binary"`
	Data       string   `json:"data,omitempty"`
	DataBase64 []byte   `json:"data_base64,omitempty"`
}

// socketsJSON is the answer of GET /_sandbox/sockets.
func (s *Server) socketsJSON() map[string]any {
	msgs := s.SocketMessages()
	out := make([]socketMessageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = socketMessageJSON{Provider: m.Provider, Path: m.Path, Socket: m.Socket, Binary: m.Binary}
		if m.Binary {
			out[i].DataBase64 = m.Data
		} else {
			out[i].Data = string(m.Data)
		}
	}
	return map[string]any{"open": s.OpenSockets(), "accepted": s.SocketsAccepted(), "messages": out}
}

// takeSocketFault returns the first socket fault matching a socket of key on path and uses
// up one of its count.
func (s *Server) takeSocketFault(provider Provider, path, key string) (SocketFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		f := af.f
		if f.Socket == "" || f.Provider != provider || (f.Method != "" && !strings.EqualFold(f.Method, http.MethodGet)) ||
			!strings.HasPrefix(path, f.Path) || (f.Key != "" && f.Key != key) {
			continue
		}
		if f.Count > 0 {
			af.remaining--
			if af.remaining <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Socket, true
	}
	return "", false
}

// socketReadLimit bounds one client frame; Scribe's audio chunks are the largest.
const socketReadLimit = 8 << 20

// errSocketDone ends a socket's loop after the socket has been closed on purpose.
var errSocketDone = errors.New("socket closed")

// socket is one accepted WebSocket.
type socket struct {
	s        *Server
	conn     *websocket.Conn
	id       int
	provider Provider
	path     string
	key      string // the authenticated key, once known
	ctx      context.Context
	in       chan []byte // text frames from the client; closed when reading fails
}

// acceptSocket upgrades c to a WebSocket, counts it and starts reading its frames. When
// the upgrade fails, Accept has already answered and the returned socket is nil.
func (s *Server) acceptSocket(w http.ResponseWriter, c *call, provider Provider) *socket {
	conn, err := websocket.Accept(w, c.r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil
	}
	conn.SetReadLimit(socketReadLimit)
	s.mu.Lock()
	s.el.rt.open++
	s.el.rt.accepted++
	id := s.el.rt.accepted
	s.mu.Unlock()
	sk := &socket{s: s, conn: conn, id: id, provider: provider, path: c.path, ctx: context.Background(), in: make(chan []byte, 16)}
	go sk.readLoop()
	return sk
}

// readLoop logs the client's frames and hands text frames to in, until reading fails.
func (sk *socket) readLoop() {
	defer close(sk.in)
	for {
		typ, data, err := sk.conn.Read(sk.ctx)
		if err != nil {
			return
		}
		logged := data
		if len(logged) > maxLoggedBody {
			logged = logged[:maxLoggedBody]
		}
		sk.s.mu.Lock()
		sk.s.el.rt.messages = append(sk.s.el.rt.messages, SocketMessage{Provider: sk.provider, Path: sk.path,
			Socket: sk.id, Binary: typ == websocket.MessageBinary, Data: append([]byte(nil), logged...)})
		sk.s.mu.Unlock()
		if typ == websocket.MessageText {
			sk.in <- data
		}
	}
}

// finish closes the connection if still open and uncounts it.
func (sk *socket) finish() {
	_ = sk.conn.CloseNow()
	for range sk.in { // Let readLoop end.
	}
	sk.s.mu.Lock()
	sk.s.el.rt.open--
	if sk.key != "" {
		sk.s.el.rt.openBy[sk.key]--
	}
	sk.s.mu.Unlock()
}

// authenticated records that the socket belongs to key.
func (sk *socket) authenticated(key string) {
	sk.s.mu.Lock()
	defer sk.s.mu.Unlock()
	if sk.s.el.rt.openBy == nil {
		sk.s.el.rt.openBy = map[string]int{}
	}
	sk.key = key
	sk.s.el.rt.openBy[key]++
}

// send writes v as one JSON text frame.
func (sk *socket) send(v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(sk.ctx, 10*time.Second)
	defer cancel()
	return sk.conn.Write(ctx, websocket.MessageText, b)
}

// close closes the socket with code and reason and reports errSocketDone.
func (sk *socket) close(code websocket.StatusCode, reason string) error {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = sk.conn.Close(code, reason) // A peer that is gone cannot be told.
	return errSocketDone
}
