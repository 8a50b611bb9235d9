package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// wsConn is a test's client socket.
type wsConn struct {
	t    *testing.T
	conn *websocket.Conn
}

// dialWS opens path (under the server root, query included) with header.
func (f *fixture) dialWS(path string, header http.Header) *wsConn {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + path
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		f.t.Fatalf("dial %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		f.t.Fatalf("dial %s: status %d", path, resp.StatusCode)
	}
	conn.SetReadLimit(16 << 20)
	f.t.Cleanup(func() { _ = conn.CloseNow() })
	return &wsConn{t: f.t, conn: conn}
}

// keyed is the header carrying elKey.
func keyed() http.Header { return http.Header{"Xi-Api-Key": {elKey}} }

// send writes v as a JSON text frame.
func (c *wsConn) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write %s: %v", b, err)
	}
}

// read returns the next frame decoded, failing the test if the socket closes first.
func (c *wsConn) read() map[string]any {
	c.t.Helper()
	m, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// tryRead returns the next frame decoded or the read error.
func (c *wsConn) tryRead() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("frame %s: %v", b, err)
	}
	return m, nil
}

// wantClose reads until the socket closes and checks the close code.
func (c *wsConn) wantClose(code websocket.StatusCode) {
	c.t.Helper()
	for {
		m, err := c.tryRead()
		if err != nil {
			if got := websocket.CloseStatus(err); got != code {
				c.t.Fatalf("close: got %v (%v), want %v", got, err, code)
			}
			return
		}
		c.t.Fatalf("want close %v, got frame %v", code, m)
	}
}

// wantError reads an ElevenLabs TTS error frame with code errCode, then a close 1008.
func (c *wsConn) wantError(errCode string) map[string]any {
	c.t.Helper()
	m := c.read()
	if m["error"] != errCode || m["code"] != float64(1008) {
		c.t.Fatalf("want error %s code 1008, got %v", errCode, m)
	}
	c.wantClose(websocket.StatusPolicyViolation)
	return m
}

// str returns v as a string, or "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestSocketFaults(t *testing.T) {
	for _, tt := range []struct {
		fault     sandbox.SocketFault
		wantErr   string
		wantClose websocket.StatusCode
	}{
		{sandbox.SocketQuotaExceeded, "quota_exceeded", websocket.StatusPolicyViolation},
		{sandbox.SocketUnusualActivity, "detected_unusual_activity", websocket.StatusPolicyViolation},
		{sandbox.SocketMessageTooBig, "", websocket.StatusMessageTooBig},
	} {
		t.Run(string(tt.fault), func(t *testing.T) {
			f := newTwoKeyFixture(t, sandbox.Config{})
			f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech/", Socket: tt.fault, Key: elKey, Count: 1})
			path := "/elevenlabs/v1/text-to-speech/" + rachel + "/stream-input"
			other := f.dialWS(path, http.Header{"Xi-Api-Key": {elOther}}) // another key is spared
			other.send(map[string]any{"text": " "})
			other.send(map[string]any{"text": "Fine. ", "flush": true})
			other.wantAudio("Fine. ", "mp3_44100_128")
			c := f.dialWS(path, keyed())
			c.send(map[string]any{"text": " "})
			if tt.wantErr != "" {
				c.wantError(tt.wantErr)
			} else {
				c.wantClose(tt.wantClose)
			}
			again := f.dialWS(path, keyed()) // Count 1: the next socket is fine
			again.send(map[string]any{"text": " "})
			again.send(map[string]any{"text": "Fine. ", "flush": true})
			again.wantAudio("Fine. ", "mp3_44100_128")
		})
	}
}

func TestSocketFaultViaControlAPI(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.do(request{method: http.MethodPost, path: "/_sandbox/faults",
		body: `{"provider":"elevenlabs","path":"/v1/text-to-speech/","socket":"quota_exceeded","count":1}`})
	wantStatus(t, resp, body, http.StatusNoContent)
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/multi-stream-input", keyed())
	c.send(map[string]any{"text": " ", "context_id": "c1"})
	c.wantError("quota_exceeded")
	// A socket fault never answers an HTTP request.
	resp, body = f.el(http.MethodGet, "/v1/models", "")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestSocketLogAndCounts(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input?output_format=pcm_16000", nil)
	c.send(map[string]any{"text": " ", "xi_api_key": elKey})
	c.send(map[string]any{"text": "Hello. ", "flush": true})
	c.wantAudio("Hello. ", "pcm_16000")
	if n, by := f.sb.OpenSockets(), f.sb.OpenSocketsOf(elKey); n != 1 || by != 1 {
		t.Errorf("OpenSockets = %d, OpenSocketsOf = %d, want 1 and 1", n, by)
	}
	var upgrade *sandbox.Request
	for _, r := range f.sb.Requests() {
		if r.Path == "/v1/text-to-speech/"+rachel+"/stream-input" {
			upgrade = &r
		}
	}
	if upgrade == nil || upgrade.RawQuery != "output_format=pcm_16000" || upgrade.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("upgrade not logged as sent: %+v", upgrade)
	}
	msgs := f.sb.SocketMessages()
	if len(msgs) != 2 || msgs[0].Socket != 1 || msgs[0].Path != upgrade.Path ||
		!strings.Contains(string(msgs[0].Data), `"xi_api_key":"`+elKey+`"`) || !strings.Contains(string(msgs[1].Data), "Hello.") {
		t.Fatalf("socket log %+v", msgs)
	}
	c.send(map[string]any{"text": ""})
	if m := c.read(); m["isFinal"] != true {
		t.Fatalf("want isFinal, got %v", m)
	}
	c.wantClose(websocket.StatusNormalClosure)
	deadline := time.Now().Add(2 * time.Second)
	for f.sb.OpenSockets() != 0 { // The server's side ends just after the client sees the close.
		if time.Now().After(deadline) {
			t.Fatalf("OpenSockets = %d after close, want 0", f.sb.OpenSockets())
		}
		time.Sleep(time.Millisecond)
	}
	if f.sb.SocketsAccepted() != 1 || f.sb.OpenSocketsOf(elKey) != 0 {
		t.Errorf("SocketsAccepted = %d", f.sb.SocketsAccepted())
	}
	resp, body := f.do(request{path: "/_sandbox/sockets"})
	wantStatus(t, resp, body, http.StatusOK)
	var log struct {
		Open, Accepted int
		Messages       []struct {
			Path, Data string
			Socket     int
		}
	}
	decode(t, body, &log)
	if log.Open != 0 || log.Accepted != 1 || len(log.Messages) != 3 || log.Messages[2].Data != `{"text":""}` || log.Messages[0].Socket != 1 {
		t.Fatalf("GET /_sandbox/sockets: %s", body)
	}
	resp, body = f.do(request{method: http.MethodDelete, path: "/_sandbox/sockets"})
	wantStatus(t, resp, body, http.StatusNoContent)
	if len(f.sb.SocketMessages()) != 0 {
		t.Error("DELETE /_sandbox/sockets left messages")
	}
}

func TestHTTPFaultRefusesUpgrade(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/text-to-speech/", Status: http.StatusTooManyRequests, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/elevenlabs/v1/text-to-speech/" + rachel + "/stream-input"
	_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: keyed()})
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("dial: %v %v", resp, err)
	}
	if f.sb.SocketsAccepted() != 0 {
		t.Fatal("a refused upgrade was counted")
	}
}
