package realtime

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

func endpoint(protocol string) *aiproxy.Endpoint {
	return &aiproxy.Endpoint{Slug: "socket", Socket: &aiproxy.SocketSpec{Protocol: protocol}}
}

func filter(t *testing.T, protocol string, q url.Values) proxy.SocketFilter {
	t.Helper()
	f, err := Protocols{}.Filter(endpoint(protocol), q)
	if err != nil {
		t.Fatalf("Filter(%s, %v): %v", protocol, q, err)
	}
	return f
}

func TestCredentialsNeverGoUpstream(t *testing.T) {
	for _, protocol := range aiproxy.SocketProtocols {
		f := filter(t, protocol, nil)
		for _, msg := range []string{
			`{"text":" ","xi_api_key":"sk_1"}`,
			`{"text":"hi ","xi-api-key":"sk_2","context_id":"a"}`,
			`{"authorization":"Bearer sk_3","text":" "}`,
			`{"message_type":"input_audio_chunk","audio_base_64":"AAAA","token":"sk_4","single_use_token":"sk_5"}`,
			`{"\u0074oken":"sk_6","text":" "}`,
			`{"api_key":"sk_7","text":" "}`,
		} {
			out, _, err := f.Client(true, []byte(msg))
			if err != nil {
				t.Fatalf("%s: Client(%s) = %v", protocol, msg, err)
			}
			if strings.Contains(string(out), "sk_") {
				t.Errorf("%s: %s went upstream as %s", protocol, msg, out)
			}
		}
	}
}

func TestUntouchedMessagesPassAsTheyAre(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsTTS, nil)
	msg := []byte(`{"text":"Hello there. ","try_trigger_generation":true,   "flush":false}`)
	out, units, err := f.Client(true, msg)
	if err != nil || string(out) != string(msg) || units != 13 {
		t.Fatalf("Client = %s, %d, %v; want the same bytes and 13 characters", out, units, err)
	}
}

func TestTTSCountsSpokenCharactersOnly(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsTTS, nil)
	for msg, want := range map[string]int64{
		`{"text":" "}`:                        0, // opens the stream, or keeps it alive
		`{"text":""}`:                         0, // ends it
		`{"flush":true}`:                      0,
		`{"text":"héllo wörld "}`:             12,
		`{"text":"日本語のテキスト"}`:                 8,
		`{"text":"Hi ","voice_settings":{}} `: 3,
	} {
		_, units, err := f.Client(true, []byte(msg))
		if err != nil || units != want {
			t.Errorf("Client(%s) = %d, %v; want %d", msg, units, err, want)
		}
	}
}

func refusalOf(t *testing.T, err error) *proxy.SocketRefusal {
	t.Helper()
	var r *proxy.SocketRefusal
	if !errors.As(err, &r) {
		t.Fatalf("err = %v; want a socket refusal", err)
	}
	return r
}

func TestBadMessagesAreRefusedInTheProvidersShape(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsTTS, nil)
	_, _, err := f.Client(false, []byte{1, 2, 3})
	if r := refusalOf(t, err); r.Code != websocket.StatusUnsupportedData {
		t.Errorf("binary: %+v; want 1003", r)
	}
	_, _, err = f.Client(true, []byte(`not json`))
	r := refusalOf(t, err)
	var frame map[string]any
	if json.Unmarshal(r.Frame, &frame) != nil || frame["error"] != "invalid_message" || r.Code != aiproxy.ClosePolicy {
		t.Errorf("not JSON: %+v %s", r, r.Frame)
	}
	s := filter(t, aiproxy.ProtocolElevenLabsScribe, nil)
	_, _, err = s.Client(true, []byte(`[1,2]`))
	r = refusalOf(t, err)
	if json.Unmarshal(r.Frame, &frame) != nil || frame["message_type"] != "input_error" {
		t.Errorf("scribe: %+v %s", r, r.Frame)
	}
}

func TestContextsAreCappedAndFreedAtTheirFinal(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsTTSMulti, nil)
	open := func(id string) error {
		_, _, err := f.Client(true, []byte(`{"text":" ","context_id":"`+id+`"}`))
		return err
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if err := open(id); err != nil {
			t.Fatalf("open %s: %v", id, err)
		}
	}
	// Messages to open contexts and a socket close take no new slot.
	if _, _, err := f.Client(true, []byte(`{"text":"more ","context_id":"c"}`)); err != nil {
		t.Fatalf("text to an open context: %v", err)
	}
	if _, _, err := f.Client(true, []byte(`{"close_socket":true}`)); err != nil {
		t.Fatalf("close_socket: %v", err)
	}
	r := refusalOf(t, open("f"))
	var frame map[string]any
	_ = json.Unmarshal(r.Frame, &frame)
	if r.Code != aiproxy.ClosePolicy || frame["error"] != "max_active_conversations" ||
		!strings.Contains(frame["message"].(string), "exceeded (5)") {
		t.Fatalf("sixth context: %+v %s", r, r.Frame)
	}
	// A closed context holds its slot until the provider's isFinal for it.
	if _, _, err := f.Client(true, []byte(`{"context_id":"a","close_context":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := open("f"); err == nil {
		t.Fatal("a context closing but not final freed its slot")
	}
	f.Upstream(true, []byte(`{"audio":"AAAA","contextId":"a"}`))
	if err := open("f"); err == nil {
		t.Fatal("audio freed a slot")
	}
	f.Upstream(true, []byte(`{"isFinal":true,"contextId":"a"}`))
	if err := open("f"); err != nil {
		t.Fatalf("after a's isFinal: %v", err)
	}
	// A close of an unknown context opens nothing.
	if _, _, err := f.Client(true, []byte(`{"context_id":"zz","close_context":true}`)); err != nil {
		t.Fatalf("close of an unknown context: %v", err)
	}
}

func TestInactivityTimeoutBounds(t *testing.T) {
	for _, v := range []string{"0", "181", "abc", "-5"} {
		if _, err := (Protocols{}).Filter(endpoint(aiproxy.ProtocolElevenLabsTTS), url.Values{"inactivity_timeout": {v}}); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("inactivity_timeout=%s: %v; want invalid", v, err)
		}
	}
	f, err := (Protocols{IdleGrace: time.Second}).Filter(endpoint(aiproxy.ProtocolElevenLabsTTS), url.Values{"inactivity_timeout": {"180"}})
	if err != nil || f.Idle() != 181*time.Second {
		t.Fatalf("180: %v, %v; want idle 181s", f, err)
	}
	if f := filter(t, aiproxy.ProtocolElevenLabsTTS, nil); f.Idle() != 25*time.Second {
		t.Fatalf("default idle = %v; want 20s + 5s grace", f.Idle())
	}
}

func TestScribeChargesEachStartedSecond(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsScribe, url.Values{"audio_format": {"pcm_16000"}})
	chunk := func(n int) []byte {
		return []byte(`{"message_type":"input_audio_chunk","audio_base_64":"` + base64.StdEncoding.EncodeToString(make([]byte, n)) + `","commit":false}`)
	}
	var total int64
	for i, c := range []struct {
		bytes int
		want  int64
	}{{1, 1}, {31999, 0}, {1, 1}, {64000, 2}, {0, 0}} {
		_, units, err := f.Client(true, chunk(c.bytes))
		if err != nil || units != c.want {
			t.Fatalf("chunk %d (%d bytes) = %d, %v; want %d", i, c.bytes, units, err, c.want)
		}
		total += units
	}
	if total != 4 {
		t.Fatalf("total = %d seconds; want 4 (96,001 bytes at 32,000 a second)", total)
	}
	u := filter(t, aiproxy.ProtocolElevenLabsScribe, url.Values{"audio_format": {"ulaw_8000"}})
	if _, units, _ := u.Client(true, chunk(16000)); units != 2 {
		t.Fatalf("μ-law: 16,000 bytes = %d seconds; want 2", units)
	}
	for _, bad := range []string{"pcm_1234", "mp3_44100", "ulaw_16000"} {
		if _, err := (Protocols{}).Filter(endpoint(aiproxy.ProtocolElevenLabsScribe), url.Values{"audio_format": {bad}}); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
			t.Errorf("audio_format=%s: %v; want invalid", bad, err)
		}
	}
}

func TestErrorFramesNameTheCloseCode(t *testing.T) {
	f := filter(t, aiproxy.ProtocolElevenLabsTTS, nil)
	for code, close := range map[string]float64{"quota_exceeded": 4429, "budget_exceeded": 4402, "max_active_conversations": 1008} {
		var m map[string]any
		if err := json.Unmarshal(f.ErrorFrame(code, "why"), &m); err != nil || m["error"] != code || m["code"] != close || m["message"] != "why" {
			t.Errorf("ErrorFrame(%s) = %v, %v", code, m, err)
		}
	}
	s := filter(t, aiproxy.ProtocolElevenLabsScribe, nil)
	var m map[string]any
	if err := json.Unmarshal(s.ErrorFrame("budget_exceeded", "no money"), &m); err != nil || m["message_type"] != "quota_exceeded" || m["code"] != "budget_exceeded" {
		t.Errorf("scribe ErrorFrame = %v, %v", m, err)
	}
}

// FuzzFilters checks that no message a client can send makes a filter
// forward a credential field or panic.
func FuzzFilters(f *testing.F) {
	for _, seed := range []string{
		`{"text":" ","xi_api_key":"sk_1"}`, `{"text":"hi ","context_id":"a","flush":true}`,
		`{"message_type":"input_audio_chunk","audio_base_64":"AAAA","token":"x"}`, `{"\u0074oken":"x"}`,
		`{"close_socket":true}`, `null`, `[]`, `{"text":1}`, `{"authorization":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, protocol := range aiproxy.SocketProtocols {
			flt, err := Protocols{}.Filter(endpoint(protocol), nil)
			if err != nil {
				t.Fatal(err)
			}
			out, units, err := flt.Client(true, msg)
			if err != nil {
				continue
			}
			if units < 0 {
				t.Fatalf("%s: negative units %d", protocol, units)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(out, &m) != nil {
				continue // the provider cannot read a field out of it either
			}
			for _, k := range credentialFields {
				if _, ok := m[k]; ok {
					t.Fatalf("%s: %q forwarded in %s", protocol, k, out)
				}
			}
		}
	})
}
