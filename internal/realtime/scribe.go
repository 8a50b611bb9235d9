package realtime

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// scribe filters one realtime speech-to-text socket: base64 audio chunks
// in, transcripts out. It counts seconds of audio, each started second
// charged when its first byte is sent.
type scribe struct {
	// rate is the audio's bytes per second (PCM16: samples × 2; μ-law: ×1).
	rate int64

	mu      sync.Mutex
	bytes   int64 // audio bytes sent
	charged int64 // seconds charged
}

// defaultAudioFormat is the provider's default audio_format.
const defaultAudioFormat = "pcm_16000"

func newScribe(q url.Values) (*scribe, error) {
	format := q.Get("audio_format")
	if format == "" {
		format = defaultAudioFormat
	}
	rate, ok := bytesPerSecond(format)
	if !ok {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid,
			"Query parameter audio_format must be pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, pcm_48000 or ulaw_8000.")
	}
	return &scribe{rate: rate}, nil
}

// bytesPerSecond is how many bytes a second of audio takes in a format.
func bytesPerSecond(format string) (int64, bool) {
	if format == "ulaw_8000" {
		return 8000, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(format, "pcm_"))
	if !strings.HasPrefix(format, "pcm_") || err != nil {
		return 0, false
	}
	switch n {
	case 8000, 16000, 22050, 24000, 44100, 48000:
		return int64(n) * 2, true
	}
	return 0, false
}

// Client strips credentials and counts the audio a chunk carries.
func (s *scribe) Client(text bool, msg []byte) ([]byte, int64, error) {
	if !text {
		return nil, 0, refusal(websocket.StatusUnsupportedData, "input_error",
			s.ErrorFrame("input_error", "This socket takes JSON text messages."))
	}
	var m struct {
		Audio string `json:"audio_base_64"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, 0, refusal(aiproxy.ClosePolicy, "input_error", s.ErrorFrame("input_error", "Each message must be one JSON object."))
	}
	out := msg
	if mentionsCredential(msg) {
		obj, ok := object(msg)
		if !ok {
			return nil, 0, refusal(aiproxy.ClosePolicy, "input_error", s.ErrorFrame("input_error", "Each message must be one JSON object."))
		}
		var err error
		if out, err = clean(msg, obj); err != nil {
			return nil, 0, err
		}
	}
	return out, s.count(decodedLen(m.Audio)), nil
}

// count adds n audio bytes and returns the seconds newly started.
func (s *scribe) count(n int64) int64 {
	if n <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += n
	started := (s.bytes + s.rate - 1) / s.rate
	units := started - s.charged
	s.charged = started
	return units
}

// decodedLen is the length of base64 data once decoded, without decoding
// it (standard or URL alphabet, padded or not).
func decodedLen(b64 string) int64 {
	n := len(b64)
	for n > 0 && b64[n-1] == '=' {
		n--
	}
	return int64(n) * 3 / 4
}

// Upstream reads nothing of the provider's messages.
func (s *scribe) Upstream(bool, []byte) {}

// ErrorFrame is Scribe's error shape: message_type names the error. A
// budget's refusal uses the quota type, which SDKs know, and names itself
// in "code".
func (s *scribe) ErrorFrame(code, message string) []byte {
	typ := code
	switch code {
	case string(aiproxy.CodeBudgetExceeded):
		typ = string(aiproxy.CodeQuotaExceeded)
	case "max_duration":
		typ = "session_time_limit_exceeded"
	case string(aiproxy.CodeInternal), string(aiproxy.CodeUnavailable):
		typ = "error"
	}
	b, _ := json.Marshal(map[string]any{"message_type": typ, "error": message, "code": code})
	return b
}

// Idle leaves silence to the provider: a transcription socket may wait
// for speech.
func (s *scribe) Idle() time.Duration { return 0 }

// Close owes nothing: a started second is charged when it starts.
func (s *scribe) Close() int64 { return 0 }
