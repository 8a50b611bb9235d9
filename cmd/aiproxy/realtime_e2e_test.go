package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket relay, end to end: a real client socket against the demo's
// aiproxy, relayed to the demo's sandbox sockets.

const socketVoice = "21m00Tcm4TlvDq8ikWAM"

// socketURL is the ws:// address of a native socket path of org.
func (d *demo) socketURL(org, path string, query url.Values) string {
	u := strings.Replace(d.url, "http://", "ws://", 1) + "/api/ai-proxy/orgs/" + org + "/native/elevenlabs" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// dialSocket opens a socket with an Authorization header (auth may be "")
// and the subprotocols, and returns the connection or the HTTP refusal.
func (d *demo) dialSocket(rawURL, auth string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	c, resp, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protocols})
	if c != nil {
		c.SetReadLimit(16 << 20)
		d.t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// send writes one JSON message.
func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	data, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, data); err != nil {
		t.Fatalf("write %s: %v", data, err)
	}
}

// next reads one JSON message, or returns the close error.
func next(c *websocket.Conn) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errors.New("not JSON: " + string(data))
	}
	return m, nil
}

// sandboxSockets reads the sandbox's socket log.
func (d *demo) sandboxSockets() (open int, messages []string) {
	d.t.Helper()
	resp, err := http.Get(d.sandbox + "/_sandbox/sockets")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Open     int `json:"open"`
		Messages []struct {
			Data string `json:"data"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		d.t.Fatal(err)
	}
	for _, m := range out.Messages {
		messages = append(messages, m.Data)
	}
	return out.Open, messages
}

// sandboxRequestsTo returns the raw queries and headers of the sandbox's
// requests to a path.
func (d *demo) sandboxRequestsTo(path string) (queries []string, headers []http.Header) {
	d.t.Helper()
	for _, r := range d.sandboxLog() {
		if r.Path == path {
			queries, headers = append(queries, r.RawQuery), append(headers, r.Header)
		}
	}
	return queries, headers
}

// sandboxRequest is one request of the sandbox's request log.
type sandboxRequest struct {
	Provider string      `json:"provider"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query"`
	Header   http.Header `json:"header"`
}

// sandboxLog reads the demo sandbox's request log.
func (d *demo) sandboxLog() []sandboxRequest {
	d.t.Helper()
	resp, err := http.Get(d.sandbox + "/_sandbox/requests")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []sandboxRequest
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		d.t.Fatal(err)
	}
	return reqs
}

func TestRealtimeTTSRelay(t *testing.T) {
	d := startDemo(t)
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	q := url.Values{"output_format": {"mp3_44100_128"}, "xi-api-key": {"sk_client_supplied"}, "api_key": {"sk_client_other"}}
	c, resp, err := d.dialSocket(d.socketURL(d.org, path, q), "Api-Key "+d.key)
	if err != nil {
		t.Fatalf("dial = %v (%v)", err, resp)
	}
	// A credential in a message is stripped before the provider sees it.
	send(t, c, map[string]any{"text": " ", "xi_api_key": "sk_leak_in_message", "authorization": "Bearer x"})
	sentence := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4) // 180 characters
	send(t, c, map[string]any{"text": sentence})
	// Audio arrives while the stream is still open: the text is not finished.
	m, err := next(c)
	if err != nil {
		t.Fatalf("no audio before the end of the text: %v", err)
	}
	audio, _ := m["audio"].(string)
	if raw, err := base64.StdEncoding.DecodeString(audio); err != nil || len(raw) == 0 {
		t.Fatalf("first message = %v; want base64 audio", m)
	}
	if _, ok := m["alignment"]; !ok {
		t.Fatalf("first message has no alignment: %v", m)
	}
	send(t, c, map[string]any{"text": ""})
	var final bool
	for {
		m, err := next(c)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("socket ended with %v; want the provider's 1000", err)
			}
			break
		}
		if m["isFinal"] == true {
			final = true
		}
	}
	if !final {
		t.Fatal("no isFinal before the close")
	}

	queries, headers := d.sandboxRequestsTo(path)
	if len(queries) != 1 {
		t.Fatalf("sandbox saw %d upgrades of %s, want 1", len(queries), path)
	}
	if strings.Contains(queries[0], "sk_client") || strings.Contains(queries[0], "api-key") || !strings.Contains(queries[0], "output_format") {
		t.Errorf("upstream query = %q; want output_format and no credential", queries[0])
	}
	if k := headers[0].Get("Xi-Api-Key"); k == "" || strings.Contains(k, "aip_") || k == d.key {
		t.Errorf("upstream xi-api-key = %q; want the provider key", k)
	}
	_, msgs := d.sandboxSockets()
	joined := strings.Join(msgs, "\n")
	for _, leak := range []string{"sk_leak_in_message", "xi_api_key", "authorization", d.key} {
		if strings.Contains(joined, leak) {
			t.Errorf("the provider received %q in a message:\n%s", leak, joined)
		}
	}
	if !strings.Contains(joined, "quick brown fox") {
		t.Errorf("the provider never got the text:\n%s", joined)
	}
	// The characters are metered: 180, the spaces that open and end count nothing.
	waitFor(t, func() bool { return d.usageUnits("elevenlabs", "characters") == 180 })
}

// usageUnits sums one unit of a service over the org's usage report.
func (d *demo) usageUnits(service, unit string) int64 {
	var rows []struct {
		Service string           `json:"service"`
		Units   map[string]int64 `json:"units"`
	}
	d.getJSON("/api/ai-proxy/orgs/"+d.org+"/usage/", d.key, 200, &rows)
	var n int64
	for _, r := range rows {
		if r.Service == service {
			n += r.Units[unit]
		}
	}
	return n
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

func TestRealtimeSocketAuth(t *testing.T) {
	d := startDemo(t)
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	tok := d.token(d.org, d.key, "ana")

	// No credential: an HTTP 401 in the contract's shape, before any upgrade.
	_, resp, err := d.dialSocket(d.socketURL(d.org, path, nil), "")
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("no credential: err %v, resp %v; want 401", err, resp)
	}
	// An aiproxy key in the query is never taken: it would end up in logs.
	_, resp, err = d.dialSocket(d.socketURL(d.org, path, url.Values{"token": {d.key}}), "")
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("key in the query: err %v, resp %v; want 401", err, resp)
	}
	// A user token in the query, as a provider SDK sends it, or in a
	// subprotocol, as a browser can.
	for name, open := range map[string]func() (*websocket.Conn, *http.Response, error){
		"query token": func() (*websocket.Conn, *http.Response, error) {
			return d.dialSocket(d.socketURL(d.org, path, url.Values{"token": {tok}}), "")
		},
		"single_use_token": func() (*websocket.Conn, *http.Response, error) {
			return d.dialSocket(d.socketURL(d.org, path, url.Values{"single_use_token": {tok}}), "")
		},
		"subprotocol": func() (*websocket.Conn, *http.Response, error) {
			return d.dialSocket(d.socketURL(d.org, path, nil), "", "aiproxy", tok)
		},
	} {
		c, resp, err := open()
		if err != nil {
			t.Fatalf("%s: %v (%v)", name, err, resp)
		}
		if name == "subprotocol" && c.Subprotocol() != "aiproxy" {
			t.Errorf("subprotocol = %q, want aiproxy", c.Subprotocol())
		}
		send(t, c, map[string]any{"text": " "})
		send(t, c, map[string]any{"text": "Hello. ", "flush": true})
		if m, err := next(c); err != nil || m["audio"] == nil {
			t.Fatalf("%s: %v %v; want audio", name, m, err)
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
	queries, _ := d.sandboxRequestsTo(path)
	for _, q := range queries {
		if strings.Contains(q, "aipt_") || strings.Contains(q, "token") {
			t.Errorf("upstream query %q carries the token", q)
		}
	}
	// Another org's token on this org's socket: refused before the provider.
	d.cli("", "org", "create", "other")
	otherKey := d.cli("", "key", "create", "--org", "other", "--role", "invoke")
	otherTok := d.token("other", otherKey, "eve")
	before := len(queries)
	_, resp, err = d.dialSocket(d.socketURL(d.org, path, url.Values{"token": {otherTok}}), "")
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("another org's token: err %v, resp %v; want 403", err, resp)
	}
	if queries, _ := d.sandboxRequestsTo(path); len(queries) != before {
		t.Fatalf("a refused socket reached the provider")
	}
	// A token granted only tts cannot open the transcription socket.
	status, out := d.mintToken(d.org, d.key, map[string]any{"user": "ana", "actions": []string{"elevenlabs/tts"}})
	narrow, _ := out["token"].(string)
	if status != 201 {
		t.Fatalf("mint narrow = %d %v", status, out)
	}
	_, resp, err = d.dialSocket(strings.Replace(d.socketURL(d.org, "/v1/speech-to-text/realtime", url.Values{"token": {narrow}}), "", "", 1), "")
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("narrow token on scribe: err %v, resp %v; want 403", err, resp)
	}
	// An upgrade to a voice that is not the org's and not stock is the contract's 404 on a shared account.
	// A plain GET of a socket endpoint asks for an upgrade it did not make.
	status, _, body := d.do("GET", "/api/ai-proxy/orgs/"+d.org+"/native/elevenlabs"+path, d.key, nil, nil)
	if status != 400 || !strings.Contains(string(body), "WebSocket") {
		t.Fatalf("plain GET = %d %s; want 400 naming the WebSocket", status, body)
	}
}

func TestRealtimeQuotaClosesTheSocket(t *testing.T) {
	d := startDemo(t)
	platformKey := d.cli("", "key", "create", "--platform", "--name", "quota e2e")
	quota := strings.NewReader(`{"service":"elevenlabs","metric":"characters","period":"day","limit":100}`)
	if status, _, body := d.do("PUT", "/api/ai-proxy/orgs/"+d.org+"/quotas/", platformKey, quota, http.Header{"Content-Type": {"application/json"}}); status != 200 {
		t.Fatalf("set a quota = %d %s", status, body)
	}
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	c, resp, err := d.dialSocket(d.socketURL(d.org, path, nil), "Api-Key "+d.key)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	send(t, c, map[string]any{"text": " "})
	send(t, c, map[string]any{"text": strings.Repeat("a", 60) + " "})          // 61: within
	send(t, c, map[string]any{"text": "OVERQUOTA " + strings.Repeat("b", 50)}) // 60 more: over 100
	var frame map[string]any
	for {
		m, err := next(c)
		if err != nil {
			if got := websocket.CloseStatus(err); got != 4429 {
				t.Fatalf("socket closed with %v; want 4429", err)
			}
			break
		}
		if m["error"] != nil {
			frame = m
		}
	}
	if frame == nil || frame["error"] != "quota_exceeded" {
		t.Fatalf("error frame = %v; want quota_exceeded", frame)
	}
	_, msgs := d.sandboxSockets()
	if joined := strings.Join(msgs, "\n"); strings.Contains(joined, "OVERQUOTA") {
		t.Fatalf("the message over the quota reached the provider:\n%s", joined)
	}
	// The next socket is refused at the first character, and another org is unaffected.
	d.cli("", "org", "create", "free")
	freeKey := d.cli("", "key", "create", "--org", "free", "--role", "invoke")
	d.cli("el-free-key", "credential", "set", "--org", "free", "elevenlabs")
	resp2, err := http.Post(d.sandbox+"/_sandbox/keys", "application/json", strings.NewReader(`{"provider":"elevenlabs","key":"el-free-key"}`))
	if err != nil || resp2.StatusCode != 204 {
		t.Fatalf("add sandbox key: %v %v", resp2, err)
	}
	resp2.Body.Close()
	other, resp, err := d.dialSocket(d.socketURL("free", path, nil), "Api-Key "+freeKey)
	if err != nil {
		t.Fatalf("other org dial: %v %v", err, resp)
	}
	send(t, other, map[string]any{"text": " "})
	send(t, other, map[string]any{"text": strings.Repeat("c", 150) + " ", "flush": true})
	if m, err := next(other); err != nil || m["audio"] == nil {
		t.Fatalf("other org's socket: %v %v; want audio", m, err)
	}
}

func TestRealtimeContextsAndScribe(t *testing.T) {
	d := startDemo(t)
	multi := "/v1/text-to-speech/" + socketVoice + "/multi-stream-input"
	c, resp, err := d.dialSocket(d.socketURL(d.org, multi, nil), "Api-Key "+d.key)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	for i := range 5 {
		send(t, c, map[string]any{"text": " ", "context_id": "ctx" + string(rune('a'+i))})
	}
	send(t, c, map[string]any{"text": "SIXTH ", "context_id": "ctxf"})
	var frame map[string]any
	for {
		m, err := next(c)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("socket closed with %v; want 1008", err)
			}
			break
		}
		if m["error"] != nil {
			frame = m
		}
	}
	if frame == nil || frame["error"] != "max_active_conversations" {
		t.Fatalf("frame = %v; want max_active_conversations", frame)
	}
	_, msgs := d.sandboxSockets()
	if strings.Contains(strings.Join(msgs, "\n"), "SIXTH") {
		t.Fatal("the sixth context reached the provider")
	}

	// Scribe: two seconds of 16 kHz PCM16 give a session and a transcript,
	// and two audio seconds are metered.
	s, resp, err := d.dialSocket(d.socketURL(d.org, "/v1/speech-to-text/realtime", url.Values{"model_id": {"scribe_v2_realtime"}, "audio_format": {"pcm_16000"}}), "Api-Key "+d.key)
	if err != nil {
		t.Fatalf("dial scribe: %v %v", err, resp)
	}
	m, err := next(s)
	if err != nil || m["message_type"] != "session_started" {
		t.Fatalf("first scribe message = %v %v", m, err)
	}
	second := make([]byte, 32000)
	for i := range second {
		second[i] = byte(i * 7) // not silence
	}
	for range 2 {
		send(t, s, map[string]any{"message_type": "input_audio_chunk", "audio_base_64": base64.StdEncoding.EncodeToString(second), "commit": false, "sample_rate": 16000})
	}
	send(t, s, map[string]any{"message_type": "input_audio_chunk", "audio_base_64": "", "commit": true, "sample_rate": 16000})
	committed := false
	for !committed {
		m, err := next(s)
		if err != nil {
			t.Fatalf("scribe ended before a committed transcript: %v", err)
		}
		committed = m["message_type"] == "committed_transcript"
	}
	s.Close(websocket.StatusNormalClosure, "")
	waitFor(t, func() bool { return d.usageUnits("elevenlabs", "audio_seconds") == 2 })
}

func TestRealtimeBudgetClosesTheSocket(t *testing.T) {
	d := startDemo(t)
	// A user's monthly budget of 48 characters of the default model (100
	// micro-USD a character).
	d.putBudget(d.org, d.key, map[string]any{"scope": "user", "window": "month", "limit_micros": 4800})
	tok := d.token(d.org, d.key, "bea")
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	c, resp, err := d.dialSocket(d.socketURL(d.org, path, url.Values{"token": {tok}}), "")
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	send(t, c, map[string]any{"text": " "})
	send(t, c, map[string]any{"text": strings.Repeat("a", 39) + " ", "flush": true}) // 40 characters: within
	if m, err := next(c); err != nil || m["audio"] == nil {
		t.Fatalf("within the budget: %v %v; want audio", m, err)
	}
	send(t, c, map[string]any{"text": "OVERBUDGET " + strings.Repeat("b", 9)}) // 20 more: over 48
	var frame map[string]any
	for {
		m, err := next(c)
		if err != nil {
			if got := websocket.CloseStatus(err); got != 4402 {
				t.Fatalf("socket closed with %v; want 4402", err)
			}
			break
		}
		if m["error"] != nil {
			frame = m
		}
	}
	if frame == nil || frame["error"] != "budget_exceeded" {
		t.Fatalf("error frame = %v; want budget_exceeded", frame)
	}
	_, msgs := d.sandboxSockets()
	if strings.Contains(strings.Join(msgs, "\n"), "OVERBUDGET") {
		t.Fatal("the message over the budget reached the provider")
	}
	// The 40 characters are charged to the user's budget: 4,000 of 4,800.
	waitFor(t, func() bool {
		for _, b := range d.budgetStatus(d.org, "Token "+tok) {
			if p, ok := b["percent"].(float64); ok && p >= 83 && p <= 84 {
				return true
			}
		}
		return false
	})
}

func TestRealtimeSocketLimits(t *testing.T) {
	d := startDemo(t, "--socket-max-duration", "1s", "--socket-cap", "org=2")
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	var open []*websocket.Conn
	for range 2 {
		c, resp, err := d.dialSocket(d.socketURL(d.org, path, nil), "Api-Key "+d.key)
		if err != nil {
			t.Fatalf("dial: %v %v", err, resp)
		}
		send(t, c, map[string]any{"text": " "})
		open = append(open, c)
	}
	// A third socket is over the org's cap: 429 before the provider.
	_, before := d.sandboxRequestsTo(path)
	_, resp, err := d.dialSocket(d.socketURL(d.org, path, nil), "Api-Key "+d.key)
	if err == nil || resp == nil || resp.StatusCode != 429 {
		t.Fatalf("third socket: %v %v; want 429", err, resp)
	}
	if _, after := d.sandboxRequestsTo(path); len(after) != len(before) {
		t.Fatal("a socket over the cap reached the provider")
	}
	// Sockets older than --socket-max-duration are closed with 4408, and
	// their slots come back.
	for _, c := range open {
		for {
			_, err := next(c)
			if err != nil {
				if websocket.CloseStatus(err) != 4408 {
					t.Fatalf("old socket ended with %v; want 4408", err)
				}
				break
			}
		}
	}
	waitFor(t, func() bool {
		c, _, err := d.dialSocket(d.socketURL(d.org, path, nil), "Api-Key "+d.key)
		if err != nil {
			return false
		}
		c.Close(websocket.StatusNormalClosure, "")
		return true
	})
}

// socketTraffic speaks through the relay with the org key (in the
// provider's own header) and with a user token (in the query), over TTS and
// Scribe, and keeps every message the sockets sent back, and the close
// reasons, in d.bodies for the leak check. It returns the user token.
func (d *demo) socketTraffic() string {
	d.t.Helper()
	tok := d.token(d.org, d.key, "leaky")
	d.bodies = d.bodies[:len(d.bodies)-1] // the mint's answer is where the token is meant to show, once
	path := "/v1/text-to-speech/" + socketVoice + "/stream-input"
	keep := func(c *websocket.Conn) {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, data, err := c.Read(ctx)
			cancel()
			if err != nil {
				d.bodies = append(d.bodies, []byte(err.Error()))
				return
			}
			d.bodies = append(d.bodies, data)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, d.socketURL(d.org, path, nil), &websocket.DialOptions{HTTPHeader: http.Header{"Xi-Api-Key": {d.key}}})
	if err != nil {
		d.t.Fatalf("socket with the key: %v", err)
	}
	send(d.t, c, map[string]any{"text": " ", "xi_api_key": d.key})
	send(d.t, c, map[string]any{"text": "Nothing secret here. "})
	send(d.t, c, map[string]any{"text": ""})
	keep(c)
	c2, _, err := d.dialSocket(d.socketURL(d.org, "/v1/speech-to-text/realtime", url.Values{"token": {tok}}), "")
	if err != nil {
		d.t.Fatalf("scribe with the token: %v", err)
	}
	send(d.t, c2, map[string]any{"message_type": "input_audio_chunk", "audio_base_64": base64.StdEncoding.EncodeToString(make([]byte, 3200)), "commit": true, "sample_rate": 16000})
	c2.Close(websocket.StatusNormalClosure, "")
	keep(c2)
	// A refused upgrade's answer is scanned as well.
	d.fault(map[string]any{"provider": "elevenlabs", "path": path, "status": 401, "count": 1})
	_, resp, _ := d.dialSocket(d.socketURL(d.org, path, url.Values{"access_token": {tok}}), "")
	if resp == nil || resp.StatusCode != 502 {
		d.t.Fatalf("provider's 401 on the upgrade = %v; want the contract's 502", resp)
	}
	return tok
}

// On the platform's shared account, one org's cloned voice is no other
// org's to speak with over a socket: the contract's 404 at the upgrade,
// before the provider.
func TestRealtimeSocketOwnership(t *testing.T) {
	s := startSharedAccount(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("body", `{"name":"Bee's voice"}`)
	part, _ := mw.CreateFormFile("files", "sample.mp3")
	_, _ = part.Write(walkMP3)
	_ = mw.Close()
	status, _, body := s.do("POST", "/api/ai-proxy/orgs/bee/services/elevenlabs/add-voice/", s.bee, &buf,
		http.Header{"Content-Type": {mw.FormDataContentType()}})
	var out struct {
		VoiceID string `json:"voice_id"`
	}
	if err := json.Unmarshal(body, &out); status != 200 || err != nil || out.VoiceID == "" {
		t.Fatalf("bee add-voice = %d %s", status, body)
	}
	path := "/v1/text-to-speech/" + out.VoiceID + "/stream-input"
	before, _ := s.sandboxRequestsTo(path)
	_, resp, err := s.dialSocket(s.socketURL("sea", path, nil), "Api-Key "+s.sea)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("sea on bee's voice: %v %v; want 404", err, resp)
	}
	if after, _ := s.sandboxRequestsTo(path); len(after) != len(before) {
		t.Fatal("sea's socket on bee's voice reached the provider")
	}
	// Bee speaks with its own voice, and sea with a stock one.
	for org, key := range map[string]string{"bee": s.bee} {
		c, resp, err := s.dialSocket(s.socketURL(org, path, nil), "Api-Key "+key)
		if err != nil {
			t.Fatalf("%s on its own voice: %v %v", org, err, resp)
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
	c, resp, err := s.dialSocket(s.socketURL("sea", "/v1/text-to-speech/"+socketVoice+"/stream-input", nil), "Api-Key "+s.sea)
	if err != nil {
		t.Fatalf("sea on a stock voice: %v %v", err, resp)
	}
	c.Close(websocket.StatusNormalClosure, "")
}
