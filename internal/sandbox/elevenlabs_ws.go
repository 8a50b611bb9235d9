package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// ElevenLabs' real-time text to speech: the stream-input (one context) and
// multi-stream-input (up to five contexts) WebSockets, after
// shared/reference/realtime-apis.md §1, §2 and §9. The socket plumbing they share with
// Scribe is in elevenlabs_socket.go.

// ttsErrorFrame is the error frame of the text-to-speech sockets.
type ttsErrorFrame struct {
	Message string `json:"message"`
	Error   string `json:"error"`
	Code    int    `json:"code"`
}

// fail sends a text-to-speech error frame, then closes 1008.
func (sk *socket) fail(code, message string) error {
	_ = sk.send(ttsErrorFrame{Message: message, Error: code, Code: int(websocket.StatusPolicyViolation)})
	return sk.close(websocket.StatusPolicyViolation, code)
}

// Defaults and bounds of the text-to-speech sockets.
const (
	defaultInactivity = 20
	maxInactivity     = 180
	maxContexts       = 5
)

// defaultSchedule is generation_config.chunk_length_schedule's default.
var defaultSchedule = []int{120, 160, 250, 290}

// ttsSocketFormats are the output formats the sockets produce: mp3 and raw pcm.
func ttsSocketFormat(name string) (outputFormat, bool) {
	f, ok := parseOutputFormat(name)
	return f, ok && f.codec != "wav"
}

// ttsClientMessage is any message a client sends on a text-to-speech socket.
type ttsClientMessage struct {
	Text             *string `json:"text"`
	Flush            bool    `json:"flush"`
	GenerationConfig *struct {
		ChunkLengthSchedule []int `json:"chunk_length_schedule"`
	} `json:"generation_config"`
	KeyDash       string  `json:"xi-api-key"`
	KeyUnderscore string  `json:"xi_api_key"`
	Authorization string  `json:"authorization"`
	ContextID     *string `json:"context_id"`
	CloseContext  bool    `json:"close_context"`
	CloseSocket   bool    `json:"close_socket"`
}

// key returns the credential the message carries, if any.
func (m ttsClientMessage) key() string {
	for _, k := range []string{m.KeyDash, m.KeyUnderscore, strings.TrimPrefix(m.Authorization, "Bearer ")} {
		if k != "" {
			return k
		}
	}
	return ""
}

// ttsContext is one context's buffer and schedule.
type ttsContext struct {
	buf      string
	chunks   int
	schedule []int
}

// ttsSession is one text-to-speech socket's state.
type ttsSession struct {
	s         *Server
	sk        *socket
	multi     bool
	voiceID   string
	modelID   string
	model     elModel
	format    outputFormat
	autoMode  bool
	timeout   int // seconds
	key       string
	contexts  map[string]*ttsContext
	order     []string // context ids in creation order
	authed    bool
	headerKey string // the key in the xi-api-key or Authorization header
	tokenUsed bool   // a single_use_token was given
	tokenKey  string // the key that minted it, "" when it was no good
}

// elStreamInput serves GET /v1/text-to-speech/{voice_id}/stream-input (multi false) and
// /multi-stream-input (multi true).
func (s *Server) elStreamInput(multi bool) handler {
	return func(w http.ResponseWriter, c *call) error {
		sk := s.acceptSocket(w, c, ElevenLabs)
		if sk == nil {
			return nil
		}
		defer sk.finish()
		ts := &ttsSession{s: s, sk: sk, multi: multi, voiceID: c.params["voice_id"], contexts: map[string]*ttsContext{}}
		_ = ts.run(c.r)
		return nil
	}
}

// run checks the query, then serves messages until the socket ends.
func (ts *ttsSession) run(r *http.Request) error {
	q := r.URL.Query()
	ts.headerKey = r.Header.Get("Xi-Api-Key")
	if ts.headerKey == "" {
		ts.headerKey = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok := q.Get("single_use_token"); tok != "" {
		ts.tokenUsed, ts.tokenKey = true, ts.s.consumeToken(tok, tokenTTS)
	}
	if err := ts.parseQuery(q); err != nil {
		return err
	}
	timer := time.NewTimer(ts.timeoutDuration())
	defer timer.Stop()
	for {
		select {
		case data, ok := <-ts.sk.in:
			if !ok {
				return errSocketDone
			}
			timer.Reset(ts.timeoutDuration())
			if err := ts.handle(data); err != nil {
				return err
			}
		case <-timer.C:
			return ts.sk.fail("input_timeout_exceeded", "Have not received a new text input within the timeout of "+
				strconv.FormatFloat(float64(ts.timeout), 'f', 1, 64)+" seconds. Streaming input terminated. Please send text more often.")
		}
	}
}

// parseQuery reads output_format, inactivity_timeout, auto_mode and model_id; a bad value
// is an error frame and close 1008.
func (ts *ttsSession) parseQuery(q map[string][]string) error {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	name := get("output_format")
	if name == "" {
		name = defaultOutputFormat
	}
	f, ok := ttsSocketFormat(name)
	if !ok {
		return ts.sk.fail("invalid_output_format", "Invalid output_format '"+name+"'. The sandbox serves mp3_* and pcm_* formats on this socket.")
	}
	ts.format = f
	ts.timeout = defaultInactivity
	if v := get("inactivity_timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInactivity {
			return ts.sk.fail("invalid_inactivity_timeout", "inactivity_timeout must be an integer between 1 and 180 seconds, got '"+v+"'.")
		}
		ts.timeout = n
	}
	ts.autoMode = get("auto_mode") == "true"
	ts.modelID = get("model_id")
	if ts.modelID == "" {
		ts.modelID = defaultModelID
	}
	return nil
}

// timeoutDuration is the inactivity timeout on the server's socket clock.
func (ts *ttsSession) timeoutDuration() time.Duration {
	return time.Duration(ts.timeout) * ts.s.socketSecond()
}

// socketSecond is how long one second of a socket's inactivity_timeout lasts.
func (s *Server) socketSecond() time.Duration {
	if s.cfg.SocketSecond > 0 {
		return s.cfg.SocketSecond
	}
	return time.Second
}

// handle serves one client message.
func (ts *ttsSession) handle(data []byte) error {
	var m ttsClientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ts.sk.fail("invalid_message", "Could not parse the message as JSON: "+err.Error())
	}
	first := !ts.authed
	if first {
		if err := ts.authenticate(m); err != nil {
			return err
		}
		if !ts.multi && (m.Text == nil || *m.Text != " ") {
			return ts.sk.fail("invalid_message", `The first message must be the initial message with text " " (a single space).`)
		}
	}
	if ts.multi {
		return ts.handleMulti(m)
	}
	return ts.handleSingle(m, first)
}

// authenticate finds the socket's key (header, single-use token, then the first message),
// then checks the voice and model and applies any socket fault.
func (ts *ttsSession) authenticate(m ttsClientMessage) error {
	key := ts.headerKey
	switch {
	case key != "":
	case ts.tokenUsed && ts.tokenKey == "":
		return ts.sk.fail("invalid_api_key", "Invalid or expired single-use token")
	case ts.tokenUsed:
		key = ts.tokenKey
	default:
		key = m.key()
	}
	switch {
	case key == "":
		return ts.sk.fail("authentication_required", "None of the authentication methods (xi-api-key, authorization header, single-use token) were found.")
	case !ts.s.keyAccepted(ElevenLabs, key):
		return ts.sk.fail("invalid_api_key", "Invalid API key")
	}
	ts.key, ts.authed = key, true
	ts.sk.authenticated(key)
	if _, ok := ts.s.elVoice(key, ts.voiceID); !ok {
		return ts.sk.fail("voice_not_found", "A voice with the voice_id "+ts.voiceID+" was not found.")
	}
	model, ok := ts.s.eleven.model(ts.modelID)
	switch {
	case !ok || !model.TTS:
		return ts.sk.fail("invalid_uid", "An invalid ID has been received: '"+ts.modelID+"'. Make sure to provide a correct one.")
	case model.ID == "eleven_v3": // served by text-to-dialogue only; the real socket answers 1009
		return ts.sk.close(websocket.StatusMessageTooBig, "")
	}
	ts.model = model
	if f, ok := ts.s.takeSocketFault(ElevenLabs, ts.sk.path, key); ok {
		if f == SocketMessageTooBig {
			return ts.sk.close(websocket.StatusMessageTooBig, "")
		}
		return ts.sk.fail(string(f), socketFaultMessage(f))
	}
	return nil
}

// handleSingle serves a stream-input message.
func (ts *ttsSession) handleSingle(m ttsClientMessage, first bool) error {
	ctx := ts.context("", m)
	text := ""
	if m.Text != nil {
		text = *m.Text
	}
	switch {
	case m.Text != nil && text == "": // EOS
		if err := ts.generate("", ctx); err != nil {
			return err
		}
		if err := ts.sk.send(ttsFinalFrame{IsFinal: true}); err != nil {
			return err
		}
		return ts.sk.close(websocket.StatusNormalClosure, "")
	case first || text == " ": // BOS or keep-alive
		if m.Flush {
			return ts.generate("", ctx)
		}
		return nil
	}
	return ts.addText("", ctx, text, m.Flush)
}

// handleMulti serves a multi-stream-input message.
func (ts *ttsSession) handleMulti(m ttsClientMessage) error {
	if m.CloseSocket {
		for _, id := range ts.order {
			if err := ts.closeContext(id); err != nil {
				return err
			}
		}
		return ts.sk.close(websocket.StatusNormalClosure, "")
	}
	id := ""
	if m.ContextID != nil {
		id = *m.ContextID
	}
	if _, ok := ts.contexts[id]; !ok {
		if m.CloseContext {
			return nil // Nothing to close.
		}
		if len(ts.contexts) >= maxContexts {
			return ts.sk.fail("max_active_conversations", "Maximum simultaneous contexts per WebSocket connection exceeded (5). Please close an existing context before opening a new one.")
		}
	}
	ctx := ts.context(id, m)
	if m.CloseContext {
		return ts.closeContext(id)
	}
	text := ""
	if m.Text != nil {
		text = *m.Text
	}
	if text == "" || text == " " { // init or keep-alive
		if m.Flush {
			return ts.generate(id, ctx)
		}
		return nil
	}
	return ts.addText(id, ctx, text, m.Flush)
}

// context returns context id, creating it with m's generation_config if new.
func (ts *ttsSession) context(id string, m ttsClientMessage) *ttsContext {
	if ctx, ok := ts.contexts[id]; ok {
		return ctx
	}
	ctx := &ttsContext{schedule: defaultSchedule}
	if g := m.GenerationConfig; g != nil && len(g.ChunkLengthSchedule) > 0 {
		ctx.schedule = g.ChunkLengthSchedule
	}
	ts.contexts[id] = ctx
	ts.order = append(ts.order, id)
	return ctx
}

// closeContext generates what context id still buffers, sends its isFinal and frees its
// slot.
func (ts *ttsSession) closeContext(id string) error {
	ctx, ok := ts.contexts[id]
	if !ok {
		return nil
	}
	if err := ts.generate(id, ctx); err != nil {
		return err
	}
	delete(ts.contexts, id)
	for i, o := range ts.order {
		if o == id {
			ts.order = append(ts.order[:i:i], ts.order[i+1:]...)
			break
		}
	}
	return ts.sk.send(ttsFinalFrame{IsFinal: true, ContextID: id})
}

// addText buffers text and generates the buffer when the schedule, a flush or auto_mode
// says so.
func (ts *ttsSession) addText(id string, ctx *ttsContext, text string, flush bool) error {
	ctx.buf += text
	if flush || ts.autoMode {
		return ts.generate(id, ctx)
	}
	threshold := ctx.schedule[min(ctx.chunks, len(ctx.schedule)-1)]
	if utf8.RuneCountInString(ctx.buf) >= threshold {
		return ts.generate(id, ctx)
	}
	return nil
}

// ttsAlignment is the per-character timing of one audio frame.
type ttsAlignment struct {
	Chars            []string `json:"chars"`
	CharStartTimesMs []int    `json:"charStartTimesMs"`
	CharDurationsMs  []int    `json:"charDurationsMs"`
}

// ttsAudioFrame is one chunk of audio with its alignment.
type ttsAudioFrame struct {
	Audio               string        `json:"audio"`
	NormalizedAlignment *ttsAlignment `json:"normalizedAlignment"`
	Alignment           *ttsAlignment `json:"alignment"`
	ContextID           string        `json:"contextId,omitempty"`
}

// ttsFinalFrame ends a stream or a context.
type ttsFinalFrame struct {
	IsFinal   bool   `json:"isFinal"`
	ContextID string `json:"contextId,omitempty"`
}

// generate speaks what ctx buffers as one audio frame, charging its characters; an empty
// buffer sends nothing. Beyond the key's characters the socket fails quota_exceeded.
func (ts *ttsSession) generate(id string, ctx *ttsContext) error {
	text := ctx.buf
	if text == "" {
		return nil
	}
	ctx.buf = ""
	ctx.chunks++
	cost := int(math.Ceil(float64(utf8.RuneCountInString(text)) * ts.model.CostMultiplier))
	if msg, ok := ts.s.chargeSocket(ts.key, cost); !ok {
		return ts.sk.fail("quota_exceeded", msg)
	}
	sp := synthesize(text, ts.voiceID, ts.modelID, ts.format)
	al := wsAlignment(text, sp.units)
	norm := *al
	return ts.sk.send(ttsAudioFrame{Audio: base64.StdEncoding.EncodeToString(sp.audio), Alignment: al,
		NormalizedAlignment: &norm, ContextID: id})
}

// wsAlignment times every character of text within its chunk, in whole milliseconds.
func wsAlignment(text string, units []timedUnit) *ttsAlignment {
	runes := []rune(text)
	al := &ttsAlignment{Chars: []string{}, CharStartTimesMs: []int{}, CharDurationsMs: []int{}}
	for _, u := range units {
		k := u.runeEnd - u.runeStart
		step := (u.end - u.start) / float64(max(k, 1))
		for i := range k {
			start := int(math.Round((u.start + step*float64(i)) * 1000))
			end := int(math.Round((u.start + step*float64(i+1)) * 1000))
			al.Chars = append(al.Chars, string(runes[u.runeStart+i]))
			al.CharStartTimesMs = append(al.CharStartTimesMs, start)
			al.CharDurationsMs = append(al.CharDurationsMs, end-start)
		}
	}
	return al
}

// chargeSocket spends cost of key's characters, or reports false and the REST quota
// message when they do not suffice.
func (s *Server) chargeSocket(key string, cost int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.elCharacterLimitLocked(key)
	left := limit - s.el.charsUsed[key]
	if cost > left {
		return "This request exceeds your quota of " + strconv.Itoa(limit) + ". You have " + strconv.Itoa(max(left, 0)) +
			" credits remaining, while " + strconv.Itoa(cost) + " credits are required for this request.", false
	}
	s.el.charsUsed[key] += cost
	return "", true
}
