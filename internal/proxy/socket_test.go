package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// passFilter forwards every message and counts one unit per message.
type passFilter struct{ idle time.Duration }

func (f passFilter) Client(_ bool, msg []byte) ([]byte, int64, error) { return msg, 1, nil }
func (passFilter) Upstream(bool, []byte)                              {}
func (passFilter) ErrorFrame(code, message string) []byte {
	return []byte(`{"error":"` + code + `","message":"` + message + `"}`)
}
func (f passFilter) Idle() time.Duration { return f.idle }
func (passFilter) Close() int64          { return 0 }

type passProtocols struct{ idle time.Duration }

func (p passProtocols) Filter(*aiproxy.Endpoint, url.Values) (SocketFilter, error) {
	return passFilter(p), nil
}

// socketUpstream is a provider's socket: it records what it saw and runs
// behave on each accepted connection.
type socketUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	queries []string
}

func newSocketUpstream(t *testing.T, refuse int, behave func(ctx context.Context, c *websocket.Conn)) *socketUpstream {
	u := &socketUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers, u.queries = append(u.headers, r.Header.Clone()), append(u.queries, r.URL.RawQuery)
		u.mu.Unlock()
		if refuse != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(refuse)
			w.Write([]byte(`{"detail":"refused with key ` + r.Header.Get("X-Test-Key") + `"}`))
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		behave(r.Context(), c)
	}))
	t.Cleanup(u.Close)
	return u
}

// socketProxy serves a proxy with one WebSocket endpoint at GET /v1/live
// in front of u.
func socketProxy(t *testing.T, u *socketUpstream, cfg Config) (*Proxy, string) {
	t.Helper()
	ep := aiproxy.Endpoint{Slug: "live", HTTPMethod: http.MethodGet, PathTemplate: "/v1/live", RequestMode: aiproxy.RequestJSON,
		ResponseMode: aiproxy.ResponseWebSocket, Socket: &aiproxy.SocketSpec{Protocol: aiproxy.ProtocolElevenLabsTTS},
		Ownership: &aiproxy.OwnershipRule{Op: aiproxy.OwnPublic}}
	cat := services{"svc": testService(u.URL, bothPolicy, ep)}
	if cfg.Sockets == nil {
		cfg.Sockets = passProtocols{}
	}
	f := newFixture(t, cat, cfg)
	f.setCredential(t, aiproxy.SourceTenant, "svc", tenantKey)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := f.proxy.InvokeNative(w, r, testOrg, "svc", "/v1/live"); err != nil {
			status := http.StatusBadGateway
			switch aiproxy.ErrorCode(err) {
			case aiproxy.CodeInvalid:
				status = http.StatusBadRequest
			case aiproxy.CodeRateLimited:
				status = http.StatusTooManyRequests
			}
			w.WriteHeader(status)
			w.Write([]byte(err.Error()))
		}
	}))
	t.Cleanup(s.Close)
	return f.proxy, "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/live"
}

func dialTest(t *testing.T, u string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func readUntilClose(t *testing.T, c *websocket.Conn) (msgs []string, code websocket.StatusCode, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if ok := asCloseError(err, &ce); !ok {
				t.Fatalf("read ended without a close: %v", err)
			}
			return msgs, ce.Code, ce.Reason
		}
		msgs = append(msgs, string(m))
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return false
	}
	*ce = websocket.CloseError{Code: code}
	if i := strings.Index(err.Error(), "reason = "); i >= 0 {
		ce.Reason = strings.TrimSpace(err.Error()[i+len("reason = "):])
	}
	return true
}

func TestSocketRelaysAndPassesTheProvidersClose(t *testing.T) {
	u := newSocketUpstream(t, 0, func(ctx context.Context, c *websocket.Conn) {
		_, m, err := c.Read(ctx)
		if err != nil {
			return
		}
		c.Write(ctx, websocket.MessageText, append([]byte("echo:"), m...))
		c.Close(websocket.StatusPolicyViolation, "provider says no")
	})
	_, addr := socketProxy(t, u, Config{})
	c, resp, err := dialTest(t, addr+"?xi-api-key=client-key&model_id=m1", http.Header{"Authorization": {"Api-Key aip_client_key"}})
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	c.Write(context.Background(), websocket.MessageText, []byte(`{"text":"hi"}`))
	msgs, code, reason := readUntilClose(t, c)
	if len(msgs) != 1 || msgs[0] != `echo:{"text":"hi"}` || code != websocket.StatusPolicyViolation || !strings.Contains(reason, "provider says no") {
		t.Fatalf("got %q, close %d %q; want the echo and the provider's 1008 with its reason", msgs, code, reason)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if k := u.headers[0].Get("X-Test-Key"); k != tenantKey {
		t.Errorf("upstream key = %q, want the tenant credential", k)
	}
	if a := u.headers[0].Get("Authorization"); a != "" {
		t.Errorf("the client's Authorization went upstream: %q", a)
	}
	if q := u.queries[0]; strings.Contains(q, "client-key") || q != "model_id=m1" {
		t.Errorf("upstream query = %q, want model_id=m1 alone", q)
	}
}

func TestSocketClientCloseReachesTheProvider(t *testing.T) {
	closed := make(chan websocket.CloseError, 1)
	u := newSocketUpstream(t, 0, func(ctx context.Context, c *websocket.Conn) {
		_, _, err := c.Read(ctx)
		var ce websocket.CloseError
		if asCloseError(err, &ce) {
			closed <- ce
		}
	})
	_, addr := socketProxy(t, u, Config{})
	c, _, err := dialTest(t, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(4000, "client done")
	select {
	case ce := <-closed:
		if ce.Code != 4000 || !strings.Contains(ce.Reason, "client done") {
			t.Fatalf("provider saw %d %q; want the client's 4000", ce.Code, ce.Reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the provider never saw the client's close")
	}
}

func TestSocketProviderThatBreaksIs1011(t *testing.T) {
	u := newSocketUpstream(t, 0, func(ctx context.Context, c *websocket.Conn) { c.CloseNow() })
	_, addr := socketProxy(t, u, Config{})
	c, _, err := dialTest(t, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, code, _ := readUntilClose(t, c); code != websocket.StatusInternalError {
		t.Fatalf("close = %d; want 1011 when the provider's socket breaks", code)
	}
}

func TestSocketIdleBackstop(t *testing.T) {
	u := newSocketUpstream(t, 0, func(ctx context.Context, c *websocket.Conn) { c.Read(ctx) })
	_, addr := socketProxy(t, u, Config{Sockets: passProtocols{idle: 300 * time.Millisecond}})
	c, _, err := dialTest(t, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, code, _ := readUntilClose(t, c)
	if code != websocket.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], "input_timeout_exceeded") {
		t.Fatalf("got %q, close %d; want the timeout frame and 1008", msgs, code)
	}
}

func TestSocketRefusedUpgradeIsAnHTTPError(t *testing.T) {
	for status, want := range map[int]int{401: 502, 403: 502, 500: 502, 429: 429, 404: 404} {
		u := newSocketUpstream(t, status, nil)
		_, addr := socketProxy(t, u, Config{})
		_, resp, err := dialTest(t, addr, nil)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Fatalf("provider %d: %v %v; want %d", status, err, resp, want)
		}
		body := make([]byte, 512)
		n, _ := resp.Body.Read(body)
		if strings.Contains(string(body[:n]), tenantKey) {
			t.Fatalf("provider %d: the answer holds the key: %s", status, body[:n])
		}
	}
}

func TestCloseSocketsSaysGoingAway(t *testing.T) {
	u := newSocketUpstream(t, 0, func(ctx context.Context, c *websocket.Conn) { c.Read(ctx) })
	p, addr := socketProxy(t, u, Config{})
	c, _, err := dialTest(t, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); p.OpenSockets() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("open sockets = %d, want 1", p.OpenSockets())
		}
	}
	codes := make(chan websocket.StatusCode, 1)
	go func() { _, code, _ := readUntilClose(t, c); codes <- code }() // a client reads, and so answers the close
	p.CloseSockets()
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Fatalf("close = %d; want 1001", code)
	}
	for deadline := time.Now().Add(5 * time.Second); p.OpenSockets() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("open sockets = %d after the close, want 0", p.OpenSockets())
		}
	}
}
