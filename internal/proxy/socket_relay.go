package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// SocketSubprotocol is the subprotocol a browser offers, beside its token,
// to authenticate a socket without headers (Sec-WebSocket-Protocol:
// aiproxy, aipt_…); aiproxy accepts the socket with it, and the token never
// goes upstream.
const SocketSubprotocol = "aiproxy"

// defaultSocketMessageBytes caps one client message when the endpoint sets
// no limit; maxUpstreamMessageBytes caps one provider message (audio).
const (
	defaultSocketMessageBytes = 1 << 20
	maxUpstreamMessageBytes   = 16 << 20
)

// socketRelay relays one socket between a client and the provider.
type socketRelay struct {
	p      *sender
	c      *Call
	up     *websocket.Conn
	filter SocketFilter
	// done gives back the socket's slot and key; spent keeps its quota.
	done func(spent bool)

	once   sync.Once
	client *websocket.Conn
	bytes  atomic.Int64
	// last is when the client last sent a message (unix nanoseconds).
	last atomic.Int64
}

// relayEnd is how one direction of a relay ended.
type relayEnd struct {
	fromClient bool
	err        error
}

// abandon closes the provider's socket of an answer that was never
// written.
func (s *socketRelay) abandon() {
	s.once.Do(func() {
		s.up.Close(websocket.StatusGoingAway, "")
		s.done(true)
	})
}

// serve accepts the client's socket and relays until either side ends. It
// returns the bytes sent to the client.
func (s *socketRelay) serve(w http.ResponseWriter, r *http.Request) (int64, error) {
	var served bool
	s.once.Do(func() { served = true })
	if !served {
		return 0, errors.New("socket already closed")
	}
	defer s.done(true)
	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// aiproxy authenticates sockets with tokens, never cookies, so a
		// page of another origin gains nothing a script could not do with
		// the same token; CORS governs aiproxy's HTTP routes, not this.
		InsecureSkipVerify: true,
		Subprotocols:       []string{SocketSubprotocol},
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.up.Close(websocket.StatusGoingAway, "")
		return 0, err
	}
	s.client = client
	limit := s.c.Endpoint.Socket.MaxMessageBytes
	if limit <= 0 {
		limit = defaultSocketMessageBytes
	}
	client.SetReadLimit(limit)
	s.up.SetReadLimit(maxUpstreamMessageBytes)
	s.p.sockets.add(s)
	defer s.p.sockets.remove(s)

	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	ends := make(chan relayEnd, 4)
	s.last.Store(time.Now().UnixNano())
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); ends <- relayEnd{fromClient: true, err: s.fromClient(ctx)} }()
	go func() { defer pumps.Done(); ends <- relayEnd{err: s.fromUpstream(ctx)} }()
	stopIdle := s.watchIdle(ctx, ends)
	defer stopIdle()
	maxAge := s.p.cfg.MaxSocketDuration
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	tooOld := time.AfterFunc(maxAge, func() {
		ends <- relayEnd{fromClient: true, err: &SocketRefusal{Code: aiproxy.CloseMaxDuration, Reason: "max_duration",
			Frame: s.filter.ErrorFrame("max_duration", "This socket has been open for the longest time aiproxy allows; open a new one.")}}
	})
	defer tooOld.Stop()

	end := <-ends
	s.finish(ctx, end)
	cancel()
	// Both pumps end once their sides are closed and ctx is done; the call
	// is metered only after, so that nothing is spent after its record.
	pumps.Wait()
	if units := s.filter.Close(); units > 0 {
		_ = s.c.spend(context.WithoutCancel(ctx), units) // owed either way; a refusal has nothing left to stop
	}
	return s.bytes.Load(), nil
}

// finish closes both sides as the first direction to end says: a close
// from either side is passed on with its code and reason; aiproxy's own
// refusal sends its frame and code to the client and ends the provider's
// socket normally.
func (s *socketRelay) finish(ctx context.Context, end relayEnd) {
	var ref *SocketRefusal
	switch {
	case errors.As(end.err, &ref):
		if ref.Frame != nil {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			_ = s.client.Write(wctx, websocket.MessageText, ref.Frame)
			cancel()
		}
		go s.up.Close(websocket.StatusNormalClosure, "")
		s.client.Close(ref.Code, ref.Reason)
	case end.fromClient || errors.As(end.err, new(clientGone)):
		code, reason := closeOf(end.err, websocket.StatusNormalClosure)
		if code == websocket.StatusMessageTooBig {
			s.client.Close(code, "message too big")
		}
		s.up.Close(code, reason)
	default:
		code, reason := closeOf(end.err, aiproxy.CloseUpstreamFailed)
		if code == aiproxy.CloseUpstreamFailed && reason == "" {
			reason = "upstream_failed"
			s.p.log.Warn("provider socket broke", "service", s.c.Service.Slug, "action", s.c.Endpoint.Slug, "err", end.err)
		}
		s.client.Close(code, reason)
	}
}

// closeOf is the close code and reason to pass on for how a side ended:
// its own close frame, or def when it went away without one.
func closeOf(err error, def websocket.StatusCode) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code != websocket.StatusNoStatusRcvd && ce.Code != websocket.StatusAbnormalClosure:
		return ce.Code, ce.Reason
	case errors.As(err, &ce) && ce.Code == websocket.StatusNoStatusRcvd:
		return websocket.StatusNormalClosure, ""
	case err != nil && strings.Contains(err.Error(), "read limited at"):
		// coder/websocket reports its read limit only by its text, and has
		// already closed the reader's side with 1009.
		return websocket.StatusMessageTooBig, ""
	}
	return def, ""
}

// fromClient relays client messages upstream through the filter, charging
// what each spends before it goes.
func (s *socketRelay) fromClient(ctx context.Context) error {
	for {
		typ, msg, err := s.client.Read(ctx)
		if err != nil {
			return err
		}
		s.last.Store(time.Now().UnixNano())
		out, units, err := s.filter.Client(typ == websocket.MessageText, msg)
		if err != nil {
			return err
		}
		if err := s.c.spend(ctx, units); err != nil {
			return spendRefusal(s.filter, err)
		}
		if out == nil {
			continue
		}
		if err := s.up.Write(ctx, typ, out); err != nil {
			return &SocketRefusal{Code: aiproxy.CloseUpstreamFailed, Reason: "upstream_failed"}
		}
	}
}

// fromUpstream relays provider messages to the client unchanged.
func (s *socketRelay) fromUpstream(ctx context.Context) error {
	for {
		typ, msg, err := s.up.Read(ctx)
		if err != nil {
			return err
		}
		s.filter.Upstream(typ == websocket.MessageText, msg)
		if err := s.client.Write(ctx, typ, msg); err != nil {
			return clientGone{err}
		}
		s.bytes.Add(int64(len(msg)))
	}
}

// clientGone marks a failed write to the client: the client's side ended,
// and the provider's socket is closed normally.
type clientGone struct{ error }

func (e clientGone) Unwrap() error { return e.error }

// watchIdle ends the socket as the provider would when the client stays
// silent past the filter's idle limit. It holds no goroutine while it
// waits: a timer checks when the limit could first be reached and sets
// itself again for the client's last message.
func (s *socketRelay) watchIdle(ctx context.Context, ends chan<- relayEnd) func() {
	idle := s.filter.Idle()
	if idle <= 0 {
		return func() {}
	}
	var mu sync.Mutex
	var t *time.Timer
	stopped := false
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		if wait := idle - time.Since(time.Unix(0, s.last.Load())); wait > 0 {
			t = time.AfterFunc(wait, check)
			return
		}
		stopped = true
		ends <- relayEnd{fromClient: true, err: &SocketRefusal{Code: aiproxy.ClosePolicy, Reason: "input_timeout_exceeded",
			Frame: s.filter.ErrorFrame("input_timeout_exceeded", "Have not received a new text input within the timeout; aiproxy closed the socket.")}}
	}
	mu.Lock()
	t = time.AfterFunc(idle, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// shutdown closes the socket because aiproxy is stopping.
func (s *socketRelay) shutdown() {
	if s.client != nil {
		s.client.Close(websocket.StatusGoingAway, "aiproxy is restarting") // the relay then closes the provider's side
	}
}

// openSockets tracks the sockets being relayed, so that a shutdown can
// close them with 1001 instead of cutting them.
type openSockets struct {
	mu   sync.Mutex
	open map[*socketRelay]struct{}
}

func (o *openSockets) add(s *socketRelay) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open == nil {
		o.open = map[*socketRelay]struct{}{}
	}
	o.open[s] = struct{}{}
}

func (o *openSockets) remove(s *socketRelay) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.open, s)
}

// count is the number of sockets being relayed.
func (o *openSockets) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.open)
}

// CloseSockets closes every socket being relayed with 1001 (going away),
// for a server that is shutting down: http.Server.Shutdown does not wait
// for or close upgraded connections.
func (p *Proxy) CloseSockets() {
	p.up.sockets.mu.Lock()
	list := make([]*socketRelay, 0, len(p.up.sockets.open))
	for s := range p.up.sockets.open {
		list = append(list, s)
	}
	p.up.sockets.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() { defer wg.Done(); s.shutdown() }()
	}
	wg.Wait()
}

// OpenSockets is the number of sockets being relayed now.
func (p *Proxy) OpenSockets() int { return p.up.sockets.count() }
