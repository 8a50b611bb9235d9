package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// WebSocket endpoints. A client opens one with a native GET that asks to
// upgrade; the call runs the pipeline like any other (route, access, hooks,
// limits, credential) and then, instead of an HTTP exchange, aiproxy opens
// the provider's socket with the credential in a header. Only once the
// provider has accepted is the client's socket accepted, so a refusal
// before that is an ordinary error in the contract's shape. The relay then
// passes messages both ways through the endpoint's protocol filter, which
// strips credentials from client messages and says what each one spends;
// what is spent is metered and charged (quota, budgets) as it passes, and a
// socket whose quota or budget runs out is closed with a documented code.

// SocketFilter reads the messages of one relayed socket as its endpoint's
// protocol says. A filter is used by one socket; Client is called from one
// goroutine and Upstream from another.
type SocketFilter interface {
	// Client reads one client message and returns the message to send
	// upstream (nil drops it), the units of the endpoint's meter it spends,
	// or a *SocketRefusal that ends the socket.
	Client(text bool, msg []byte) (out []byte, units int64, err error)
	// Upstream sees one provider message before it is relayed unchanged.
	Upstream(text bool, msg []byte)
	// ErrorFrame is the message, in the provider's own error shape, that
	// tells the client why aiproxy ends the socket (code is the error's
	// code, such as "quota_exceeded"); nil sends none.
	ErrorFrame(code, message string) []byte
	// Idle is how long the client may stay silent before aiproxy ends the
	// socket as the provider would; 0 leaves it to the provider.
	Idle() time.Duration
	// Close returns the units still owed when the socket ends (a started
	// second of audio).
	Close() int64
}

// SocketProtocols makes the filter of a socket from its endpoint and the
// query the client opened it with. An error refuses the upgrade before any
// provider is asked: a bad query is the contract's 400.
type SocketProtocols interface {
	Filter(ep *aiproxy.Endpoint, query url.Values) (SocketFilter, error)
}

// SocketRefusal ends a socket: Frame, when set, is sent to the client
// first; then both sides are closed, the client with Code and Reason.
type SocketRefusal struct {
	Code   websocket.StatusCode
	Reason string
	Frame  []byte
}

func (r *SocketRefusal) Error() string { return "socket refused: " + r.Reason }

// socketCredentialParams are the query parameters in which a client may put
// a credential for a provider's socket (a provider key, a bearer, a
// single-use token) or aiproxy's own token: none of them ever goes
// upstream.
var socketCredentialParams = []string{"xi-api-key", "xi_api_key", "authorization", "single_use_token", "token", "access_token", "api_key", "key"}

// OnSpend registers f, which is called with the units a socket call spends
// as it spends them, before the message that spends them goes upstream; an
// error from f ends the socket (a budget's refusal). Hooks that hold a
// budget for a socket call use it.
func (c *Call) OnSpend(f func(ctx context.Context, units int64) error) {
	c.spenders = append(c.spenders, f)
}

// IsSocket reports whether the call opens a WebSocket.
func (c *Call) IsSocket() bool {
	return c.Endpoint != nil && c.Endpoint.ResponseMode == aiproxy.ResponseWebSocket
}

// IsUpgrade reports whether r asks to become a WebSocket.
func IsUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// openSocket opens the provider's socket for a call whose credential is
// resolved, and returns the answer that relays it once written. The
// request's quota is reserved, a socket slot taken and the breaker asked
// first; the slot is held until the socket ends.
func (p *sender) openSocket(ctx context.Context, c *Call) (*Answer, error) {
	if !c.upgrade {
		return nil, errNotUpgrade(c.native)
	}
	if p.cfg.Sockets == nil {
		return nil, aiproxy.Errorf(aiproxy.CodeNotFound, "WebSocket endpoints are not enabled on this server.")
	}
	filter, err := p.cfg.Sockets.Filter(c.Endpoint, c.in.env.Query)
	if err != nil {
		return nil, err
	}
	keys, err := c.p.keys.choice(ctx, c.p, c)
	if err != nil {
		return nil, err
	}
	if err := keys.choose(ctx); err != nil {
		return nil, err
	}
	// One request of the quota (its units are charged as they pass) and a
	// socket slot, held while the socket is open.
	release, err := p.holdWith(ctx, c, aiproxy.Demand{aiproxy.MetricRequests: 1}, p.cfg.SocketCaps)
	if err != nil {
		keys.done()
		return nil, err
	}
	timeout := time.Duration(c.Endpoint.Timeout(c.Service)) * time.Second
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	header := c.header.Clone()
	header.Set("User-Agent", p.cfg.UserAgent)
	header.Set(c.Service.Upstream.AuthHeader, c.Service.Upstream.AuthPrefix+c.secret)
	conn, resp, err := websocket.Dial(withUpstreamCall(dctx, c), socketURL(c.url), &websocket.DialOptions{
		HTTPClient: p.client, HTTPHeader: header, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		keys.done()
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// The provider refused the upgrade with an HTTP answer: mapped
			// like any other answer (a refused key is the contract's 502).
			c.upstreamStatus = resp.StatusCode
			release(false, resp.StatusCode < 500)
			return p.answer(ctx, c, &response{Response: resp, stop: func() {}})
		}
		release(false, ctx.Err() != nil)
		return nil, p.upstreamError(ctx, dctx, c, err)
	}
	c.upstreamStatus, c.spent = http.StatusSwitchingProtocols, true
	s := &socketRelay{p: p, c: c, up: conn, filter: filter, done: func(spent bool) { release(spent, true); keys.done() }}
	return &Answer{Status: http.StatusSwitchingProtocols, Header: http.Header{}, Upstream: http.StatusSwitchingProtocols,
		size: -1, socket: s.serve, close: func() { s.abandon() }}, nil
}

// socketURL is the provider's socket address: the call's upstream URL with
// a WebSocket scheme and without any credential in its query.
func socketURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	q := u.Query()
	for _, k := range socketCredentialParams {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// spend charges units of the endpoint's meter: the org's quota, then every
// spender a hook registered. The units are metered once charged.
func (c *Call) spend(ctx context.Context, units int64) error {
	if units <= 0 {
		return nil
	}
	meter := c.Endpoint.Meter
	settle := func(context.Context, bool) {}
	if q := c.p.cfg.Quotas; q != nil && meter != "" {
		s, err := q.Reserve(ctx, c.Org, c.Service.Slug, aiproxy.Demand{meter: units})
		if err != nil {
			return err
		}
		if s != nil {
			settle = s
		}
	}
	for _, f := range c.spenders {
		if err := f(ctx, units); err != nil {
			settle(ctx, false)
			return err
		}
	}
	settle(ctx, true)
	if meter != "" {
		c.unitsMu.Lock()
		if c.demand == nil {
			c.demand = aiproxy.Demand{}
		}
		c.demand[meter] += units
		c.unitsMu.Unlock()
	}
	return nil
}

// spendRefusal is how a socket ends when a charge is refused: the error's
// code in the provider's error shape, then the documented close code.
func spendRefusal(f SocketFilter, err error) *SocketRefusal {
	var ae *aiproxy.Error
	code, msg, status := "internal", "aiproxy could not charge this socket's use; it is closed.", int(websocket.StatusInternalError)
	if errors.As(err, &ae) {
		switch ae.Code {
		case aiproxy.CodeQuotaExceeded:
			code, msg, status = string(ae.Code), ae.Message, aiproxy.CloseQuotaExceeded
		case aiproxy.CodeBudgetExceeded:
			code, msg, status = string(ae.Code), ae.Message, aiproxy.CloseBudgetExceeded
		case aiproxy.CodeUnavailable:
			code, msg = string(ae.Code), ae.Message
		}
	}
	return &SocketRefusal{Code: websocket.StatusCode(status), Reason: code, Frame: f.ErrorFrame(code, msg)}
}

// errNotUpgrade refuses a call of a WebSocket endpoint that is not an
// upgrade: an invoke call, or a plain native GET.
func errNotUpgrade(native bool) error {
	if !native {
		return invalidf("This action is a WebSocket: open it as a WebSocket on its native route (GET .../native/SERVICE/PATH with Connection: Upgrade), not by invoke.")
	}
	return invalidf("This endpoint is a WebSocket: open it with a GET request that asks to upgrade (Connection: Upgrade, Upgrade: websocket).")
}
