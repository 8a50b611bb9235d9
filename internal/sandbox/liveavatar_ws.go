package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// laMaxPacket is the largest message the LITE socket takes; a bigger one closes it 1009.
const laMaxPacket = 1 << 20

// laSocketSweep is how often an open LITE socket checks whether its session has ended.
const laSocketSweep = 100 * time.Millisecond

// laLiteSocket serves a LITE session's ws_url: session.state_updated "connecting", then
// "connected"; agent.speak audio gathered per event_id until agent.speak_end, answered by
// agent.speak_started and agent.speak_ended; session.keep_alive as the REST keep-alive.
// Commands before "connected" are dropped, as LiveAvatar drops them.
func (s *Server) laLiteSocket(w http.ResponseWriter, c *call) error {
	id := c.params["session_id"]
	tokenID, key, ok := s.laVerifyToken(c.r.URL.Query().Get("session_token"))
	if !ok || tokenID != id || !s.keyAccepted(LiveAvatar, key) {
		return laUnauthorized("Invalid or expired session token")
	}
	s.mu.Lock()
	ss := s.laSessionLocked(key, id)
	live := ss != nil && ss.running() && ss.mode == "LITE"
	s.mu.Unlock()
	if !live {
		return laError(http.StatusBadRequest, laCodeFailed, "Session is not active")
	}
	conn, err := websocket.Accept(w, c.r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil // Accept has answered the client.
	}
	defer conn.CloseNow()
	conn.SetReadLimit(laMaxPacket)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := &laSocket{s: s, conn: conn, ss: ss, key: key, audio: map[string]int{}, announced: make(chan struct{})}
	sock.run(ctx)
	return nil
}

// laSocket is one LITE command socket.
type laSocket struct {
	s         *Server
	conn      *websocket.Conn
	ss        *laSession
	key       string
	connected atomic.Bool    // set just before "connected" is sent
	announced chan struct{}  // closed once "connected" has been sent
	audio     map[string]int // base64 characters of audio gathered per event_id
}

// run drives the socket until the client leaves or the session ends.
func (k *laSocket) run(ctx context.Context) {
	k.send(ctx, map[string]any{"type": "session.state_updated", "state": "connecting"})
	go k.connectLater(ctx)
	go k.closeOnEnd(ctx)
	for {
		_, data, err := k.conn.Read(ctx)
		if err != nil {
			return // closed, too big (1009, sent by the library), or the session ended
		}
		if !k.connected.Load() {
			continue
		}
		select {
		case <-k.announced:
		case <-ctx.Done():
			return
		}
		k.handle(ctx, data)
	}
}

// connectLater announces "connected" after the configured delay.
func (k *laSocket) connectLater(ctx context.Context) {
	delay := k.s.cfg.LiveAvatarConnectDelay
	if delay == 0 {
		delay = 100 * time.Millisecond
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
	// The flag goes up first: a client may answer "connected" before this goroutine runs
	// again. Answers wait for announced, so none overtakes "connected".
	k.connected.Store(true)
	k.send(ctx, map[string]any{"type": "session.state_updated", "state": "connected"})
	close(k.announced)
}

// closeOnEnd closes the socket when its session ends. It looks at the session's lifecycle
// now and then, so that an idle timeout or a maximum reached on the sandbox's clock closes
// the socket without another request.
func (k *laSocket) closeOnEnd(ctx context.Context) {
	tick := time.NewTicker(laSocketSweep)
	defer tick.Stop()
	for {
		select {
		case <-k.ss.done:
			k.send(ctx, map[string]any{"type": "session.state_updated", "state": "closing"})
			k.send(ctx, map[string]any{"type": "session.state_updated", "state": "closed"})
			_ = k.conn.Close(websocket.StatusNormalClosure, "session ended")
			return
		case <-tick.C:
			k.s.mu.Lock()
			k.s.laSettleLocked(k.key)
			k.s.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// send writes one JSON event; a failed write means the socket is going away.
func (k *laSocket) send(ctx context.Context, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = k.conn.Write(wctx, websocket.MessageText, b)
}

// laCommand is a command the LITE socket reads.
type laCommand struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	Audio   string `json:"audio"`
}

// handle applies one command; malformed and unknown ones are ignored.
func (k *laSocket) handle(ctx context.Context, data []byte) {
	var cmd laCommand
	if json.Unmarshal(data, &cmd) != nil {
		return
	}
	switch cmd.Type {
	case "agent.speak":
		k.audio[cmd.EventID] += len(cmd.Audio)
	case "agent.speak_end":
		k.speakEnd(ctx, cmd.EventID)
	case "agent.interrupt":
		clear(k.audio)
	case "session.keep_alive":
		k.s.mu.Lock()
		k.s.laSettleLocked(k.key)
		if k.ss.running() {
			k.ss.lastAlive = k.s.now()
		}
		k.s.mu.Unlock()
	}
}

// speakEnd plays the audio gathered for eventID (or sent without an event_id): the avatar
// starts and ends speaking it at once.
func (k *laSocket) speakEnd(ctx context.Context, eventID string) {
	n, key := k.audio[eventID], eventID
	if n == 0 {
		n, key = k.audio[""], ""
	}
	if n == 0 {
		return
	}
	delete(k.audio, key)
	task := map[string]string{"id": k.s.newUUID()}
	k.send(ctx, map[string]any{"type": "agent.speak_started", "event_id": eventID, "task": task})
	k.send(ctx, map[string]any{"type": "agent.speak_ended", "event_id": eventID, "task": task})
}
