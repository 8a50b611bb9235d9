package sandbox_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// wantAudio reads an audio frame and checks it speaks exactly text in format, with
// alignment arrays of equal length spelling the text; it returns the frame.
func (c *wsConn) wantAudio(text, format string) map[string]any {
	c.t.Helper()
	m := c.read()
	audio, err := base64.StdEncoding.DecodeString(str(m["audio"]))
	if err != nil || len(audio) == 0 {
		c.t.Fatalf("want audio frame, got %v", m)
	}
	if !bytes.Equal(audio, sandbox.Speech(text, rachel, "eleven_multilingual_v2", format)) {
		c.t.Errorf("audio is not the speech of %q", text)
	}
	for _, name := range []string{"alignment", "normalizedAlignment"} {
		al, _ := m[name].(map[string]any)
		chars, _ := al["chars"].([]any)
		starts, _ := al["charStartTimesMs"].([]any)
		durs, _ := al["charDurationsMs"].([]any)
		if len(chars) != len(starts) || len(chars) != len(durs) {
			c.t.Errorf("%s lengths %d/%d/%d differ", name, len(chars), len(starts), len(durs))
		}
		var sb strings.Builder
		for _, ch := range chars {
			sb.WriteString(str(ch))
		}
		if sb.String() != text {
			c.t.Errorf("%s spells %q, want %q", name, sb.String(), text)
		}
		if len(starts) > 0 && starts[0] != float64(0) {
			c.t.Errorf("%s starts at %v, want 0 (times relative to the chunk)", name, starts[0])
		}
	}
	return m
}

// str returns v as a string, or "".

// text returns a run of n characters of text ending with a space.

func text(n int) string {
	return strings.Repeat("abcd ", n/5+1)[:n-1] + " "
}

func TestStreamInputScheduleFlushAndFinal(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input", keyed())
	c.send(map[string]any{"text": " ", "voice_settings": map[string]any{"stability": 0.5}})
	first, second := text(110), text(10)
	c.send(map[string]any{"text": first})
	c.send(map[string]any{"text": second}) // 120 buffered: the schedule's first step
	c.wantAudio(first+second, "mp3_44100_128")
	c.send(map[string]any{"text": " "}) // keep-alive
	c.send(map[string]any{"text": "Hi there. ", "flush": true})
	c.wantAudio("Hi there. ", "mp3_44100_128")
	below := text(100) // the second step needs 160
	c.send(map[string]any{"text": below})
	c.send(map[string]any{"text": ""})
	c.wantAudio(below, "mp3_44100_128")
	if m := c.read(); m["isFinal"] != true || len(m) != 1 {
		t.Fatalf("want {isFinal:true}, got %v", m)
	}
	c.wantClose(websocket.StatusNormalClosure)
}

func TestStreamInputScheduleFromGenerationConfigAndPCM(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input?output_format=pcm_16000&sync_alignment=true", keyed())
	c.send(map[string]any{"text": " ", "generation_config": map[string]any{"chunk_length_schedule": []int{50, 60}}})
	c.send(map[string]any{"text": text(50)})
	c.wantAudio(text(50), "pcm_16000")
	c.send(map[string]any{"text": text(60)})
	c.wantAudio(text(60), "pcm_16000")
}

func TestStreamInputAutoMode(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input?auto_mode=true", keyed())
	c.send(map[string]any{"text": " "})
	c.send(map[string]any{"text": "Short. "})
	c.wantAudio("Short. ", "mp3_44100_128")
}

func TestStreamInputAuth(t *testing.T) {
	path := "/elevenlabs/v1/text-to-speech/" + rachel + "/stream-input"
	for _, tt := range []struct {
		name    string
		header  http.Header
		bos     map[string]any
		wantErr string
	}{
		{"header", keyed(), map[string]any{"text": " "}, ""},
		{"xi-api-key in message", nil, map[string]any{"text": " ", "xi-api-key": elKey}, ""},
		{"xi_api_key in message", nil, map[string]any{"text": " ", "xi_api_key": elKey}, ""},
		{"authorization in message", nil, map[string]any{"text": " ", "authorization": "Bearer " + elKey}, ""},
		{"authorization header", http.Header{"Authorization": {"Bearer " + elKey}}, map[string]any{"text": " "}, ""},
		{"wrong header key", http.Header{"Xi-Api-Key": {"nope"}}, map[string]any{"text": " "}, "invalid_api_key"},
		{"wrong message key", nil, map[string]any{"text": " ", "xi_api_key": "nope"}, "invalid_api_key"},
		{"no credential", nil, map[string]any{"text": " "}, "authentication_required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			c := f.dialWS(path, tt.header) // 101 even for a wrong key
			c.send(tt.bos)
			if tt.wantErr != "" {
				m := c.wantError(tt.wantErr)
				if tt.wantErr == "authentication_required" && m["message"] != "None of the authentication methods (xi-api-key, authorization header, single-use token) were found." {
					t.Errorf("message %v", m["message"])
				}
				if tt.wantErr == "invalid_api_key" && m["message"] != "Invalid API key" {
					t.Errorf("message %v", m["message"])
				}
				return
			}
			c.send(map[string]any{"text": "Hello. ", "flush": true})
			c.wantAudio("Hello. ", "mp3_44100_128")
		})
	}
}

func TestStreamInputRejects(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		bos        map[string]any
		wantErr    string
		wantClose  websocket.StatusCode
	}{
		{"unknown voice", "/v1/text-to-speech/nosuchvoice/stream-input", map[string]any{"text": " "}, "voice_not_found", 0},
		{"unknown model", "/v1/text-to-speech/" + rachel + "/stream-input?model_id=nope", map[string]any{"text": " "}, "invalid_uid", 0},
		{"first message not BOS", "/v1/text-to-speech/" + rachel + "/stream-input", map[string]any{"text": "Hello "}, "invalid_message", 0},
		{"opus", "/v1/text-to-speech/" + rachel + "/stream-input?output_format=opus_48000_64", nil, "invalid_output_format", 0},
		{"inactivity_timeout over 180", "/v1/text-to-speech/" + rachel + "/stream-input?inactivity_timeout=181", nil, "invalid_inactivity_timeout", 0},
		{"v3 on stream-input", "/v1/text-to-speech/" + rachel + "/stream-input?model_id=eleven_v3", map[string]any{"text": " "}, "", websocket.StatusMessageTooBig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			c := f.dialWS("/elevenlabs"+tt.path, keyed())
			if tt.bos != nil {
				c.send(tt.bos)
			}
			if tt.wantClose != 0 {
				c.wantClose(tt.wantClose)
				return
			}
			c.wantError(tt.wantErr)
		})
	}
}

func TestStreamInputInactivity(t *testing.T) {
	for _, tt := range []struct {
		query, seconds string
	}{
		{"", "20.0"},
		{"?inactivity_timeout=3", "3.0"},
	} {
		t.Run(tt.seconds, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{SocketSecond: time.Millisecond})
			c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input"+tt.query, keyed())
			m := c.wantError("input_timeout_exceeded")
			want := "Have not received a new text input within the timeout of " + tt.seconds +
				" seconds. Streaming input terminated. Please send text more often."
			if m["message"] != want {
				t.Errorf("message %q, want %q", m["message"], want)
			}
		})
	}
}

func TestStreamInputQuota(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	credits := 10
	f.sb.SetKeyLimits(sandbox.ElevenLabs, elKey, sandbox.KeyLimits{Credits: &credits})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/stream-input", keyed())
	c.send(map[string]any{"text": " "})
	c.send(map[string]any{"text": "Hi. ", "flush": true})
	c.wantAudio("Hi. ", "mp3_44100_128")
	c.send(map[string]any{"text": "This is far beyond ten characters. ", "flush": true})
	c.wantError("quota_exceeded")
}

func TestMultiStreamInputContexts(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/multi-stream-input", nil)
	c.send(map[string]any{"text": " ", "context_id": "c1", "xi_api_key": elKey})
	c.send(map[string]any{"text": "One two. ", "context_id": "c1"})
	c.send(map[string]any{"text": "", "context_id": "c1"}) // keep-alive, not a close
	c.send(map[string]any{"context_id": "c1", "flush": true})
	m := c.wantAudio("One two. ", "mp3_44100_128")
	if m["contextId"] != "c1" {
		t.Fatalf("contextId %v, want c1", m["contextId"])
	}
	c.send(map[string]any{"context_id": "fresh", "text": "Made by flush. ", "flush": true}) // an unknown id is created
	if m := c.wantAudio("Made by flush. ", "mp3_44100_128"); m["contextId"] != "fresh" {
		t.Fatalf("contextId %v, want fresh", m["contextId"])
	}
	c.send(map[string]any{"context_id": "c1", "close_context": true})
	if m := c.read(); m["isFinal"] != true || m["contextId"] != "c1" {
		t.Fatalf("want isFinal for c1, got %v", m)
	}
	for _, id := range []string{"c1", "c3", "c4", "c5"} { // c1 is reusable once final
		c.send(map[string]any{"text": " ", "context_id": id})
	}
	c.send(map[string]any{"text": " ", "context_id": "c6"})
	m = c.wantError("max_active_conversations")
	if m["message"] != "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing context before opening a new one." {
		t.Errorf("message %v", m["message"])
	}
}

func TestMultiStreamInputCloseSocketDrains(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/multi-stream-input", keyed())
	c.send(map[string]any{"text": " ", "context_id": "a"})
	c.send(map[string]any{"text": "Left in a. ", "context_id": "a"})
	c.send(map[string]any{"text": " ", "context_id": "b"})
	c.send(map[string]any{"close_socket": true})
	if m := c.wantAudio("Left in a. ", "mp3_44100_128"); m["contextId"] != "a" {
		t.Fatalf("contextId %v", m["contextId"])
	}
	for _, id := range []string{"a", "b"} {
		if m := c.read(); m["isFinal"] != true || m["contextId"] != id {
			t.Fatalf("want isFinal for %s, got %v", id, m)
		}
	}
	c.wantClose(websocket.StatusNormalClosure)
}

func TestStreamInputPlainGETIsNotUpgraded(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	resp, body := f.el(http.MethodGet, "/v1/text-to-speech/"+rachel+"/stream-input", "")
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 400 {
		t.Fatalf("plain GET: %d %s", resp.StatusCode, body)
	}
}

func TestMultiStreamInputDefaultContext(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/text-to-speech/"+rachel+"/multi-stream-input", keyed())
	c.send(map[string]any{"text": " "})
	c.send(map[string]any{"text": "No id. ", "flush": true})
	if m := c.wantAudio("No id. ", "mp3_44100_128"); m["contextId"] != nil {
		t.Fatalf("default context's frame has contextId %v", m["contextId"])
	}
	c.send(map[string]any{"text": ""}) // a keep-alive on multi-stream-input, not EOS
	c.send(map[string]any{"close_context": true})
	if m := c.read(); m["isFinal"] != true || m["contextId"] != nil {
		t.Fatalf("want bare isFinal, got %v", m)
	}
}
