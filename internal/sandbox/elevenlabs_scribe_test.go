package sandbox_test

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// pcm returns secs seconds of 16-bit mono audio at rate: a loud square wave when voiced,
// zeros otherwise.
func pcm(rate int, secs float64, voiced bool) []byte {
	n := int(secs * float64(rate))
	b := make([]byte, 2*n)
	for i := range n {
		v := int16(0)
		if voiced {
			v = 8000
			if i%20 < 10 {
				v = -8000
			}
		}
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// chunk is an input_audio_chunk message.
func chunk(audio []byte, commit bool) map[string]any {
	return map[string]any{"message_type": "input_audio_chunk", "audio_base_64": base64.StdEncoding.EncodeToString(audio),
		"commit": commit, "sample_rate": 16000}
}

// wantType reads a Scribe message of type typ.
func (c *wsConn) wantType(typ string) map[string]any {
	c.t.Helper()
	m := c.read()
	if m["message_type"] != typ {
		c.t.Fatalf("want %s, got %v", typ, m)
	}
	return m
}

func TestScribeManualCommitWithTimestamps(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&include_timestamps=true&language_code=en", keyed())
	started := c.wantType("session_started")
	cfg, _ := started["config"].(map[string]any)
	if str(started["session_id"]) == "" || cfg["audio_format"] != "pcm_16000" || cfg["sample_rate"] != float64(16000) ||
		cfg["commit_strategy"] != "manual" || cfg["model_id"] != "scribe_v2_realtime" || cfg["language_code"] != "en" {
		t.Fatalf("session_started %v", started)
	}
	c.send(chunk(pcm(16000, 0.3, true), false)) // not yet a word: no partial
	c.send(chunk(pcm(16000, 0.8, true), false)) // 1.1 s voiced: two words
	if m := c.wantType("partial_transcript"); m["text"] != "the quick" {
		t.Fatalf("partial %v", m)
	}
	c.send(chunk(pcm(16000, 0.5, false), false)) // silence adds nothing
	c.send(map[string]any{"message_type": "input_audio_chunk", "audio_base_64": "", "commit": true, "sample_rate": 16000})
	if m := c.wantType("committed_transcript"); m["text"] != "the quick" {
		t.Fatalf("committed %v", m)
	}
	m := c.wantType("committed_transcript_with_timestamps")
	words, _ := m["words"].([]any)
	if m["text"] != "the quick" || m["language_code"] != "en" || len(words) != 2 {
		t.Fatalf("timestamps %v", m)
	}
	w0, _ := words[0].(map[string]any)
	w1, _ := words[1].(map[string]any)
	if w0["text"] != "the" || w0["start"] != float64(0) || w0["end"] != 0.5 || w1["start"] != 0.5 || w1["end"] != float64(1) || w0["type"] != "word" {
		t.Fatalf("words %v", words)
	}
	c.send(chunk(pcm(16000, 0.5, true), true)) // the next segment continues the word list
	if m := c.wantType("partial_transcript"); m["text"] != "brown" {
		t.Fatalf("partial %v", m)
	}
	if m := c.wantType("committed_transcript"); m["text"] != "brown" {
		t.Fatalf("committed %v", m)
	}
}

func TestScribeVADCommitsAfterSilence(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?commit_strategy=vad&vad_silence_threshold_secs=0.5&audio_format=pcm_8000", keyed())
	c.wantType("session_started")
	c.send(chunk(pcm(8000, 0.5, true), false))
	c.wantType("partial_transcript")
	c.send(chunk(pcm(8000, 0.3, false), false)) // not silent long enough
	c.send(chunk(pcm(8000, 0.3, false), false))
	if m := c.wantType("committed_transcript"); m["text"] != "the" {
		t.Fatalf("committed %v", m)
	}
}

func TestScribeULaw(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?audio_format=ulaw_8000", keyed())
	c.wantType("session_started")
	loud := make([]byte, 4000) // 0x00 is μ-law's loudest negative sample
	c.send(chunk(loud, true))
	c.wantType("partial_transcript")
	if m := c.wantType("committed_transcript"); m["text"] != "the" {
		t.Fatalf("committed %v", m)
	}
	silent := make([]byte, 8000)
	for i := range silent {
		silent[i] = 0xFF // μ-law zero
	}
	c.send(chunk(silent, true))
	if m := c.wantType("committed_transcript"); m["text"] != "" {
		t.Fatalf("silence committed %v", m)
	}
}

func TestScribeLatePreviousText(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime", keyed())
	c.wantType("session_started")
	first := chunk(pcm(16000, 0.1, false), false)
	first["previous_text"] = "Earlier words."
	c.send(first) // allowed on the first chunk
	late := chunk(pcm(16000, 0.1, false), false)
	late["previous_text"] = "Too late."
	c.send(late)
	if m := c.wantType("input_error"); str(m["error"]) == "" {
		t.Fatalf("input_error without error: %v", m)
	}
	c.send(chunk(pcm(16000, 0.5, true), true)) // the session goes on
	c.wantType("partial_transcript")
	c.wantType("committed_transcript")
}

func TestScribeAuth(t *testing.T) {
	for _, tt := range []struct {
		name   string
		query  string
		header http.Header
	}{
		{"no credential", "", nil},
		{"wrong key", "", http.Header{"Xi-Api-Key": {"nope"}}},
		{"unknown token", "?token=sutkn_nope", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime"+tt.query, tt.header)
			c.wantType("auth_error")
			c.wantClose(websocket.StatusPolicyViolation)
		})
	}
}

func TestScribeBadQuery(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime?audio_format=mp3_44100", keyed())
	c.wantType("input_error")
	c.wantClose(websocket.StatusPolicyViolation)
}

func TestScribeFaults(t *testing.T) {
	for _, fault := range []sandbox.SocketFault{sandbox.SocketQuotaExceeded, sandbox.SocketRateLimited, sandbox.SocketSessionTimeLimit} {
		t.Run(string(fault), func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			f.sb.InjectFault(sandbox.Fault{Provider: sandbox.ElevenLabs, Path: "/v1/speech-to-text/realtime", Socket: fault, Count: 1})
			c := f.dialWS("/elevenlabs/v1/speech-to-text/realtime", keyed())
			c.wantType("session_started")
			c.send(chunk(pcm(16000, 0.5, true), false))
			if m := c.wantType(string(fault)); str(m["error"]) == "" {
				t.Fatalf("fault without error text: %v", m)
			}
			c.wantClose(websocket.StatusPolicyViolation)
		})
	}
}
