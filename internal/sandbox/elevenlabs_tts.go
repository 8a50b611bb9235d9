package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ttsVariant is one of the four text-to-speech endpoints.
type ttsVariant int

// The text-to-speech endpoints.
const (
	ttsWhole ttsVariant = iota
	ttsStream
	ttsTimestamps
	ttsStreamTimestamps
)

// validationItem is one entry of a FastAPI/pydantic 422 body.
type validationItem struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// validationError is the 422 body for items.
func validationError(items []validationItem) *apiError {
	return jsonError(http.StatusUnprocessableEntity, map[string]any{"detail": items})
}

// ttsJob is a validated, authorized text-to-speech request.
type ttsJob struct {
	text, voiceID string
	voice         elVoice
	model         elModel
	format        outputFormat
	cost          int
}

// elTTS returns the handler for one text-to-speech variant. The order of checks follows the
// reference: 422 validation (before auth), 401, 404 voice, 400 model, 400 length, 401 quota,
// 429 concurrency.
func (s *Server) elTTS(variant ttsVariant) handler {
	return func(w http.ResponseWriter, c *call) error {
		text, modelID, format, err := validateTTS(c)
		if err != nil {
			return err
		}
		if err := s.elevenAuthorize(c); err != nil {
			return err
		}
		job, err := s.prepareTTS(c, text, modelID, format)
		if err != nil {
			return err
		}
		inFlight, err := s.acquireTTS()
		if err != nil {
			return err
		}
		defer s.releaseTTS()
		from, to := s.chargeTTS(c.key, job.cost)
		requestID, historyID := s.newID(alnum, 20), ""
		if c.r.URL.Query().Get("enable_logging") != "false" { // false: zero retention, no history
			historyID = s.addHistory(c.key, job, requestID, from, to, ttsSettings(c.body))
		}
		s.ttsHeaders(w.Header(), job, inFlight, requestID, historyID)
		return s.answerTTS(w, c.r, variant, job)
	}
}

// validateTTS checks the query and body the way FastAPI would, returning a 422 listing every
// problem. Unknown output formats (and opus, ulaw and alaw, which the sandbox cannot
// produce) are an "enum" error on output_format.
func validateTTS(c *call) (text, modelID string, format outputFormat, err error) {
	var items []validationItem
	name := c.r.URL.Query().Get("output_format")
	if name == "" {
		name = defaultOutputFormat
	}
	format, ok := parseOutputFormat(name)
	if !ok {
		items = append(items, enumItem([]any{"query", "output_format"}, name, supportedFormats))
	}
	body, bad := decodeTTSBody(c.body)
	if bad != nil {
		return "", "", format, validationError(append(items, *bad))
	}
	items = append(items, bodyItems(body)...)
	if len(items) > 0 {
		return "", "", format, validationError(items)
	}
	_ = json.Unmarshal(body["text"], &text)
	modelID = defaultModelID
	if raw, ok := body["model_id"]; ok && string(raw) != "null" {
		_ = json.Unmarshal(raw, &modelID)
	}
	return text, modelID, format, nil
}

// decodeTTSBody parses the body as a JSON object, or reports why it is not one.
func decodeTTSBody(b []byte) (map[string]json.RawMessage, *validationItem) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &validationItem{Type: "missing", Loc: []any{"body"}, Msg: "Field required"}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		pos := 0
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			pos = int(se.Offset)
		}
		return nil, &validationItem{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error",
			Input: map[string]any{}, Ctx: map[string]any{"error": "Expecting value"}}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil || obj == nil {
		return nil, &validationItem{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: v}
	}
	return obj, nil
}

// bodyItems validates the fields of a text-to-speech body.
func bodyItems(body map[string]json.RawMessage) []validationItem {
	var items []validationItem
	raw, ok := body["text"]
	var text string
	switch {
	case !ok:
		items = append(items, validationItem{Type: "missing", Loc: []any{"body", "text"}, Msg: "Field required"})
	case json.Unmarshal(raw, &text) != nil || string(raw) == "null":
		items = append(items, validationItem{Type: "string_type", Loc: []any{"body", "text"}, Msg: "Input should be a valid string", Input: rawValue(raw)})
	}
	if raw, ok := body["model_id"]; ok && string(raw) != "null" && json.Unmarshal(raw, &text) != nil {
		items = append(items, validationItem{Type: "string_type", Loc: []any{"body", "model_id"}, Msg: "Input should be a valid string", Input: rawValue(raw)})
	}
	if raw, ok := body["seed"]; ok && string(raw) != "null" {
		items = append(items, numberItems([]any{"body", "seed"}, raw, 0, math.MaxUint32, true)...)
	}
	if raw, ok := body["voice_settings"]; ok && string(raw) != "null" {
		items = append(items, settingsItems(raw)...)
	}
	return items
}

// settingsItems validates voice_settings. Explicit nulls are rejected, as the real API does.
func settingsItems(raw json.RawMessage) []validationItem {
	loc := func(f string) []any { return []any{"body", "voice_settings", f} }
	var vs map[string]json.RawMessage
	if json.Unmarshal(raw, &vs) != nil || vs == nil {
		return []validationItem{{Type: "model_type", Loc: []any{"body", "voice_settings"},
			Msg: "Input should be a valid dictionary or instance of VoiceSettingsResponseModel", Input: rawValue(raw),
			Ctx: map[string]any{"class_name": "VoiceSettingsResponseModel"}}}
	}
	var items []validationItem
	for _, f := range []string{"stability", "similarity_boost", "style", "speed"} {
		v, ok := vs[f]
		if !ok {
			continue
		}
		hi := math.Inf(1)
		if f == "stability" || f == "similarity_boost" {
			hi = 1
		}
		items = append(items, numberItems(loc(f), v, 0, hi, false)...)
	}
	if v, ok := vs["use_speaker_boost"]; ok {
		var b bool
		if json.Unmarshal(v, &b) != nil || string(v) == "null" {
			items = append(items, validationItem{Type: "bool_type", Loc: loc("use_speaker_boost"), Msg: "Input should be a valid boolean", Input: rawValue(v)})
		}
	}
	return items
}

// numberItems validates a number (an integer if integer is set) within [lo, hi].
func numberItems(loc []any, raw json.RawMessage, lo, hi float64, integer bool) []validationItem {
	var f float64
	if json.Unmarshal(raw, &f) != nil || string(raw) == "null" {
		if integer {
			return []validationItem{{Type: "int_type", Loc: loc, Msg: "Input should be a valid integer", Input: rawValue(raw)}}
		}
		return []validationItem{{Type: "float_type", Loc: loc, Msg: "Input should be a valid number", Input: rawValue(raw)}}
	}
	if integer && f != math.Trunc(f) {
		return []validationItem{{Type: "int_from_float", Loc: loc, Msg: "Input should be a valid integer, got a number with a fractional part", Input: f}}
	}
	if item, bad := rangeItem(loc, f, lo, hi); bad {
		return []validationItem{item}
	}
	return nil
}

// rangeItem reports a value outside [lo, hi] the pydantic way.
func rangeItem(loc []any, v, lo, hi float64) (validationItem, bool) {
	switch {
	case v < lo:
		return validationItem{Type: "greater_than_equal", Loc: loc, Msg: "Input should be greater than or equal to " + fmtNum(lo), Input: v, Ctx: map[string]any{"ge": lo}}, true
	case v > hi:
		return validationItem{Type: "less_than_equal", Loc: loc, Msg: "Input should be less than or equal to " + fmtNum(hi), Input: v, Ctx: map[string]any{"le": hi}}, true
	}
	return validationItem{}, false
}

// enumItem reports a value outside an enumeration the pydantic way.
func enumItem(loc []any, input string, allowed []string) validationItem {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return validationItem{Type: "enum", Loc: loc, Msg: "Input should be " + expected, Input: input, Ctx: map[string]any{"expected": expected}}
}

// rawValue decodes raw for echoing as "input".
func rawValue(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

// fmtNum formats a bound the way pydantic prints it.
func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// prepareTTS resolves the voice and model and checks the text against their limits.
func (s *Server) prepareTTS(c *call, text, modelID string, format outputFormat) (ttsJob, error) {
	voiceID := c.params["voice_id"]
	voice, ok := s.elVoice(c.key, voiceID)
	if !ok {
		return ttsJob{}, voiceNotFound(voiceID)
	}
	model, ok := s.eleven.model(modelID)
	if !ok {
		return ttsJob{}, detailError(http.StatusBadRequest, "invalid_uid",
			"An invalid ID has been received: '"+modelID+"'. Make sure to provide a correct one.")
	}
	if !model.TTS {
		return ttsJob{}, detailError(http.StatusBadRequest, "model_can_not_do_text_to_speech",
			"The model "+modelID+" cannot be used for text to speech.")
	}
	n := utf8.RuneCountInString(text)
	if n > model.MaxChars {
		return ttsJob{}, detailError(http.StatusBadRequest, "max_character_limit_exceeded",
			"This request's text has "+strconv.Itoa(n)+" characters and exceeds the character limit of "+
				strconv.Itoa(model.MaxChars)+" characters.")
	}
	job := ttsJob{text: text, voiceID: voiceID, voice: voice, model: model, format: format,
		cost: int(math.Ceil(float64(n) * model.CostMultiplier))}
	return job, s.checkQuota(c.key, job.cost)
}

// checkQuota answers 401 quota_exceeded when cost does not fit in key's remaining characters.
func (s *Server) checkQuota(key string, cost int) error {
	s.mu.Lock()
	limit := s.elCharacterLimitLocked(key)
	left := limit - s.el.charsUsed[key]
	s.mu.Unlock()
	if cost <= left {
		return nil
	}
	return detailError(http.StatusUnauthorized, "quota_exceeded",
		"This request exceeds your quota of "+strconv.Itoa(limit)+". You have "+strconv.Itoa(max(left, 0))+
			" credits remaining, while "+strconv.Itoa(cost)+" credits are required for this request.")
}

// acquireTTS takes a concurrency slot and returns how many requests are now in flight.
func (s *Server) acquireTTS() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if capN := s.cfg.MaxConcurrentTTS; capN > 0 && s.el.inFlight >= capN {
		return 0, tooManyConcurrent(capN)
	}
	s.el.inFlight++
	return s.el.inFlight, nil
}

// releaseTTS gives a concurrency slot back.
func (s *Server) releaseTTS() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.el.inFlight--
}

// chargeTTS adds cost to key's character_count and returns the count before and after.
func (s *Server) chargeTTS(key string, cost int) (from, to int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from = s.el.charsUsed[key]
	s.el.charsUsed[key] += cost
	return from, from + cost
}

// ttsHeaders sets the headers of a successful generation; a generation kept out of the
// history (enable_logging=false) has no history-item-id.
func (s *Server) ttsHeaders(h http.Header, job ttsJob, inFlight int, requestID, historyID string) {
	h.Set("Request-Id", requestID)
	if historyID != "" {
		h.Set("History-Item-Id", historyID)
	}
	h.Set("Character-Cost", strconv.Itoa(job.cost))
	h.Set("Current-Concurrent-Requests", strconv.Itoa(inFlight))
	h.Set("Maximum-Concurrent-Requests", strconv.Itoa(s.maxConcurrentTTS()))
	h.Set("Tts-Latency-Ms", strconv.Itoa(180+len(job.text)%400))
	h.Set("X-Trace-Id", s.newID(lowerHex, 32))
	h.Set("Vary", "Accept-Language")
}

// answerTTS writes the generated audio in the variant's shape.
func (s *Server) answerTTS(w http.ResponseWriter, r *http.Request, variant ttsVariant, job ttsJob) error {
	sp := s.speech(job)
	switch variant {
	case ttsStream:
		w.Header().Set("Content-Type", job.format.contentType())
		s.streamChunks(w, r, chunkBytes(sp.audio))
	case ttsTimestamps:
		if s.cfg.TTSLatency > 0 && !sleepCtx(r, s.cfg.TTSLatency) {
			return nil
		}
		writeJSON(w, http.StatusOK, timestampChunk(job.text, sp.audio, sp.units))
	case ttsStreamTimestamps:
		w.Header().Set("Content-Type", "application/json")
		s.streamChunks(w, r, timestampLines(job.text, sp))
	default:
		if s.cfg.TTSLatency > 0 && !sleepCtx(r, s.cfg.TTSLatency) {
			return nil
		}
		writeRaw(w, &apiError{status: http.StatusOK, contentType: job.format.contentType(), body: sp.audio})
	}
	return nil
}

// streamChunks writes chunks with a flush and a pause after each, stopping if the client
// goes away.
func (s *Server) streamChunks(w http.ResponseWriter, r *http.Request, chunks [][]byte) {
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	for i, ch := range chunks {
		if _, err := w.Write(ch); err != nil {
			return
		}
		_ = rc.Flush() // A writer that cannot flush still delivers the bytes at the end.
		if i < len(chunks)-1 && s.cfg.StreamChunkDelay > 0 && !sleepCtx(r, s.cfg.StreamChunkDelay) {
			return
		}
	}
}

// streamChunkCount is how many pieces a stream is cut into: 8, plus one per 16 KiB, at most 16.
func streamChunkCount(n int) int {
	return min(16, 8+n/(16<<10))
}

// chunkBytes cuts audio into streamChunkCount pieces at arbitrary (not frame) boundaries.
func chunkBytes(audio []byte) [][]byte {
	n := min(streamChunkCount(len(audio)), len(audio))
	chunks := make([][]byte, 0, n)
	for i := range n {
		chunks = append(chunks, audio[len(audio)*i/n:len(audio)*(i+1)/n])
	}
	return chunks
}

// alignmentJSON is the per-character timing of a timestamps response.
type alignmentJSON struct {
	Characters []string  `json:"characters"`
	Starts     []float64 `json:"character_start_times_seconds"`
	Ends       []float64 `json:"character_end_times_seconds"`
}

// timestampJSON is AudioWithTimestampsResponseModel and one line of the NDJSON stream.
type timestampJSON struct {
	AudioBase64         string         `json:"audio_base64"`
	Alignment           *alignmentJSON `json:"alignment"`
	NormalizedAlignment *alignmentJSON `json:"normalized_alignment"`
}

// timestampChunk builds the timestamps object for audio covering units of text.
func timestampChunk(text string, audio []byte, units []timedUnit) timestampJSON {
	runes := []rune(text)
	al := &alignmentJSON{Characters: []string{}, Starts: []float64{}, Ends: []float64{}}
	for _, u := range units {
		k := u.runeEnd - u.runeStart
		for i := range k {
			step := (u.end - u.start) / float64(k)
			al.Characters = append(al.Characters, string(runes[u.runeStart+i]))
			al.Starts = append(al.Starts, round3(u.start+step*float64(i)))
			al.Ends = append(al.Ends, round3(u.start+step*float64(i+1)))
		}
	}
	norm := *al
	return timestampJSON{AudioBase64: base64.StdEncoding.EncodeToString(audio), Alignment: al, NormalizedAlignment: &norm}
}

// timestampLines cuts speech into NDJSON lines, each with its audio and its characters.
func timestampLines(text string, sp synthesized) [][]byte {
	n := min(streamChunkCount(len(sp.audio)), len(sp.units))
	lines := make([][]byte, 0, n)
	prevByte := 0
	for i := range n {
		group := sp.units[len(sp.units)*i/n : len(sp.units)*(i+1)/n]
		end := group[len(group)-1].byteEnd
		b, _ := json.Marshal(timestampChunk(text, sp.audio[prevByte:end], group))
		lines = append(lines, append(b, '\n'))
		prevByte = end
	}
	return lines
}

// round3 rounds to milliseconds.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
