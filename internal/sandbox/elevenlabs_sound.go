package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// ElevenLabs sound effects (POST /v1/sound-generation) and voice isolation (POST
// /v1/audio-isolation and its /stream twin). Both return real MP3 audio of about the right
// length, made of the same syllable clips as speech, and both spend the key's characters:
// a sound effect 40 per second of audio (200 when the duration is left to the model, which
// then makes 5 seconds), isolation 1,000 per minute of input [INF: ElevenLabs' published
// prices, not the references].

// Sound-generation limits and prices.
const (
	sfxMinSeconds  = 0.5
	sfxMaxSeconds  = 30
	sfxAutoSeconds = 5
	sfxPerSecond   = 40
)

// mp3Default is the output format the audio routes use when none is asked for.
func mp3Default() outputFormat {
	f, _ := parseOutputFormat(defaultOutputFormat)
	return f
}

// soundAudio renders about secs of audio in format f whose syllables come from seed's
// letters, so that different prompts sound different and the same prompt the same.
func soundAudio(seed string, secs float64, f outputFormat) []byte {
	letters := []rune(strings.Map(func(r rune) rune {
		if isSpoken(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, seed))
	if len(letters) == 0 {
		letters = []rune("sfx")
	}
	// Each two-letter syllable is one voiced clip, and the space after it one pause.
	_, voiced := unitSound(0, f)
	_, pause := unitSound(silenceClip, f)
	n := max(1, int(math.Round(secs/(voiced+pause))))
	var b strings.Builder
	for i := range n {
		b.WriteRune(letters[(2*i)%len(letters)])
		b.WriteRune(letters[(2*i+1)%len(letters)])
		b.WriteByte(' ')
	}
	return synthesize(b.String(), "sound", "sound", f).audio
}

// soundJob is a validated sound-generation request.
type soundJob struct {
	text    string
	seconds float64
	cost    int
	format  outputFormat
}

// validateSound checks POST /v1/sound-generation the pydantic way: text is required, and
// duration_seconds (0.5–30) and prompt_influence (0–1) are numbers or null.
func validateSound(c *call) (soundJob, error) {
	job := soundJob{seconds: sfxAutoSeconds, cost: sfxAutoSeconds * sfxPerSecond}
	var items []validationItem
	name := c.r.URL.Query().Get("output_format")
	if name == "" {
		name = defaultOutputFormat
	}
	var ok bool
	if job.format, ok = parseOutputFormat(name); !ok {
		items = append(items, enumItem([]any{"query", "output_format"}, name, supportedFormats))
	}
	body, bad := decodeTTSBody(c.body)
	if bad != nil {
		return job, validationError(append(items, *bad))
	}
	raw, has := body["text"]
	if !has {
		items = append(items, missingItem("body", "text"))
	} else if json.Unmarshal(raw, &job.text) != nil || string(raw) == "null" {
		items = append(items, validationItem{Type: "string_type", Loc: []any{"body", "text"}, Msg: "Input should be a valid string", Input: rawValue(raw)})
	}
	if raw, ok := body["duration_seconds"]; ok && string(raw) != "null" {
		if more := numberItems([]any{"body", "duration_seconds"}, raw, sfxMinSeconds, sfxMaxSeconds, false); len(more) > 0 {
			items = append(items, more...)
		} else {
			_ = json.Unmarshal(raw, &job.seconds)
			job.cost = int(math.Ceil(job.seconds * sfxPerSecond))
		}
	}
	if raw, ok := body["prompt_influence"]; ok && string(raw) != "null" {
		items = append(items, numberItems([]any{"body", "prompt_influence"}, raw, 0, 1, false)...)
	}
	if len(items) > 0 {
		return job, validationError(items)
	}
	return job, nil
}

// elSoundGeneration answers POST /v1/sound-generation with the sound as audio and its price
// in character-cost. Like text to speech, it validates the body before the key.
func (s *Server) elSoundGeneration(w http.ResponseWriter, c *call) error {
	job, err := validateSound(c)
	if err != nil {
		return err
	}
	if err := s.elevenAuthorize(c); err != nil {
		return err
	}
	if err := s.checkQuota(c.key, job.cost); err != nil {
		return err
	}
	s.chargeTTS(c.key, job.cost)
	audio := soundAudio(job.text, job.seconds, job.format)
	s.audioHeaders(w.Header(), job.cost)
	writeRaw(w, &apiError{status: http.StatusOK, contentType: job.format.contentType(), body: audio})
	return nil
}

// audioHeaders sets the headers of a successful sound or isolation answer.
func (s *Server) audioHeaders(h http.Header, cost int) {
	h.Set("Request-Id", s.newID(alnum, 20))
	h.Set("Character-Cost", strconv.Itoa(cost))
	h.Set("X-Trace-Id", s.newID(lowerHex, 32))
}

// elAudioIsolation returns the handler of POST /v1/audio-isolation (stream false) or
// /v1/audio-isolation/stream (stream true): multipart with the recording in audio and an
// optional file_format of pcm_s16le_16 or other. The answer is MP3 as long as the input.
func (s *Server) elAudioIsolation(stream bool) handler {
	return func(w http.ResponseWriter, c *call) error {
		f := parseForm(c)
		var items []validationItem
		audio, ok := f.file("audio")
		if !ok {
			items = append(items, missingItem("body", "audio"))
		}
		format, _ := f.value("file_format")
		if format != "" && format != "pcm_s16le_16" && format != "other" {
			items = append(items, enumItem([]any{"body", "file_format"}, format, []string{"pcm_s16le_16", "other"}))
		}
		if len(items) > 0 {
			return validationError(items)
		}
		secs := recordingSeconds(audio.data, format == "pcm_s16le_16")
		cost := int(math.Ceil(secs / 60 * 1000))
		if err := s.checkQuota(c.key, cost); err != nil {
			return err
		}
		s.chargeTTS(c.key, cost)
		out := soundAudio(audio.filename, secs, mp3Default())
		s.audioHeaders(w.Header(), cost)
		if stream {
			w.Header().Set("Content-Type", "audio/mpeg")
			s.streamChunks(w, c.r, chunkBytes(out))
			return nil
		}
		writeRaw(w, &apiError{status: http.StatusOK, contentType: "audio/mpeg", body: out})
		return nil
	}
}

// recordingSeconds measures an uploaded recording: raw 16 kHz PCM by its size, MP3 by its
// frames, WAV by its header, anything else as if it were 128 kbit/s audio.
func recordingSeconds(b []byte, pcm16k bool) float64 {
	switch {
	case pcm16k:
		return float64(len(b)) / 32000
	case len(b) > 44 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		rate := binary.LittleEndian.Uint32(b[24:28])
		frame := uint32(binary.LittleEndian.Uint16(b[32:34]))
		if rate > 0 && frame > 0 {
			return float64(len(b)-44) / float64(rate*frame)
		}
	}
	if info, err := parseMP3(b); err == nil {
		return info.seconds()
	}
	return float64(len(b)) / 16000
}
