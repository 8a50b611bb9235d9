package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// ElevenLabs' Scribe realtime speech to text, GET /v1/speech-to-text/realtime, after
// shared/reference/realtime-apis.md §4 and §9. The transcript is made up but
// deterministic: every 0.5 s of non-silent audio (a sample louder than scribeSilence)
// completes one word, the n-th word of the session being scribeWords[n mod len].

// scribeWords are the words the sandbox "hears", in order.
var scribeWords = []string{"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven",
	"proxies", "relay", "every", "frame", "home"}

// scribeSilence is the loudest 16-bit sample still counted as silence.
const scribeSilence = 300

// scribeFormats maps audio_format to its sample rate.
var scribeFormats = map[string]int{"pcm_8000": 8000, "pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000,
	"pcm_44100": 44100, "pcm_48000": 48000, "ulaw_8000": 8000}

// ScribeWordSeconds is how much non-silent audio the sandbox's Scribe turns into one word.
const ScribeWordSeconds = 0.5

// scribeWord is one recognised word, its times in seconds from the start of the session.
type scribeWord struct {
	Text    string  `json:"text"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Type    string  `json:"type"`
	Logprob float64 `json:"logprob"`
}

// scribeSession is one Scribe socket's state.
type scribeSession struct {
	s          *Server
	sk         *socket
	key        string
	rate       int
	ulaw       bool
	vad        bool
	vadSilence int // samples of silence that end a segment under vad
	timestamps bool
	language   string
	samples    int // samples received in the session
	voiced     int // voiced samples in the word being heard
	wordStart  int // sample where that word began, -1 when none
	silentRun  int // trailing silent samples
	segment    []scribeWord
	partial    int // words in the last partial_transcript
	words      int // words heard in the session
	chunks     int
}

// scribeError is {"message_type":…,"error":…}.
type scribeError struct {
	MessageType string `json:"message_type"`
	Error       string `json:"error"`
}

// elScribeRealtime serves the Scribe socket.
func (s *Server) elScribeRealtime(w http.ResponseWriter, c *call) error {
	sk := s.acceptSocket(w, c, ElevenLabs)
	if sk == nil {
		return nil
	}
	defer sk.finish()
	ss := &scribeSession{s: s, sk: sk, wordStart: -1}
	_ = ss.run(c.r)
	return nil
}

// fail sends a Scribe error message and closes with code.
func (ss *scribeSession) fail(kind, msg string, code websocket.StatusCode) error {
	_ = ss.sk.send(scribeError{MessageType: kind, Error: msg})
	return ss.sk.close(code, kind)
}

// run authenticates, starts the session and serves chunks until the client leaves.
func (ss *scribeSession) run(r *http.Request) error {
	q := r.URL.Query()
	key := r.Header.Get("Xi-Api-Key")
	switch {
	case key != "" && !ss.s.keyAccepted(ElevenLabs, key):
		return ss.fail("auth_error", "Invalid API key", websocket.StatusPolicyViolation)
	case key == "" && q.Get("token") != "":
		if key = ss.s.consumeToken(q.Get("token"), tokenScribe); key == "" {
			return ss.fail("auth_error", "Invalid or expired token", websocket.StatusPolicyViolation)
		}
	case key == "":
		return ss.fail("auth_error", "Authentication required: send the xi-api-key header or a token query parameter.", websocket.StatusPolicyViolation)
	}
	ss.key = key
	ss.sk.authenticated(key)
	config, err := ss.configure(q)
	if err != "" {
		return ss.fail("input_error", err, websocket.StatusPolicyViolation)
	}
	if err := ss.sk.send(map[string]any{"message_type": "session_started", "session_id": ss.s.newID(lowerHex, 32), "config": config}); err != nil {
		return err
	}
	for data := range ss.sk.in {
		if err := ss.handle(data); err != nil {
			return err
		}
	}
	return errSocketDone
}

// configure reads the query and returns the config echoed in session_started, or what is
// wrong with it.
func (ss *scribeSession) configure(q url.Values) (map[string]any, string) {
	format := q.Get("audio_format")
	if format == "" {
		format = "pcm_16000"
	}
	rate, ok := scribeFormats[format]
	if !ok {
		return nil, "Invalid audio_format '" + format + "'. Use pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, pcm_48000 or ulaw_8000."
	}
	ss.rate, ss.ulaw = rate, strings.HasPrefix(format, "ulaw")
	strategy := q.Get("commit_strategy")
	if strategy == "" {
		strategy = "manual"
	}
	if strategy != "manual" && strategy != "vad" {
		return nil, "Invalid commit_strategy '" + strategy + "'. Use manual or vad."
	}
	ss.vad = strategy == "vad"
	silence := 1.5
	if v := q.Get("vad_silence_threshold_secs"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0.3 || f > 3 {
			return nil, "vad_silence_threshold_secs must be a number between 0.3 and 3.0."
		}
		silence = f
	}
	ss.vadSilence = int(silence * float64(rate))
	ss.timestamps = q.Get("include_timestamps") == "true"
	ss.language = q.Get("language_code")
	model := q.Get("model_id")
	if model == "" {
		model = "scribe_v2_realtime"
	}
	config := map[string]any{"sample_rate": rate, "audio_format": format, "model_id": model,
		"commit_strategy": strategy, "vad_silence_threshold_secs": silence, "include_timestamps": ss.timestamps}
	for _, k := range []string{"language_code", "vad_threshold", "min_speech_duration_ms", "min_silence_duration_ms",
		"include_language_detection", "enable_logging"} {
		if v := q.Get(k); v != "" {
			config[k] = v
		}
	}
	return config, ""
}

// scribeChunk is input_audio_chunk.
type scribeChunk struct {
	MessageType  string  `json:"message_type"`
	AudioBase64  string  `json:"audio_base_64"`
	Commit       bool    `json:"commit"`
	SampleRate   int     `json:"sample_rate"`
	PreviousText *string `json:"previous_text"`
}

// handle serves one client message.
func (ss *scribeSession) handle(data []byte) error {
	var m scribeChunk
	if err := json.Unmarshal(data, &m); err != nil || m.MessageType != "input_audio_chunk" {
		return ss.sk.send(scribeError{MessageType: "input_error", Error: "Expected an input_audio_chunk message."})
	}
	ss.chunks++
	if ss.chunks == 1 {
		if f, ok := ss.s.takeSocketFault(ElevenLabs, ss.sk.path, ss.key); ok {
			if f == SocketMessageTooBig {
				return ss.sk.close(websocket.StatusMessageTooBig, "")
			}
			return ss.fail(string(f), socketFaultMessage(f), websocket.StatusPolicyViolation)
		}
	}
	if m.PreviousText != nil && ss.chunks > 1 {
		return ss.sk.send(scribeError{MessageType: "input_error", Error: "previous_text is only allowed on the first audio chunk."})
	}
	audio, err := base64.StdEncoding.DecodeString(m.AudioBase64)
	if err != nil {
		return ss.sk.send(scribeError{MessageType: "input_error", Error: "audio_base_64 is not valid base64."})
	}
	ss.hear(audio)
	if ss.vad && len(ss.segment) > 0 && ss.silentRun >= ss.vadSilence {
		return ss.commit()
	}
	if len(ss.segment) > ss.partial {
		ss.partial = len(ss.segment)
		if err := ss.sk.send(map[string]string{"message_type": "partial_transcript", "text": ss.text()}); err != nil {
			return err
		}
	}
	if m.Commit {
		return ss.commit()
	}
	return nil
}

// hear walks audio's samples, completing a word every ScribeWordSeconds of voiced audio.
func (ss *scribeSession) hear(audio []byte) {
	perWord := int(ScribeWordSeconds * float64(ss.rate))
	step := 2
	if ss.ulaw {
		step = 1
	}
	for i := 0; i+step <= len(audio); i += step {
		var v int
		if ss.ulaw {
			v = ulawToLinear(audio[i])
		} else {
			v = int(int16(uint16(audio[i]) | uint16(audio[i+1])<<8))
		}
		ss.samples++
		if v <= scribeSilence && v >= -scribeSilence {
			ss.silentRun++
			continue
		}
		ss.silentRun = 0
		if ss.wordStart < 0 {
			ss.wordStart = ss.samples - 1
		}
		if ss.voiced++; ss.voiced >= perWord {
			secs := func(n int) float64 { return round3(float64(n) / float64(ss.rate)) }
			ss.segment = append(ss.segment, scribeWord{Text: scribeWords[ss.words%len(scribeWords)],
				Start: secs(ss.wordStart), End: secs(ss.samples), Type: "word"})
			ss.words++
			ss.voiced, ss.wordStart = 0, -1
		}
	}
}

// text is the current segment's transcript.
func (ss *scribeSession) text() string {
	words := make([]string, len(ss.segment))
	for i, w := range ss.segment {
		words[i] = w.Text
	}
	return strings.Join(words, " ")
}

// commit sends the segment's committed transcript (and its timestamps when asked for) and
// starts a new segment.
func (ss *scribeSession) commit() error {
	text := ss.text()
	if err := ss.sk.send(map[string]string{"message_type": "committed_transcript", "text": text}); err != nil {
		return err
	}
	if ss.timestamps {
		lang := ss.language
		if lang == "" {
			lang = "en"
		}
		words := ss.segment
		if words == nil {
			words = []scribeWord{}
		}
		if err := ss.sk.send(map[string]any{"message_type": "committed_transcript_with_timestamps", "text": text,
			"language_code": lang, "words": words}); err != nil {
			return err
		}
	}
	ss.segment, ss.partial = nil, 0
	return nil
}

// ulawToLinear decodes one G.711 μ-law byte to a 16-bit sample.
func ulawToLinear(b byte) int {
	u := ^b
	t := (int(u&0x0f)<<3 + 0x84) << (int(u&0x70) >> 4)
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}
